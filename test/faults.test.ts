// Faults: the server is killed (SIGKILL to the postmaster and its processes, no shutdown) in
// the middle of api.delete_documents and of api.purge_documents, started again on the same
// data folder (crash recovery), and then every invariant must hold: a bulk call is all or
// nothing, a purge keeps the batches it committed and finishes the job when called again, and
// nothing that was committed (acknowledged to a client) is lost.
//
// This runs on a DEDICATED throwaway cluster (never the shared test server), started with
// synchronous_commit = on: the test clusters' speed settings turn it off, and then the last
// commits before a crash may be lost by design (docs/operations.md, "Crash safety"), which would
// make "nothing committed is lost" meaningless. fsync and full_page_writes stay off: a killed
// process loses nothing the OS page cache already has, and the OS keeps running here.
//
// To stop a statement in its middle, deterministically, a second connection holds a row lock
// on one chunk the statement must delete: the statement does most of its work (rows deleted,
// WAL written, nothing committed) and then waits for that lock. The server is killed while it
// waits: pg_stat_activity shows it active and waiting on a Lock.
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  startLocalCluster,
  type LocalCluster,
} from "../scripts/lib/cluster.ts";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { seedDatabase } from "../scripts/lib/seed.ts";
import { withDatabase } from "../scripts/lib/server-contract.ts";

/** Seed tier: 40,000 chunks and 4,000 documents; tenant 1 has about 2,000 of them. */
const ROWS = 40_000;
const DATABASE = "qb_faults";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: LocalCluster;
let url: string;
/** Connections opened since the last restart; all ended before the next kill's aftermath. */
let clients: postgres.Sql[] = [];

function connect(options: postgres.Options<{}> = {}): postgres.Sql {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 10,
    ...options,
  });
  clients.push(sql);
  return sql;
}

async function endClients(): Promise<void> {
  const all = clients;
  clients = [];
  await Promise.all(all.map((c) => c.end({ timeout: 0 }).catch(() => {})));
}

const summary = { faults: 0, acknowledged: 0, lost: 0 };

beforeAll(async () => {
  cluster = await startLocalCluster({
    settings: { synchronous_commit: "on", log_min_messages: "log" },
  });
  const admin = postgres(cluster.adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${DATABASE}`);
  await admin.end();
  url = withDatabase(cluster.url, DATABASE);
  await migrateDatabase(url, { quiet: true });
  const sql = connect();
  await seedDatabase(sql, { rows: ROWS, seed: 1 });
  // Committed before every fault: what a marker writer got acknowledged must survive it.
  await sql`create table public.fault_markers (run text not null, n integer not null, primary key (run, n))`;
  const [setting] = await sql<
    { synchronous_commit: string }[]
  >`select current_setting('synchronous_commit') as synchronous_commit`;
  expect(setting?.synchronous_commit).toBe("on");
  await endClients();
});

afterAll(async () => {
  await endClients();
  await cluster?.stop();
  console.log(
    `faults: ${summary.faults} injected, ${summary.lost} rows lost (${summary.acknowledged} acknowledged commits checked)`,
  );
});

/**
 * Commits one marker row after another, in autocommit, until the server goes away. Returns the
 * numbers whose INSERT was acknowledged (each one a commit the server confirmed).
 */
function startMarkerWriter(run: string): {
  stop: () => void;
  done: Promise<number[]>;
  count: () => number;
} {
  const sql = connect();
  const acknowledged: number[] = [];
  let stopped = false;
  const done = (async () => {
    for (let n = 1; !stopped; n++) {
      try {
        await sql`insert into public.fault_markers (run, n) values (${run}, ${n})`;
        acknowledged.push(n);
      } catch {
        break; // the server is gone
      }
    }
    return acknowledged;
  })();
  return {
    stop: () => (stopped = true),
    done,
    count: () => acknowledged.length,
  };
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A backend running `pattern` that waits for a heavyweight lock, seen from another connection. */
async function waitUntilBlocked(
  watcher: postgres.Sql,
  pattern: string,
): Promise<{ pid: number; wait_event: string }> {
  return waitFor(`a backend running ${pattern} to wait on a lock`, async () => {
    const [row] = await watcher<{ pid: number; wait_event: string }[]>`
      select pid, wait_event from pg_stat_activity
      where datname = current_database() and state = 'active' and query like ${pattern}
        and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
    return row;
  });
}

