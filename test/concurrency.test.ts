// Concurrency, in three parts.
//
// Races, as named permutations (test/harness/permutations.ts, in the spirit of PostgreSQL's
// isolation specs): sessions, named steps, and the order they run in, a step that must wait for
// a lock marked "(blocks)". The bulk document functions lock their rows in id order (so they
// cannot deadlock) and wait for each other's rows; REFRESH MATERIALIZED VIEW CONCURRENTLY lets
// readers of api.collection_statistics through where a plain REFRESH blocks them.
//
// A stress run: 8 connections run the bulk document functions (classify, confirm, soft and hard
// delete), inserts (documents with chunks, chunks for existing documents, conversations with
// messages, sessions), chunk reads and the TTL procedure over OVERLAPPING ids for
// QB_CONCURRENCY_SECONDS (default 30 s), then every invariant is checked exactly against a
// log of every operation kept here: no deadlock (40P01 never happens: the functions lock rows in
// id order), no lost update, no error other than the documented ones (docs/error-codes.md).
//
// How the final state is checked without knowing the order in which the server ran calls that
// overlapped in time: each call gets a ticket when it starts and one when its answer arrives
// (after its commit). A call whose end ticket is smaller than another's start ticket certainly
// ran before it. For each document:
// - soft and hard delete are absorbing: a document some successful hard delete named is gone,
//   and every gone document was named by one; one a soft delete named is 'deleted' at the end;
// - otherwise its status and classification are what one of its LAST writes (a classify or
//   confirm that no other write certainly followed) made them; user_confirmed is true exactly
//   when it was at the start or some confirm named it; untouched documents are unchanged;
// - its chunks are the ones it started with plus the ones appended by committed inserts.
// And the counts the calls reported add up to what the tables show (hard deletes, tombstones,
// TTL deletions), per call `updated + not_found` is the number of distinct ids, and no call
// counted a document as not found that certainly existed (or the other way round).
//
// Timed runs: REFRESH MATERIALIZED VIEW CONCURRENTLY during a stream of reads (no reader ever
// waits), and two migrations of the same database at once: one waits for the other, both succeed.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, inject, test } from "vitest";
import { migrateDatabase } from "../scripts/lib/migrate.ts";
import { PG_BIN, withDatabase } from "../scripts/lib/server-contract.ts";
import { ROOT } from "../scripts/lib/sql-files.ts";
import { useTestDatabase } from "./harness/database.ts";
import {
  documentsApi,
  shuffle,
  sleep,
  twoTenants,
  useDocumentFixtures,
} from "./harness/fixtures.ts";
import { permutations } from "./harness/permutations.ts";
import { pick, prng } from "./harness/random.ts";

const db = useTestDatabase("concurrency");
const f = useDocumentFixtures(db);

const SECONDS = Number(process.env.QB_CONCURRENCY_SECONDS ?? 30);
const WORKERS = 8;
const TENANTS = [1, 2] as const;

/** The SQLSTATEs docs/error-codes.md documents, 40P01 apart: that one must never happen here. */
function documentedCodes(): Set<string> {
  const text = readFileSync(join(ROOT, "docs", "error-codes.md"), "utf8");
  const codes = new Set(
    [...text.matchAll(/`([0-9A-Z]{5})`/g)].map((m) => m[1]!),
  );
  codes.delete("40P01");
  return codes;
}

// ---------------------------------------------------------------------------------------
// Races. Every permutation ends in a rollback (or changes nothing), so the seeded data stays
// as the stress run below expects it.

describe("races between bulk document calls", () => {
  /** Three live documents of a tenant: the lowest, a middle and the highest id. */
  let s = { tenant: "", low: "", middle: "", high: "" };
  beforeAll(() => {
    const [tenant] = twoTenants(f().tenants, prng(4025), 100);
    const live = tenant.live;
    s = {
      tenant: tenant.tenant_id,
      low: live[0]!,
      middle: live[Math.floor(live.length / 2)]!,
      high: live[live.length - 1]!,
    };
  });
  const races = permutations(
    () => db().url,
    () => ({
      holder: {
        steps: {
          begin: "begin",
          "lock middle": (sql) =>
            sql`select id from app.documents where tenant_id = ${s.tenant} and id = ${s.middle} for update`,
          rollback: "rollback",
        },
      },
      caller: {
        steps: {
          begin: "begin",
          "delete high, middle, low": (sql) =>
            documentsApi.delete(
              sql,
              s.tenant,
              [s.high, s.middle, s.low],
              false,
            ),
          rollback: "rollback",
        },
      },
      classifier: {
        steps: {
          begin: "begin",
          "classify all three": (sql) =>
            documentsApi.classify(
              sql,
              s.tenant,
              [s.low, s.middle, s.high],
              "race",
            ),
          rollback: "rollback",
        },
      },
      // which of the three rows nobody has locked (SKIP LOCKED never waits)
      probe: {
        steps: {
          "free rows": async (sql) => {
            await sql`begin`;
            const free = await sql<{ id: string }[]>`
              select id::text from app.documents
              where tenant_id = ${s.tenant} and id = any (${[s.low, s.middle, s.high]}::bigint[])
              for update skip locked`;
            await sql`rollback`;
            return free.map((r) => r.id);
          },
        },
      },
    }),
  );

  races.permutation(
    "delete locks its rows in id order, whatever the order of the ids given",
    [
      "holder begin",
      "holder lock middle",
      "caller begin",
      "caller delete high, middle, low (blocks)",
      "probe free rows",
      "holder rollback",
      "caller done",
      "caller rollback",
    ],
    (o) => {
      expect(o.waits["caller delete high, middle, low"]?.blockedBy).toEqual([
        "holder",
      ]);
      // the lowest id is locked by the call, the middle one by the holder, the highest not yet
      expect(o.result["probe free rows"]).toEqual([s.high]);
      expect(o.result["caller delete high, middle, low"]).toEqual({
        deleted: 3,
        not_found: 0,
        tombstoned: expect.any(Number),
      });
    },
  );

  races.permutation(
    "delete waits for classify",
    [
      "classifier begin",
      "classifier classify all three",
      "caller begin",
      "caller delete high, middle, low (blocks)",
      "classifier rollback",
      "caller done",
      "caller rollback",
    ],
    (o) => {
      expect(o.result["classifier classify all three"]).toEqual({
        updated: 3,
        not_found: 0,
      });
      expect(o.waits["caller delete high, middle, low"]?.blockedBy).toEqual([
        "classifier",
      ]);
      expect(o.result["caller delete high, middle, low"]).toEqual({
        deleted: 3,
        not_found: 0,
        tombstoned: expect.any(Number),
      });
    },
  );

  test("concurrent bulk calls over overlapping ids all finish (no deadlock)", async () => {
    // Setup
    const random = prng(4026);
    const [tenant] = twoTenants(f().tenants, random, 200);
    const pool = postgres(db().url, { max: 6, onnotice: () => {} });
    try {
      // Action: six calls at once, each on 150 of the same tenant's documents, shuffled
      const calls = Array.from({ length: 6 }, (_, k) =>
        pool
          .begin(async (tx) => {
            const ids = shuffle(pick(tenant.live, 150, random), random);
            const [row] =
              k % 3 === 0
                ? await tx`select api.classify_documents(${tenant.tenant_id}, ${ids}::bigint[], 'concurrent') as r`
                : k % 3 === 1
                  ? await tx`select api.confirm_classifications(${tenant.tenant_id}, ${ids}::bigint[]) as r`
                  : await tx`select api.delete_documents(${tenant.tenant_id}, ${ids}::bigint[]) as r`;
            // hold the locks a moment so the calls overlap
            await tx`select pg_sleep(0.02)`;
            await tx`select 1/0`; // roll back: the seeded data stays as it is
            return row;
          })
          .catch((error: { code?: string }) => error.code),
      );

      // Assertions: each got as far as the division by zero
      const codes = await Promise.all(calls);
      expect(codes).toEqual(Array(6).fill("22012"));
    } finally {
      await pool.end();
    }
  });
});

