-- Operations as a work queue (seeds 000, 002; issue 11, item 4): enqueue in bulk, claim for a
-- worker, finish with the outcome, cancel. Documentation: docs/api.md, "Operations: a work queue".
--
-- Life of an operation: pending (enqueued) -> processing (claimed by one worker) -> completed
-- or failed (finished, with processing_time and completed_at); pending or processing ->
-- cancelled. completed, failed and cancelled are final: nothing changes them again.
--
-- Claiming. Many workers claim from the same queue at once. Each claim selects the tenant's
-- oldest pending operations of a type with `for update skip locked`: a row another claim holds
-- is passed over, never waited for, so no two workers get the same operation and none waits for
-- another. It reads the partial index operations_tenant_id_type_created_at_id_pending_idx
-- (pending rows only, in claim order) on each monthly partition under a Merge Append, and the
-- Limit stops it after p_limit rows: no Sort, no row that is not pending is read. A claimed row
-- leaves the partial index (its status is no longer pending), so a drained queue costs nothing.
--
-- Finding an operation by id. app.operations is RANGE-partitioned by month on created_at, and
-- its primary key is (tenant_id, id, created_at). PostgreSQL has no global index: any index is
-- one per partition, so a lookup that does not give created_at probes every partition's index,
-- whichever index it is. finish and cancel take ids only (what a worker holds), and find them by
-- the primary key's prefix (tenant_id, id) on each partition: one probe per id and partition, a
-- cost bounded by the partitions kept (retention: 12 months, two made ahead, the default one),
-- not by the rows. No index is added for it: a (tenant_id, id) index would be probed per
-- partition just the same. A caller that has created_at (claim returns it) gets no faster path
-- today; accepting it in the items would prune to one partition (a possible extension).
--
-- Lock order. finish and cancel lock their targets in id order in the statement that changes
-- them (`order by id for update` in a materialized CTE, as the document routines do); the claim
-- never waits at all.

-- enqueue_operations ------------------------------------------------------------------------

create or replace function api.enqueue_operations(p_tenant_id bigint, p_collection_id bigint, p_type text, p_operations jsonb)
returns table ("position" integer, id bigint)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_bad record;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_collection_id, 'p_collection_id');
  perform app.require_not_null(p_type, 'p_type');
  perform app.require_one_of(p_type, 'p_type', array['chunking', 'indexing', 'reindexing', 'embedding']);
  perform app.require_items(p_operations, 'p_operations',
    '{"metadata": {"type": "object"}, "user_id": {"type": "bigint"}}');
  perform from app.collections c where c.tenant_id = p_tenant_id and c.id = p_collection_id;
  if not found then
    raise exception 'unknown collection % of tenant %', p_collection_id, p_tenant_id using errcode = 'QB009';
  end if;
  -- A user_id must be a user of the tenant: the first item naming another is refused (QB009),
  -- never a raw foreign key violation. One statement, a primary key probe per distinct user.
  select b.pos - 1 as pos, b.user_id
  into v_bad
  from rows from (jsonb_to_recordset(p_operations) as (user_id bigint)) with ordinality as b (user_id, pos)
  left join lateral (select true as found from app.users u where u.tenant_id = p_tenant_id and u.id = b.user_id) u on true
  where b.user_id is not null
    and u.found is null
  order by b.pos
  limit 1;
  if found then
    raise exception 'p_operations[%].user_id: unknown user % of tenant %', v_bad.pos, v_bad.user_id, p_tenant_id
      using errcode = 'QB009', detail = format('item %s of %s (0-based), field user_id', v_bad.pos, jsonb_array_length(p_operations));
  end if;

  return query
  with inserted as (
    insert into app.operations (tenant_id, collection_id, user_id, type, status, metadata)
    select p_tenant_id, p_collection_id, b.user_id, p_type, 'pending', coalesce(b.metadata, '{}')
    from rows from (jsonb_to_recordset(p_operations) as (metadata jsonb, user_id bigint)) with ordinality as b (metadata, user_id, pos)
    order by b.pos
    returning app.operations.id, app.operations.created_at, app.operations.metadata ->> 'strategy' as strategy
  ), delta as (
    -- the collection's statistics (app.collection_stat_deltas): operations by type and status,
    -- and the chunking ones in what api.collection_statistics reports
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunking_total, chunking_first_at, chunking_last_at,
                                            chunking_strategies, documents_by_status, operations_by_type_status)
    select p_tenant_id, p_collection_id, case when p_type = 'chunking' then count(*) else 0 end,
           case when p_type = 'chunking' then min(i.created_at) end, case when p_type = 'chunking' then max(i.created_at) end,
           case when p_type = 'chunking'
                then coalesce((select jsonb_object_agg(g.strategy, g.n)
                               from (select j.strategy, count(*) as n from inserted j where j.strategy is not null group by j.strategy) g), '{}')
                else '{}' end,
           '{}', jsonb_build_object(p_type || ':pending', count(*))
    from inserted i
    having count(*) > 0
  )
  select (row_number() over (order by i.id) - 1)::integer, i.id
  from inserted i
  order by i.id;
