// maint.distribute() against a Citus coordinator (functions/maint/distribute.sql,
// docs/scaling.md): checks that the server is one, with workers, then prints what it changed.
import postgres from "postgres";
import { log } from "./log.ts";

export interface DistributeAction {
  object: string;
  action: string;
}

export async function distribute(
  url: string,
  options: { shardCount?: number; quiet?: boolean } = {},
): Promise<DistributeAction[]> {
  const sql = postgres(url, {
    max: 1,
    onnotice: (n) => {
      if (!options.quiet) log(String(n.message));
    },
  });
  try {
    const [citus] = await sql<{ version: string | null }[]>`
      select (select e.extversion from pg_extension e where e.extname = 'citus') as version`;
    if (!citus?.version) {
      throw new Error(
        "the database at DATABASE_URL has no citus extension: distribute needs a Citus coordinator with workers added (docs/scaling.md)",
      );
    }
    const [nodes] = await sql<{ workers: number }[]>`
      select count(*)::int as workers from citus_get_active_worker_nodes()`;
    if (!nodes || nodes.workers < 1) {
      throw new Error(
        "the Citus coordinator at DATABASE_URL has no active worker: add them first (select citus_add_node(host, port); docs/scaling.md)",
      );
    }
    const actions = await sql<DistributeAction[]>`
      select object, action from maint.distribute(${options.shardCount ?? null}::integer)`;
    if (!options.quiet) {
      log(
        `Citus ${citus.version}, ${nodes.workers} workers: ${actions.length === 0 ? "everything is distributed already; nothing changed" : `${actions.length} changes`}`,
      );
      for (const a of actions) log(`  ${a.object}: ${a.action}`);
    }
    return actions;
  } finally {
    await sql.end();
  }
}
