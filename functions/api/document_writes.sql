-- The write api for documents and chunks (seeds 000, 004; issue 11, item 3): the connector
-- sync's upsert by external id, uploads without a connector, and the chunker's "replace this
-- document's chunks". Documentation: docs/api.md, "Writing documents and chunks".
--
-- Batches. Each routine takes a jsonb array of objects keyed by the column names of the rows
-- they make, checked whole by app.require_items (QB011 names the position and the field), then
-- read by jsonb_to_recordset(...) with ordinality in a fixed few statements: the same
-- statements for 1 item and for 10,000. A key that may appear once per batch (an external id,
-- a (document, chunk_index)) appearing twice refuses the batch with QB011 naming the later
-- position and the earlier one: the two items disagree or repeat each other, and neither "last
-- wins" nor "first wins" is what a caller who sent both meant.
--
-- Lock order. As in functions/api/documents.sql, existing documents are locked in id order
-- (`order by id for update`) by a statement of their own before anything changes: the bulk
-- routines all take their document locks in the same order, so two of them never wait for each
-- other in a cycle. The statement after the locks has a newer snapshot: it sees every tombstone
-- and chunk committed before the locks were granted (a hard delete that won the race has
-- written its tombstone; one that waits for us sees our chunks and deletes them too).
--
-- Plans. Arrays built from the batch are read through scalar subqueries, `(select v_ids)`,
-- which the planner takes for a handful of rows (see functions/api/documents.sql): primary and
-- unique key probes, and a chunk delete pruned to the one partition of the collection.

-- sync_documents (seed 004: connector sync) ---------------------------------------------

