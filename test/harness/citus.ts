// The Citus cluster of `npm run test:citus` (test/citus/): CITUS_URL, or a throwaway
// coordinator and two workers when Citus is installed here, or a clear error.
import postgres from "postgres";
import {
  citusInstalled,
  startCitusCluster,
} from "../../scripts/lib/citus-cluster.ts";

export interface TestCluster {
  url: string;
  workers: number;
  /** What the nodes wrote to stderr (empty for CITUS_URL: those logs are the server's). */
  serverLog(): string;
  stop(): Promise<void>;
}

export const NO_CLUSTER =
  "npm run test:citus needs a Citus cluster: set CITUS_URL to a database on a Citus coordinator with at least two workers added " +
  '(migrated or empty, not distributed yet), or install Citus into the local PostgreSQL 15 (docs/scaling.md, "Getting Citus") ' +
  "and the suite starts a throwaway coordinator and two workers itself.";

export async function citusCluster(): Promise<TestCluster> {
  const external = process.env.CITUS_URL;
  if (external) {
    const sql = postgres(external, { max: 1, onnotice: () => {} });
    try {
      const [ext] = await sql<{ citus: string | null }[]>`
        select (select e.extversion from pg_extension e where e.extname = 'citus') as citus`;
      if (!ext?.citus)
        throw new Error(
          `CITUS_URL: no citus extension in that database. ${NO_CLUSTER}`,
        );
      const [row] = await sql<{ workers: number }[]>`
        select count(*)::int as workers from pg_catalog.pg_dist_node n
        where n.noderole = 'primary' and n.groupid <> 0 and n.isactive`;
      if (!row || row.workers < 2)
        throw new Error(
          `CITUS_URL: only ${row?.workers ?? 0} active workers. ${NO_CLUSTER}`,
        );
      return {
        url: external,
        workers: row.workers,
        serverLog: () => "",
        stop: async () => {},
      };
    } finally {
      await sql.end();
    }
  }
  if (!citusInstalled()) throw new Error(NO_CLUSTER);
  const cluster = await startCitusCluster({ workers: 2 });
  return {
    url: cluster.url,
    workers: cluster.workers.length,
    serverLog: () => cluster.serverLog?.() ?? "",
    stop: () => cluster.stop(),
  };
}
