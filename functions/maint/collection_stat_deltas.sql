-- Collection statistics maintained by the writes (issue 12, item 1; the tables are in
-- migrations/, documentation in docs/api.md, "Statistics"). The writers append deltas to
-- app.collection_stat_deltas; these two job bodies fold them into app.collection_stat_totals
-- (the regular job) or compute the totals from the tables (after seeding, or to repair).
--
-- The fold is one statement: it deletes the deltas its snapshot sees and adds them to the
-- totals, so the deltas it folds and the rows it recomputes a bound from are the same
-- committed writes. Its cost is the deltas folded (a scan of the deltas table, which holds
-- only pending rows, and one totals probe per collection), except for a bound a delete may
-- have removed: a collection whose folded deltas deleted a chunk of size <= its minimum (or
-- >= its maximum), or a chunking operation at its first (or last) created_at, gets that bound
-- recomputed from its rows (the collection's chunk partition; the operations index). Two
-- folds never run at once (a transaction-level advisory lock; the second returns 0).

create or replace function maint.fold_collection_stat_deltas()
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- The planner prices the bound recomputations (correlated aggregates over every chunks and
-- operations partition, since the collection is known only per row) as if each ran for every
-- collection; they almost never run, but the estimate passes jit_above_cost and JIT compiling
-- took 80 to 110 ms of every fold (10k tier, 400 deltas: 120 ms with JIT; without, 15 ms in
-- a new session, 3 ms in one that folded before, 0.7 ms with no delta).
set jit = off
as $$
declare
  v_folded bigint;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended('querybudget.collection_stat_totals', 0)) then
    return 0;
  end if;
  with folded as (
    delete from app.collection_stat_deltas d
    returning d.*
  ), sums as (
    select f.tenant_id, f.collection_id,
           sum(f.chunking_total) as chunking_total, sum(f.chunking_completed) as chunking_completed,
           sum(f.chunking_failed) as chunking_failed, sum(f.chunking_processing) as chunking_processing,
           sum(f.chunking_time_sum) as chunking_time_sum, sum(f.chunking_time_count) as chunking_time_count,
           min(f.chunking_first_at) as first_at, max(f.chunking_last_at) as last_at,
           min(f.chunking_deleted_first_at) as deleted_first_at, max(f.chunking_deleted_last_at) as deleted_last_at,
           sum(f.chunks_total) as chunks_total, sum(f.chunk_size_sum) as chunk_size_sum, sum(f.chunk_documents) as chunk_documents,
           min(f.chunk_min_size) as min_size, max(f.chunk_max_size) as max_size,
           min(f.chunk_deleted_min_size) as deleted_min_size, max(f.chunk_deleted_max_size) as deleted_max_size
    from folded f
    group by f.tenant_id, f.collection_id
  ), merged as (
    select s.tenant_id, s.collection_id,
           coalesce(t.chunking_total, 0) + s.chunking_total as chunking_total,
           coalesce(t.chunking_completed, 0) + s.chunking_completed as chunking_completed,
           coalesce(t.chunking_failed, 0) + s.chunking_failed as chunking_failed,
           coalesce(t.chunking_processing, 0) + s.chunking_processing as chunking_processing,
           coalesce(t.chunking_time_sum, 0) + s.chunking_time_sum as chunking_time_sum,
           coalesce(t.chunking_time_count, 0) + s.chunking_time_count as chunking_time_count,
           least(t.chunking_first_at, s.first_at) as first_at, greatest(t.chunking_last_at, s.last_at) as last_at,
           s.deleted_first_at, s.deleted_last_at,
           coalesce(t.chunks_total, 0) + s.chunks_total as chunks_total,
           coalesce(t.chunk_size_sum, 0) + s.chunk_size_sum as chunk_size_sum,
           coalesce(t.chunk_documents, 0) + s.chunk_documents as chunk_documents,
           least(t.chunk_min_size, s.min_size) as min_size, greatest(t.chunk_max_size, s.max_size) as max_size,
           s.deleted_min_size, s.deleted_max_size,
           (select coalesce(jsonb_object_agg(x.key, x.n) filter (where x.n <> 0), '{}')
            from (select e.key, sum(e.value::bigint) as n
                  from (select t.chunking_strategies as strat
                        union all
                        select f.chunking_strategies from folded f
                        where f.tenant_id = s.tenant_id and f.collection_id = s.collection_id) u
                  cross join lateral jsonb_each_text(u.strat) e
                  group by e.key) x) as strategies
    from sums s
    left join app.collection_stat_totals t on t.tenant_id = s.tenant_id and t.collection_id = s.collection_id
  ), upserted as (
    insert into app.collection_stat_totals as t (
      tenant_id, collection_id, chunking_total, chunking_completed, chunking_failed, chunking_processing,
      chunking_time_sum, chunking_time_count, chunking_first_at, chunking_last_at, chunking_strategies,
      chunks_total, chunk_size_sum, chunk_documents, chunk_min_size, chunk_max_size, folded_at)
    select m.tenant_id, m.collection_id, m.chunking_total, m.chunking_completed, m.chunking_failed, m.chunking_processing,
           m.chunking_time_sum, m.chunking_time_count,
           -- a bound is kept unless a folded delete reached it (then it is recomputed)
           case when m.chunking_total = 0 then null
                when m.first_at is not null and (m.deleted_first_at is null or m.deleted_first_at > m.first_at) then m.first_at
                else (select min(o.created_at) from app.operations o
                      where o.tenant_id = m.tenant_id and o.collection_id = m.collection_id and o.type = 'chunking') end,
           case when m.chunking_total = 0 then null
                when m.last_at is not null and (m.deleted_last_at is null or m.deleted_last_at < m.last_at) then m.last_at
                else (select max(o.created_at) from app.operations o
                      where o.tenant_id = m.tenant_id and o.collection_id = m.collection_id and o.type = 'chunking') end,
           m.strategies,
           m.chunks_total, m.chunk_size_sum, m.chunk_documents,
           case when m.chunks_total = 0 then null
                when m.min_size is not null and (m.deleted_min_size is null or m.deleted_min_size > m.min_size) then m.min_size
                else (select min(k.size) from app.chunks k where k.tenant_id = m.tenant_id and k.collection_id = m.collection_id) end,
           case when m.chunks_total = 0 then null
                when m.max_size is not null and (m.deleted_max_size is null or m.deleted_max_size < m.max_size) then m.max_size
                else (select max(k.size) from app.chunks k where k.tenant_id = m.tenant_id and k.collection_id = m.collection_id) end,
           now()
    from merged m
    on conflict (tenant_id, collection_id) do update
      set chunking_total = excluded.chunking_total, chunking_completed = excluded.chunking_completed,
          chunking_failed = excluded.chunking_failed, chunking_processing = excluded.chunking_processing,
          chunking_time_sum = excluded.chunking_time_sum, chunking_time_count = excluded.chunking_time_count,
          chunking_first_at = excluded.chunking_first_at, chunking_last_at = excluded.chunking_last_at,
          chunking_strategies = excluded.chunking_strategies, chunks_total = excluded.chunks_total,
          chunk_size_sum = excluded.chunk_size_sum, chunk_documents = excluded.chunk_documents,
          chunk_min_size = excluded.chunk_min_size, chunk_max_size = excluded.chunk_max_size, folded_at = excluded.folded_at
    returning 1
  )
  select (select count(*) from folded) into v_folded;
  return v_folded;