describe("races between a refresh of app.tenant_overview and its readers", () => {
  // The readers read the operators' view (the api never does: it reads the totals the writers
  // keep, test/statistics-writes.test.ts); the refresh job must not block them.
  // A refresh reads app.collection_stat_totals while it holds its own lock on
  // app.tenant_overview: a holder's ACCESS EXCLUSIVE lock on the totals keeps it there. A concurrent refresh holds EXCLUSIVE (readers pass); a plain one
  // holds ACCESS EXCLUSIVE (readers wait).
  let target = { tenant_id: "", collection_id: "" };
  beforeAll(async () => {
    const [first] = await db().sql<
      { tenant_id: string; collection_id: string }[]
    >`
      select tenant_id::text, tenant_id::text as collection_id from app.tenant_overview order by tenant_id limit 1`;
    target = first!;
  });
  const races = permutations(
    () => db().url,
    () => ({
      holder: {
        steps: {
          begin: "begin",
          "lock totals":
            "lock table app.collection_stat_totals in access exclusive mode",
          commit: "commit",
        },
      },
      refresher: {
        steps: {
          "refresh concurrently": "select maint.refresh_tenant_overview()",
          refresh: "refresh materialized view app.tenant_overview",
        },
      },
      reader: {
        steps: {
          read: (sql) =>
            sql`select * from app.tenant_overview where tenant_id = ${target.tenant_id}`,
        },
      },
    }),
  );

  races.permutation(
    "a concurrent refresh lets readers through",
    [
      "holder begin",
      "holder lock totals",
      "refresher refresh concurrently (blocks)",
      "reader read",
      "holder commit",
      "refresher done",
    ],
    (o) => {
      expect(o.waits["refresher refresh concurrently"]?.blockedBy).toEqual([
        "holder",
      ]);
      expect(o.waits["reader read"]).toBeUndefined();
      expect(o.result["reader read"]).toHaveLength(1);
      expect(o.error).toEqual({});
    },
  );

  races.permutation(
    "control: a plain refresh blocks them",
    [
      "holder begin",
      "holder lock totals",
      "refresher refresh (blocks)",
      "reader read (blocks)",
      "holder commit",
      "refresher done",
      "reader done",
    ],
    (o) => {
      expect(o.waits["reader read"]?.blockedBy).toEqual(["refresher"]);
      expect(o.waits["reader read"]?.locks).toContain(
        "relation AccessShareLock on app.tenant_overview",
      );
      expect(o.error).toEqual({});
    },
  );
});

// ---------------------------------------------------------------------------------------
// The stress run's model: documents and what was done to them.

type Kind = "classify" | "confirm" | "soft" | "hard";

interface Call {
  kind: Kind;
  tenant: number;
  start: number;
  end: number;
  label?: string;
}

interface Doc {
  tenant: number;
  id: string;
  collection: string;
  connector: string | null;
  external: string | null;
  status: string;
  classification: string | null;
  userConfirmed: boolean;
  chunks: number;
  /** Successful bulk calls of this document's tenant that named it. */
  calls: Call[];
  /** Chunks appended by inserts that committed. */
  appended: number;
  /** An append refused because the document was gone (23503): it must be gone at the end. */
  appendRefused: boolean;
  /** The ticket at which the insert that made it returned (0: it was seeded). */
  bornAt: number;
}

interface LoggedCall extends Call {
  /** The documents of its tenant it named (each distinct id once). */
  named: Doc[];
  distinct: number;
  /** What it reported: updated, confirmed or deleted; and not_found. */
  found: number;
  notFound: number;
  /** How many of its ids it certainly could not find (another tenant's, gone or deleted before it started). */
  mustMiss: number;
}

let ticket = 0;
const next = () => ++ticket;

