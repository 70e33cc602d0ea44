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

/**
 * Applies every idempotent file in one transaction: all of it or none. Function bodies are
 * not checked at creation (as pg_dump does), since a sql-language function may name a view
 * created later in the same run; the tests call every function.
 */
export async function applyIdempotentSql(sql: postgres.Sql): Promise<string[]> {
  const files = idempotentSqlFiles();
  await sql.begin(async (tx) => {
    await tx.unsafe("set local check_function_bodies = off");
    for (const file of files) {
      try {
        await tx.unsafe(readFileSync(file, "utf8"));
      } catch (error) {
        throw new Error(`${relative(ROOT, file)}: ${(error as Error).message}`, { cause: error });
      }
    }
  });
  return files.map((f) => relative(ROOT, f));
}