end
$$;
comment on function api.enqueue_operations(bigint, bigint, text, jsonb) is
  'Enqueues operations of type p_type (chunking, indexing, reindexing, embedding) on a collection: one pending operation per item of p_operations (up to 10,000 items {"metadata": {...} (e.g. {"strategy": "semantic"}), "user_id"}, both optional; {} is an operation without either), created_at = now(). '
  'Returns one row per item in batch order: (position, 0-based; id, increasing in batch order). One insert whatever the batch size. '
  'Errors: QB001 null argument; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB008 unknown type; QB009 collection not the tenant''s, or an item''s user_id not a user of the tenant (the message names its position); QB011 malformed batch.';

-- claim_operations --------------------------------------------------------------------------

create or replace function api.claim_operations(p_tenant_id bigint, p_type text, p_limit integer default 10)
returns table (id bigint, collection_id bigint, user_id bigint, type text, status text, metadata jsonb, created_at timestamptz)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_type, 'p_type');
  perform app.require_one_of(p_type, 'p_type', array['chunking', 'indexing', 'reindexing', 'embedding']);
  perform app.require_limit(p_limit, 'p_limit');

  -- The status condition is the partial index's predicate, word for word (see the top of this
  -- file). The update finds each claimed row by its whole primary key, so each probe reaches
  -- one partition (pruned at run time).
  return query
  with claimed as materialized (
    select o.id, o.created_at
    from app.operations o
    where o.tenant_id = p_tenant_id
      and o.type = p_type
      and o.status = 'pending'
    order by o.created_at, o.id
    limit p_limit
    for update skip locked
  ), updated as (
    update app.operations o
    set status = 'processing'
    from claimed c
    where o.tenant_id = p_tenant_id
      and o.id = c.id
      and o.created_at = c.created_at
    returning o.id, o.collection_id, o.user_id, o.type, o.status, o.metadata, o.created_at
  ), delta as (
    -- pending to processing: the statistics of each collection (app.collection_stat_deltas)
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunking_processing, documents_by_status, operations_by_type_status)
    select p_tenant_id, u.collection_id, case when p_type = 'chunking' then count(*) else 0 end,
           '{}', jsonb_build_object(p_type || ':pending', -count(*), p_type || ':processing', count(*))
    from updated u
    group by u.collection_id
  )
  select u.id, u.collection_id, u.user_id, u.type, u.status, u.metadata, u.created_at
  from updated u
  order by u.created_at, u.id;