/** Everything the stress run keeps: the documents, the ids to draw from, what was done and reported. */
function newModel() {
  return {
    docs: new Map<string, Doc>(), // by tenant:id
    pools: {} as Record<number, string[]>,
    collections: {} as Record<number, string[]>,
    connectors: {} as Record<number, string[]>,
    users: {} as Record<number, string[]>,
    openConversations: {} as Record<number, string[]>,
    initial: { tombstones: 0, sessions: 0, conversations: 0, messages: 0 },
    inserted: {
      sessions: 0,
      conversations: 0,
      messages: 0,
      documents: 0,
      chunks: 0,
    },
    reported: {
      hardDeleted: { 1: 0, 2: 0 } as Record<number, number>,
      softDeleted: { 1: 0, 2: 0 } as Record<number, number>,
      tombstoned: 0,
      messagesDeleted: 0,
      conversationsDeleted: 0,
      sessionsDeleted: 0,
    },
    counts: {
      operations: 0,
      deadlocks: 0,
      documented: 0,
      undocumented: 0,
      appendRefused: 0,
      byKind: {} as Record<string, number>,
    },
    undocumented: [] as string[],
    allCalls: [] as LoggedCall[],
    /** When a delete that named a document returned (soft or hard), by tenant:id. */
    softDeletedAt: new Map<string, number>(),
    hardDeletedAt: new Map<string, number>(),
    /** Where api calls log in (apiLogin). */
    apiLogin: { url: "", role: "" },
    opIds: 0,
  };
}
type Model = ReturnType<typeof newModel>;
const key = (tenant: number, id: string) => `${tenant}:${id}`;

/** Where api calls log in: as querybudget_app (sql/40_roles.sql) when it exists and may log in here, else as the test's own role. */
async function apiLogin(): Promise<{ url: string; role: string }> {
  const [me] = await db().sql<{ user: string; app: boolean }[]>`
    select current_user as user, exists (select from pg_roles where rolname = 'querybudget_app' and rolcanlogin) as app`;
  if (!me!.app || process.env.QB_CONCURRENCY_AS_APP === "0")
    return { url: db().url, role: me!.user };
  const url = new URL(db().url);
  url.username = "querybudget_app";
  url.password = "";
  const probe = postgres(url.toString(), {
    max: 1,
    onnotice: () => {},
    connect_timeout: 5,
  });
  try {
    await probe`select 1`;
    return { url: url.toString(), role: "querybudget_app" };
  } catch {
    // no way to log in as it here (password authentication): the test's own role then
    return { url: db().url, role: me!.user };
  } finally {
    await probe.end();
  }
}

/** The api login, the seeded documents of TENANTS with their chunks, and the ids and row counts the operations draw from. */
async function loadModel(m: Model): Promise<void> {
  const sql = db().sql;
  m.apiLogin = await apiLogin();
  for (const tenant of TENANTS) {
    const rows = await sql<
      {
        id: string;
        collection_id: string;
        connector_id: string | null;
        external_id: string | null;
        status: string;
        classification: string | null;
        user_confirmed: boolean;
        chunks: number;
      }[]
    >`
      select d.id::text, d.collection_id::text, d.connector_id::text, d.external_id, d.status, d.classification, d.user_confirmed,
             (select count(*)::int from app.chunks c
              where c.tenant_id = d.tenant_id and c.collection_id = d.collection_id and c.document_id = d.id) as chunks
      from app.documents d where d.tenant_id = ${tenant} order by d.id`;
    for (const r of rows) {
      m.docs.set(key(tenant, r.id), {
        tenant,
        id: r.id,
        collection: r.collection_id,
        connector: r.connector_id,
        external: r.external_id,
        status: r.status,
        classification: r.classification,
        userConfirmed: r.user_confirmed,
        chunks: r.chunks,
        calls: [],
        appended: 0,
        appendRefused: false,
        bornAt: 0,
      });
    }
    m.pools[tenant] = rows.map((r) => r.id);
    m.collections[tenant] = (
      await sql<
        { id: string }[]
      >`select id::text from app.collections where tenant_id = ${tenant}`
    ).map((r) => r.id);
    m.connectors[tenant] = (
      await sql<
        { id: string }[]
      >`select id::text from app.connectors where tenant_id = ${tenant}`
    ).map((r) => r.id);
    m.users[tenant] = (
      await sql<
        { id: string }[]
      >`select id::text from app.users where tenant_id = ${tenant}`
    ).map((r) => r.id);
    m.openConversations[tenant] = (
      await sql<{ id: string }[]>`
      select id::text from app.conversations where tenant_id = ${tenant} and expires_at is null`
    ).map((r) => r.id);
  }
  const [row] = await sql<
    {
      tombstones: number;
      sessions: number;
      conversations: number;
      messages: number;
    }[]
  >`
    select (select count(*)::int from app.deleted_documents) as tombstones,
           (select count(*)::int from app.user_sessions) as sessions,
           (select count(*)::int from app.conversations) as conversations,
           (select count(*)::int from app.messages) as messages`;
  Object.assign(m.initial, row);
}

function pickIds(
  m: Model,
  random: () => number,
  tenant: number,
  n: number,
): string[] {
  const pool = m.pools[tenant]!;
  const ids: string[] = [];
  // A window of neighbouring ids (overlap with other calls) plus scattered ones.
  const from = Math.floor(random() * Math.max(1, pool.length - n));
  for (let i = 0; i < n; i++) {
    ids.push(
      random() < 0.7
        ? pool[Math.min(pool.length - 1, from + i)]!
        : pool[Math.floor(random() * pool.length)]!,
    );
  }
  // Now and then an id of the other tenant, one that does not exist, a repeated one.
  if (random() < 0.2) {
    const other = TENANTS.find((t) => t !== tenant)!;
    ids.push(m.pools[other]![Math.floor(random() * m.pools[other]!.length)]!);
  }
  if (random() < 0.1) ids.push("999999999");
  if (random() < 0.2) ids.push(ids[0]!);
  // Shuffled: the functions lock in id order whatever order they are given.
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  return ids;
}

