// npm run seed -- --rows N [--seed S] [--anchor ISO]: fills the database at DATABASE_URL
// with deterministic, skewed data (docs/seeding.md). Progress on stderr; --json prints the
// report on stdout.
import { Command, InvalidArgumentError } from "commander";
import postgres from "postgres";
import { log } from "./lib/log.ts";
import { MAX_ROWS, MIN_ROWS, seedDatabase } from "./lib/seed.ts";

function integer(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value.replace(/_/g, ""));
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        `${name} must be an integer from ${min} to ${max}`,
      );
    }
    return n;
  };
}

function date(value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new InvalidArgumentError(
      "not a date (ISO 8601, e.g. 2025-06-01T00:00:00Z)",
    );
  return d;
}

const program = new Command()
  .name("seed")
  .description(
    "Truncate the app tables of DATABASE_URL and fill them with deterministic, skewed test data.",
  )
  .requiredOption(
    "--rows <n>",
    `chunks and operations (other tables scale from it), ${MIN_ROWS}..${MAX_ROWS}`,
    integer("--rows", MIN_ROWS, MAX_ROWS),
  )
  .option(
    "--seed <s>",
    "pseudo-random seed: same seed, anchor and rows give the same data",
    integer("--seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    1,
  )
  .option(
    "--anchor <iso>",
    "the data's clock: rows fill the three calendar months before its month (default: the server's now())",
    date,
  )
  .option(
    "--clock <iso>",
    "the instant expiry is placed against (default: the server's now())",
    date,
  )
  .option(
    "--per-row-fk-checks",
    "let the foreign key triggers check every row (slower) instead of one set-based check per key",
  )
  .option("--quiet", "no progress lines")
  .option("--json", "print the report as JSON on stdout")
  .parse();

const opts = program.opts<{
  rows: number;
  seed: number;
  anchor?: Date;
  clock?: Date;
  perRowFkChecks?: boolean;
  quiet?: boolean;
  json?: boolean;
}>();

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    "seed: DATABASE_URL is not set. Point it at a migrated querybudget database, e.g.\n" +
      "  npm run db                      (prints the URL of a throwaway migrated server)\n" +
      "  DATABASE_URL=postgres://... npm run seed -- --rows 10000",
  );
  process.exit(2);
}

const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const [schema] = await sql<
    { ok: boolean }[]
  >`select to_regclass('app.chunks') is not null as ok`;
  if (!schema?.ok) {
    throw new Error(
      "the database at DATABASE_URL has no querybudget schema (app.chunks): run `npm run migrate` first",
    );
  }
  if (!opts.quiet)
    log(
      `seeding ${opts.rows.toLocaleString("en-US")} rows (seed ${opts.seed}) ...`,
    );
  const report = await seedDatabase(sql, {
    rows: opts.rows,
    seed: opts.seed,
    anchor: opts.anchor,
    clock: opts.clock,
    progress: !opts.quiet,
    foreignKeyChecks: opts.perRowFkChecks ? "per-row" : "set-based",
  });
  if (!opts.quiet)
    log(
      `same data again: --rows ${report.rows} --seed ${report.seed} --anchor ${report.anchor} --clock ${report.clock}`,
    );
  if (opts.json) console.log(JSON.stringify(report, null, 2));
} catch (error) {
  console.error(`seed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await sql.end();
}
