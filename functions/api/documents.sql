-- Bulk document operations (seed 004, priorities 1, 5 and 6): classify, confirm and delete
-- many documents at once, purge a tenant's documents in batches, and the connector sync's
-- "which of these external ids are new" check. Documentation: docs/api.md. The reasoning
-- below is written once, here; each function's comment states only its contract.
--
-- Statements. Every bulk function runs a constant number of statements, whatever the number of
-- ids (1 or 10,000): the guards, then one statement (a chain of CTEs) that does the work; a
-- hard delete and a purge batch two: one that locks, one that deletes (see "Lock first").
--
-- Lock order. Two bulk calls over overlapping ids could deadlock if each locked its rows in
-- the order it happened to meet them (A holds 5 and waits for 9, B holds 9 and waits for 5).
-- So every bulk statement first locks its target rows in id order, in a materialized CTE
--   select ... from app.documents where ... order by id for update
-- (LockRows sits above the Sort, so rows are locked in ascending id), and only then updates
-- or deletes them: every caller takes its locks in the same order, and a caller that waits for
-- a row re-checks it (a row soft-deleted meanwhile is no longer a target).
--
-- Lock first, delete next. The foreign key from chunks to documents is NO ACTION (checked at
-- the end of the statement, not cascaded), so a hard delete removes chunks and documents in one
-- statement. A chunk inserted for a target document holds a KEY SHARE lock on it until it
-- commits; a delete that waited for that lock and deleted the chunks in the same statement
-- would not see the new chunk (its snapshot is older), and the foreign key check would fail
-- with 23503 (test/concurrency). So the rows are locked by a statement of their own first: the
-- next statement's snapshot sees every chunk committed before the locks were granted, and no
-- new chunk can reference a locked document (docs/pitfalls.md).
--
-- Plans. A chunk delete joins its documents on (tenant_id, collection_id, document_id): a
-- nested loop whose inner side, the Append of the 16 chunk partitions, is pruned at run time
-- to the one partition of each document's collection. The planner, though, costs that Append
-- as if all 16 partitions were probed for every outer row, so once it expects a few hundred
-- documents it switches to a hash join over a sequential scan of EVERY chunk partition
-- (measured at the 1M tier, hard delete of 2,000 ids: 0.6 s instead of 0.15 s; and it grows
-- with the table). So the plpgsql functions read the id array through a scalar subquery,
--   id = any ((select p_document_ids)::bigint[])
-- a parameter whose length the planner cannot see (it assumes 10 elements, as it always does in
-- a language sql function, which is planned without its arguments' values): it plans primary
-- key probes (documents_pkey) and the pruned nested loop. purge_documents does the same with
-- its batch's ids.
--
-- Foreign key checks, planned once. Deleting a document runs PostgreSQL's foreign key check
-- against app.chunks (one per document, a query on the partitioned table). Under the default
-- plan_cache_mode the plan cache re-planned that query on every check: its custom plan prunes to
-- one partition when planned, the generic plan (16 partitions, pruned when it starts) is costed
-- higher, so the cache kept choosing custom plans, and planning a query over 16 partitions a
-- hundred times was a third of a purge batch (perf at the 1M tier: 54 % of the batch's CPU in
-- the checks, 33 % planning them; pg_stat_statements did not show it, as it counts execution
-- only). api.purge_documents_batch sets plan_cache_mode = force_generic_plan for its call (on a
-- server without Citus, which cannot plan the generic plan of its delete): each check runs
-- the plan made once per connection, pruned to the document's partition as it starts (a batch
-- of 100 documents: 28 to 17 ms of CPU on a busy machine). Its own statements keep their plans
-- (test/plans.test.ts): they read the batch's arrays through scalar subqueries (above), whose
-- plans never see the values anyway, and their other parameters are the tenant and an id
-- bound. app.hard_delete_documents does not: its generic plan for the target rows (tenant and
-- an id array) took documents_tenant_id_status_idx instead of documents_pkey at the 10k tier
-- (test/api/delete_documents.test.ts), so its checks are still planned per document.
--
-- Ids: duplicates in an id array count once (`id = any(array)` matches each row once and
-- not_found is computed from the distinct ids); ids of another tenant and ids that do not
-- exist count as not_found. A soft-deleted document (status 'deleted') counts as not_found,
-- except for a hard delete, which removes it for good.
--
-- Tombstones. Both kinds of delete record connector documents (connector_id, external_id
-- given) in app.deleted_documents, so the next sync does not bring them back: the tombstone
-- records the user's decision, and it must outlive the soft-deleted row (a later hard delete or
-- purge). A tombstone that exists already is kept (on conflict do nothing) and not counted.
--
-- One implementation per behaviour. api.delete_documents checks its arguments and hands over to
-- app.soft_delete_documents or app.hard_delete_documents: private, security invoker (they run
-- as their only caller, the security definer api function: querybudget_owner, under the row
-- level security of the tenant app.require_tenant set), not executable by querybudget_app
-- (sql/50_grants.sql), and without guards of their own. The hand-over is a plpgsql simple
-- expression (`return app.hard_delete_documents(...)`), evaluated without a statement of its
-- own, so a call runs the same statements, with the same plans, as when they were inline.

