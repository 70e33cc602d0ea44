// npm run measure:stat-deltas: what the statistics maintained by the writes cost (issue 12,
// item 1; docs/benchmark.md, "Statistics maintained by the writes"). It provisions a server
// (DATABASE_URL, a container or a throwaway cluster, as every entry point), migrates, seeds a
// tier (1M rows, seed 1) in a database of its own, and prints:
//
//   (a) writers: W connections (default 8), each a loop of api.enqueue_operations of a batch
//       of chunking operations and api.finish_operations of the same batch, for a fixed time,
//       all into ONE collection, then each into a collection of its own (the same tenant),
//       rounds alternating; operations finished per second in each mode and the ratio.
//   (b) the fold: maint.fold_collection_stat_deltas() after 1,000 writes (1,000 delta rows,
//       over 100 collections), timed at the client, several rounds; and once more after 1,000
//       writes that include hard deletes of a collection's smallest chunk (the fold recomputes
//       that bound from the collection's rows).
//   (c) the operators' per-tenant view: maint.refresh_tenant_overview() (concurrently, from
//       the maintained statistics: its cost follows the number of collections), several
//       runs; and, for scale, one full recomputation of every collection's statistics from
//       the rows (maint.collection_stats_recomputed(), what perf.collection_stats_drift()
//       and the retired per-collection view computed).
//
//   npm run measure:stat-deltas                          # 1M rows, 8 writers, 10 s per round
//   npm run measure:stat-deltas -- --rows 10000 --seconds 3
//
// Prints figures only: no assertion (timings depend on the machine; tests assert none).
import { Command } from "commander";
import postgres from "postgres";
import { elapsed, log } from "./lib/log.ts";
import { migrateDatabase } from "./lib/migrate.ts";
import { seedDatabase } from "./lib/seed.ts";
import { provisionServer } from "./lib/server.ts";
import { withDatabase } from "./lib/server-contract.ts";

const options = new Command()
  .name("npm run measure:stat-deltas --")
  .description(
    "Measure concurrent writers into one collection against one collection each, and the fold of 1,000 writes' deltas.",
  )
  .option("--rows <n>", "rows to seed", (v) => Number(v), 1_000_000)
  .option("--writers <n>", "concurrent writers", (v) => Number(v), 8)
  .option("--seconds <n>", "seconds per round", (v) => Number(v), 10)
  .option("--rounds <n>", "rounds per mode (alternating)", (v) => Number(v), 2)
  .option(
    "--batch <n>",
    "operations per enqueue/finish batch",
    (v) => Number(v),
    10,
  )
  .option(
    "--folds <n>",
    "fold measurements of 1,000 writes",
    (v) => Number(v),
    5,
  )
  .parse()
  .opts<{
    rows: number;
    writers: number;
    seconds: number;
    rounds: number;
    batch: number;
    folds: number;
  }>();

