// Our pgTAP runner (no maintained one exists on npm): psql runs a test/sql/*.sql file the way
// pg_prove does, tap-parser reads the TAP it prints, and every test point becomes a result.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Parser } from "tap-parser";
import { PG_BIN } from "../../scripts/lib/server-contract.ts";

export interface TapPoint {
  id: number;
  name: string;
  ok: boolean;
  /** pgTAP's diagnostic lines (the `#` comments after a failing point). */
  diagnostics: string[];
}

export interface TapRun {
  points: TapPoint[];
  planned: number | null;
  /** psql's error, when the file stopped before its end. */
  error: string | null;
}

function runPsql(
  url: string,
  file: string,
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const psql = spawn(
      join(PG_BIN, "psql"),
      ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file],
      {
        env: { ...process.env, PGOPTIONS: "--client-min-messages=warning" },
      },
    );
    let stdout = "";
    let stderr = "";
    psql.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    psql.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    psql.on("error", reject);
    psql.on("close", (code) => resolve({ stdout, stderr, code }));
  });
}

export async function runPgTapFile(url: string, file: string): Promise<TapRun> {
  const { stdout, stderr, code } = await runPsql(url, file);
  const points: TapPoint[] = [];
  let planned: number | null = null;
  const parser = new Parser();
  parser.on("plan", (plan: { end: number }) => (planned = plan.end));
  parser.on("assert", (res: { id: number; name: string; ok: boolean }) =>
    points.push({ id: res.id, name: res.name, ok: res.ok, diagnostics: [] }),
  );
  parser.on("comment", (line: string) =>
    points.at(-1)?.diagnostics.push(line.replace(/^#\s?/, "").trimEnd()),
  );
  parser.end(stdout);
  return {
    points,
    planned,
    error: code === 0 ? null : stderr.trim() || `psql exited with ${code}`,
  };
}
