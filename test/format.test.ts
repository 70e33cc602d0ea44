// The TypeScript and JavaScript of the project are formatted by Prettier at its defaults
// (npm run format writes them; .prettierignore says which files are its business).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";
import { describe, expect, test } from "vitest";
import { ROOT } from "../scripts/lib/sql-files.ts";

/** The files git tracks that Prettier formats (its ignore file applied). */
async function formattedFiles(): Promise<string[]> {
  const tracked = execFileSync("git", ["ls-files", "*.ts", "*.mjs"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean);
  const ignorePath = join(ROOT, ".prettierignore");
  const kept: string[] = [];
  for (const file of tracked) {
    const info = await prettier.getFileInfo(join(ROOT, file), { ignorePath });
    if (!info.ignored) kept.push(file);
  }
  return kept;
}

describe("formatting", () => {
  test("every TypeScript and JavaScript file is as Prettier formats it (npm run format)", async () => {
    // Setup
    const files = await formattedFiles();
    // Action
    const unformatted: string[] = [];
    for (const file of files) {
      const path = join(ROOT, file);
      const options = {
        ...(await prettier.resolveConfig(path)),
        filepath: path,
      };
      if (!(await prettier.check(readFileSync(path, "utf8"), options)))
        unformatted.push(file);
    }
    // Assertions
    expect(files.length).toBeGreaterThan(50);
    expect(unformatted, "run npm run format").toEqual([]);
  });
});
