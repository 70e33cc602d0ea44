// On a real Citus cluster (npm run test:citus; not in npm test: CI has no Citus): migrate,
// seed, then, before distributing, choose every workload's arguments and run each read on the
// still local tables (the one-node reference); then npm run distribute (twice: the second
// changes nothing), and every routine again on the distributed tables: its outcome must be
// the one test/citus/expected.ts records (the map of docs/scaling.md), a read that works must
// return the reference's rows, and a tenant-scoped call that works must be routed to one node
// (EXPLAIN: Task Count 1). The jobs and tenant isolation are checked on the cluster too.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  latencyTable,
  measureLatency,
  outcomesTable,
  outcomeText,
  resolveCalls,
  runCalls,
  type Latency,
  type ResolvedCall,
  type RoutineRun,
} from "../../scripts/lib/citus-check.ts";
import {
  distribute,
  type DistributeAction,
} from "../../scripts/lib/distribute.ts";
import { migrateDatabase } from "../../scripts/lib/migrate.ts";
import { seedDatabase } from "../../scripts/lib/seed.ts";
import { WORKLOAD } from "../../scripts/lib/workload.ts";
import { citusCluster, type TestCluster } from "../harness/citus.ts";
import { EXPECTED, TENANTLESS } from "./expected.ts";

const SEED_ROWS = 10_000;

/** The rows with the moment of the call taken out (`as_of`: the statistics' now()), which differs between two calls. */
function withoutClock(rows: unknown): unknown {
  return JSON.parse(
    JSON.stringify(rows, (key, value: unknown) =>
      key === "as_of" ? undefined : value,
    ),
  );
}
const SHARD_COUNT = 8;

let cluster: TestCluster;
let sql: postgres.Sql;

/** One connection to the coordinator as `role` (no password: the throwaway cluster trusts it). */
function connectAs(role: string): postgres.Sql {
  const u = new URL(cluster.url);
  u.username = role;
  return postgres(u.toString(), { max: 1, onnotice: () => {} });
}
let resolved: ResolvedCall[];
let reference: Map<string, RoutineRun>;
let first: DistributeAction[];
let second: DistributeAction[];
let runs: Map<string, RoutineRun>;
let oneNodeLatency: Latency[];
/** Every tenant-scoped read called with another tenant's id (its other arguments the first tenant's), on one node and on the cluster. */
let crossed: ResolvedCall[];
let crossedOneNode: Map<string, RoutineRun>;
let crossedCluster: Map<string, RoutineRun>;
let clusterLatency: Latency[];

