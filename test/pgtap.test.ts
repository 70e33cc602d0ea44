// Every TAP line of every test/sql/*.sql file becomes a vitest test. Each file runs in its
// own copy of the seeded template, inside BEGIN ... ROLLBACK.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { createTestDatabase, dropTestDatabase } from "./harness/database.ts";
import { runPgTapFile, type TapRun } from "./harness/pgtap.ts";

const folder = join(import.meta.dirname, "sql");
const files = readdirSync(folder)
  .filter((f) => f.endsWith(".sql"))
  .sort();

// The files run while vitest collects tests, since the TAP output decides which tests exist.
const runs: [string, TapRun][] = await Promise.all(
  files.map(async (file): Promise<[string, TapRun]> => {
    const db = await createTestDatabase(`tap_${file}`);
    try {
      return [file, await runPgTapFile(db.url, join(folder, file))];
    } finally {
      await dropTestDatabase(db);
    }
  }),
);

for (const [file, run] of runs) {
  describe(`pgTAP ${file}`, () => {
    for (const point of run.points) {
      test(`${point.id} ${point.name}`, () => {
        expect(point.ok, point.diagnostics.join("\n")).toBe(true);
      });
    }
    test("ran to its end, as planned", () => {
      expect(run.error, `psql stopped: ${run.error}`).toBeNull();
      expect(run.points.length, "test points run against plan()").toBe(
        run.planned,
      );
    });
  });
}