-- classify_documents ------------------------------------------------------------------

create or replace function api.classify_documents(p_tenant_id bigint, p_document_ids bigint[], p_classification text)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_document_ids, 'p_document_ids');
  perform app.require_not_blank(p_classification, 'p_classification');

  -- Lock the targets in id order first, then update them (file header: "Lock order", "Plans").
  with target as materialized (
    select d.id, d.collection_id, d.status
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any ((select p_document_ids)::bigint[])
      and d.status <> 'deleted'
    order by d.id
    for update
  ), classified as (
    update app.documents d
    set classification = p_classification,
        status = 'classified',
        updated_at = now()
    from target t
    where d.tenant_id = p_tenant_id
      and d.id = t.id
    returning d.id, t.collection_id, t.status as old_status
  ), delta as (
    -- documents by status of each collection (app.collection_stat_deltas)
    insert into app.collection_stat_deltas (tenant_id, collection_id, documents_by_status, operations_by_type_status)
    select p_tenant_id, g.collection_id, coalesce(jsonb_object_agg(g.status, g.n) filter (where g.n <> 0), '{}'), '{}'
    from (select x.collection_id, v.status, sum(v.n) as n
          from classified x
          cross join lateral (values (x.old_status, -1), ('classified', 1)) v (status, n)
          group by x.collection_id, v.status) g
    group by g.collection_id
    having bool_or(g.n <> 0)
  )
  select jsonb_build_object(
           'updated', (select count(*) from classified),
           'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from classified))
  into v_result;
  return v_result;
end
$$;
comment on function api.classify_documents(bigint, bigint[], text) is
  'Sets classification, status = classified and updated_at on the given documents of the tenant (user_confirmed unchanged); returns {"updated": n, "not_found": m}, duplicate ids counted once, ids of other tenants, unknown ids and soft-deleted documents not_found. '
  'One statement after the guards, locking the rows in id order; index: documents_pkey. '
  'Errors: QB001 null tenant, ids or classification; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB008 blank classification; QB010 a multi-dimensional id array.';

-- confirm_classifications (seed: bulk_confirm) --------------------------------------------

create or replace function api.confirm_classifications(p_tenant_id bigint, p_document_ids bigint[])
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_result jsonb;
begin
  -- PL/pgSQL, not SQL: Citus cannot plan the statements of a SQL function with parameters that
  -- read distributed tables (docs/scaling.md).
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_document_ids, 'p_document_ids');

  -- Lock the targets in id order first, then update them (file header: "Lock order", "Plans").
  with target as materialized (
    select d.id, d.collection_id, d.status
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any ((select p_document_ids)::bigint[])
      and d.status <> 'deleted'
    order by d.id
    for update
  ), confirmed as (
    update app.documents d
    set user_confirmed = true,
        user_confirmed_at = now(),
        status = 'confirmed',
        updated_at = now()
    from target t
    where d.tenant_id = p_tenant_id
      and d.id = t.id
    returning d.id, t.collection_id, t.status as old_status
  ), delta as (
    -- documents by status of each collection (app.collection_stat_deltas)
    insert into app.collection_stat_deltas (tenant_id, collection_id, documents_by_status, operations_by_type_status)
    select p_tenant_id, g.collection_id, coalesce(jsonb_object_agg(g.status, g.n) filter (where g.n <> 0), '{}'), '{}'
    from (select x.collection_id, v.status, sum(v.n) as n
          from confirmed x
          cross join lateral (values (x.old_status, -1), ('confirmed', 1)) v (status, n)
          group by x.collection_id, v.status) g
    group by g.collection_id
    having bool_or(g.n <> 0)
  )
  select jsonb_build_object(
           'confirmed', (select count(*) from confirmed),
           'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from confirmed))
  into v_result;
  return v_result;
end
$$;
comment on function api.confirm_classifications(bigint, bigint[]) is
  'Marks the given documents of the tenant as confirmed by the user (user_confirmed = true, user_confirmed_at = now(), status = confirmed, updated_at); returns {"confirmed": n, "not_found": m}, duplicate ids counted once, ids of other tenants, unknown ids and soft-deleted documents not_found. '
  'One statement after the guards, locking the rows in id order; index: documents_pkey. '
  'Errors: QB001 null tenant or ids; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB010 a multi-dimensional id array.';

-- delete_documents: soft and hard, each written once ---------------------------------------

create or replace function app.soft_delete_documents(p_tenant_id bigint, p_document_ids bigint[])
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result jsonb;
begin
  -- status = deleted; chunks stay until the document is hard-deleted or purged. A document
  -- soft-deleted already is not a target (not_found). One statement: lock, update, tombstone.
  with target as materialized (
    select d.id, d.collection_id, d.status, d.connector_id, d.external_id
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any ((select p_document_ids)::bigint[])
      and d.status <> 'deleted'
    order by d.id
    for update
  ), documents_deleted as (
    update app.documents d
    set status = 'deleted',
        updated_at = now()
    from target t
    where d.tenant_id = p_tenant_id
      and d.id = t.id
    returning d.id, t.collection_id, t.status as old_status
  ), delta as (
    -- documents by status of each collection (app.collection_stat_deltas); chunks stay
    insert into app.collection_stat_deltas (tenant_id, collection_id, documents_by_status, operations_by_type_status)
    select p_tenant_id, g.collection_id, coalesce(jsonb_object_agg(g.status, g.n) filter (where g.n <> 0), '{}'), '{}'
    from (select x.collection_id, v.status, sum(v.n) as n
          from documents_deleted x
          cross join lateral (values (x.old_status, -1), ('deleted', 1)) v (status, n)
          group by x.collection_id, v.status) g
    group by g.collection_id
    having bool_or(g.n <> 0)
  ), tombstones as (
    insert into app.deleted_documents (tenant_id, connector_id, external_id)
    select p_tenant_id, t.connector_id, t.external_id
    from target t
    where t.connector_id is not null
    on conflict (tenant_id, connector_id, external_id) do nothing
    returning 1
  )
  select jsonb_build_object(
           'deleted', (select count(*) from documents_deleted),
           'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from documents_deleted),
           'tombstoned', (select count(*) from tombstones))
  into v_result;
  return v_result;
end
$$;
comment on function app.soft_delete_documents(bigint, bigint[]) is
  'The soft delete of api.delete_documents, its only caller (after its guards; security invoker, so as querybudget_owner under the tenant''s row level security): status = deleted, chunks kept, connector documents tombstoned; returns its jsonb. '
  'One statement, locking the rows in id order; index: documents_pkey.';

create or replace function app.hard_delete_documents(p_tenant_id bigint, p_document_ids bigint[])
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result jsonb;
begin
  -- 1. Lock the rows, in id order, in a statement of their own (file header: "Lock first,
  -- delete next"). Soft-deleted documents are targets too: a hard delete removes them for good.
  perform d.id
  from app.documents d
  where d.tenant_id = p_tenant_id
    and d.id = any ((select p_document_ids)::bigint[])
  order by d.id
  for update;
  -- 2. The chunks (through the partition key: one partition per document), the documents and
  -- the tombstones, in one statement.
  with target as materialized (
    select d.id, d.collection_id, d.status, d.connector_id, d.external_id
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any ((select p_document_ids)::bigint[])
    order by d.id
    for update
  ), chunks_deleted as (
    delete from app.chunks c
    using target t
    where c.tenant_id = p_tenant_id
      and c.collection_id = t.collection_id
      and c.document_id = t.id
  ), chunks_read as (
    -- the same chunks, read by a plain scan in the statement's snapshot: every writer of a
    -- document's chunks locks the document first, so none can change between the two. Not
    -- the delete's RETURNING: a DELETE ... RETURNING fetches each deleted row again (one
    -- buffer access per chunk, 1,000 for 100 documents), this scan reads each page once.
    select c.collection_id, c.document_id, c.size
    from app.chunks c
    join target t on c.collection_id = t.collection_id and c.document_id = t.id
    where c.tenant_id = p_tenant_id
  ), delta as (
    -- the statistics of each collection that lost documents (app.collection_stat_deltas): all
    -- chunks of a document go, so its distinct documents drop by the documents deleted; and
    -- the documents leave their statuses
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunks_total, chunk_size_sum, chunk_documents,
                                            chunk_deleted_min_size, chunk_deleted_max_size,
                                            documents_by_status, operations_by_type_status)
    select p_tenant_id, g.collection_id, coalesce(x.chunks, 0), coalesce(x.size_sum, 0), coalesce(x.documents, 0),
           x.min_size, x.max_size, g.by_status, '{}'
    from (select y.collection_id, jsonb_object_agg(y.status, -y.n) as by_status
          from (select t.collection_id, t.status, count(*) as n from target t group by t.collection_id, t.status) y
          group by y.collection_id) g
    left join (select c.collection_id, -count(*) as chunks, -sum(c.size) as size_sum, -count(distinct c.document_id) as documents,
                      min(c.size) as min_size, max(c.size) as max_size
               from chunks_read c group by c.collection_id) x on x.collection_id = g.collection_id
  ), documents_deleted as (
    delete from app.documents d
    using target t
    where d.tenant_id = p_tenant_id
      and d.id = t.id
    returning d.id
  ), tombstones as (
    insert into app.deleted_documents (tenant_id, connector_id, external_id)
    select p_tenant_id, t.connector_id, t.external_id
    from target t
    where t.connector_id is not null
    on conflict (tenant_id, connector_id, external_id) do nothing
    returning 1
  )
  select jsonb_build_object(
           'deleted', (select count(*) from documents_deleted),
           'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from documents_deleted),
           'tombstoned', (select count(*) from tombstones))
  into v_result;
  return v_result;
