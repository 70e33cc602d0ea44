// The "before" side of the write api (issue 11, items 3 and 4): the seeds' one-row-per-statement
// ORM pattern for the same batch (SQLAlchemy's session.add() per object, a query per item to
// decide, a flush per row). Same arguments and result shapes as api.sync_documents,
// api.add_documents, api.replace_chunks, api.enqueue_operations, api.claim_operations,
// api.finish_operations and api.cancel_operations. Run them in a transaction (BEGIN on a
// reserved or max: 1 client) and roll back.
import type postgres from "postgres";

type Id = number | string;
type Items = string | readonly Record<string, unknown>[];
const items = <T>(v: Items): T[] =>
  (typeof v === "string" ? JSON.parse(v) : v) as T[];

/** Seed 004's sync loop: per item, a tombstone check, a lookup by external id, then an insert or an update. */
export async function syncDocuments(
  sql: postgres.Sql,
  tenantId: Id,
  connectorId: Id,
  collectionId: Id,
  documents: Items,
) {
  const out = { inserted: 0, updated: 0, unchanged: 0, skipped_tombstoned: 0 };
  for (const d of items<{
    external_id: string;
    title: string;
    content_size?: number;
  }>(documents)) {
    const size = d.content_size ?? 0;
    const [tomb] =
      await sql`select 1 from app.deleted_documents where tenant_id = ${tenantId} and connector_id = ${connectorId} and external_id = ${d.external_id} limit 1`;
    if (tomb) {
      out.skipped_tombstoned++;
      continue;
    }
    const [doc] = await sql<
      { id: string; title: string; content_size: number }[]
    >`
      select id, title, content_size from app.documents where tenant_id = ${tenantId} and connector_id = ${connectorId} and external_id = ${d.external_id} limit 1`;
    if (!doc) {
      await sql`insert into app.documents (tenant_id, collection_id, connector_id, external_id, title, content_size)
                values (${tenantId}, ${collectionId}, ${connectorId}, ${d.external_id}, ${d.title}, ${size})`;
      out.inserted++;
    } else if (doc.title !== d.title || doc.content_size !== size) {
      await sql`update app.documents set title = ${d.title}, content_size = ${size}, updated_at = now() where tenant_id = ${tenantId} and id = ${doc.id}`;
      out.updated++;
    } else out.unchanged++;
  }
  return out;
}

/** One INSERT ... RETURNING id per uploaded document. */
export async function addDocuments(
  sql: postgres.Sql,
  tenantId: Id,
  collectionId: Id,
  documents: Items,
) {
  const out: { position: number; id: string }[] = [];
  for (const [position, d] of items<{ title: string; content_size?: number }>(
    documents,
  ).entries()) {
    const [row] = await sql<{ id: string }[]>`
      insert into app.documents (tenant_id, collection_id, title, content_size) values (${tenantId}, ${collectionId}, ${d.title}, ${d.content_size ?? 0}) returning id`;
    out.push({ position, id: row!.id });
  }
  return out;
}

/** Seed 000's chunker: per document, load it, delete its chunks, insert each chunk, then update its size. */
export async function replaceChunks(
  sql: postgres.Sql,
  tenantId: Id,
  collectionId: Id,
  chunks: Items,
) {
  const byDocument = new Map<
    string,
    { chunk_index: number; content: string }[]
  >();
  for (const c of items<{
    document_id: number;
    chunk_index: number;
    content: string;
  }>(chunks)) {
    const list = byDocument.get(String(c.document_id)) ?? [];
    list.push(c);
    byDocument.set(String(c.document_id), list);
  }
  const out = {
    replaced: 0,
    chunks_inserted: 0,
    chunks_deleted: 0,
    not_found: 0,
  };
  for (const [documentId, list] of byDocument) {
    const [doc] =
      await sql`select id from app.documents where tenant_id = ${tenantId} and id = ${documentId} and collection_id = ${collectionId} and status <> 'deleted'`;
    if (!doc) {
      out.not_found++;
      continue;
    }
    const deleted =
      await sql`delete from app.chunks where tenant_id = ${tenantId} and collection_id = ${collectionId} and document_id = ${documentId}`;
    out.chunks_deleted += deleted.count;
    let size = 0;
    for (const c of [...list].sort((a, b) => a.chunk_index - b.chunk_index)) {
      const length = [...c.content].length;
      await sql`insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
                values (${tenantId}, ${collectionId}, ${documentId}, ${c.chunk_index}, ${c.content}, ${length})`;
      size += length;
      out.chunks_inserted++;
    }
    await sql`update app.documents set content_size = ${size}, updated_at = now() where tenant_id = ${tenantId} and id = ${documentId}`;
    out.replaced++;
  }
  return out;
}