async function bulk(
  m: Model,
  sql: postgres.Sql,
  random: () => number,
  kind: Kind,
  opId: number,
): Promise<void> {
  const tenant = random() < 0.7 ? 1 : 2;
  const n =
    kind === "hard" || kind === "soft"
      ? 1 + Math.floor(random() * 4)
      : 1 + Math.floor(random() * (random() < 0.1 ? 300 : 40));
  const ids = pickIds(m, random, tenant, n);
  const distinct = [...new Set(ids)];
  const label = `c${opId}`;
  const start = next();
  let rows: { result: Record<string, number> }[];
  if (kind === "classify") {
    rows =
      await sql`select api.classify_documents(${tenant}, ${ids}::bigint[], ${label}) as result`;
  } else if (kind === "confirm") {
    rows =
      await sql`select api.confirm_classifications(${tenant}, ${ids}::bigint[]) as result`;
  } else {
    rows =
      await sql`select api.delete_documents(${tenant}, ${ids}::bigint[], ${kind === "hard"}) as result`;
  }
  const end = next();
  const result = rows[0]!.result;
  const call: LoggedCall = {
    kind,
    tenant,
    start,
    end,
    label: kind === "classify" ? label : undefined,
    named: [],
    distinct: distinct.length,
    found: result.updated ?? result.confirmed ?? result.deleted ?? -1,
    notFound: result.not_found ?? -1,
    mustMiss: 0,
  };
  for (const id of distinct) {
    const k = key(tenant, id);
    const doc = m.docs.get(k);
    // Not this tenant's document (another tenant's id, or none at all): certainly not found.
    if (!doc) {
      call.mustMiss++;
      continue;
    }
    // Gone before this call started; or, for all but a hard delete, soft-deleted before.
    const goneBefore = (m.hardDeletedAt.get(k) ?? Infinity) < start;
    const deletedBefore =
      doc.status === "deleted" || (m.softDeletedAt.get(k) ?? Infinity) < start;
    if (goneBefore || (kind !== "hard" && deletedBefore)) call.mustMiss++;
    doc.calls.push(call);
    call.named.push(doc);
  }
  if (kind === "hard") m.reported.hardDeleted[tenant]! += call.found;
  if (kind === "soft") m.reported.softDeleted[tenant]! += call.found;
  if (kind === "hard" || kind === "soft") {
    m.reported.tombstoned += result.tombstoned ?? 0;
    const at = kind === "hard" ? m.hardDeletedAt : m.softDeletedAt;
    for (const doc of call.named)
      at.set(
        key(tenant, doc.id),
        Math.min(at.get(key(tenant, doc.id)) ?? Infinity, end),
      );
  }
  m.allCalls.push(call);
}

async function insertDocument(
  m: Model,
  sql: postgres.Sql,
  random: () => number,
  opId: number,
): Promise<void> {
  const tenant = random() < 0.7 ? 1 : 2;
  const collection =
    m.collections[tenant]![
      Math.floor(random() * m.collections[tenant]!.length)
    ]!;
  const connector =
    random() < 1 / 3
      ? m.connectors[tenant]![
          Math.floor(random() * m.connectors[tenant]!.length)
        ]!
      : null;
  const external = connector ? `concurrency-${opId}` : null;
  const chunks = 1 + Math.floor(random() * 8);
  const id = await sql.begin(async (tx) => {
    const [doc] = await tx<{ id: string }[]>`
      insert into app.documents (tenant_id, collection_id, connector_id, external_id, title)
      values (${tenant}, ${collection}, ${connector}, ${external}, ${`inserted ${opId}`})
      returning id::text`;
    await tx`insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
             select ${tenant}, ${collection}, ${doc!.id}, g, 'chunk ' || g || ' of an inserted document', 30
             from generate_series(0, ${chunks - 1}::int) g`;
    return doc!.id;
  });
  const bornAt = next();
  m.docs.set(key(tenant, id), {
    tenant,
    id,
    collection,
    connector: connector,
    external,
    status: "pending",
    classification: null,
    userConfirmed: false,
    chunks,
    calls: [],
    appended: 0,
    appendRefused: false,
    bornAt,
  });
  m.pools[tenant]!.push(id);
  m.inserted.documents++;
  m.inserted.chunks += chunks;
}

async function appendChunk(
  m: Model,
  sql: postgres.Sql,
  random: () => number,
  opId: number,
): Promise<void> {
  const tenant = random() < 0.7 ? 1 : 2;
  const pool = m.pools[tenant]!;
  const doc = m.docs.get(
    key(tenant, pool[Math.floor(random() * pool.length)]!),
  )!;
  try {
    await sql`insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
              values (${tenant}, ${doc.collection}, ${doc.id}, ${1000 + opId}, 're-chunked', 10)`;
    doc.appended++;
  } catch (error) {
    // The document was hard-deleted first: the chunk's foreign key refuses it. A plain
    // INSERT (not an api function): this is the expected answer, checked at the end.
    if ((error as { code?: string }).code !== "23503") throw error;
    doc.appendRefused = true;
    m.counts.appendRefused++;
  }
}

async function insertConversation(
  m: Model,
  sql: postgres.Sql,
  random: () => number,
  opId: number,
): Promise<void> {
  const tenant = random() < 0.7 ? 1 : 2;
  const user =
    m.users[tenant]![Math.floor(random() * m.users[tenant]!.length)]!;
  const messages = 1 + Math.floor(random() * 6);
  const expiredConversation = random() < 0.3;
  const intoExisting =
    random() < 0.5 && m.openConversations[tenant]!.length > 0;
  await sql.begin(async (tx) => {
    let conversation: string;
    if (intoExisting) {
      conversation =
        m.openConversations[tenant]![
          Math.floor(random() * m.openConversations[tenant]!.length)
        ]!;
    } else {
      const [row] = await tx<{ id: string }[]>`
        insert into app.conversations (tenant_id, user_id, title, expires_at)
        values (${tenant}, ${user}, ${`conversation ${opId}`}, ${expiredConversation ? tx`now() - interval '1 minute'` : null})
        returning id::text`;
      conversation = row!.id;
    }
    // Half of the messages have expired already: the TTL job must take them, and only them.
    await tx`insert into app.messages (tenant_id, conversation_id, role, content, token_count, expires_at)
             select ${tenant}, ${conversation}, 'user', 'message ' || g, 3,
                    case when g % 2 = 0 then now() - interval '1 minute' end
             from generate_series(1, ${messages}::int) g`;
    await tx`insert into app.user_sessions (tenant_id, user_id, token, expires_at)
             values (${tenant}, ${user}, gen_random_uuid(),
                     ${random() < 0.5 ? tx`now() - interval '1 minute'` : tx`now() + interval '1 day'`})`;
  });
  if (!intoExisting) m.inserted.conversations++;
  m.inserted.messages += messages;
  m.inserted.sessions++;
}

