// The re-appliable SQL of querybudget: functions/ first (tables exist by then), then sql/
// (views, the materialized view, jobs and grants, which may name functions). Each folder
// in file-name order, so a numeric prefix orders files that depend on each other.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type postgres from "postgres";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FOLDERS = ["functions", "sql"];

function sqlFilesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".sql"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export function idempotentSqlFiles(): string[] {
  return FOLDERS.flatMap((f) => sqlFilesUnder(join(ROOT, f)));
}

const DEFINITION =
  /create\s+or\s+replace\s+(?:function|procedure)\s+([a-z_][\w]*\.[a-z_][\w]*)\s*\(/gi;

/** The routines a file defines: `create or replace function|procedure schema.name(`. */
export function routinesDefinedIn(text: string): string[] {
  return [...definitionCounts(text).keys()];
}

/** How many overloads of each routine a file defines (its `create or replace` statements per name). */
export function definitionCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(DEFINITION)) {
    const name = m[1]!.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

// 42P13 invalid_function_definition: `create or replace` cannot change a routine's return type,
// its parameter names or defaults, or turn a function into a procedure.
const CANNOT_REPLACE = "42P13";

/**
 * Applies every idempotent file in one transaction: all of it or none. Function bodies are
 * not checked at creation (as pg_dump does), since a sql-language function may name a view
 * created later in the same run; the tests call every function.
 *
 * A file whose routine changed its return type or parameters since the database last saw it
 * (an upgrade) cannot be applied with `create or replace`: then the routines it defines are
 * dropped and the file applied again, inside the same transaction. Their grants come back with
 * sql/50_grants.sql, which runs after functions/.
 *
 * A changed argument list (a parameter added, removed or retyped) raises no error at all:
 * `create or replace` then makes a second overload next to the old one, and a call that both
 * accept fails as ambiguous (42725). So after a file is applied, a routine of it with more
 * overloads in the database than the file defines is stale, and is replaced the same way.
 */
export async function applyIdempotentSql(sql: postgres.Sql): Promise<string[]> {
  const files = idempotentSqlFiles();
  await sql.begin(async (tx) => {
    await tx.unsafe("set local check_function_bodies = off");
    for (const file of files) {
      const text = readFileSync(file, "utf8");
      let replace = false;
      try {
        await tx.savepoint((sp) => sp.unsafe(text));
        replace = await hasStaleOverloads(tx, definitionCounts(text));
      } catch (error) {
        const replaceable =
          (error as { code?: string }).code === CANNOT_REPLACE &&
          routinesDefinedIn(text).length > 0;
        if (!replaceable)
          throw new Error(
            `${relative(ROOT, file)}: ${(error as Error).message}`,
            { cause: error },
          );
        replace = true;
      }
      if (replace) {
        try {
          await dropRoutines(tx, routinesDefinedIn(text));
          await tx.unsafe(text);
        } catch (again) {
          throw new Error(
            `${relative(ROOT, file)}: ${(again as Error).message}`,
            { cause: again },
          );
        }
      }
    }
  });
  return files.map((f) => relative(ROOT, f));
}

/** Whether a routine has more overloads in the database than the file that defines it. */
async function hasStaleOverloads(
  tx: postgres.TransactionSql,
  counts: Map<string, number>,
): Promise<boolean> {
  if (counts.size === 0) return false;
  const [row] = await tx<{ stale: boolean }[]>`
    select exists (
      select from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      join unnest(${[...counts.keys()]}::text[], ${[...counts.values()]}::int[]) as f (name, defined)
        on f.name = n.nspname || '.' || p.proname
      group by f.name, f.defined
      having count(*) > f.defined) as stale`;
  return row!.stale;
}

/** Drops every overload of the named routines (no cascade: a dependent object stops the run). */
async function dropRoutines(
  tx: postgres.TransactionSql,
  names: string[],
): Promise<void> {
  const routines = await tx<{ routine: string }[]>`
    select p.oid::regprocedure::text as routine
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname || '.' || p.proname = any (${names}::text[])`;
  for (const { routine } of routines)
    await tx.unsafe(`drop routine ${routine}`);
}
