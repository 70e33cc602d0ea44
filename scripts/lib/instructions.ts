// What a call costs the server in CPU instructions: valgrind's callgrind counts the instructions
// of a single-user backend (`postgres --single`) that runs the calls, one transaction each.
// A count of instructions, not a time, so it is the same on a quiet machine and on a busy one,
// and the api call and its raw statement compare exactly (issue 13, "the api's own cost";
// docs/operations.md). Wall-clock throughput through PgBouncer says the same thing with a
// spread of 10 to 20% from round to round on a shared 2-core machine.
//
// What it leaves out: the network (single-user mode reads statements from stdin and prints rows
// to stdout: the same for both sides), and the kernel's share of a call (system calls are not
// counted by callgrind), which is the same for both sides too: one round trip each.
//
// The data folder must not be in use by a running server: stop it first (the caller does).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { RAW } from "./load.ts";
import { PG_BIN } from "./server-contract.ts";
import type { ApiCall } from "./workload.ts";

export const VALGRIND = "/usr/bin/valgrind";
/** Calls counted per case, and calls run before them, unless the options say otherwise. */
export const INSTRUCTION_CALLS = 100;
export const INSTRUCTION_WARMUP = 20;

/** One side of a comparison: statements run as `role` (none: the bootstrap superuser), cycled. */
export interface InstructionCase {
  name: string;
  role?: string;
  /** Each one call with its arguments written in as literals, on one line. */
  statements: string[];
}

export interface InstructionOptions {
  dataDir: string;
  database: string;
  /** Calls counted per case (the statements cycled); default INSTRUCTION_CALLS. */
  calls?: number;
  /** Calls run before, in both runs (plans cached, the plpgsql compiled); default INSTRUCTION_WARMUP. */
  warmup?: number;
  /** The OS user the server runs as (root cannot run postgres). */
  user?: { uid: number; gid: number };
}

/** A query with $n placeholders, its arguments written in as SQL literals (single-user mode has no parameters). */
export function withLiterals(query: string, args: readonly unknown[]): string {
  return query
    .replace(/\$(\d+)/g, (_, n: string) => {
      const v = args[Number(n) - 1];
      return v === null || v === undefined
        ? "null"
        : `'${String(v).replaceAll("'", "''")}'`;
    })
    .replace(/\s+/g, " ")
    .trim();
}

function run(
  options: InstructionOptions,
  role: string | undefined,
  statements: string[],
): number {
  const input =
    [role ? `set role ${role};` : "reset role;", ...statements]
      .map((s) => s.replace(/;?$/, ";"))
      .join("\n") + "\n";
  const result = spawnSync(
    VALGRIND,
    [
      "--tool=callgrind",
      "--callgrind-out-file=/dev/null",
      `${PG_BIN}/postgres`,
      "--single",
      "-D",
      options.dataDir,
      // pg_cron needs background workers, which single-user mode has not; statement tracking
      // stays, as on the real server
      "-c",
      "shared_preload_libraries=pg_stat_statements,auto_explain",
      "-c",
      "shared_buffers=128MB",
      options.database,
    ],
    {
      input,
      encoding: "utf8",
      maxBuffer: 256 * 1024 * 1024,
      ...(options.user ?? {}),
    },
  );
  const collected = /Collected : (\d+)/.exec(result.stderr ?? "");
  if (result.status !== 0 || !collected)
    throw new Error(
      `callgrind on postgres --single failed (exit ${result.status}): ${(result.stderr ?? "").slice(-2000)}`,
    );
  const failed = /ERROR:\s+([^\n]*)/.exec(result.stdout ?? "");
  if (failed)
    throw new Error(
      `a counted statement failed: ${failed[1]}\n${input.slice(0, 500)}`,
    );
  return Number(collected[1]);
}

/**
 * Instructions per call of each case: a run of the warm-up calls alone and a run of the warm-up
 * plus `calls` calls, each in a fresh single-user backend; the difference over `calls` is the
 * calls' own cost, start and shutdown cancelled out.
 */
export function instructionsPerCall(
  options: InstructionOptions,
  cases: readonly InstructionCase[],
): Map<string, number> {
  if (!existsSync(VALGRIND))
    throw new Error(
      `${VALGRIND} not found: install Debian's valgrind (node scripts/bootstrap.mjs does, as root)`,
    );
  const { calls = INSTRUCTION_CALLS, warmup = INSTRUCTION_WARMUP } = options;
  // a server stopped by a crash recovers in the first start: not in a counted run
  run(options, undefined, ["select 1"]);
  const counts = new Map<string, number>();
  for (const c of cases) {
    if (c.statements.length === 0) throw new Error(`${c.name}: no statement`);
    const cycle = (n: number, from = 0) =>
      Array.from(
        { length: n },
        (_, i) => c.statements[(from + i) % c.statements.length]!,
      );
    const before = cycle(warmup);
    const base = run(options, c.role, before);
    const all = run(options, c.role, [...before, ...cycle(calls, warmup)]);
    counts.set(c.name, (all - base) / calls);
  }
  return counts;
}

/** The floor's point reads (RAW of load.ts): each api call as querybudget_app, and its raw statement as the superuser. */
export function floorCases(calls: readonly ApiCall[]): InstructionCase[] {
  return calls
    .filter((call) => RAW[call.name])
    .flatMap((call) => {
      const raw = RAW[call.name]!;
      const argSets = call.calls.map((c) => c.args);
      return [
        {
          name: call.name,
          role: "querybudget_app",
          statements: argSets.map((a) => withLiterals(call.query, a)),
        },
        {
          name: `raw: ${call.name}`,
          statements: argSets.map((a) => withLiterals(raw.sql, raw.args(a))),
        },
      ];
    });
}

export interface InstructionRatio {
  routine: string;
  /** Instructions per call. */
  api: number;
  raw: number;
  /** api ÷ raw */
  ratio: number;
}

/** Per routine of floorCases: the api call's instructions against its raw statement's. */
export function floorRatios(counts: Map<string, number>): InstructionRatio[] {
  return [...counts.keys()]
    .filter((name) => !name.startsWith("raw: "))
    .map((routine) => {
      const api = counts.get(routine)!;
      const raw = counts.get(`raw: ${routine}`)!;
      return { routine, api, raw, ratio: api / raw };
    });
}