beforeAll(async () => {
  cluster = await citusCluster();
  sql = postgres(cluster.url, { max: 2, onnotice: () => {} });
  const [distributed] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_dist_partition p
    where p.logicalrelid::text like 'app.%'`;
  if (distributed!.n > 0)
    throw new Error(
      "the database is distributed already: npm run test:citus needs one that is not (it seeds first, then distributes)",
    );
  await migrateDatabase(cluster.url, { quiet: true });
  const seeding = postgres(cluster.url, { max: 1, onnotice: () => {} });
  try {
    await seedDatabase(seeding, { rows: SEED_ROWS, seed: 1 });
  } finally {
    await seeding.end();
  }
  resolved = await resolveCalls(cluster.url);
  // one node: the same data, not distributed yet; the procedure is left out (it would consume its subject)
  reference = new Map(
    (
      await runCalls(
        cluster.url,
        resolved.filter((c) => c.kind !== "procedure"),
        { explain: false },
      )
    ).map((r) => [r.name, r]),
  );
  // the isolation matrix's calls: each read as another tenant, with the first tenant's ids
  const tenants = [
    ...new Set(
      resolved
        .filter((c) => c.args !== null && !TENANTLESS.includes(c.routine))
        .map((c) => String(c.args![0])),
    ),
  ];
  crossed = resolved
    .filter(
      (c) =>
        c.kind === "read" && c.args !== null && !TENANTLESS.includes(c.routine),
    )
    .map((c) => ({
      ...c,
      name: `${c.name} (another tenant)`,
      args: [
        tenants.find((t) => t !== String(c.args![0])) ?? "-1",
        ...c.args!.slice(1),
      ],
    }));
  crossedOneNode = new Map(
    (await runCalls(cluster.url, crossed, { explain: false })).map((r) => [
      r.name,
      r,
    ]),
  );
  // latency on one node: the same server and data, the tables not distributed yet
  oneNodeLatency = await measureLatency(cluster.url, resolved);
  first = await distribute(cluster.url, {
    shardCount: SHARD_COUNT,
    quiet: true,
  });
  second = await distribute(cluster.url, { quiet: true });
  // before the workloads: the purge procedure among them deletes documents for good
  crossedCluster = new Map(
    (await runCalls(cluster.url, crossed)).map((r) => [r.name, r]),
  );
  runs = new Map(
    (await runCalls(cluster.url, resolved)).map((r) => [r.name, r]),
  );
  clusterLatency = await measureLatency(cluster.url, resolved);
  // The map as found, for docs/scaling.md and test/citus/expected.ts.
  const found = join(tmpdir(), "querybudget-citus-map");
  writeFileSync(`${found}.md`, `${outcomesTable([...runs.values()])}\n`);
  const latency = `${latencyTable(oneNodeLatency, clusterLatency)}\n`;
  writeFileSync(join(tmpdir(), "querybudget-citus-latency.md"), latency);
  process.stdout.write(
    `\nlatency, one node against the cluster (${join(tmpdir(), "querybudget-citus-latency.md")}):\n${latency}`,
  );
  writeFileSync(
    `${found}.json`,
    `${JSON.stringify(Object.fromEntries([...runs.values()].map((r) => [r.name, outcomeText(r)])), null, 2)}\n`,
  );
  process.stdout.write(`\nthe map as found: ${found}.md, ${found}.json\n`);
  const works = [...runs.values()].filter((r) => r.status === "works");
  process.stdout.write(
    `\nCitus: ${first.length} changes by the first distribute, ${second.length} by the second; ` +
      `${works.length} of ${runs.size} workloads work, ${works.filter((r) => r.tasks === 1).length} of them routed to one node\n`,
  );
});

afterAll(async () => {
  await sql?.end();
  await cluster?.stop();
});

describe("npm run distribute", () => {
  test("distributes every app table (not the partitions) by tenant_id, all colocated with app.tenants", async () => {
    const tables = await sql<
      { rel: string; column: string | null; colocated: boolean }[]
    >`
      select c.oid::regclass::text as rel,
             column_to_column_name(p.logicalrelid, p.partkey) as column,
             p.colocationid = (select a.colocationid from pg_dist_partition a where a.logicalrelid = 'app.tenants'::regclass) as colocated
      from pg_class c
      left join pg_dist_partition p on p.logicalrelid = c.oid
      where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
      order by 1`;
    expect(tables.length).toBeGreaterThanOrEqual(16);
    expect(
      tables.filter((t) => t.column !== "tenant_id" || !t.colocated),
    ).toEqual([]);
  });

  test("distributes every api routine with p_tenant_id by it, colocated, with force_delegation", async () => {
    const wrong = await sql<{ routine: string }[]>`
      select p.oid::regprocedure::text as routine
      from pg_proc p
      left join pg_dist_object o on o.classid = 'pg_proc'::regclass and o.objid = p.oid
      where p.pronamespace = 'api'::regnamespace
        and 'p_tenant_id' = any (p.proargnames)
        and (o.objid is null or o.distribution_argument_index <> array_position(p.proargnames, 'p_tenant_id') - 1
             or not o.force_delegation
             or o.colocationid <> (select a.colocationid from pg_dist_partition a where a.logicalrelid = 'app.tenants'::regclass))
      order by 1`;
    expect(wrong).toEqual([]);
  });

  test("the api routines without p_tenant_id are the documented exceptions", async () => {
    const without = await sql<{ name: string }[]>`
      select distinct 'api.' || p.proname as name from pg_proc p
      where p.pronamespace = 'api'::regnamespace
        and not coalesce('p_tenant_id' = any (p.proargnames), false)
      order by 1`;
    expect(without.map((r) => r.name)).toEqual([...TENANTLESS].sort());
  });

  test("a second run changes nothing", () => {
    expect(first.length).toBeGreaterThan(16);
    expect(second).toEqual([]);
  });
});

describe("every workload routine on the cluster", () => {
  test("the map covers the workload", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(
      WORKLOAD.map((w) => w.name).sort(),
    );
  });

  test.each(WORKLOAD.map((w) => w.name))(
    "%s: as test/citus/expected.ts records",
    (name) => {
      const run = runs.get(name)!;
      const expected = EXPECTED[name]!;
      const actual = outcomeText(run);
      expect(
        actual,
        `${name}: update test/citus/expected.ts and docs/scaling.md` +
          (run.status === "fails" && run.code === "XX000"
            ? `\nthe nodes' logs, last lines:\n${cluster.serverLog().slice(-3000)}`
            : ""),
      ).toBe(expected);
      if (run.status !== "works") return;
      if (run.kind === "read") {
        const one = reference.get(name)!;
        expect(one.status, `${name} on one node`).toBe("works");
        expect(withoutClock(run.rows)).toEqual(withoutClock(one.rows));
      }
      if (!TENANTLESS.includes(run.routine) && run.kind !== "procedure") {
        expect(run.tasks, `${name}: routed to one node`).toBe(1);
      }
    },
  );
});

