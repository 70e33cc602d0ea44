-- Chunk retrieval (seed 000 "Optimize Chunk Retrieval"): a batch for many documents in one
-- query, and keyset pagination through a collection. Both name the collection, so one of the
-- 16 hash partitions of app.chunks is read.

create or replace function api.chunks_for_documents(
  p_tenant_id bigint, p_collection_id bigint, p_document_ids bigint[], p_limit integer default 1000)
returns table (document_id bigint, chunk_index integer, id bigint, content text, size integer)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  -- PL/pgSQL, not SQL: Citus cannot plan the statements of a SQL function with parameters that
  -- read distributed tables (docs/scaling.md). The guards are assignments, in the order the
  -- errors are documented (functions/app/guards.sql).
  p_tenant_id := app.require_tenant(p_tenant_id);
  p_collection_id := app.require_not_null(p_collection_id, 'p_collection_id');
  p_document_ids := app.require_ids(p_document_ids, 'p_document_ids');
  p_limit := app.require_limit(p_limit, 'p_limit', 1, 10000);

  -- One probe per distinct document id into chunks_tenant_id_collection_id_document_id_chunk_index_key
  -- on the collection's partition. A plain `document_id = any (p_document_ids)` is worse here:
  -- PostgreSQL 15 cannot return an `= any` on a non-leading index column in order, so it walks
  -- the index of the whole collection in (document_id, chunk_index) order and filters the ids.
  return query
  select k.document_id, k.chunk_index, k.id, k.content, k.size
  from (select distinct u.document_id from unnest(p_document_ids) u(document_id)) d
  cross join lateral (
    select c.document_id, c.chunk_index, c.id, c.content, c.size
    from app.chunks c
    where c.tenant_id = p_tenant_id
      and c.collection_id = p_collection_id
      and c.document_id = d.document_id
    order by c.chunk_index
    limit p_limit -- no document needs more; it also keeps this a per-document probe (a nested loop)
  ) k
  order by d.document_id, k.chunk_index
  limit p_limit;
end
$$;
comment on function api.chunks_for_documents(bigint, bigint, bigint[], integer) is
  'The chunks of some documents of a collection (seed 000 get_chunks_batch), ordered by document_id, chunk_index, at most p_limit (1..10000, default 1000): rows (document_id, chunk_index, id, content, size); ids that are not documents of the collection, and an unknown collection, give no rows. '
  'Errors: QB001 null argument; QB002 empty p_document_ids; QB003 more than 10000 ids; QB004 p_limit out of 1..10000; QB005 unknown tenant; QB007 a null id; QB010 a multi-dimensional p_document_ids. '
  'Index: chunks_tenant_id_collection_id_document_id_chunk_index_key, one probe per distinct id on the collection''s partition.';

create or replace function api.chunks_page(
  p_tenant_id bigint, p_collection_id bigint, p_after_id bigint default null, p_page_size integer default 100)
returns table (id bigint, document_id bigint, chunk_index integer, content text, size integer)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  -- a plain value: unlike coalesce(...), a comparison with it is leakproof, so it stays an
  -- index condition under row level security (docs/pitfalls.md)
  v_after bigint := coalesce(p_after_id, 0);
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_collection_id := app.require_not_null(p_collection_id, 'p_collection_id');
  p_page_size := app.require_limit(p_page_size, 'p_page_size', 1, 1000);
  if p_after_id < 0 then
    perform app.unknown_tenant_first();
    raise exception 'p_after_id is %; a cursor is a chunk id, never negative', p_after_id using errcode = 'QB006';
  end if;

  -- keyset on chunks_pkey (tenant_id, collection_id, id): the index is entered at the cursor
  -- and read for one page, whatever the page number
  return query
  select k.id, k.document_id, k.chunk_index, k.content, k.size
  from app.chunks k
  where k.tenant_id = p_tenant_id
    and k.collection_id = p_collection_id
    and k.id > v_after
  order by k.id
  limit p_page_size;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.chunks_page(bigint, bigint, bigint, integer) is
  'One keyset page of a collection''s chunks in id order (seed 000 get_chunks_paginated without OFFSET): rows (id, document_id, chunk_index, content, size) with id > p_after_id (null: from the start), at most p_page_size (1..1000, default 100); the next page passes the last id, fewer rows mean the end, an unknown collection gives none. '
  'Errors: QB001 null argument; QB004 p_page_size out of 1..1000; QB005 unknown tenant; QB006 negative p_after_id. '
  'Index: chunks_pkey on the collection''s partition, entered at the cursor.';