const server = await provisionServer();
process.once("SIGINT", async () => {
  await server.stop();
  process.exit(130);
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Target {
  tenant_id: string;
  collection_id: string;
}

/** One writer's loop: enqueue a batch of chunking operations, finish them; operations finished. */
async function writer(
  url: string,
  target: Target,
  until: number,
  batch: number,
): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const items = JSON.stringify(
    Array.from({ length: batch }, (_, i) => ({
      metadata: { strategy: `s${i % 3}` },
    })),
  );
  let done = 0;
  try {
    while (performance.now() < until) {
      const made = await sql<{ id: string }[]>`
        select id::text from api.enqueue_operations(${target.tenant_id}, ${target.collection_id}, 'chunking', ${items}::text::jsonb)`;
      const results = JSON.stringify(
        made.map((m, i) => ({
          id: Number(m.id),
          status: i % 10 === 9 ? "failed" : "completed",
          processing_time: 0.5 + i / 10,
        })),
      );
      await sql`select api.finish_operations(${target.tenant_id}, ${results}::text::jsonb)`;
      done += made.length;
    }
  } finally {
    await sql.end();
  }
  return done;
}

/**
 * One round: the writers for `seconds`, and a sampler that looks at pg_stat_activity every
 * 50 ms and counts the writers it finds waiting on a heavyweight lock (a row or a tuple: what
 * writers queued behind one hot row would show). Operations finished per second, and the
 * share of writer samples that were lock waits.
 */
async function round(
  url: string,
  targets: Target[],
  seconds: number,
  batch: number,
): Promise<{ ops: number; lockWaits: number }> {
  const until = performance.now() + seconds * 1000;
  const sampler = postgres(url, { max: 1, onnotice: () => {} });
  let samples = 0;
  let waits = 0;
  const sampling = (async () => {
    while (performance.now() < until) {
      const [s] = await sampler<{ writers: number; waiting: number }[]>`
        select count(*)::int as writers, (count(*) filter (where wait_event_type = 'Lock'))::int as waiting
        from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
          and query like 'select%api.%' and state = 'active'`;
      samples += s!.writers;
      waits += s!.waiting;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const counts = await Promise.all(
    targets.map((t) => writer(url, t, until, batch)),
  );
  await sampling;
  await sampler.end();
  return {
    ops: counts.reduce((a, b) => a + b, 0) / seconds,
    lockWaits: samples ? waits / samples : 0,
  };
}

try {
  const started = performance.now();
  const name = "querybudget_measure_stat_deltas";
  const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = withDatabase(server.url, name);
  await migrateDatabase(url, { quiet: true });
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  try {
    log(`seeding ${options.rows} rows ...`);
    await seedDatabase(sql, { rows: options.rows, seed: 1 });
    await sql`vacuum analyze`;
    const [size] = await sql<
      { chunks: string; operations: string; documents: string }[]
    >`select (select count(*) from app.chunks)::text as chunks, (select count(*) from app.operations)::text as operations,
             (select count(*) from app.documents)::text as documents`;
    log(
      `seeded in ${elapsed(started)}: ${size!.documents} documents, ${size!.chunks} chunks, ${size!.operations} operations`,
    );

    // (a) writers --------------------------------------------------------------------------
    // The tenant with the most collections; its first collection for all writers, or its
    // first W collections, one per writer.
    const [tenant] = await sql<{ tenant_id: string; n: number }[]>`
      select tenant_id::text, count(*)::int as n from app.collections group by tenant_id order by 2 desc, 1 limit 1`;
    if (tenant!.n < options.writers)
      throw new Error(
        `the biggest tenant has ${tenant!.n} collections, fewer than ${options.writers} writers`,
      );
    const collections = await sql<Target[]>`
      select tenant_id::text, id::text as collection_id from app.collections
      where tenant_id = ${tenant!.tenant_id} order by id limit ${options.writers}`;
    const one = Array.from({ length: options.writers }, () => collections[0]!);
    const modes: Record<"one" | "own", number[]> = { one: [], own: [] };
    const waitShares: Record<"one" | "own", number[]> = { one: [], own: [] };
    // a warm-up round, not counted
    await round(url, collections, Math.min(2, options.seconds), options.batch);
    for (let r = 0; r < options.rounds; r++) {
      for (const mode of ["one", "own"] as const) {
        await sql`select maint.fold_collection_stat_deltas()`;
        const { ops, lockWaits } = await round(
          url,
          mode === "one" ? one : collections,
          options.seconds,
          options.batch,
        );
        modes[mode].push(ops);
        waitShares[mode].push(lockWaits);
        log(
          `round ${r + 1}: ${options.writers} writers into ${mode === "one" ? "one collection" : "a collection each"}: ${ops.toFixed(0)} operations/s, ${(lockWaits * 100).toFixed(1)} % of active writer samples waiting on a lock`,
        );
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(modes.one) / mean(modes.own);

    // (b) the fold -------------------------------------------------------------------------
    await sql`select maint.fold_collection_stat_deltas()`;
    const targets = await sql<Target[]>`
      select tenant_id::text, id::text as collection_id from app.collections order by id limit 100`;
    const writes = sql.reserve();
    const w = await writes;
    const pending = async () =>
      Number(
        (
          await sql<
            { n: string }[]
          >`select count(*)::text as n from app.collection_stat_deltas`
        )[0]!.n,
      );
    const foldMs: number[] = [];
    let folded = 0;
    try {
      for (let f = 0; f < options.folds; f++) {
        for (let i = 0; i < 1000; i++) {
          const t = targets[i % targets.length]!;
          await w`select id from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'chunking', ${'[{"metadata": {"strategy": "fold"}}]'}::text::jsonb)`;
        }
        const n = await pending();
        const t0 = performance.now();
        const [r] = await sql<
          { n: string }[]
        >`select maint.fold_collection_stat_deltas()::text as n`;
        foldMs.push(performance.now() - t0);
        folded = Number(r!.n);
        if (folded !== n)
          throw new Error(
            `the fold folded ${folded} deltas, ${n} were pending`,
          );
      }
      // 1,000 writes of which 10 hard-delete a collection's smallest chunk's document: the
      // fold recomputes those collections' minimum from their rows
      const bounds = await sql<
        (Target & { document_id: string })[]
      >`select distinct on (k.collection_id) k.tenant_id::text, k.collection_id::text, k.document_id::text
        from app.chunks k
        join app.collection_stat_totals s on s.tenant_id = k.tenant_id and s.collection_id = k.collection_id and s.chunk_min_size = k.size
        order by k.collection_id, k.document_id limit 10`;
      for (let i = 0; i < 1000 - bounds.length; i++) {
        const t = targets[i % targets.length]!;
        await w`select id from api.enqueue_operations(${t.tenant_id}, ${t.collection_id}, 'chunking', ${'[{"metadata": {"strategy": "fold"}}]'}::text::jsonb)`;
      }
      for (const b of bounds)
        await w`select api.delete_documents(${b.tenant_id}, ${[b.document_id]}::bigint[], true)`;
      const n = await pending();
      const sizes = await sql<{ chunks: string }[]>`
        select count(*)::text as chunks from app.chunks k
        where (k.tenant_id, k.collection_id) in (select d.tenant_id, d.collection_id from app.collection_stat_deltas d
                                                 where d.chunk_deleted_min_size is not null)`;
      const t0 = performance.now();
      await sql`select maint.fold_collection_stat_deltas()`;
      const boundMs = performance.now() - t0;

      // (c) the tenant overview's refresh, and a full recomputation for scale
      const refreshMs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const [r] = await sql<
          { ms: number }[]
        >`select (extract(epoch from maint.refresh_tenant_overview()) * 1000)::float8 as ms`;
        refreshMs.push(r!.ms);
      }
      const [shape] = await sql<{ collections: string; tenants: string }[]>`
        select (select count(*) from app.collection_stat_totals)::text as collections,
               (select count(*) from app.tenant_overview)::text as tenants`;
      const t1 = performance.now();
      await sql`select count(*) from maint.collection_stats_recomputed()`;
      const recomputeMs = performance.now() - t1;

      console.log(`\nstatistics maintained by the writes: ${options.rows} rows (seed 1), ${size!.operations} operations, ${size!.chunks} chunks
(a) ${options.writers} writers, enqueue + finish batches of ${options.batch} chunking operations, ${options.seconds} s per round, ${options.rounds} rounds per mode:
    into one collection:      ${modes.one.map((x) => x.toFixed(0)).join(", ")} operations/s
    into a collection each:   ${modes.own.map((x) => x.toFixed(0)).join(", ")} operations/s
    one / each:               ${(ratio * 100).toFixed(0)} %
    writers seen waiting on a lock: one collection ${waitShares.one.map((x) => `${(x * 100).toFixed(1)} %`).join(", ")}; a collection each ${waitShares.own.map((x) => `${(x * 100).toFixed(1)} %`).join(", ")}
(b) fold of 1,000 writes' deltas (${folded} rows, 100 collections): median ${median(foldMs).toFixed(1)} ms, max ${Math.max(...foldMs).toFixed(1)} ms over ${foldMs.length} folds
    fold of ${n} deltas with ${bounds.length} collection minimums deleted (recomputed from ${sizes[0]!.chunks} chunks of those collections): ${boundMs.toFixed(1)} ms
(c) maint.refresh_tenant_overview() (${shape!.tenants} tenants from ${shape!.collections} collections' totals): median ${median(refreshMs).toFixed(1)} ms, runs ${refreshMs.map((x) => x.toFixed(1)).join(", ")} ms
    for scale, one full recomputation from the rows (maint.collection_stats_recomputed()): ${recomputeMs.toFixed(0)} ms`);
    } finally {
      w.release();
    }
  } finally {
    await sql.end();
  }
  const drop = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
  await drop.unsafe(`drop database if exists ${name} with (force)`);
  await drop.end();
  log(`measured in ${elapsed(started)}`);
} finally {
  await server.stop();
}
