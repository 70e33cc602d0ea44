// A throwaway Citus cluster on this machine: a coordinator and N workers (default 2), each a
// throwaway local cluster of cluster.ts with `citus` first in shared_preload_libraries, the
// citus extension in the querybudget database of every node, and the workers added to the
// coordinator. For `npm run test:citus` and `npm run db:citus`; needs Citus installed into
// this PostgreSQL (docs/scaling.md, "Getting Citus"). Never part of `npm test`.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import postgres from "postgres";
import { startLocalCluster, type LocalCluster } from "./cluster.ts";
import { elapsed, log } from "./log.ts";
import { PG_BIN, type Server } from "./server-contract.ts";

/** Settings of every node, over cluster.ts's defaults. */
const CITUS_NODE_SETTINGS: Record<string, string | number> = {
  // Three servers share the machine: a third of the single server's memory each.
  shared_buffers: "'256MB'",
  maintenance_work_mem: "'128MB'",
  // Citus commits multi-shard writes with two-phase commit.
  max_prepared_transactions: 100,
  // The throwaway nodes listen without TLS; Citus's default asks for sslmode=require.
  "citus.node_conninfo": "'sslmode=disable'",
  // Shard connections are local; a handful per node is plenty for tests.
  "citus.max_shared_pool_size": 100,
  // a backend that crashed is a LOG line of the postmaster: keep those for the test's messages
  log_min_messages: "log",
  log_checkpoints: "off",
};

/** Where PostgreSQL looks for extension control files: citus.control is there once installed. */
export function citusInstalled(): boolean {
  const r = spawnSync(join(PG_BIN, "pg_config"), ["--sharedir"], {
    encoding: "utf8",
  });
  const sharedir =
    r.status === 0 ? r.stdout.trim() : "/usr/share/postgresql/15";
  return existsSync(join(sharedir, "extension", "citus.control"));
}

export interface CitusCluster extends Server {
  kind: "local";
  coordinator: LocalCluster;
  workers: LocalCluster[];
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

/**
 * Starts the nodes one after the other (initdb is the heavy part; the machine is shared), makes
 * the citus extension on each, then registers the coordinator and adds the workers. Roles made
 * on the coordinator from then on (sql/40_roles.sql) are propagated to the workers by Citus.
 */
export async function startCitusCluster(
  options: { workers?: number } = {},
): Promise<CitusCluster> {
  if (!citusInstalled()) {
    throw new Error(
      'Citus is not installed in this PostgreSQL (no citus.control): install it from Citus\'s packages or build it (docs/scaling.md, "Getting Citus")',
    );
  }
  const started = performance.now();
  const nodes: LocalCluster[] = [];
  const stopAll = async () => {
    for (const node of nodes.reverse()) await node.stop();
  };
  try {
    for (let i = 0; i <= (options.workers ?? 2); i++) {
      nodes.push(
        await startLocalCluster({
          preloadFirst: ["citus"],
          label:
            i === 0 ? "querybudget-citus-coord-" : `querybudget-citus-w${i}-`,
          settings: CITUS_NODE_SETTINGS,
        }),
      );
    }
    for (const node of nodes) {
      const sql = postgres(node.url, { max: 1, onnotice: () => {} });
      try {
        await sql`create extension if not exists citus`;
      } finally {
        await sql.end();
      }
    }
    const [coordinator, ...workers] = nodes as [
      LocalCluster,
      ...LocalCluster[],
    ];
    const sql = postgres(coordinator.url, { max: 1, onnotice: () => {} });
    try {
      const c = hostPort(coordinator.url);
      await sql`select citus_set_coordinator_host(${c.host}, ${c.port})`;
      for (const worker of workers) {
        const w = hostPort(worker.url);
        await sql`select citus_add_node(${w.host}, ${w.port})`;
      }
    } finally {
      await sql.end();
    }
    log(
      `Citus cluster: coordinator on port ${hostPort(coordinator.url).port}, workers on ${workers.map((w) => hostPort(w.url).port).join(", ")}, ready in ${elapsed(started)}`,
    );
    return {
      kind: "local",
      url: coordinator.url,
      adminUrl: coordinator.adminUrl,
      socketDir: coordinator.socketDir,
      logFile: coordinator.logFile,
      serverLog: () =>
        nodes
          .map(
            (n, i) =>
              `--- ${i === 0 ? "coordinator" : `worker ${i}`}\n${n.serverLog()}`,
          )
          .join("\n"),
      coordinator,
      workers,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