/** Kill, restart, and count the acknowledged marker rows that recovery did not bring back. */
async function crashAndRecover(
  run: string,
  writer: ReturnType<typeof startMarkerWriter>,
  pending: Promise<unknown>[],
) {
  const logBefore = cluster.serverLog().length;
  const pidBefore = cluster.pid();
  await cluster.kill();
  summary.faults++;
  writer.stop();
  const acknowledged = await writer.done;
  // Every call that was running must fail (the server died under it), none may hang.
  const outcomes = await Promise.allSettled(pending);
  for (const outcome of outcomes) expect(outcome.status).toBe("rejected");
  await endClients();

  await cluster.restart();
  expect(cluster.pid()).not.toBe(pidBefore);
  // It really was a crash: the new postmaster ran crash recovery (WAL redo). Its log lines
  // reach us through a pipe, possibly a moment after the server accepts connections.
  const log = await waitFor(
    "the crash recovery lines in the server log",
    async () => {
      const text = cluster.serverLog().slice(logBefore);
      return /redo starts at|redo done at/.test(text) ? text : undefined;
    },
    5_000,
  );
  expect(log).toMatch(/database system was interrupted|not properly shut down/);

  const sql = connect();
  const [row] = await sql<{ present: number[] }[]>`
    select coalesce(array_agg(n order by n), '{}') as present from public.fault_markers where run = ${run}`;
  const present = new Set(row!.present);
  const lost = acknowledged.filter((n) => !present.has(n));
  summary.acknowledged += acknowledged.length;
  summary.lost += lost.length;
  expect(acknowledged.length).toBeGreaterThan(0);
  expect(lost).toEqual([]);
  return sql;
}

/**
 * A transaction that locks one chunk of a document (its first or last by chunk_index) FOR
 * UPDATE and keeps it until the server dies: `ready` once the lock is held; `holding` rejects
 * when the connection is lost.
 */
function holdChunkLock(
  tenant: number,
  document: DocumentRow,
  which: "asc" | "desc",
) {
  // Plain BEGIN on one connection, not sql.begin(): that one sends a ROLLBACK when its callback
  // fails, and postgres.js 3.4 then writes to the dead socket (an uncaught TypeError).
  const sql = connect();
  let ready!: () => void;
  const lockHeld = new Promise<void>((resolve) => (ready = resolve));
  const holding = (async () => {
    await sql`begin`;
    await sql`select 1 from app.chunks
              where tenant_id = ${tenant} and collection_id = ${document.collection_id} and document_id = ${document.id}
              order by chunk_index ${which === "asc" ? sql`asc` : sql`desc`} limit 1 for update`;
    ready();
    await sql`select pg_sleep(600)`;
  })();
  holding.catch(() => {});
  return {
    ready: Promise.race([
      lockHeld,
      holding.then(() => Promise.reject(new Error("the lock holder ended"))),
    ]),
    holding,
  };
}

interface DocumentRow {
  id: string;
  collection_id: string;
  status: string;
  classification: string | null;
  chunks: number;
  chunks_md5: string | null;
}

/** A tenant's documents, each with its chunk count and a checksum of its chunks. */
async function documentsOf(
  sql: postgres.Sql,
  tenant: number,
): Promise<DocumentRow[]> {
  return sql<DocumentRow[]>`
    select d.id::text, d.collection_id::text, d.status, d.classification,
           count(c.id)::int as chunks,
           md5(string_agg(c.id || ':' || c.chunk_index || ':' || c.size || ':' || md5(c.content), ',' order by c.id)) as chunks_md5
    from app.documents d
    left join app.chunks c on c.tenant_id = d.tenant_id and c.collection_id = d.collection_id and c.document_id = d.id
    where d.tenant_id = ${tenant}
    group by d.tenant_id, d.id
    order by d.id`;
}

