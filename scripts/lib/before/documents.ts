// The "before" side of the bulk document operations: how seed 004's Python did it, against
// our tables. One query per id for classify and confirm (select, then update), a validation
// loop plus a deletion loop with a tombstone check per id for delete (N+1 twice over), one big
// DELETE for "delete all documents" (every row locked until the end), and the sync's
// deduplication by loading every external id of the connector, or by one existence check
// per id. Same arguments and same result shape as api.classify_documents,
// api.confirm_classifications, api.delete_documents, api.purge_documents and
// api.new_external_ids, for the tests (the reference) and the side-by-side benchmark.
//
// Deviations from the seed, so that the results can be compared with the api functions:
// an id asked twice is processed once (the seed would have processed it twice and counted it
// twice), and a soft-deleted document (status 'deleted') counts as not found, except for a
// hard delete. Run them inside a transaction (BEGIN on a reserved or max: 1 client) to get
// the seed's single commit; on a pooled client every statement commits on its own.
import type postgres from "postgres";

type Id = number | string;

export interface ClassifyResult {
  updated: number;
  not_found: number;
}

export interface ConfirmResult {
  confirmed: number;
  not_found: number;
}

export interface DeleteResult {
  deleted: number;
  not_found: number;
  tombstoned: number;
}

interface DocumentRow {
  id: string;
  tenant_id: string;
  collection_id: string;
  connector_id: string | null;
  external_id: string | null;
  status: string;
}

/** The ids in first-seen order, each once. */
function distinct(ids: Id[]): string[] {
  return [...new Set(ids.map(String))];
}

/** `db.query(Document).filter(Document.id == doc_id, Document.tenant_id == tenant_id).first()` */
async function findDocument(
  sql: postgres.Sql,
  tenantId: Id,
  id: Id,
): Promise<DocumentRow | undefined> {
  const [doc] = await sql<DocumentRow[]>`
    select id, tenant_id, collection_id, connector_id, external_id, status
    from app.documents
    where id = ${id} and tenant_id = ${tenantId}
    limit 1`;
  return doc;
}

/** Seed 004 fix 1.1 before: for each id, fetch the document, then update it. */
export async function classifyDocuments(
  sql: postgres.Sql,
  tenantId: Id,
  documentIds: Id[],
  classification: string,
): Promise<ClassifyResult> {
  let updated = 0;
  let notFound = 0;
  for (const id of distinct(documentIds)) {
    const doc = await findDocument(sql, tenantId, id);
    if (doc && doc.status !== "deleted") {
      await sql`
        update app.documents
        set classification = ${classification}, status = 'classified', updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}`;
      updated++;
    } else {
      notFound++;
    }
  }
  return { updated, not_found: notFound };
}

/** Seed 004 fix 1.3 before: bulk_confirm calls confirm_classification once per id (fetch, then update). */
export async function confirmClassifications(
  sql: postgres.Sql,
  tenantId: Id,
  documentIds: Id[],
): Promise<ConfirmResult> {
  let confirmed = 0;
  let notFound = 0;
  for (const id of distinct(documentIds)) {
    const doc = await findDocument(sql, tenantId, id);
    if (doc && doc.status !== "deleted") {
      await sql`
        update app.documents
        set user_confirmed = true, user_confirmed_at = now(), status = 'confirmed', updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}`;
      confirmed++;
    } else {
      notFound++;
    }
  }
  return { confirmed, not_found: notFound };
}

/**
 * Seed 004 fix 1.2 before: loop 1 validates each id (one query each); loop 2 fetches each
 * document again, checks for its tombstone (one more query each), writes the tombstone, and
 * deletes: soft (status = deleted) or hard (its chunks, then the document).
 */
