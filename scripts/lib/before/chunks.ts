// The "before" side of chunk retrieval: one query per document (N+1) and OFFSET paging with a
// window count, the patterns seed 000 started from. Same rows as api.chunks_for_documents and
// api.chunks_page, for the tests (the reference) and the side-by-side benchmark.
import type postgres from "postgres";

export interface ChunkRow {
  document_id: string;
  chunk_index: number;
  id: string;
  content: string;
  size: number;
}

export interface ChunkPageRow {
  id: string;
  document_id: string;
  chunk_index: number;
  content: string;
  size: number;
}

/** N+1: the chunks of each document by its own query, then sorted and cut in code. */
export async function chunksForDocuments(
  sql: postgres.Sql,
  tenantId: number | string,
  collectionId: number | string,
  documentIds: (number | string)[],
  limit = 1000,
): Promise<ChunkRow[]> {
  const rows: ChunkRow[] = [];
  for (const documentId of documentIds) {
    const chunks = await sql<ChunkRow[]>`
      select document_id, chunk_index, id, content, size
      from app.chunks
      where tenant_id = ${tenantId} and collection_id = ${collectionId} and document_id = ${documentId}
      order by chunk_index`;
    rows.push(...chunks);
  }
  rows.sort(
    (a, b) =>
      compareIds(a.document_id, b.document_id) || a.chunk_index - b.chunk_index,
  );
  // The same document asked twice comes once, as from `document_id = any(...)`.
  const unique = rows.filter((r, i) => i === 0 || r.id !== rows[i - 1]?.id);
  return unique.slice(0, limit);
}

/**
 * OFFSET paging, 1-based page numbers: `limit page_size offset (page - 1) * page_size` with
 * `count(*) over ()` for the total, as seed 000's get_chunks_paginated (ordered by id here, so
 * pages are comparable with the keyset pages). The server reads and throws away every row
 * before the page, and the window count reads the whole collection on every page.
 */
export async function chunksPage(
  sql: postgres.Sql,
  tenantId: number | string,
  collectionId: number | string,
  page = 1,
  pageSize = 100,
): Promise<ChunkPageRow[]> {
  const rows = await sql<(ChunkPageRow & { total_count: string })[]>`
    select id, document_id, chunk_index, content, size, count(*) over () as total_count
    from app.chunks
    where tenant_id = ${tenantId} and collection_id = ${collectionId}
    order by id
    limit ${pageSize} offset ${(page - 1) * pageSize}`;
  return rows.map(({ total_count: _total, ...row }) => row);
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