type PurgedRow = {
  messages_deleted: string;
  conversations_deleted: string;
  sessions_deleted: string;
};

/** Adds what a run of maint.purge_expired reported. */
function recordPurge(m: Model, row: PurgedRow): void {
  m.reported.messagesDeleted += Number(row.messages_deleted);
  m.reported.conversationsDeleted += Number(row.conversations_deleted);
  m.reported.sessionsDeleted += Number(row.sessions_deleted);
}

async function purgeExpired(m: Model, sql: postgres.Sql): Promise<void> {
  const [row] = await sql<PurgedRow[]>`call maint.purge_expired(500, 100)`;
  recordPurge(m, row!);
}

async function readChunks(
  m: Model,
  sql: postgres.Sql,
  random: () => number,
): Promise<void> {
  const tenant = random() < 0.7 ? 1 : 2;
  const ids = pickIds(m, random, tenant, 1 + Math.floor(random() * 20));
  const wanted = new Set(ids);
  const collection = m.docs.get(
    key(tenant, ids.find((i) => m.docs.has(key(tenant, i))) ?? ""),
  )?.collection;
  if (!collection) return;
  const rows = await sql<{ document_id: string }[]>`
    select document_id::text from api.chunks_for_documents(${tenant}, ${collection}, ${ids}::bigint[], 10000)`;
  for (const r of rows) expect(wanted.has(r.document_id)).toBe(true);
}

const mix: [number, string][] = [
  [26, "classify"],
  [22, "confirm"],
  [6, "soft"],
  [5, "hard"],
  [12, "insert-document"],
  [8, "append-chunk"],
  [10, "insert-conversation"],
  [3, "purge-expired"],
  [8, "read-chunks"],
];
const total = mix.reduce((s, [w]) => s + w, 0);
const choose = (r: number) => {
  let x = r * total;
  for (const [w, op] of mix) if ((x -= w) < 0) return op;
  return mix.at(-1)![1];
};

/**
 * One of the WORKERS: operations drawn from `mix` until the deadline. Errors are counted:
 * deadlocks, documented codes, and the undocumented ones (with what raised them).
 */
async function worker(
  m: Model,
  index: number,
  deadline: number,
  documented: Set<string>,
): Promise<void> {
  // api calls as the application role (its timeouts, its grants); inserts and the TTL
  // procedure as the test's own role (the ingest pipeline and pg_cron, which have rights on
  // the tables)
  const api = postgres(m.apiLogin.url, { max: 1, onnotice: () => {} });
  const sql = postgres(db().url, { max: 1, onnotice: () => {} });
  const random = prng(7000 + index);
  try {
    while (performance.now() < deadline) {
      const op = choose(random());
      const opId = ++m.opIds;
      try {
        if (
          op === "classify" ||
          op === "confirm" ||
          op === "soft" ||
          op === "hard"
        )
          await bulk(m, api, random, op, opId);
        else if (op === "insert-document")
          await insertDocument(m, sql, random, opId);
        else if (op === "append-chunk") await appendChunk(m, sql, random, opId);
        else if (op === "insert-conversation")
          await insertConversation(m, sql, random, opId);
        else if (op === "purge-expired") await purgeExpired(m, sql);
        else await readChunks(m, api, random);
        m.counts.byKind[op] = (m.counts.byKind[op] ?? 0) + 1;
      } catch (error) {
        const code = (error as { code?: string }).code ?? "";
        if (code === "40P01") m.counts.deadlocks++;
        else if (documented.has(code)) m.counts.documented++;
        else {
          m.counts.undocumented++;
          if (m.undocumented.length < 20)
            m.undocumented.push(`${op}: ${code} ${(error as Error).message}`);
        }
      }
      m.counts.operations++;
    }
  } finally {
    await Promise.all([api.end(), sql.end()]);
  }
}

interface DocumentRow {
  id: string;
  status: string;
  classification: string | null;
  user_confirmed: boolean;
  chunks: number;
}

/**
 * Each document of the tenant against its operations (the file's comment says the rules): what
 * breaks them; and how many documents the model has, went from live to deleted by a soft delete
 * (softTransitions), or were soft-deleted and then hard-deleted (softThenGone).
 */
function documentProblems(
  m: Model,
  tenant: number,
  present: Map<string, DocumentRow>,
) {
  const problems: string[] = [];
  let everyDoc = 0;
  let softTransitions = 0;
  let softThenGone = 0;
  for (const doc of m.docs.values()) {
    if (doc.tenant !== tenant) continue;
    everyDoc++;
    const row = present.get(doc.id);
    const hard = doc.calls.some((c) => c.kind === "hard");
    const soft = doc.calls.some((c) => c.kind === "soft");
    const at = `document ${tenant}:${doc.id}`;
    if (hard) {
      if (row)
        problems.push(`${at}: a hard delete named it, it is still there`);
      if (soft && doc.status !== "deleted") softThenGone++;
      continue;
    }
    if (!row) {
      problems.push(`${at}: gone, but no hard delete named it (lost)`);
      continue;
    }
    if (soft && doc.status !== "deleted") softTransitions++;
    problems.push(...survivorProblems(doc, row, soft, at));
  }
  for (const id of present.keys()) {
    if (!m.docs.has(key(tenant, id)))
      problems.push(
        `document ${tenant}:${id}: there, but never seeded nor inserted`,
      );
  }
  return { problems, everyDoc, softTransitions, softThenGone };
}