end
$$;
comment on function app.hard_delete_documents(bigint, bigint[]) is
  'The hard delete of api.delete_documents, its only caller (after its guards; security invoker, so as querybudget_owner under the tenant''s row level security): the documents (soft-deleted ones too) and their chunks removed, connector documents tombstoned; returns its jsonb. '
  'Two statements, one that locks the rows in id order, one that deletes; indexes: documents_pkey, chunks_tenant_id_collection_id_document_id_chunk_index_key on the collection''s partition.';

create or replace function api.delete_documents(p_tenant_id bigint, p_document_ids bigint[], p_hard boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_document_ids, 'p_document_ids');
  perform app.require_not_null(p_hard, 'p_hard');

  -- simple expressions: no statement of their own (file header: "One implementation per behaviour")
  if p_hard then
    return app.hard_delete_documents(p_tenant_id, p_document_ids);
  end if;
  return app.soft_delete_documents(p_tenant_id, p_document_ids);
end
$$;
comment on function api.delete_documents(bigint, bigint[], boolean) is
  'Deletes the given documents of the tenant, soft (default: status = deleted, chunks kept) or hard (p_hard: the documents, soft-deleted ones too, and their chunks removed), tombstoning connector documents in app.deleted_documents; returns {"deleted": n, "not_found": m, "tombstoned": k} (k: tombstones newly written), duplicate ids counted once, ids of other tenants, unknown ids and, for a soft delete, soft-deleted documents not_found. '
  'After the guards, one statement (soft) or two (hard: lock, then delete), locking the rows in id order; indexes: documents_pkey, chunks_tenant_id_collection_id_document_id_chunk_index_key. '
  'Errors: QB001 null tenant, ids or p_hard; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB010 a multi-dimensional id array.';