end
$$;
comment on function api.claim_operations(bigint, text, integer) is
  'A worker takes up to p_limit (1..1000, default 10) of the tenant''s pending operations of type p_type, oldest first (created_at, id), and marks them processing. '
  'Safe for many workers at once: rows another claim holds are skipped (for update skip locked), so no two workers get the same operation and no claim waits for another; fewer rows than p_limit (or none) when the queue is short. '
  'Returns the claimed rows (id, collection_id, user_id, type, status, metadata, created_at) oldest first. '
  'Errors: QB001 null argument; QB004 limit out of range; QB005 unknown tenant; QB008 unknown type. '
  'Index: operations_tenant_id_type_created_at_id_pending_idx (partial, pending rows) on each monthly partition under a Merge Append.';

-- finish_operations -------------------------------------------------------------------------

create or replace function api.finish_operations(p_tenant_id bigint, p_results jsonb)
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
  perform app.require_items(p_results, 'p_results',
    '{"id": {"type": "bigint", "required": true},
      "status": {"type": "text", "required": true, "values": ["completed", "failed"]},
      "processing_time": {"type": "number", "min": 0},
      "error": {"type": "text"}}');
  -- an operation twice in one batch: two outcomes for one operation, refused
  perform app.require_unique_items(p_results, 'p_results', array['id']);
  v_ids := array(select (e.value ->> 'id')::bigint from jsonb_array_elements(p_results) e(value));

  -- One statement: the named operations of the tenant locked in id order (found by (tenant_id,
  -- id) on each partition: see the top of this file), then those still pending or processing
  -- finished. A final one is left as it is: a replay changes nothing and is counted.
  with target as materialized (
    select o.id, o.created_at, o.status
    from app.operations o
    where o.tenant_id = p_tenant_id
      and o.id = any ((select v_ids)::bigint[])
    order by o.id
    for update
  ), finished as (
    update app.operations o
    set status = b.status,
        processing_time = b.processing_time,
        completed_at = now(),
        -- the error text, when there is one, into metadata; no CASE: Citus refuses a function
        -- that is not immutable (jsonb_build_object) inside a CASE of an UPDATE (docs/scaling.md).
        -- b.error_patch is {} without an error, and metadata || {} is metadata.
        metadata = o.metadata || b.error_patch
    from target t
    join (select r.id, r.status, r.processing_time, jsonb_strip_nulls(jsonb_build_object('error', r.error)) as error_patch
          from jsonb_to_recordset(p_results) as r (id bigint, status text, processing_time double precision, error text)) b
      on b.id = t.id
    where o.tenant_id = p_tenant_id
      and o.id = t.id
      and o.created_at = t.created_at
      and t.status in ('pending', 'processing')
    returning o.id, o.collection_id, o.type, t.status as old_status, o.status, o.processing_time
  ), transitions_finished as (
    -- each operation leaves "type:old status" for "type:new status": the change per collection
    select g.collection_id, coalesce(jsonb_object_agg(g.k, g.n) filter (where g.n <> 0), '{}') as by_type_status
    from (select x.collection_id, v.k, sum(v.n) as n
          from finished x
          cross join lateral (values (x.type || ':' || x.old_status, -1), (x.type || ':' || x.status, 1)) v (k, n)
          group by x.collection_id, v.k) g
    group by g.collection_id
  ), delta as (
    -- the statistics of each collection with operations finished (app.collection_stat_deltas):
    -- each leaves its old status for its new one; the chunking ones in what
    -- api.collection_statistics reports
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunking_completed, chunking_failed, chunking_processing,
                                            chunking_time_sum, chunking_time_count, documents_by_status, operations_by_type_status)
    select p_tenant_id, f.collection_id,
           count(*) filter (where f.type = 'chunking' and f.status = 'completed'),
           count(*) filter (where f.type = 'chunking' and f.status = 'failed'),
           -count(*) filter (where f.type = 'chunking' and f.old_status = 'processing'),
           coalesce(sum(f.processing_time::numeric) filter (where f.type = 'chunking' and f.status = 'completed'), 0),
           count(f.processing_time) filter (where f.type = 'chunking' and f.status = 'completed'),
           '{}', t.by_type_status
    from finished f
    join transitions_finished t on t.collection_id = f.collection_id
    group by f.collection_id, t.by_type_status
  )
  select jsonb_build_object(
           'finished', (select count(*) from finished),
           'already_finished', (select count(*) from target t where t.status not in ('pending', 'processing')),
           'not_found', cardinality(v_ids) - (select count(*) from target))
  into v_result;
  return v_result;