/** A document no hard delete named, as it ends (`row`), against its operations. */
function survivorProblems(
  doc: Doc,
  row: DocumentRow,
  soft: boolean,
  at: string,
): string[] {
  const problems: string[] = [];
  if (doc.appendRefused)
    problems.push(
      `${at}: a chunk append was refused as if it were gone, but it is there`,
    );
  if (row.chunks !== doc.chunks + doc.appended)
    problems.push(
      `${at}: ${row.chunks} chunks, expected ${doc.chunks} + ${doc.appended} appended`,
    );
  const labels = new Set([
    doc.classification,
    ...doc.calls.filter((c) => c.kind === "classify").map((c) => c.label!),
  ]);
  const confirmed =
    doc.userConfirmed || doc.calls.some((c) => c.kind === "confirm");
  if (soft || doc.status === "deleted") {
    if (row.status !== "deleted")
      problems.push(
        `${at}: soft-deleted, but its status is ${row.status} (resurrected)`,
      );
    if (!labels.has(row.classification))
      problems.push(
        `${at}: classification ${row.classification} that no call set`,
      );
    if (row.user_confirmed && !confirmed)
      problems.push(`${at}: user_confirmed that no call set`);
    return problems;
  }
  const writes = doc.calls.filter(
    (c) => c.kind === "classify" || c.kind === "confirm",
  );
  if (row.user_confirmed !== confirmed)
    problems.push(
      `${at}: user_confirmed ${row.user_confirmed}, expected ${confirmed}`,
    );
  if (writes.length === 0) {
    if (
      row.status !== doc.status ||
      row.classification !== doc.classification
    ) {
      problems.push(
        `${at}: untouched, but ${doc.status}/${doc.classification} became ${row.status}/${row.classification}`,
      );
    }
    return problems;
  }
  // The last writes: those no other write certainly followed.
  const lastWrites = writes.filter(
    (w) => !writes.some((o) => o !== w && w.end < o.start),
  );
  const explained = lastWrites.some((w) =>
    w.kind === "classify"
      ? row.status === "classified" && row.classification === w.label
      : row.status === "confirmed" && labels.has(row.classification),
  );
  if (!explained) {
    problems.push(
      `${at}: ends ${row.status}/${row.classification}; its last writes were ${lastWrites.map((w) => `${w.kind}${w.label ? `(${w.label})` : ""}`).join(", ")} (lost update)`,
    );
  }
  return problems;
}