create or replace function api.sync_documents(p_tenant_id bigint, p_connector_id bigint, p_collection_id bigint, p_documents jsonb)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_ids bigint[];
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_connector_id, 'p_connector_id');
  perform app.require_not_null(p_collection_id, 'p_collection_id');
  perform app.require_items(p_documents, 'p_documents',
    '{"external_id": {"type": "text", "required": true, "nonblank": true},
      "title": {"type": "text", "required": true, "nonblank": true},
      "content_size": {"type": "integer", "min": 0}}');
  -- an external id twice in one batch: refused, naming the later item and the earlier one
  perform app.require_unique_items(p_documents, 'p_documents', array['external_id']);
  perform from app.connectors c where c.tenant_id = p_tenant_id and c.id = p_connector_id;
  if not found then
    raise exception 'unknown connector % of tenant %', p_connector_id, p_tenant_id using errcode = 'QB009';
  end if;
  perform from app.collections c where c.tenant_id = p_tenant_id and c.id = p_collection_id;
  if not found then
    raise exception 'unknown collection % of tenant %', p_collection_id, p_tenant_id using errcode = 'QB009';
  end if;

  -- 1. One sync of a connector at a time (a transaction-level advisory lock on the tenant and
  -- connector): two syncs inserting the same new external ids in different orders would
  -- otherwise wait for each other's uncommitted rows in a cycle (a deadlock), and the second
  -- would find the first's rows only after it had decided they were new.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(format('querybudget.sync_documents:%s:%s', p_tenant_id, p_connector_id), 0));

  -- 2. The connector's documents named by the batch, locked in id order (see the top of this
  -- file): found first by one probe of the unique key per item (LATERAL ... LIMIT 1; an
  -- `external_id = any(...)` condition was read as a filter over the whole connector under the
  -- row level security barrier: 2,400 buffers at 1M for 100 items), then locked by primary key.
  select coalesce(array_agg(s.id order by s.id), '{}')
  into v_ids
  from jsonb_array_elements(p_documents) e(value)
  cross join lateral (
    select d.id
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.connector_id = p_connector_id
      and d.external_id = e.value ->> 'external_id'
    limit 1
  ) s;
  perform d.id
  from app.documents d
  where d.tenant_id = p_tenant_id
    and d.id = any ((select v_ids)::bigint[])
  order by d.id
  for update;

  -- 3. One statement: items whose external id is tombstoned are skipped (never resurrected);
  -- the others update their document when the title or content_size differ (it stays in its
  -- collection and keeps its status), or are inserted into p_collection_id in batch order.
  -- Each check is a probe of a unique index per item (LATERAL ... LIMIT 1, as in
  -- api.new_external_ids: never a hash of the connector's rows).
  with batch as (
    select b.pos, b.external_id, b.title, coalesce(b.content_size, 0) as content_size, stored.id, stored.title as stored_title,
           stored.content_size as stored_content_size, tomb.found as tombstoned
    from rows from (jsonb_to_recordset(p_documents) as (external_id text, title text, content_size integer)) with ordinality as b (external_id, title, content_size, pos)
    left join lateral (
      select true as found
      from app.deleted_documents t
      where t.tenant_id = p_tenant_id
        and t.connector_id = p_connector_id
        and t.external_id = b.external_id
      limit 1
    ) tomb on true
    left join lateral (
      select d.id, d.title, d.content_size
      from app.documents d
      where d.tenant_id = p_tenant_id
        and d.connector_id = p_connector_id
        and d.external_id = b.external_id
      limit 1
    ) stored on true
  ), updated as (
    update app.documents d
    set title = b.title,
        content_size = b.content_size,
        updated_at = now()
    from batch b
    where d.tenant_id = p_tenant_id
      and d.id = b.id
      and b.tombstoned is null
      and (b.title, b.content_size) is distinct from (b.stored_title, b.stored_content_size)
    returning d.id
  ), inserted as (
    insert into app.documents (tenant_id, collection_id, connector_id, external_id, title, content_size)
    select p_tenant_id, p_collection_id, p_connector_id, b.external_id, b.title, b.content_size
    from batch b
    where b.id is null
      and b.tombstoned is null
    order by b.pos
    returning id
  ), delta as (
    -- new documents are pending (app.collection_stat_deltas); an update keeps the status
    insert into app.collection_stat_deltas (tenant_id, collection_id, documents_by_status, operations_by_type_status)
    select p_tenant_id, p_collection_id, jsonb_build_object('pending', count(*)), '{}'
    from inserted i
    having count(*) > 0
  )
  select jsonb_build_object(
           'inserted', (select count(*) from inserted),
           'updated', (select count(*) from updated),
           'unchanged', (select count(*) from batch b where b.tombstoned is null and b.id is not null) - (select count(*) from updated),
           'skipped_tombstoned', (select count(*) from batch b where b.tombstoned))
  into v_result;
  return v_result;
end
$$;
comment on function api.sync_documents(bigint, bigint, bigint, jsonb) is
  'Connector sync: upserts the batch p_documents (up to 10,000 items {"external_id", "title", "content_size"}) by external id: a new external id becomes a document of p_collection_id (ids in batch order), a known one (any collection, any status) gets the item''s title and content_size when they differ (status and collection kept), a tombstoned one (app.deleted_documents) is skipped, never resurrected. '
  'Returns {"inserted", "updated", "unchanged", "skipped_tombstoned"}; idempotent: the same batch again is all unchanged (or skipped). One sync per connector at a time (advisory lock); documents locked in id order. '
  'Errors: QB001 null argument; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB009 connector or collection not the tenant''s; QB011 malformed batch or an external id twice (the message names both positions). '
  'Indexes: documents_tenant_id_connector_id_external_id_key, deleted_documents_tenant_id_connector_id_external_id_key (one probe each per item).';

-- add_documents (uploads without a connector) ---------------------------------------------

create or replace function api.add_documents(p_tenant_id bigint, p_collection_id bigint, p_documents jsonb)
returns table ("position" integer, id bigint)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_collection_id, 'p_collection_id');
  perform app.require_items(p_documents, 'p_documents',
    '{"title": {"type": "text", "required": true, "nonblank": true},
      "content_size": {"type": "integer", "min": 0}}');
  perform from app.collections c where c.tenant_id = p_tenant_id and c.id = p_collection_id;
  if not found then
    raise exception 'unknown collection % of tenant %', p_collection_id, p_tenant_id using errcode = 'QB009';
  end if;

  -- One insert in batch order: the identity gives increasing ids in the order the rows come,
  -- so the k-th smallest new id is the k-th item's.
  return query
  with inserted as (
    insert into app.documents (tenant_id, collection_id, title, content_size)
    select p_tenant_id, p_collection_id, b.title, coalesce(b.content_size, 0)
    from rows from (jsonb_to_recordset(p_documents) as (title text, content_size integer)) with ordinality as b (title, content_size, pos)
    order by b.pos
    returning app.documents.id
  ), delta as (
    -- new documents are pending (app.collection_stat_deltas)
    insert into app.collection_stat_deltas (tenant_id, collection_id, documents_by_status, operations_by_type_status)
    select p_tenant_id, p_collection_id, jsonb_build_object('pending', count(*)), '{}'
    from inserted i
    having count(*) > 0
  )
  select (row_number() over (order by i.id) - 1)::integer, i.id
  from inserted i
  order by i.id;
end
$$;
comment on function api.add_documents(bigint, bigint, jsonb) is
  'Uploads without a connector: inserts the batch p_documents (up to 10,000 items {"title", "content_size"}; content_size defaults to 0) as documents of the collection, status pending. '
  'Returns one row per item in batch order: (position, the 0-based index of the item; id, the new document''s id, increasing in batch order). One insert whatever the batch size. '
  'Errors: QB001 null argument; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB009 collection not the tenant''s; QB011 malformed batch.';