describe("jobs on the cluster", () => {
  test("the TTL job deletes every expired row, tenant by tenant", async () => {
    await sql`update app.user_sessions set expires_at = now() - interval '1 hour' where id % 5 = 0`;
    await sql`update app.messages set expires_at = now() - interval '1 hour' where id % 7 = 0`;
    const count = async () =>
      (
        await sql<{ n: number }[]>`
          select (select count(*) from app.user_sessions where expires_at < now())
               + (select count(*) from app.messages where expires_at < now())
               + (select count(*) from app.conversations where expires_at < now()) as n`
      )[0]!.n;
    expect(Number(await count())).toBeGreaterThan(0);
    await sql`call maint.purge_expired(50, 1000)`;
    expect(Number(await count())).toBe(0);
  });

  test("partition maintenance and the nightly analyze run", async () => {
    await sql`call maint.run_partition_maintenance()`;
    const [r] = await sql<
      { parents_analyzed: number }[]
    >`call maint.analyze_partitioned_parents()`;
    expect(Number(r!.parents_analyzed)).toBeGreaterThanOrEqual(3);
  });
});

describe("jobs on the cluster (the statistics)", () => {
  test("the statistics fold (maint.fold_collection_stat_deltas) runs tenant by tenant, and folds every pending delta", async () => {
    // Setup: pending deltas of several tenants, written through the api as the application
    const app = connectAs("querybudget_app");
    await sql`select maint.fold_collection_stat_deltas()`;
    const tenants = await sql<{ tenant_id: string; collection_id: string }[]>`
      select tenant_id::text, min(id)::text as collection_id from app.collections
      group by tenant_id order by tenant_id limit 3`;
    for (const t of tenants)
      await app`select api.enqueue_operations(${t.tenant_id}::bigint, ${t.collection_id}::bigint, 'chunking', ${JSON.stringify([{ metadata: { strategy: "fold" } }])}::text::jsonb)`;

    // Action
    const [folded] = await sql<{ n: number }[]>`
      select maint.fold_collection_stat_deltas()::int as n`;

    // Assertions
    expect(folded!.n).toBe(tenants.length);
    const [left] = await sql<{ n: number }[]>`
      select count(*)::int as n from app.collection_stat_deltas`;
    expect(left!.n).toBe(0);
    // the folded statistics are the rows' (the default read against p_fresh, routed alike)
    for (const t of tenants) {
      // one bare call per statement: Citus delegates a call to the tenant's node only when it is
      // the whole statement (select f(...)), not inside an expression
      const [maintained] = await app<{ s: Record<string, unknown> }[]>`
        select api.collection_statistics(${t.tenant_id}::bigint, ${t.collection_id}::bigint) as s`;
      const [fresh] = await app<{ s: Record<string, unknown> }[]>`
        select api.collection_statistics(${t.tenant_id}::bigint, ${t.collection_id}::bigint, true) as s`;
      const { as_of: _m, ...m } = maintained!.s;
      const { as_of: _f, ...f } = fresh!.s;
      expect(m).toEqual(f);
    }
    await app.end();
  });
  test("the statistics' exactness check and rebuild run on the cluster: no drift before or after a rebuild, which rewrites every collection", async () => {
    // Action, Assertions
    const [before] = await sql<{ n: number }[]>`
      select count(*)::int as n from perf.collection_stats_drift()`;
    expect(before!.n).toBe(0);
    const [rebuilt] = await sql<{ n: number }[]>`
      select maint.rebuild_collection_stats()::int as n`;
    const [collections] = await sql<{ n: number }[]>`
      select count(distinct (tenant_id, collection_id))::int as n from maint.collection_stats_recomputed()`;
    expect(rebuilt!.n).toBe(collections!.n);
    expect(rebuilt!.n).toBeGreaterThan(0);
    const [after] = await sql<{ n: number }[]>`
      select count(*)::int as n from perf.collection_stats_drift()`;
    expect(after!.n).toBe(0);
  });
});

describe("jobs on the cluster (the operators' overview)", () => {
  test("the refresh of app.tenant_overview (a materialized view on the coordinator, read by the monitoring only) runs", async () => {
    await sql`select maint.refresh_tenant_overview()`;
    const [r] = await sql<
      { n: number }[]
    >`select count(*)::int as n from app.tenant_overview`;
    expect(r!.n).toBeGreaterThan(0);
  });
});