describe("8 connections over overlapping ids", () => {
  const m = newModel();
  beforeAll(() => loadModel(m));

  test(
    `bulk calls, inserts and TTL for ${SECONDS} s: no deadlock, no undocumented error`,
    { timeout: (SECONDS + 90) * 1000 },
    async () => {
      // Action
      const started = performance.now();
      const documented = documentedCodes();
      await Promise.all(
        Array.from({ length: WORKERS }, (_, i) =>
          worker(m, i, started + SECONDS * 1000, documented),
        ),
      );
      const seconds = (performance.now() - started) / 1000;

      // Assertions
      const { counts } = m;
      console.log(
        `concurrency: ${counts.operations} operations in ${seconds.toFixed(0)} s, ${counts.deadlocks} deadlocks, ${counts.undocumented} undocumented errors`,
      );
      console.log(
        `concurrency: api calls as ${m.apiLogin.role}; by kind ${JSON.stringify(counts.byKind)}; documented errors ${counts.documented}; chunk appends refused (document gone) ${counts.appendRefused}`,
      );
      expect(m.undocumented).toEqual([]);
      expect(counts.deadlocks).toBe(0);
      expect(counts.operations).toBeGreaterThan(SECONDS * 20);
      for (const op of [
        "classify",
        "confirm",
        "soft",
        "hard",
        "insert-document",
        "append-chunk",
        "insert-conversation",
        "purge-expired",
      ]) {
        expect(counts.byKind[op] ?? 0, op).toBeGreaterThan(0);
      }
    },
  );

  test("per call: counts cover every distinct id once; what certainly was (not) there was (not) found", () => {
    // Per call: the reported counts cover every distinct id once; ids that were certainly not
    // (or no longer) this tenant's live documents when it started were not found; documents
    // that existed before it started and that no delete ever named were live throughout, so a
    // classify or confirm found every one of them.
    for (const call of m.allCalls) {
      const at = `${call.kind} of tenant ${call.tenant} (tickets ${call.start}..${call.end})`;
      expect(
        call.found + call.notFound,
        `${at}: found + not_found = distinct ids`,
      ).toBe(call.distinct);
      expect(call.notFound, `${at}: not_found`).toBeGreaterThanOrEqual(
        call.mustMiss,
      );
      if (call.kind === "classify" || call.kind === "confirm") {
        const certain = call.named.filter(
          (d) =>
            d.status !== "deleted" &&
            !d.calls.some((c) => c.kind === "soft" || c.kind === "hard"),
        ).length;
        expect(
          call.found,
          `${at}: found the documents that were certainly live`,
        ).toBeGreaterThanOrEqual(certain);
      }
    }
  });

  describe("the end state", () => {
    // One last TTL run, so that everything expired by now is gone.
    beforeAll(async () => {
      const [last] = await db().sql<PurgedRow[]>`call maint.purge_expired()`;
      recordPurge(m, last!);
    });

    test("every document as its operations left it; deletes reported what went; nothing lost", async () => {
      for (const tenant of TENANTS) {
        const rows = await db().sql<DocumentRow[]>`
          select d.id::text, d.status, d.classification, d.user_confirmed,
                 (select count(*)::int from app.chunks c
                  where c.tenant_id = d.tenant_id and c.collection_id = d.collection_id and c.document_id = d.id) as chunks
          from app.documents d where d.tenant_id = ${tenant}`;
        const present = new Map(rows.map((r) => [r.id, r]));
        const { problems, everyDoc, softTransitions, softThenGone } =
          documentProblems(m, tenant, present);
        expect(problems.slice(0, 20)).toEqual([]);
        // Hard deletes: what they reported is exactly what went.
        expect(
          m.reported.hardDeleted[tenant],
          `tenant ${tenant}: documents hard-deleted`,
        ).toBe(everyDoc - present.size);
        // Soft deletes: every live document that ends deleted went through one call that counted
        // it; some of those that a hard delete removed later were counted by a soft delete too.
        expect(m.reported.softDeleted[tenant]).toBeGreaterThanOrEqual(
          softTransitions,
        );
        expect(m.reported.softDeleted[tenant]).toBeLessThanOrEqual(
          softTransitions + softThenGone,
        );
      }
    });

    test("tombstones: one per connector document a delete removed or soft-deleted; the counts add up", async () => {
      const sql = db().sql;
      const [tomb] = await sql<
        { n: number }[]
      >`select count(*)::int as n from app.deleted_documents`;
      expect(
        tomb!.n - m.initial.tombstones,
        "tombstones written = tombstoned reported",
      ).toBe(m.reported.tombstoned);
      const needTombstone = [...m.docs.values()].filter(
        (d) =>
          d.connector &&
          d.calls.some(
            (c) =>
              c.kind === "hard" ||
              (c.kind === "soft" && d.status !== "deleted"),
          ),
      );
      const [missing] = await sql<{ n: number }[]>`
        select count(*)::int as n
        from unnest(${needTombstone.map((d) => d.tenant)}::bigint[], ${needTombstone.map((d) => d.connector!)}::bigint[],
                    ${needTombstone.map((d) => d.external!)}::text[]) as w (tenant_id, connector_id, external_id)
        where not exists (select from app.deleted_documents t
                          where t.tenant_id = w.tenant_id and t.connector_id = w.connector_id and t.external_id = w.external_id)`;
      expect(
        missing!.n,
        "connector documents deleted without a tombstone",
      ).toBe(0);
    });

    test("no chunk without its document, anywhere", async () => {
      const [orphans] = await db().sql<{ n: number }[]>`
        select count(*)::int as n from app.chunks c
        where not exists (select from app.documents d where d.tenant_id = c.tenant_id and d.collection_id = c.collection_id and d.id = c.document_id)`;
      expect(orphans!.n).toBe(0);
    });

    test("TTL: nothing expired is left, nothing unexpired went, and the reported counts add up", async () => {
      const sql = db().sql;
      const [ttl] = await sql<
        {
          sessions: number;
          conversations: number;
          messages: number;
          expired: number;
          orphan_messages: number;
        }[]
      >`
        select (select count(*)::int from app.user_sessions) as sessions,
               (select count(*)::int from app.conversations) as conversations,
               (select count(*)::int from app.messages) as messages,
               (select count(*)::int from app.user_sessions where expires_at < now())
                 + (select count(*)::int from app.conversations where expires_at < now())
                 + (select count(*)::int from app.messages where expires_at < now()) as expired,
               (select count(*)::int from app.messages m
                where not exists (select from app.conversations c where c.tenant_id = m.tenant_id and c.id = m.conversation_id)) as orphan_messages`;
      expect(ttl!.expired, "expired rows left after the last TTL run").toBe(0);
      expect(ttl!.orphan_messages).toBe(0);
      expect(m.reported.sessionsDeleted, "sessions: reported = gone").toBe(
        m.initial.sessions + m.inserted.sessions - ttl!.sessions,
      );
      expect(
        m.reported.conversationsDeleted,
        "conversations: reported = gone",
      ).toBe(
        m.initial.conversations + m.inserted.conversations - ttl!.conversations,
      );
      const messagesGone =
        m.initial.messages + m.inserted.messages - ttl!.messages;
      expect(m.reported.messagesDeleted).toBeLessThanOrEqual(messagesGone); // the rest went with their conversations
      expect(m.reported.messagesDeleted).toBeGreaterThan(0);
      // Unexpired rows that were there at the start are all still there (checked by id).
      const [kept] = await sql<{ sessions: number; messages: number }[]>`
        select (select count(*)::int from app.user_sessions where expires_at >= now()) as sessions,
               (select count(*)::int from app.messages m
                join app.conversations c on c.tenant_id = m.tenant_id and c.id = m.conversation_id
                where m.expires_at is null or m.expires_at >= now()) as messages`;
      expect(kept!.sessions).toBe(ttl!.sessions);
      expect(kept!.messages).toBe(ttl!.messages);
    });
  });
});

// ---------------------------------------------------------------------------------------