-- replace_chunks (seed 000: the chunker writes a document's chunks) ---------------------------

create or replace function api.replace_chunks(p_tenant_id bigint, p_collection_id bigint, p_chunks jsonb)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_asked bigint[];
  v_ids bigint[];
  v_deleted bigint;
  v_deleted_size bigint;
  v_deleted_documents bigint;
  v_deleted_min integer;
  v_deleted_max integer;
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_collection_id, 'p_collection_id');
  perform app.require_items(p_chunks, 'p_chunks',
    '{"document_id": {"type": "bigint", "required": true},
      "chunk_index": {"type": "integer", "required": true, "min": 0},
      "content": {"type": "text", "required": true}}');
  -- a (document_id, chunk_index) twice in one batch: refused, naming both positions
  perform app.require_unique_items(p_chunks, 'p_chunks', array['document_id', 'chunk_index']);

  -- 1. The documents named, of this tenant and collection and not soft-deleted, locked in id
  -- order (see the top of this file); the others are not found and nothing of theirs changes.
  v_asked := array(select distinct (e.value ->> 'document_id')::bigint from jsonb_array_elements(p_chunks) e(value));
  select coalesce(array_agg(t.id order by t.id), '{}')
  into v_ids
  from (select d.id
        from app.documents d
        where d.tenant_id = p_tenant_id
          and d.id = any ((select v_asked)::bigint[])
          and d.collection_id = p_collection_id
          and d.status <> 'deleted'
        order by d.id
        for update) t;

  -- 2. Their old chunks, in the collection's one partition (the partition key is given).
  with deleted as (
    delete from app.chunks c
    where c.tenant_id = p_tenant_id
      and c.collection_id = p_collection_id
      and c.document_id = any ((select v_ids)::bigint[])
    returning c.document_id, c.size
  )
  select count(*), coalesce(sum(x.size), 0), count(distinct x.document_id), min(x.size), max(x.size)
  into v_deleted, v_deleted_size, v_deleted_documents, v_deleted_min, v_deleted_max
  from deleted x;

  -- 3. The new chunks, documents in id order and each in chunk_index order (so are their ids),
  -- size = char_length(content); and each document's content_size, the sum of its chunks'
  -- sizes (as in the seed), in the same statement.
  with inserted as (
    insert into app.chunks (tenant_id, collection_id, document_id, chunk_index, content, size)
    select p_tenant_id, p_collection_id, b.document_id, b.chunk_index, b.content, char_length(b.content)
    from jsonb_to_recordset(p_chunks) as b (document_id bigint, chunk_index integer, content text)
    where b.document_id = any ((select v_ids)::bigint[])
    order by b.document_id, b.chunk_index
    returning document_id, size
  ), sized as (
    update app.documents d
    set content_size = s.content_size,
        updated_at = now()
    from (select i.document_id, sum(i.size)::integer as content_size from inserted i group by i.document_id) s
    where d.tenant_id = p_tenant_id
      and d.id = s.document_id
    returning d.id
  ), delta as (
    -- the collection's statistics (app.collection_stat_deltas): every chunk of a document in
    -- v_ids was deleted above and each gets at least one new one, so the distinct documents
    -- change by those inserted minus those that had chunks
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunks_total, chunk_size_sum, chunk_documents,
                                            chunk_min_size, chunk_max_size, chunk_deleted_min_size, chunk_deleted_max_size,
                                            documents_by_status, operations_by_type_status)
    select p_tenant_id, p_collection_id, count(*) - v_deleted, coalesce(sum(i.size), 0) - v_deleted_size,
           count(distinct i.document_id) - v_deleted_documents, min(i.size), max(i.size), v_deleted_min, v_deleted_max,
           '{}', '{}'
    from inserted i
    having count(*) > 0 or v_deleted > 0
  )
  select jsonb_build_object(
           'replaced', (select count(*) from sized),
           'chunks_inserted', (select count(*) from inserted),
           'chunks_deleted', v_deleted,
           'not_found', cardinality(v_asked) - cardinality(v_ids))
  into v_result;
  return v_result;
end
$$;
comment on function api.replace_chunks(bigint, bigint, jsonb) is
  'Replaces the chunks of every document the batch p_chunks names (up to 10,000 items {"document_id", "chunk_index", "content"}): its old chunks are deleted and the batch''s inserted (documents in id order, chunks in chunk_index order), size = char_length(content), and the document''s content_size becomes the sum of its chunks'' sizes; all or nothing. '
  'Documents of another tenant or collection, unknown or soft-deleted ones are not_found and nothing of theirs changes. '
  'Returns {"replaced": documents, "chunks_inserted", "chunks_deleted", "not_found": documents}. Three statements after the guards whatever the batch size; documents locked in id order. '
  'Errors: QB001 null argument; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB011 malformed batch or a (document_id, chunk_index) twice (the message names both positions). '
  'Indexes: documents_pkey; chunks_tenant_id_collection_id_document_id_chunk_index_key in the collection''s one partition.';