end
$$;
comment on function api.finish_operations(bigint, jsonb) is
  'Records the outcome of operations: each item of p_results (up to 10,000 {"id", "status": completed | failed, "processing_time": seconds, "error": text}) sets the operation''s status, processing_time and completed_at = now(); an error text goes into metadata.error (the schema has no error column). '
  'Only pending or processing operations are finished; completed, failed or cancelled ones are left unchanged (a replay is harmless). Returns {"finished", "already_finished", "not_found"}; ids of other tenants and unknown ids are not_found. '
  'One statement after the guards; rows locked in id order. '
  'Errors: QB001 null argument; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB011 malformed batch (an unknown status, a negative processing_time) or an id twice (the message names both positions). '
  'Index: operations_pkey, its prefix (tenant_id, id) on each monthly partition (created_at is not given).';

-- cancel_operations -------------------------------------------------------------------------

create or replace function api.cancel_operations(p_tenant_id bigint, p_operation_ids bigint[])
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
  perform app.require_ids(p_operation_ids, 'p_operation_ids');

  with target as materialized (
    select o.id, o.created_at, o.status
    from app.operations o
    where o.tenant_id = p_tenant_id
      and o.id = any ((select p_operation_ids)::bigint[])  -- planned as a handful of ids (functions/api/documents.sql)
    order by o.id
    for update
  ), cancelled as (
    update app.operations o
    set status = 'cancelled'
    from target t
    where o.tenant_id = p_tenant_id
      and o.id = t.id
      and o.created_at = t.created_at
      and t.status in ('pending', 'processing')
    returning o.id, o.collection_id, o.type, t.status as old_status
  ), transitions_cancelled as (
    -- each operation leaves "type:old status" for "type:new status": the change per collection
    select g.collection_id, coalesce(jsonb_object_agg(g.k, g.n) filter (where g.n <> 0), '{}') as by_type_status
    from (select x.collection_id, v.k, sum(v.n) as n
          from cancelled x
          cross join lateral (values (x.type || ':' || x.old_status, -1), (x.type || ':cancelled', 1)) v (k, n)
          group by x.collection_id, v.k) g
    group by g.collection_id
  ), delta as (
    -- each leaves its old status for cancelled (app.collection_stat_deltas); a chunking one
    -- that was processing leaves that count (a pending one counts only in the total)
    insert into app.collection_stat_deltas (tenant_id, collection_id, chunking_processing, documents_by_status, operations_by_type_status)
    select p_tenant_id, c.collection_id, -count(*) filter (where c.type = 'chunking' and c.old_status = 'processing'),
           '{}', t.by_type_status
    from cancelled c
    join transitions_cancelled t on t.collection_id = c.collection_id
    group by c.collection_id, t.by_type_status
  )
  select jsonb_build_object(
           'cancelled', (select count(*) from cancelled),
           'already_finished', (select count(*) from target t where t.status not in ('pending', 'processing')),
           'not_found', (select count(distinct i) from unnest(p_operation_ids) i) - (select count(*) from target))
  into v_result;
  return v_result;
end
$$;
comment on function api.cancel_operations(bigint, bigint[]) is
  'Cancels the given operations of the tenant that are pending or processing (status cancelled; completed_at stays null, as for every operation that did not run to an end). '
  'Returns {"cancelled", "already_finished": completed, failed or cancelled ones, left unchanged, "not_found"}; duplicate ids count once; ids of other tenants and unknown ids are not_found. A replay changes nothing. '
  'One statement after the guards; rows locked in id order. '
  'Errors: QB001 null tenant or ids; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB010 a multi-dimensional id array. '
  'Index: operations_pkey, its prefix (tenant_id, id) on each monthly partition.';