describe("REFRESH MATERIALIZED VIEW CONCURRENTLY during reads", () => {
  // At the 10k tier a refresh takes some 20 ms, too short to tell a blocked reader from a slow
  // one on a busy machine. So the refresh is also stretched: another session holds an ACCESS
  // EXCLUSIVE lock on app.collection_stat_totals (which the view's query reads) for STRETCH_MS, and the refresh waits for it while it holds its
  // own lock on app.tenant_overview: the same locks a refresh of a big database holds for
  // that long. A concurrent refresh holds EXCLUSIVE (readers pass); a plain one holds ACCESS
  // EXCLUSIVE (readers wait): the control shows that the probe sees that.
  const STRETCH_MS = 1000;

  /** Readers read app.tenant_overview (the operators' view; the api reads the maintained totals) while `refresh` runs; a monitor samples who waits. */
  async function readWhileRefreshing(
    refresh: string,
    times: number,
    stretch: boolean,
  ) {
    const url = db().url;
    const refresher = postgres(url, { max: 1, onnotice: () => {} });
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    const monitor = postgres(url, { max: 1, onnotice: () => {} });
    const readers = [
      postgres(url, { max: 1, onnotice: () => {} }),
      postgres(url, { max: 1, onnotice: () => {} }),
    ];
    const targets = await db().sql<
      { tenant_id: string; collection_id: string }[]
    >`
      select tenant_id::text, tenant_id::text as collection_id from app.tenant_overview order by tenant_id`;
    const readerPids = await Promise.all(
      readers.map(
        async (r) =>
          (await r<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid,
      ),
    );
    let reading = true;
    const reads: [number, number][] = [];
    const refreshes: [number, number][] = [];
    const waits: string[] = [];
    const random = prng(99);
    const readLoop = async (reader: postgres.Sql) => {
      while (reading) {
        const t = targets[Math.floor(random() * targets.length)]!;
        const at = performance.now();
        await reader`select * from app.tenant_overview where tenant_id = ${t.tenant_id}`;
        reads.push([at, performance.now()]);
      }
    };
    const monitorLoop = async () => {
      while (reading) {
        const rows = await monitor<
          { pid: number; wait_event_type: string; wait_event: string }[]
        >`
          select pid, wait_event_type, wait_event from pg_stat_activity
          where pid = any(${readerPids}::int[]) and wait_event_type = 'Lock'
          union
          select l.pid, 'Lock', l.locktype || ' ' || l.mode || ' on ' || coalesce(l.relation::regclass::text, '?')
          from pg_locks l where l.pid = any(${readerPids}::int[]) and not l.granted`;
        for (const r of rows)
          waits.push(`${r.pid}: ${r.wait_event_type} ${r.wait_event}`);
        await sleep(2);
      }
    };
    const loops = [...readers.map(readLoop), monitorLoop()];
    await sleep(100);
    for (let i = 0; i < times; i++) {
      if (stretch) {
        await holder`begin`;
        await holder`lock table app.collection_stat_totals in access exclusive mode`;
      }
      const at = performance.now();
      const running = refresher.unsafe(refresh).then(() => undefined); // .then sends it now (postgres.js queries are lazy)
      if (stretch) {
        await sleep(STRETCH_MS);
        await holder`commit`;
      }
      await running;
      refreshes.push([at, performance.now()]);
      await sleep(50);
    }
    reading = false;
    await Promise.all(loops);
    await Promise.all(
      [refresher, holder, monitor, ...readers].map((c) => c.end()),
    );
    const durations = refreshes.map(([from, to]) => to - from);
    // the reads that overlapped a refresh (a blocked one started before it ended)
    const latencies = reads
      .filter(([from, to]) =>
        refreshes.some(([rf, rt]) => from < rt && to > rf),
      )
      .map(([from, to]) => to - from);
    const slowest = Math.max(...latencies);
    return { durations, latencies, waits, slowest };
  }

  test("refreshes of the seeded data: no reader ever waits for a lock", async () => {
    const { durations, latencies, waits, slowest } = await readWhileRefreshing(
      "select maint.refresh_tenant_overview()",
      5,
      false,
    );
    console.log(
      `refresh concurrently: ${durations.map((d) => d.toFixed(0)).join(", ")} ms; ${latencies.length} reads meanwhile, slowest ${slowest.toFixed(1)} ms`,
    );
    expect(latencies.length).toBeGreaterThan(0);
    expect(waits).toEqual([]);
  });

  test(`a refresh that lasts ${STRETCH_MS} ms: no reader waits, the slowest read takes a fraction of it`, async () => {
    const { durations, latencies, waits, slowest } = await readWhileRefreshing(
      "select maint.refresh_tenant_overview()",
      2,
      true,
    );
    const refresh = Math.min(...durations);
    console.log(
      `refresh concurrently, stretched: ${durations.map((d) => d.toFixed(0)).join(", ")} ms; ${latencies.length} reads meanwhile, slowest ${slowest.toFixed(1)} ms`,
    );
    expect(refresh).toBeGreaterThanOrEqual(STRETCH_MS);
    expect(latencies.length).toBeGreaterThan(100);
    expect(waits).toEqual([]);
    expect(slowest).toBeLessThan(refresh / 4);
  });

  test("control: a plain REFRESH, stretched the same way, does block the readers (the probe sees it)", async () => {
    const { durations, waits, slowest } = await readWhileRefreshing(
      "refresh materialized view app.tenant_overview",
      1,
      true,
    );
    console.log(
      `plain refresh, stretched: ${durations.map((d) => d.toFixed(0)).join(", ")} ms; slowest read ${slowest.toFixed(1)} ms; ${waits.length} lock waits seen`,
    );
    expect(waits.length).toBeGreaterThan(0);
    expect(
      waits.some((w) => w.includes("AccessShareLock on app.tenant_overview")),
    ).toBe(true);
    expect(slowest).toBeGreaterThan(Math.min(...durations) / 2);
  });
});

// ---------------------------------------------------------------------------------------

describe("two migrations of one database at once", () => {
  const names = [
    `qb_migrate_twice_${process.pid}`,
    `qb_migrate_once_${process.pid}`,
  ];
  const adminUrl = () => inject("server").adminUrl;
  const urlOf = (name: string) => withDatabase(inject("server").url, name);
  function schemaDump(url: string): string {
    const r = spawnSync(
      join(PG_BIN, "pg_dump"),
      ["--schema-only", "--no-owner", "--restrict-key=querybudget", "-d", url],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  }

  beforeAll(async () => {
    const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
    for (const name of names) await admin.unsafe(`create database ${name}`);
    await admin.end();
  });
  afterAll(async () => {
    const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
    for (const name of names)
      await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });

  test("one waits for the other, both succeed, the schema is the same as after one run", async () => {
    const [twice, once] = names.map(urlOf) as [string, string];
    let sawWaiting = 0;
    const onWaiting = () => sawWaiting++;
    const outcomes = await Promise.allSettled([
      migrateDatabase(twice, { quiet: true, onWaiting }),
      migrateDatabase(twice, { quiet: true, onWaiting }),
    ]);
    expect(
      outcomes.map((o) =>
        o.status === "fulfilled" ? "ok" : String((o.reason as Error).message),
      ),
    ).toEqual(["ok", "ok"]);
    expect(
      sawWaiting,
      "a migration waiting for the other's advisory lock",
    ).toBeGreaterThan(0);

    await migrateDatabase(once, { quiet: true });
    expect(schemaDump(twice)).toBe(schemaDump(once));
    const sql = postgres(twice, { max: 1, onnotice: () => {} });
    const [row] = await sql<
      { n: number }[]
    >`select count(*)::int as n from graphile_migrate.migrations`;
    await sql.end();
    const committed = spawnSync("ls", [join(ROOT, "migrations", "committed")], {
      encoding: "utf8",
    })
      .stdout.split("\n")
      .filter((f) => f.endsWith(".sql"));
    expect(row!.n).toBe(committed.length);
  });
});