/** One INSERT per operation. */
export async function enqueueOperations(
  sql: postgres.Sql,
  tenantId: Id,
  collectionId: Id,
  type: string,
  operations: Items,
) {
  const out: { position: number; id: string }[] = [];
  for (const [position, o] of items<{ metadata?: unknown; user_id?: number }>(
    operations,
  ).entries()) {
    const [row] = await sql<{ id: string }[]>`
      insert into app.operations (tenant_id, collection_id, user_id, type, status, metadata)
      values (${tenantId}, ${collectionId}, ${o.user_id ?? null}, ${type}, 'pending', ${sql.json((o.metadata ?? {}) as never)}) returning id`;
    out.push({ position, id: row!.id });
  }
  return out;
}

/** The seed's queue: select the oldest pending ones (no lock: two workers may take the same), then one UPDATE each. */
export async function claimOperations(
  sql: postgres.Sql,
  tenantId: Id,
  type: string,
  limit: number,
) {
  const rows = await sql<{ id: string; created_at: Date }[]>`
    select * from app.operations where tenant_id = ${tenantId} and type = ${type} and status = 'pending' order by created_at, id limit ${limit}`;
  for (const r of rows)
    await sql`update app.operations set status = 'processing' where tenant_id = ${tenantId} and id = ${r.id}`;
  return rows.map((r) => ({ ...r, status: "processing" }));
}

/** Per result: load the operation, then update it. */
export async function finishOperations(
  sql: postgres.Sql,
  tenantId: Id,
  results: Items,
) {
  const out = { finished: 0, already_finished: 0, not_found: 0 };
  for (const r of items<{
    id: number;
    status: string;
    processing_time?: number;
    error?: string;
  }>(results)) {
    const [op] = await sql<
      { status: string }[]
    >`select status from app.operations where tenant_id = ${tenantId} and id = ${r.id}`;
    if (!op) out.not_found++;
    else if (op.status !== "pending" && op.status !== "processing")
      out.already_finished++;
    else {
      await sql`update app.operations set status = ${r.status}, processing_time = ${r.processing_time ?? null}, completed_at = now(),
                metadata = case when ${r.error ?? null}::text is null then metadata else metadata || jsonb_build_object('error', ${r.error ?? null}::text) end
                where tenant_id = ${tenantId} and id = ${r.id}`;
      out.finished++;
    }
  }
  return out;
}

/** Per id: load the operation, then update it. */
export async function cancelOperations(
  sql: postgres.Sql,
  tenantId: Id,
  ids: Id[],
) {
  const out = { cancelled: 0, already_finished: 0, not_found: 0 };
  for (const id of new Set(ids.map(String))) {
    const [op] = await sql<
      { status: string }[]
    >`select status from app.operations where tenant_id = ${tenantId} and id = ${id}`;
    if (!op) out.not_found++;
    else if (op.status !== "pending" && op.status !== "processing")
      out.already_finished++;
    else {
      await sql`update app.operations set status = 'cancelled' where tenant_id = ${tenantId} and id = ${id}`;
      out.cancelled++;
    }
  }
  return out;
}
