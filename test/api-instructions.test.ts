// The api's own cost in CPU instructions (issue 13, item 3; docs/operations.md "The api's own
// cost in instructions"): each point read of the load floor against the one raw statement it
// replaces, counted by callgrind in a single-user backend (scripts/lib/instructions.ts). A
// count, not a time: it holds on a busy machine, where the throughput ratio of `npm run load`
// moves by 10 to 20% from round to round. The api call may cost at most 10% more than its raw
// statement, the server-side share of the issue's "at least 0.9 of the raw statement's
// throughput".
import postgres from "postgres";
import { afterAll, beforeAll, expect, test } from "vitest";
import {
  serverUser,
  startLocalCluster,
  type LocalCluster,
} from "../scripts/lib/cluster.ts";
import {
  floorCases,
  floorRatios,
  instructionsPerCall,
  type InstructionCase,
} from "../scripts/lib/instructions.ts";
import { RAW } from "../scripts/lib/load.ts";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { seedDatabase } from "../scripts/lib/seed.ts";
import { withDatabase } from "../scripts/lib/server-contract.ts";
import { apiCalls } from "../scripts/lib/workload.ts";

const DATABASE = "qb_instructions";
/** The most an api point read may cost over its raw statement. */
const MAX_RATIO = 1.1;

let cluster: LocalCluster;
const cases: InstructionCase[] = [];

beforeAll(async () => {
  cluster = await startLocalCluster();
  const admin = postgres(cluster.adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${DATABASE}`);
  await admin.end();
  const url = withDatabase(cluster.url, DATABASE);
  await migrateDatabase(url, { quiet: true });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await seedDatabase(sql, { rows: 10_000, seed: 1 });
    cases.push(
      ...floorCases(await apiCalls(sql, { sets: 10, only: Object.keys(RAW) })),
    );
    await sql`checkpoint`;
  } finally {
    await sql.end();
  }
  // single-user mode needs the data folder to itself
  await cluster.kill();
});

afterAll(async () => {
  await cluster?.stop();
});

test(`every point read of the floor costs at most ${MAX_RATIO} times the instructions of its raw statement`, () => {
  // Action
  const counts = instructionsPerCall(
    { dataDir: cluster.dataDir, database: DATABASE, user: serverUser() },
    cases,
  );

  // Assertions
  const table = floorRatios(counts);
  console.log(
    "instructions per call, api against raw:\n" +
      table
        .map(
          (r) =>
            `  ${r.routine.padEnd(24)} ${Math.round(r.api)} / ${Math.round(r.raw)} = ${r.ratio.toFixed(3)}`,
        )
        .join("\n"),
  );
  expect(table.map((r) => r.routine).sort()).toEqual(Object.keys(RAW).sort());
  for (const r of table) expect(r.api, r.routine).toBeGreaterThan(10_000);
  expect(table.filter((r) => r.ratio > MAX_RATIO)).toEqual([]);
});
