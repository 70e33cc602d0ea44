// npm run plans:accept: the one command that accepts a new plan shape. It provisions a server
// (DATABASE_URL, a container or a throwaway cluster, as every entry point), migrates, seeds the
// 10k and the 1M tier (seed 1) in databases of their own, explains every workload of
// scripts/lib/workload.ts as the plan tests do, and writes the fingerprints to
// test/plans/10k.json and test/plans/1M.json. It prints the shared buffers per call at both
// tiers and their ratio (the numbers of docs/budgets.md).
//
//   npm run plans:accept                 # write test/plans/*.json
//   npm run plans:accept -- --check      # write nothing; exit 1 when a fingerprint differs
//   npm run plans:accept -- --tiers 10k  # one tier only
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command } from "commander";
import postgres from "postgres";
import { elapsed, log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import { seedDatabase } from "./lib/seed.ts";
import { provisionServer } from "./lib/server.ts";
import { withDatabase } from "./lib/server-contract.ts";
import {
  fingerprintFile,
  measuredBuffersFile,
  TIERS,
  WORKLOAD_RUN_ORDER,
  workloadShapes,
  type TierName,
} from "./lib/workload.ts";

const program = new Command()
  .name("npm run plans:accept --")
  .description(
    "Seed both tiers, explain every api workload, and write the plan fingerprints to test/plans/.",
  )
  .option(
    "--check",
    "write nothing; exit 1 when a fingerprint differs from the committed one",
    false,
  )
  .option(
    "--tiers <list>",
    "comma-separated tiers (10k,1M)",
    (v) => v.split(",").map((s) => s.trim()),
    Object.keys(TIERS),
  )
  .option(
    "--json <file>",
    "also write the measured buffers per workload and tier to this file",
  )
  .parse();
const options = program.opts<{
  check: boolean;
  tiers: string[];
  json?: string;
}>();
for (const t of options.tiers)
  if (!(t in TIERS))
    program.error(`unknown tier ${t}: one of ${Object.keys(TIERS).join(", ")}`);
const tiers = options.tiers as TierName[];

const server = await provisionServer();
process.once("SIGINT", async () => {
  await server.stop();
  process.exit(130);
});
const buffers: Record<string, Partial<Record<TierName, number>>> = {};
let differences = 0;
try {
  const started = performance.now();
  await migrateDatabase(server.url, { quiet: true });
  for (const tier of tiers) {
    const name = `querybudget_plans_${tier.toLowerCase()}`;
    const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = withDatabase(server.url, name);
    await migrateDatabase(url, { quiet: true });
    const sql = postgres(url, { max: 2, onnotice: () => {} });
    try {
      log(`seeding the ${tier} tier ...`);
      await seedDatabase(sql, { rows: TIERS[tier], seed: 1 });
      const fingerprints: Record<string, string[]> = {};
      for (const [name, shape] of await workloadShapes(url, sql)) {
        fingerprints[name] = shape.fingerprint;
        (buffers[name] ??= {})[tier] = shape.buffers;
      }
      const file = fingerprintFile(tier);
      const sorted = Object.fromEntries(
        Object.entries(fingerprints).sort(([a], [b]) => a.localeCompare(b)),
      );
      const text = `${JSON.stringify(sorted, null, 2)}\n`;
      if (options.check) {
        const committed = existsSync(file)
          ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string[]>)
          : {};
        for (const [workload, lines] of Object.entries(sorted)) {
          if (JSON.stringify(committed[workload]) !== JSON.stringify(lines)) {
            differences++;
            console.log(
              `\n${tier} ${workload}: differs from the committed fingerprint\n--- committed\n${(committed[workload] ?? []).join("\n")}\n+++ now\n${lines.join("\n")}`,
            );
          }
        }
      } else {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
        log(`wrote ${file}`);
      }
    } finally {
      await sql.end();
    }
    const drop = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
    await drop.unsafe(`drop database if exists ${name} with (force)`);
    await drop.end();
  }

  console.log(
    `\n| workload | ${tiers.map((t) => `buffers ${t}`).join(" | ")}${tiers.length === 2 ? " | 1M / 10k |" : " |"}`,
  );
  console.log(
    `|---|${tiers.map(() => "---:|").join("")}${tiers.length === 2 ? "---:|" : ""}`,
  );
  for (const def of WORKLOAD_RUN_ORDER) {
    const b = buffers[def.name] ?? {};
    const ratio =
      tiers.length === 2 && b["10k"] && b["1M"]
        ? ` ${(b["1M"] / b["10k"]).toFixed(2)} |`
        : "";
    console.log(
      `| ${def.name} | ${tiers.map((t) => b[t] ?? "").join(" | ")} |${ratio}`,
    );
  }
  if (options.json)
    writeFileSync(options.json, `${JSON.stringify(buffers, null, 2)}\n`);
  if (!options.check && tiers.length === Object.keys(TIERS).length) {
    // the measured buffers of docs/budgets.md (npm run docs:generate renders them)
    const sorted = Object.fromEntries(
      Object.entries(buffers).sort(([a], [b]) => a.localeCompare(b)),
    );
    writeFileSync(
      measuredBuffersFile(),
      `${JSON.stringify(sorted, null, 2)}\n`,
    );
    log(`wrote ${measuredBuffersFile()}`);
  }
  log(`${options.check ? "checked" : "accepted"} in ${elapsed(started)}`);
} finally {
  await server.stop();
}
if (differences > 0) {
  console.error(
    `${differences} fingerprint(s) differ; run npm run plans:accept to accept them`,
  );
  process.exit(1);
}