export async function deleteDocuments(
  sql: postgres.Sql,
  tenantId: Id,
  documentIds: Id[],
  hard = false,
): Promise<DeleteResult> {
  const ids = distinct(documentIds);
  // Loop 1: validation (N queries)
  const valid: string[] = [];
  for (const id of ids) {
    const doc = await findDocument(sql, tenantId, id);
    if (doc && (hard || doc.status !== "deleted")) valid.push(id);
  }
  // Loop 2: deletion (N queries, redundant, plus N tombstone checks)
  let deleted = 0;
  let tombstoned = 0;
  for (const id of valid) {
    const doc = await findDocument(sql, tenantId, id);
    if (!doc) continue;
    if (doc.connector_id !== null && doc.external_id !== null) {
      const [existing] = await sql`
        select id from app.deleted_documents
        where tenant_id = ${tenantId} and connector_id = ${doc.connector_id} and external_id = ${doc.external_id}
        limit 1`;
      if (!existing) {
        await sql`
          insert into app.deleted_documents (tenant_id, connector_id, external_id)
          values (${tenantId}, ${doc.connector_id}, ${doc.external_id})`;
        tombstoned++;
      }
    }
    if (hard) {
      // embedding_service.delete_document_embeddings: the document's chunks first
      await sql`
        delete from app.chunks
        where tenant_id = ${tenantId} and collection_id = ${doc.collection_id} and document_id = ${id}`;
      await sql`delete from app.documents where tenant_id = ${tenantId} and id = ${id}`;
    } else {
      await sql`update app.documents set status = 'deleted', updated_at = now() where tenant_id = ${tenantId} and id = ${id}`;
    }
    deleted++;
  }
  return { deleted, not_found: ids.length - deleted, tombstoned };
}

/**
 * Seed 004 priority 5 before: `db.query(Document).filter(tenant).delete(); db.commit()`, one
 * statement that locks every document (and, here, chunk) of the tenant until it commits. Our
 * chunks reference their documents (no cascade), so the same statement deletes them too.
 * Returns the number of documents deleted, as api.purge_documents's p_deleted.
 */
export async function purgeDocuments(
  sql: postgres.Sql,
  tenantId: Id,
): Promise<number> {
  const [row] = await sql<{ deleted: number }[]>`
    with chunks_deleted as (
      delete from app.chunks where tenant_id = ${tenantId}
    ), documents_deleted as (
      delete from app.documents where tenant_id = ${tenantId} returning id
    )
    select count(*)::int as deleted from documents_deleted`;
  return row!.deleted;
}

/**
 * Seed 004 priority 6, the per-id form: for each incoming external id, one existence query
 * against the connector's documents and one against its tombstones. Input order, each id once.
 */
export async function newExternalIds(
  sql: postgres.Sql,
  tenantId: Id,
  connectorId: Id,
  externalIds: string[],
): Promise<string[]> {
  const fresh: string[] = [];
  for (const externalId of new Set(externalIds)) {
    const [stored] = await sql`
      select true from app.documents
      where external_id = ${externalId} and connector_id = ${connectorId} and tenant_id = ${tenantId}
      limit 1`;
    if (stored) continue;
    const [tombstone] = await sql`
      select true from app.deleted_documents
      where external_id = ${externalId} and connector_id = ${connectorId} and tenant_id = ${tenantId}
      limit 1`;
    if (!tombstone) fresh.push(externalId);
  }
  return fresh;
}

/**
 * Seed 004 priority 6, the original: load every tombstoned and every stored external id of the
 * connector into sets (two scans of the connector's rows), then filter in code.
 */
export async function newExternalIdsLoadAll(
  sql: postgres.Sql,
  tenantId: Id,
  connectorId: Id,
  externalIds: string[],
): Promise<string[]> {
  const deleted = await sql<{ external_id: string }[]>`
    select external_id from app.deleted_documents where tenant_id = ${tenantId} and connector_id = ${connectorId}`;
  const existing = await sql<{ external_id: string }[]>`
    select external_id from app.documents where tenant_id = ${tenantId} and connector_id = ${connectorId}`;
  const deletedIds = new Set(deleted.map((d) => d.external_id));
  const existingIds = new Set(existing.map((d) => d.external_id));
  return [...new Set(externalIds)].filter(
    (id) => !deletedIds.has(id) && !existingIds.has(id),
  );
}
