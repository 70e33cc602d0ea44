// Progress bars on stderr for `npm start` (cli-progress): one bar per tier for seeding (its
// steps are the seeder's "[seed] ..." lines, which are printed above the bar) and one for
// measuring (routines done, and what runs now). Without a terminal, plain lines instead.
import cliProgress from "cli-progress";
import { seedFiles } from "../seed.ts";
import type { ProgressEvent } from "./measure.ts";

type Write = typeof process.stderr.write;

export class Progress {
  private readonly tty: boolean;
  private readonly realWrite: Write;
  private bars?: cliProgress.MultiBar;

  constructor(tty = process.stderr.isTTY === true) {
    this.tty = tty;
    this.realWrite = process.stderr.write.bind(process.stderr) as Write;
  }

  private multibar(): cliProgress.MultiBar {
    if (!this.bars) {
      const realWrite = this.realWrite;
      // The bars write through the real stderr, so the seeder's lines can be caught apart.
      const stream = {
        isTTY: true,
        get columns() {
          return process.stderr.columns;
        },
        write: (chunk: string) => realWrite(chunk),
      } as unknown as NodeJS.WritableStream;
      this.bars = new cliProgress.MultiBar(
        {
          stream,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          format: "{label} |{bar}| {value}/{total} {unit} {detail}",
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      );
    }
    return this.bars;
  }

  /** Runs the seeding of one tier under a bar whose steps are the seeder's lines. */
  async seeding<T>(rows: number, body: () => Promise<T>): Promise<T> {
    if (!this.tty) return body();
    const steps = seedFiles().length + 3; // each file, vacuum analyze, the view's refresh, the total
    const bar = this.multibar().create(steps, 0, {
      label: `seed    ${rows.toLocaleString("en-US").padStart(10)}`,
      unit: "steps",
      detail: "",
    });
    const original = process.stderr.write;
    process.stderr.write = ((
      chunk: string | Uint8Array,
      ...rest: unknown[]
    ) => {
      const text =
        typeof chunk === "string" ? chunk : Buffer.from(chunk).toString();
      if (text.startsWith("[seed]")) {
        this.multibar().log(text.endsWith("\n") ? text : `${text}\n`);
        bar.increment(1, {
          detail: text.slice(7).trim().split(/\s+/)[0] ?? "",
        });
        return true;
      }
      return (original as (...a: unknown[]) => boolean).call(
        process.stderr,
        chunk,
        ...rest,
      );
    }) as Write;
    try {
      const result = await body();
      bar.update(steps, { detail: "done" });
      return result;
    } finally {
      process.stderr.write = original;
    }
  }

  /** A bar for measuring one tier; feed it the measure's progress events. */
  measuring(rows: number): (event: ProgressEvent) => void {
    if (!this.tty) {
      return (e) => {
        if (e.phase === "done")
          this.realWrite(
            `[measure] ${rows.toLocaleString("en-US")} rows: ${e.routine} (${e.done}/${e.total})\n`,
          );
      };
    }
    let bar: cliProgress.SingleBar | undefined;
    return (e) => {
      bar ??= this.multibar().create(e.total, 0, {
        label: `measure ${rows.toLocaleString("en-US").padStart(10)}`,
        unit: "routines",
        detail: "",
      });
      bar.update(e.done, {
        detail:
          e.phase === "done"
            ? ""
            : `${e.routine.replace(/^(api|maint)\./, "")}: ${e.phase}`,
      });
    };
  }

  /** A line above the bars (or straight to stderr without a terminal). */
  log(line: string): void {
    if (this.bars) this.bars.log(`${line}\n`);
    else this.realWrite(`${line}\n`);
  }

  stop(): void {
    this.bars?.stop();
    this.bars = undefined;
  }
}
