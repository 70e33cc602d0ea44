// npm run lint:migrations [files...]: squawk (npm squawk-cli) on every committed migration
// (migrations/committed/*.sql), or on the files given. Exit code 1 on any violation.
// Rules: .squawk.toml; why: docs/operations.md "Migration rules".
//
// squawk sees plain SQL; this script tells it how graphile-migrate will run each file:
// - a migration runs in one transaction (assume_in_transaction in .squawk.toml), so indexes
//   and constraints on a table created in the same file need no CONCURRENTLY, while every
//   index on a table that already exists must be built concurrently;
// - a migration whose body starts with `--! no-transaction` runs outside a transaction, as ONE
//   statement (node-postgres sends a multi-statement string as one implicit transaction, where
//   CREATE INDEX CONCURRENTLY fails): it is linted as not in a transaction, and also as in one,
//   keeping only ban-concurrent-index-creation-in-transaction, which squawk reports exactly when
//   such a file holds more than one statement. require-lock-timeout does not apply to it (one
//   statement leaves no room for a SET): set lock_timeout for the session (PGOPTIONS) instead.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { isNoTransactionDefined } from "graphile-migrate/dist/header.js";
import { parseMigrationText } from "graphile-migrate/dist/migration.js";
import { ROOT } from "./lib/sql-files.ts";

export const SQUAWK = join(ROOT, "node_modules", ".bin", "squawk");
export const SQUAWK_CONFIG = join(ROOT, ".squawk.toml");
export const COMMITTED = join(ROOT, "migrations", "committed");

/**
 * Rules a committed migration predates, each with its reason. Committed migrations are
 * immutable, so they cannot take a squawk-ignore comment. Never add a new migration here:
 * fix the migration.
 */
export const EXEMPTIONS: Record<string, { rules: string[]; reason: string }> = {
  "000001-domain-schema.sql": {
    rules: ["require-lock-timeout"],
    reason:
      "creates every schema, table and index from nothing: there is no existing table whose lock it could queue for",
  },
};

export interface Violation {
  file: string;
  /** 1-based. */
  line: number;
  column: number;
  rule: string;
  message: string;
  help: string;
}

interface SquawkViolation {
  file: string;
  line: number;
  column: number;
  rule_name: string;
  message: string;
  help?: string;
}

export function committedMigrations(): string[] {
  return readdirSync(COMMITTED)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => join(COMMITTED, f));
}

/** The rules .squawk.toml excludes (squawk drops the config's list when --exclude is given). */
export function configExcludedRules(): string[] {
  const text = readFileSync(SQUAWK_CONFIG, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*$/, ""))
    .join("\n");
  const list = /excluded_rules\s*=\s*\[([^\]]*)\]/.exec(text)?.[1] ?? "";
  return [...list.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

/** Whether graphile-migrate runs this migration outside a transaction (its own test). */
export function isNoTransaction(file: string): boolean {
  const { body } = parseMigrationText(file, readFileSync(file, "utf8"), false);
  return isNoTransactionDefined(body);
}

function squawk(files: string[], args: string[]): Violation[] {
  if (files.length === 0) return [];
  const r = spawnSync(
    SQUAWK,
    ["--config", SQUAWK_CONFIG, "--reporter", "json", ...args, ...files],
    { encoding: "utf8", cwd: ROOT },
  );
  if (r.error)
    throw new Error(
      `squawk could not run (${SQUAWK}): ${r.error.message}; is squawk-cli installed (npm install)?`,
    );
  let found: SquawkViolation[];
  try {
    found = JSON.parse(r.stdout || "[]") as SquawkViolation[];
  } catch {
    throw new Error(
      `squawk exited with ${r.status} and no report:\n${r.stdout}\n${r.stderr}`,
    );
  }
  if (r.status !== 0 && found.length === 0)
    throw new Error(`squawk exited with ${r.status}:\n${r.stderr}`);
  return found.map((v) => ({
    file: relative(ROOT, v.file.startsWith("/") ? v.file : join(ROOT, v.file)),
    line: v.line + 1,
    column: v.column + 1,
    rule: v.rule_name,
    message: v.message,
    help: v.help ?? "",
  }));
}

/** Lints migration files the way graphile-migrate runs them; returns every violation. */
export function lintMigrations(
  files: string[] = committedMigrations(),
): Violation[] {
  const excluded = configExcludedRules();
  const exclude = (rules: string[]) => [
    "--exclude",
    [...new Set([...excluded, ...rules])].join(","),
  ];
  const exemptRules = (file: string) => EXEMPTIONS[basename(file)]?.rules ?? [];
  const noTransaction = files.filter(isNoTransaction);
  const inTransaction = files.filter((f) => !noTransaction.includes(f));
  const violations: Violation[] = [];

  // In a transaction: .squawk.toml as it is; an exempted file with its exemptions on top.
  violations.push(
    ...squawk(
      inTransaction.filter((f) => exemptRules(f).length === 0),
      ["--assume-in-transaction"],
    ),
  );
  for (const file of inTransaction.filter((f) => exemptRules(f).length > 0)) {
    violations.push(
      ...squawk(
        [file],
        ["--assume-in-transaction", ...exclude(exemptRules(file))],
      ),
    );
  }
  // --! no-transaction: each file alone, as one statement outside a transaction.
  for (const file of noTransaction) {
    violations.push(
      ...squawk(
        [file],
        [
          "--no-assume-in-transaction",
          ...exclude(["require-lock-timeout", ...exemptRules(file)]),
        ],
      ),
    );
    violations.push(
      ...squawk(
        [file],
        ["--assume-in-transaction", ...exclude(exemptRules(file))],
      )
        .filter(
          (v) => v.rule === "ban-concurrent-index-creation-in-transaction",
        )
        .map((v) => ({
          ...v,
          help: `a --! no-transaction migration must be ONE statement (graphile-migrate); ${v.help}`,
        })),
    );
  }
  return violations.sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.rule.localeCompare(b.rule),
  );
}

if (
  process.argv[1] &&
  import.meta.url === pathToFileURL(process.argv[1]).href
) {
  const files =
    process.argv.slice(2).length > 0
      ? process.argv.slice(2).map((f) => resolve(f))
      : committedMigrations();
  try {
    const violations = lintMigrations(files);
    for (const v of violations) {
      console.log(
        `${v.file}:${v.line}:${v.column}: ${v.rule}: ${v.message}${v.help ? `\n    help: ${v.help}` : ""}`,
      );
    }
    const exempted = files.filter((f) => EXEMPTIONS[basename(f)]);
    for (const f of exempted)
      console.log(
        `(${basename(f)}: ${EXEMPTIONS[basename(f)]!.rules.join(", ")} exempted: ${EXEMPTIONS[basename(f)]!.reason})`,
      );
    console.log(
      `lint:migrations: ${files.length} migration${files.length === 1 ? "" : "s"} checked by squawk, ${violations.length} violation${violations.length === 1 ? "" : "s"}`,
    );
    process.exitCode = violations.length > 0 ? 1 : 0;
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
  }
}