describe("SIGKILL of the server, then crash recovery", () => {
  test("in the middle of api.delete_documents (hard, thousands of ids): all or nothing", async () => {
    const tenant = 1;
    let sql = connect();
    const before = await documentsOf(sql, tenant);
    expect(before.length).toBeGreaterThan(1500);
    const ids = before.map((d) => d.id);
    const [counts] = await sql<{ tombstones: number; chunks: number }[]>`
      select (select count(*)::int from app.deleted_documents where tenant_id = ${tenant}) as tombstones,
             (select count(*)::int from app.chunks where tenant_id = ${tenant}) as chunks`;
    expect(counts!.chunks).toBeGreaterThan(10_000);

    // A change committed (and acknowledged) just before the fault must survive it.
    const committed = await sql<{ result: { updated: number } }[]>`
      select api.classify_documents(${tenant}, ${ids.slice(0, 50)}::bigint[], 'before-the-crash') as result`;
    expect(committed[0]!.result.updated).toBeGreaterThan(0);
    const expected = await documentsOf(sql, tenant);

    // The blocker holds the last chunk of the last document: the delete locks the documents,
    // deletes them and almost all their chunks, then waits for this one.
    const last = expected.filter((d) => d.chunks > 0).at(-1)!;
    const blocker = holdChunkLock(tenant, last, "desc");
    await blocker.ready;

    const writer = startMarkerWriter("delete");
    await waitFor("marker commits", async () =>
      writer.count() >= 20 ? true : undefined,
    );
    const watcher = connect();
    const [lsn] = await watcher<
      { lsn: string }[]
    >`select pg_current_wal_lsn()::text as lsn`;
    const caller = connect();
    const deleting = caller`select api.delete_documents(${tenant}, ${ids}::bigint[], true) as result`;
    deleting.catch(() => {});
    await waitUntilBlocked(watcher, "%api.delete_documents%");
    // It did real work before it stopped: the deletes of thousands of rows went to the WAL.
    const [wal] = await watcher<
      { bytes: number }[]
    >`select (pg_current_wal_lsn() - ${lsn!.lsn}::pg_lsn)::int as bytes`;
    expect(wal!.bytes).toBeGreaterThan(200_000);
    await sleep(50); // a few more marker commits while the delete hangs

    sql = await crashAndRecover("delete", writer, [deleting, blocker.holding]);

    // All or nothing: every document, its status and classification, every chunk, as committed.
    const after = await documentsOf(sql, tenant);
    expect(after).toEqual(expected);
    const [countsAfter] = await sql<{ tombstones: number; chunks: number }[]>`
      select (select count(*)::int from app.deleted_documents where tenant_id = ${tenant}) as tombstones,
             (select count(*)::int from app.chunks where tenant_id = ${tenant}) as chunks`;
    expect(countsAfter).toEqual(counts);
    expect(
      after.filter((d) => d.classification === "before-the-crash").length,
    ).toBe(committed[0]!.result.updated);

    // And the same call now runs to its end on the recovered server.
    const [done] = await sql<
      { result: { deleted: number; not_found: number } }[]
    >`
      select api.delete_documents(${tenant}, ${ids}::bigint[], true) as result`;
    expect(done!.result).toMatchObject({ deleted: ids.length, not_found: 0 });
    const [left] = await sql<{ documents: number; chunks: number }[]>`
      select (select count(*)::int from app.documents where tenant_id = ${tenant}) as documents,
             (select count(*)::int from app.chunks where tenant_id = ${tenant}) as chunks`;
    expect(left).toEqual({ documents: 0, chunks: 0 });
  });

  test("in the middle of api.purge_documents: committed batches stay deleted, a second call finishes the job", async () => {
    const tenant = 2;
    const batch = 50;
    const committedBatches = 4;
    let sql = connect();
    const before = await documentsOf(sql, tenant);
    expect(before.length).toBeGreaterThan(committedBatches * batch + 2 * batch);
    // Batches take the tenant's documents in id order: batch k holds ranks (k-1)*50+1 .. k*50.
    // The blocker holds a chunk of a document in the middle of batch 5.
    const victim = before
      .slice(committedBatches * batch, (committedBatches + 1) * batch)
      .find((d, i) => i >= batch / 2 && d.chunks > 0)!;
    expect(victim).toBeDefined();
    const blocker = holdChunkLock(tenant, victim, "asc");
    await blocker.ready;

    const writer = startMarkerWriter("purge");
    await waitFor("marker commits", async () =>
      writer.count() >= 20 ? true : undefined,
    );
    const notices: string[] = [];
    const caller = connect({
      onnotice: (n) => notices.push(String(n.message)),
    });
    const watcher = connect();
    const purging = caller`call api.purge_documents(${tenant}, ${batch})`;
    purging.catch(() => {});
    await waitUntilBlocked(watcher, "%api.purge_documents%");
    // Seen from another connection: exactly the first four batches are committed.
    const [seen] = await watcher<{ documents: number }[]>`
      select count(*)::int as documents from app.documents where tenant_id = ${tenant}`;
    expect(seen!.documents).toBe(before.length - committedBatches * batch);
    expect(notices.filter((n) => n.startsWith("purge_documents:")).length).toBe(
      committedBatches,
    );
    await sleep(50);

    sql = await crashAndRecover("purge", writer, [purging, blocker.holding]);

    // The committed batches stay deleted; batch 5 (in flight) and the rest are intact.
    const after = await documentsOf(sql, tenant);
    expect(after).toEqual(before.slice(committedBatches * batch));
    const [orphans] = await sql<{ n: number }[]>`
      select count(*)::int as n from app.chunks c
      where c.tenant_id = ${tenant}
        and not exists (select from app.documents d where d.tenant_id = c.tenant_id and d.collection_id = c.collection_id and d.id = c.document_id)`;
    expect(orphans!.n).toBe(0);

    // Calling it again resumes: it deletes what is left, and the totals add up.
    const [again] = await sql<
      { p_deleted: string }[]
    >`call api.purge_documents(${tenant}, ${batch})`;
    expect(Number(again!.p_deleted)).toBe(
      before.length - committedBatches * batch,
    );
    expect(Number(again!.p_deleted) + committedBatches * batch).toBe(
      before.length,
    );
    const [left] = await sql<{ documents: number; chunks: number }[]>`
      select (select count(*)::int from app.documents where tenant_id = ${tenant}) as documents,
             (select count(*)::int from app.chunks where tenant_id = ${tenant}) as chunks`;
    expect(left).toEqual({ documents: 0, chunks: 0 });

    // Other tenants were never touched by either fault.
    const [others] = await sql<
      { documents: number }[]
    >`select count(*)::int as documents from app.documents where tenant_id > 2`;
    expect(others!.documents).toBeGreaterThan(0);
  });
});
