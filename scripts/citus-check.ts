// npm run citus:check [-- --measure]: calls every api routine of the workload on the distributed
// database at DATABASE_URL (a Citus coordinator after npm run distribute) and prints
// docs/scaling.md's table: whether it works, and the Task Count of its EXPLAIN (1: routed to
// one node). --measure also times the hot paths (p50/p95 of 200 calls each as querybudget_app).
import { Command } from "commander";
import {
  checkRoutines,
  latencyTable,
  measureLatency,
  outcomesTable,
  resolveCalls,
} from "./lib/citus-check.ts";

const options = new Command()
  .name("citus:check")
  .option(
    "--measure",
    "time the hot paths (scripts/lib/citus-check.ts MEASURED)",
  )
  .parse()
  .opts<{ measure?: boolean }>();

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    "npm run citus:check needs DATABASE_URL: a distributed querybudget database on a Citus coordinator (docs/scaling.md)",
  );
  process.exit(2);
}
const outcomes = await checkRoutines(url);
console.log(outcomesTable(outcomes));
const works = outcomes.filter((o) => o.status === "works").length;
const routed = outcomes.filter((o) => o.tasks === 1).length;
console.log(
  `\n${works} of ${outcomes.length} workloads work; ${routed} routed to one node (Task Count 1)`,
);
if (options.measure) {
  const latency = await measureLatency(url, await resolveCalls(url));
  console.log(`\n${latencyTable([], latency)}`);
}