end
$$;
comment on function maint.fold_collection_stat_deltas() is
  'Job body: folds every committed row of app.collection_stat_deltas into app.collection_stat_totals in one statement (deleted and added in the same snapshot) and returns how many it folded; cost proportional to the deltas, except a chunk size or chunking created_at bound a folded delete reached, recomputed from that collection''s rows. '
  'One fold at a time (advisory lock; a second concurrent call returns 0 at once). Readers are never blocked and read the same numbers before and after. Call: select maint.fold_collection_stat_deltas().';

create or replace function maint.rebuild_collection_stat_totals()
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_rows bigint;
begin
  -- no fold meanwhile, and no writer appends a delta until this commits: a writer that has
  -- changed rows but not yet written its delta waits here, and its rows (uncommitted) are not
  -- counted below, so its delta is still owed
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('querybudget.collection_stat_totals', 0));
  lock table app.collection_stat_deltas in exclusive mode;
  delete from app.collection_stat_deltas;
  delete from app.collection_stat_totals;
  insert into app.collection_stat_totals (
    tenant_id, collection_id, chunking_total, chunking_completed, chunking_failed, chunking_processing,
    chunking_time_sum, chunking_time_count, chunking_first_at, chunking_last_at, chunking_strategies,
    chunks_total, chunk_size_sum, chunk_documents, chunk_min_size, chunk_max_size, folded_at)
  select c.tenant_id, c.id,
         coalesce(o.total, 0), coalesce(o.completed, 0), coalesce(o.failed, 0), coalesce(o.processing, 0),
         coalesce(o.time_sum, 0), coalesce(o.time_count, 0), o.first_at, o.last_at, coalesce(st.strategies, '{}'),
         coalesce(k.total, 0), coalesce(k.size_sum, 0), coalesce(k.documents, 0), k.min_size, k.max_size, now()
  from app.collections c
  left join (
    select op.tenant_id, op.collection_id, count(*) as total,
           count(*) filter (where op.status = 'completed') as completed,
           count(*) filter (where op.status = 'failed') as failed,
           count(*) filter (where op.status = 'processing') as processing,
           coalesce(sum(op.processing_time::numeric) filter (where op.status = 'completed'), 0) as time_sum,
           count(op.processing_time) filter (where op.status = 'completed') as time_count,
           min(op.created_at) as first_at, max(op.created_at) as last_at
    from app.operations op
    where op.type = 'chunking'
    group by op.tenant_id, op.collection_id
  ) o on o.tenant_id = c.tenant_id and o.collection_id = c.id
  left join (
    select s.tenant_id, s.collection_id, jsonb_object_agg(s.strategy, s.n) as strategies
    from (select op.tenant_id, op.collection_id, op.metadata ->> 'strategy' as strategy, count(*) as n
          from app.operations op
          where op.type = 'chunking' and op.metadata ->> 'strategy' is not null
          group by op.tenant_id, op.collection_id, op.metadata ->> 'strategy') s
    group by s.tenant_id, s.collection_id
  ) st on st.tenant_id = c.tenant_id and st.collection_id = c.id
  left join (
    select ch.tenant_id, ch.collection_id, count(*) as total, sum(ch.size) as size_sum,
           count(distinct ch.document_id) as documents, min(ch.size) as min_size, max(ch.size) as max_size
    from app.chunks ch
    group by ch.tenant_id, ch.collection_id
  ) k on k.tenant_id = c.tenant_id and k.collection_id = c.id
  where o.total is not null or k.total is not null;
  get diagnostics v_rows = row_count;
  return v_rows;
end
$$;
comment on function maint.rebuild_collection_stat_totals() is
  'Computes app.collection_stat_totals from app.operations and app.chunks (every collection with a chunk or a chunking operation; no row means zeros) and empties app.collection_stat_deltas, in one transaction that holds off folds and writers of deltas until it commits. '
  'After seeding (rows written around the api) or to repair; a full scan of both tables. Returns the rows written. Call: select maint.rebuild_collection_stat_totals().';
