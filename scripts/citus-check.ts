// npm run citus:check: calls every api routine of the workload on the distributed database at
// DATABASE_URL (a Citus coordinator after npm run distribute) and prints docs/citus.md's table:
// whether it works, and the Task Count of its EXPLAIN (1: routed to one node).
import { checkRoutines, outcomesTable } from "./lib/citus-check.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    "npm run citus:check needs DATABASE_URL: a distributed querybudget database on a Citus coordinator (docs/citus.md)",
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