describe("tenant isolation on the cluster", () => {
  test("every tenant-scoped read called as another tenant with the first one's ids answers as on one node (nothing of the first tenant)", () => {
    expect(crossed.length).toBeGreaterThan(10);
    for (const call of crossed) {
      const one = crossedOneNode.get(call.name)!;
      const run = crossedCluster.get(call.name)!;
      expect(outcomeText(run), call.name).toBe(outcomeText(one));
      if (run.status === "works")
        expect(withoutClock(run.rows), call.name).toEqual(
          withoutClock(one.rows),
        );
    }
  });

  test("querybudget_app reads no table directly (42501) on the coordinator", async () => {
    const app = connectAs("querybudget_app");
    try {
      await expect(
        app`select count(*) from app.documents`,
      ).rejects.toMatchObject({
        code: "42501",
      });
    } finally {
      await app.end();
    }
  });

  test("without the tenant setting the owner sees no row of a shard; with it, only its tenant's", async () => {
    const owner = connectAs("querybudget_owner");
    try {
      const [none] = await owner<
        { n: number }[]
      >`select count(*)::int as n from app.documents`;
      expect(none!.n).toBe(0);
      const [one] = await owner.begin(async (tx) => {
        await tx`select set_config('querybudget.tenant_id', '1', true)`;
        return tx<{ n: number; others: number }[]>`
          select count(*)::int as n, count(*) filter (where tenant_id <> 1)::int as others
          from app.documents where tenant_id = 1`;
      });
      expect(one!.others).toBe(0);
    } finally {
      await owner.end();
    }
  });
});

describe("a big tenant isolated and moved", () => {
  test("isolate_tenant_to_new_shard, then the shard group moved to the other worker: the tenant's calls still work, routed, with the same rows", async () => {
    // the tenant most of the resolved reads name
    const reads = resolved.filter(
      (c) =>
        c.kind === "read" && c.args !== null && !TENANTLESS.includes(c.routine),
    );
    const counts = new Map<string, number>();
    for (const c of reads)
      counts.set(String(c.args![0]), (counts.get(String(c.args![0])) ?? 0) + 1);
    const tenant = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const mine = resolved.filter(
      (c) =>
        c.args !== null &&
        c.kind !== "procedure" &&
        !TENANTLESS.includes(c.routine) &&
        String(c.args[0]) === tenant,
    );
    const before = new Map(
      (await runCalls(cluster.url, mine)).map((r) => [r.name, r]),
    );

    const [isolated] = await sql<{ shard: string }[]>`
      select isolate_tenant_to_new_shard('app.tenants', ${tenant}::bigint, 'CASCADE',
                                         shard_transfer_mode => 'block_writes')::text as shard`;
    const [from] = await sql<{ host: string; port: number }[]>`
      select nodename as host, nodeport as port from pg_dist_shard_placement where shardid = ${isolated!.shard}::bigint`;
    const [to] = await sql<{ host: string; port: number }[]>`
      select node_name as host, node_port as port from citus_get_active_worker_nodes()
      where (node_name, node_port) <> (${from!.host}, ${from!.port}) limit 1`;
    await sql`
      select citus_move_shard_placement(${isolated!.shard}::bigint, ${from!.host}, ${from!.port},
                                        ${to!.host}, ${to!.port}, shard_transfer_mode => 'block_writes')`;
    const [moved] = await sql<{ port: number; tables: number }[]>`
      select min(p.nodeport) as port, count(*)::int as tables
      from pg_dist_shard s join pg_dist_shard_placement p using (shardid)
      where s.shardminvalue = s.shardmaxvalue
        and s.shardminvalue::int = (select worker_hash(${tenant}::bigint))`;
    process.stdout.write(
      `\ntenant ${tenant}: isolated to shard ${isolated!.shard} (and its colocated shards: ${moved!.tables}), moved from port ${from!.port} to ${to!.port}\n`,
    );
    expect(Number(moved!.port)).toBe(Number(to!.port));

    const after = await runCalls(cluster.url, mine);
    for (const run of after) {
      const prior = before.get(run.name)!;
      expect(outcomeText(run), run.name).toBe(outcomeText(prior));
      if (run.status !== "works") continue;
      expect(run.tasks, `${run.name}: routed to one node`).toBe(1);
      if (run.kind === "read")
        expect(withoutClock(run.rows), run.name).toEqual(
          withoutClock(prior.rows),
        );
    }
    expect(after.length).toBeGreaterThan(5);
  }, 600_000);
});