-- purge_documents (seed: delete_all_documents, batched) -----------------------------------

-- An exception to the api conventions: a procedure that COMMITs cannot be SECURITY DEFINER
-- nor carry a SET clause (PostgreSQL forbids transaction control in both), so
-- api.purge_documents runs with the caller's rights, and the caller (querybudget_app) has no
-- privilege on any table (docs/security.md). So the procedure only loops and commits; each
-- batch is one call of api.purge_documents_batch, a security definer function like every
-- other api function (guards first, row level security as the tenant). The procedure names
-- everything schema-qualified and changes no setting itself. It must be CALLed outside a
-- transaction block (else COMMIT raises 2D000), and as a pg_cron job the CALL must be the
-- whole command.
--
-- Each batch is set-based and committed on its own, so no lock is held for longer than one
-- batch: up to p_batch_size documents of the tenant in primary-key order (keyset: after the
-- last id of the previous batch, so deleted index entries are not walked again), locked FOR
-- UPDATE SKIP LOCKED (a row another transaction holds is passed over, not waited for), their
-- chunks (through the partition key) and the documents deleted in one statement. Rows passed
-- over are taken up at the end by batches that do wait for them.
--
-- Purge is a tenant wipe: it writes no tombstones (a later sync brings connector documents
-- back, as the seed's delete_all_documents did) and it keeps the tombstones already written
-- (documents a user deleted one by one stay deleted). Documents inserted while it runs are
-- removed if they are committed before it reaches the end.
create or replace function api.purge_documents_batch(
  p_tenant_id bigint, p_batch_size integer default 1000, p_after_id bigint default null, p_wait boolean default false)
returns table (documents_deleted bigint, chunks_deleted bigint, last_id bigint, documents_left boolean)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_plan_cache_mode constant text := current_setting('plan_cache_mode');
  v_set text;
  v_ids bigint[];
  v_collection_ids bigint[];
  v_statuses text[];
  -- a plain value: unlike coalesce(...), a comparison with it is leakproof, so it stays an
  -- index condition under row level security in the generic plans this function uses
  -- (plan_cache_mode above): the scan starts at the cursor, not at the tenant's first document
  v_after bigint := coalesce(p_after_id, -9223372036854775808);
begin
  -- The foreign key checks of the deleted documents, planned once (file header): every
  -- statement of this call runs with plan_cache_mode = force_generic_plan, put back at the end
  -- (an error undoes it with the transaction). Not where Citus is loaded: Citus cannot plan the
  -- generic plan of the delete below, whose tenant is a parameter ("could not create
  -- distributed plan", docs/scaling.md); there the checks are planned per document. An
  -- assignment, not a SET clause, since the clause cannot depend on the server.
  if current_setting('citus.version', true) is null then
    v_set := set_config('plan_cache_mode', 'force_generic_plan', true);
  end if;
  perform app.require_tenant(p_tenant_id);
  perform app.require_limit(p_batch_size, 'p_batch_size', 1, 10000);
  perform app.require_not_null(p_wait, 'p_wait');
  if p_after_id < 0 then
    raise exception 'p_after_id is %; a cursor is a document id, never negative', p_after_id using errcode = 'QB006';
  end if;

  -- 1. Lock the batch, in id order, in a statement of its own (file header: "Lock first, delete
  -- next"). Rows other transactions hold are passed over, unless p_wait (the last batches wait).
  if p_wait then
    select array_agg(b.id order by b.id), array_agg(b.collection_id order by b.id), array_agg(b.status::text order by b.id)
    into v_ids, v_collection_ids, v_statuses
    from (select d.id, d.collection_id, d.status from app.documents d
          where d.tenant_id = p_tenant_id and d.id > v_after
          order by d.id limit p_batch_size
          for update) b;
  else
    select array_agg(b.id order by b.id), array_agg(b.collection_id order by b.id), array_agg(b.status::text order by b.id)
    into v_ids, v_collection_ids, v_statuses
    from (select d.id, d.collection_id, d.status from app.documents d
          where d.tenant_id = p_tenant_id and d.id > v_after
          order by d.id limit p_batch_size
          for update skip locked) b;
  end if;

  -- 2. Their chunks (through the partition key) and the documents, in one statement; the arrays
  -- read through scalar subqueries (file header: "Plans").
  with chunks_deleted as (
    delete from app.chunks c
    using unnest((select v_ids), (select v_collection_ids)) as b (id, collection_id)
    where c.tenant_id = p_tenant_id
      and c.collection_id = b.collection_id
      and c.document_id = b.id
  ), chunks_read as materialized (
    -- the same chunks, read by a plain scan in the statement's snapshot, as in
    -- app.hard_delete_documents (the batch's documents are locked, so none of their chunks can
    -- change between the two): not the delete's RETURNING, which fetches each deleted row again
    -- (one buffer access per chunk, 1,000 for a batch of 100 documents)
    select c.collection_id, c.document_id, c.size
    from unnest((select v_ids), (select v_collection_ids)) as b (id, collection_id)
    join app.chunks c on c.collection_id = b.collection_id and c.document_id = b.id
    where c.tenant_id = p_tenant_id
  ), documents_deleted as (
    delete from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any ((select v_ids)::bigint[])
    returning d.id
  ), delta as (
    -- the statistics of each collection that lost documents (app.collection_stat_deltas), as
    -- in app.hard_delete_documents
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunks_total, chunk_size_sum, chunk_documents,
                                            chunk_deleted_min_size, chunk_deleted_max_size,
                                            documents_by_status, operations_by_type_status)
    select p_tenant_id, g.collection_id, coalesce(x.chunks, 0), coalesce(x.size_sum, 0), coalesce(x.documents, 0),
           x.min_size, x.max_size, g.by_status, '{}'
    from (select y.collection_id, jsonb_object_agg(y.status, -y.n) as by_status
          -- the batch's documents as step 1 read them: locked since, so they are the rows deleted
          -- (not documents_deleted: a delta that reads the delete's RETURNING made the batch
          -- three times slower, measured at 1M)
          from (select b.collection_id, b.status, count(*) as n
                from unnest((select v_collection_ids), (select v_statuses)) as b (collection_id, status)
                group by b.collection_id, b.status) y
          group by y.collection_id) g
    left join (select c.collection_id, -count(*) as chunks, -sum(c.size) as size_sum, -count(distinct c.document_id) as documents,
                      min(c.size) as min_size, max(c.size) as max_size
               from chunks_read c group by c.collection_id) x on x.collection_id = g.collection_id
  )
  select (select count(*) from documents_deleted), (select count(*) from chunks_read), (select max(id) from documents_deleted)
  into documents_deleted, chunks_deleted, last_id;

  if documents_deleted > 0 then
    documents_left := true;
  else
    -- past the last id: are rows left (passed over because others held them, or committed meanwhile)?
    -- (perform ...; found, not `exists (select ... where x = variable)`, which Citus cannot run)
    perform from app.documents d where d.tenant_id = p_tenant_id limit 1;
    documents_left := found;
  end if;
  v_set := set_config('plan_cache_mode', v_plan_cache_mode, true);
  return next;
end
$$;
comment on function api.purge_documents_batch(bigint, integer, bigint, boolean) is
  'One batch of api.purge_documents, in the caller''s transaction: deletes up to p_batch_size (1..10,000, default 1,000) documents of the tenant with id > p_after_id (null: from the first), in id order, and their chunks, writing no tombstones; rows other transactions hold are passed over (FOR UPDATE SKIP LOCKED) unless p_wait. '
  'Returns one row (documents_deleted, chunks_deleted, last_id: the highest id deleted or null, documents_left: whether the tenant still has documents); two statements, one that locks, one that deletes; indexes: documents_pkey, chunks_tenant_id_collection_id_document_id_chunk_index_key. '
  'Errors: QB001 null tenant, batch size or p_wait; QB004 batch size out of 1..10,000; QB005 unknown tenant; QB006 negative p_after_id.';

create or replace procedure api.purge_documents(p_tenant_id bigint, p_batch_size integer default 1000, inout p_deleted bigint default 0)
language plpgsql
as $$
declare
  v_after bigint;            -- keyset: the last id of the previous batch (null: from the first)
  v_wait boolean := false;   -- a batch that waits for rows others hold
  v_batch record;
begin
  p_deleted := 0;
  loop
    -- the guards run in the first call, before anything is deleted
    select b.documents_deleted, b.chunks_deleted, b.last_id, b.documents_left
    into v_batch
    from api.purge_documents_batch(p_tenant_id, p_batch_size, case when v_wait then null else v_after end, v_wait) b;

    if v_batch.documents_deleted > 0 then
      p_deleted := p_deleted + v_batch.documents_deleted;
      raise notice 'purge_documents: tenant %: deleted % documents and % chunks in this batch, % documents in all',
        p_tenant_id, v_batch.documents_deleted, v_batch.chunks_deleted, p_deleted;
      if not v_wait then
        v_after := v_batch.last_id;
      end if;
      commit;
    else
      -- Past the last id: done, unless rows were passed over because others held them (or a
      -- waiting batch found them gone meanwhile). Then wait for those, from the first id on.
      exit when not v_batch.documents_left;
      v_wait := true;
      commit;
    end if;
  end loop;
end
$$;
comment on procedure api.purge_documents(bigint, integer, bigint) is
  'Deletes all documents of the tenant and their chunks in batches of p_batch_size (1..10,000, default 1,000), one api.purge_documents_batch call each, committing after each; p_deleted (INOUT) returns how many documents it deleted, a notice reports each batch, and no tombstones are written (existing ones are kept). '
  'Security invoker without a SET clause (it commits): CALL it outside a transaction block. '
  'Errors: QB001 null tenant or batch size; QB004 batch size out of 1..10,000; QB005 unknown tenant.';

-- new_external_ids (seed: sync deduplication) -------------------------------------------

create or replace function api.new_external_ids(p_tenant_id bigint, p_connector_id bigint, p_external_ids text[])
returns text[]
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_new text[];
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_connector_id, 'p_connector_id');
  perform app.require_ids(p_external_ids, 'p_external_ids');
  if not exists (select from app.connectors c where c.tenant_id = p_tenant_id and c.id = p_connector_id) then
    raise exception 'unknown connector % of tenant %', p_connector_id, p_tenant_id using errcode = 'QB009';
  end if;

  -- One statement: each distinct external id (at its first position), kept when it is neither
  -- a document of the connector nor tombstoned. Each check is a LATERAL subquery with LIMIT 1,
  -- which the planner can neither flatten nor hash: one probe of the unique index on
  -- (tenant_id, connector_id, external_id) per id, whatever it estimates. NOT EXISTS would
  -- plan as an anti-join, and the cached generic plan estimates the connector's rows from an
  -- average tenant (one row at the 1M tier): for a big tenant's connector it then compared every
  -- id with every row of the connector (1,000 ids: 0.45 s instead of 5 ms); an EXISTS subplan
  -- was hashed instead, reading the connector's whole index range on every call (the seed's
  -- load-all, in the server). Soft-deleted documents are still documents.
  select coalesce(array_agg(e.external_id order by e.ord), '{}')
  into v_new
  from (
    select u.external_id, min(u.ord) as ord
    from unnest(p_external_ids) with ordinality as u (external_id, ord)
    group by u.external_id
  ) e
  left join lateral (
    select true as found
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.connector_id = p_connector_id
      and d.external_id = e.external_id
    limit 1
  ) stored on true
  left join lateral (
    select true as found
    from app.deleted_documents t
    where t.tenant_id = p_tenant_id
      and t.connector_id = p_connector_id
      and t.external_id = e.external_id
    limit 1
  ) tombstoned on true
  where stored.found is null
    and tombstoned.found is null;
  return v_new;
end
$$;
comment on function api.new_external_ids(bigint, bigint, text[]) is
  'Connector sync deduplication: of the given external ids, those the connector has neither as a document (any status) nor as a tombstone in app.deleted_documents, as text[] in input order, each id once (at its first position), empty when none is new. '
  'One statement after the guards, two unique-index probes per distinct id: documents_tenant_id_connector_id_external_id_key, deleted_documents_tenant_id_connector_id_external_id_key. '
  'Errors: QB001 null tenant, connector or ids; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB009 the connector is not the tenant''s; QB010 a multi-dimensional id array.';
