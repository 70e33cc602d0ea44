-- Collection statistics maintained by the writes (issue 12; the tables are in migrations/,
-- documentation in docs/api.md, "Statistics"). The writers append deltas to
-- app.collection_stat_deltas; maint.fold_collection_stat_deltas (the regular job) folds them
-- into app.collection_stat_totals; maint.rebuild_collection_stats computes the totals from the
-- tables (after seeding, retention, or to repair). maint.collection_stats_recomputed is the one
-- full recomputation: the rebuild writes it, perf.collection_stats_drift compares with it.
--
-- Besides what api.collection_statistics reports (chunks; chunking operations), the deltas
-- carry documents by status and operations by type and status ({"type:status": n}), which the
-- operators' per-tenant view (app.tenant_overview) sums. A delta with those maps null was
-- written by a writer that predates them (an upgrade in progress): the fold then recomputes
-- the maps of that collection from its rows, so they stay exact.
--
-- The fold is one statement: it deletes the deltas its snapshot sees and adds them to the
-- totals, so the deltas it folds and the rows it recomputes a bound from are the same
-- committed writes. Its cost is the deltas folded (a scan of the deltas table, which holds
-- only pending rows, one totals probe per collection, and the count maps patched by the keys
-- the deltas name: 18 ms for 1,000 writes over 270 collections at 1M, against 36 to 42 ms when
-- every map was expanded and summed whole), except for a bound a delete may
-- have removed: a collection whose folded deltas deleted a chunk of size <= its minimum (or
-- >= its maximum), or a chunking operation at its first (or last) created_at, gets that bound
-- recomputed from its rows (the collection's chunk partition; the operations index). Two
-- folds never run at once (a transaction-level advisory lock; the second returns 0).
--
-- One statement, two scopes (maint.fold_tenant_stat_deltas): every tenant at once on a single
-- server, one tenant per statement on Citus, where the statement must name its tenant in every
-- table it reads to be routed to that tenant's shards (docs/scaling.md). The tenant filters are
-- written `p_tenant_id is null or x.tenant_id = p_tenant_id`: with null they admit every row
-- (a custom plan folds them away; a generic one checks them per row, never as an index
-- condition, the keys of each probe being the collection's), with a tenant Citus prunes every
-- table to its shard.
-- Folding tenant by tenant on a single server would plan the statement once per tenant: 5 to
-- 15 times slower (1M rows: 107 ms for 100 writes against 5.6 ms).

create or replace function maint.fold_tenant_stat_deltas(
  p_tenant_id bigint, out folded bigint, out collections bigint, out recomputed bigint)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
-- The planner prices the bound recomputations (correlated aggregates over every chunks and
-- operations partition, since the collection is known only per row) as if each ran for every
-- collection; they almost never run, but the estimate passes jit_above_cost and JIT compiling
-- took 80 to 110 ms of every fold (10k tier, 400 deltas: 120 ms with JIT; without, 15 ms in
-- a new session, 3 ms in one that folded before, 0.7 ms with no delta).
set jit = off
-- The deltas table is emptied by every fold, so its statistics rarely know how many rows a fold
-- will find: estimating a handful, the planner joined the fold's per-collection sets (hundreds
-- to thousands of rows) by nested loops over CTE scans, quadratic in the collections folded
-- (at 10M rows, 1,000 writes over 626 collections: 40 of 73 ms in one such join). Hash joins
-- are linear whatever the count; the one nested loop left is the lateral primary key probe of
-- the totals (below), which has no other plan.
set enable_nestloop = off
as $$
begin
  with folded as (
    delete from app.collection_stat_deltas d
    where p_tenant_id is null or d.tenant_id = p_tenant_id
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
           min(f.chunk_deleted_min_size) as deleted_min_size, max(f.chunk_deleted_max_size) as deleted_max_size,
           bool_or(f.documents_by_status is null) as documents_unknown,
           bool_or(f.operations_by_type_status is null) as operations_unknown
    from folded f
    group by f.tenant_id, f.collection_id
  ), current as materialized (
    -- the totals of the collections folded, one primary key probe each: a lateral subquery
    -- the planner cannot flatten (offset 0), so it never sorts or hashes the whole totals
    -- table, whose size follows the number of collections (at 10M rows, 10,000: a merge join
    -- over all of them was 23 of a 29 ms fold of 100 writes)
    select t.*
    from sums s
    cross join lateral (select * from app.collection_stat_totals x
                        where x.tenant_id = s.tenant_id and x.collection_id = s.collection_id
                          and (p_tenant_id is null or x.tenant_id = p_tenant_id)
                        offset 0) t
  ), changed_counts as (
    -- the count maps of the folded deltas, summed key by key, each with the collection's
    -- count for that key after the fold (its total's, plus the sum): only the keys the deltas
    -- name, so the totals' maps are read by key, never expanded
    select c.tenant_id, c.collection_id, c.map, c.key,
           coalesce((case c.map when 1 then t.chunking_strategies
                                when 2 then t.documents_by_status
                                else t.operations_by_type_status end ->> c.key)::bigint, 0) + c.n as n
    from (select f.tenant_id, f.collection_id, m.map, j.key, sum(j.value::bigint) as n
          from folded f
          cross join lateral (values (1, f.chunking_strategies), (2, f.documents_by_status),
                                     (3, f.operations_by_type_status)) m (map, counts)
          cross join lateral jsonb_each_text(m.counts) j
          group by f.tenant_id, f.collection_id, m.map, j.key) c
    left join current t on t.tenant_id = c.tenant_id and t.collection_id = c.collection_id
  ), patches as (
    -- per collection and map: the keys to set, and the keys whose count fell to 0 (dropped,
    -- as app.sum_count_maps drops them)
    select c.tenant_id, c.collection_id,
           coalesce(jsonb_object_agg(c.key, c.n) filter (where c.map = 1 and c.n <> 0), '{}') as strategies_set,
           coalesce(array_agg(c.key) filter (where c.map = 1 and c.n = 0), '{}') as strategies_drop,
           coalesce(jsonb_object_agg(c.key, c.n) filter (where c.map = 2 and c.n <> 0), '{}') as documents_set,
           coalesce(array_agg(c.key) filter (where c.map = 2 and c.n = 0), '{}') as documents_drop,
           coalesce(jsonb_object_agg(c.key, c.n) filter (where c.map = 3 and c.n <> 0), '{}') as operations_set,
           coalesce(array_agg(c.key) filter (where c.map = 3 and c.n = 0), '{}') as operations_drop
    from changed_counts c
    group by c.tenant_id, c.collection_id
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
           s.deleted_min_size, s.deleted_max_size, s.documents_unknown, s.operations_unknown,
           (coalesce(t.chunking_strategies, '{}') || coalesce(p.strategies_set, '{}')) - coalesce(p.strategies_drop, '{}') as strategies,
           (coalesce(t.documents_by_status, '{}') || coalesce(p.documents_set, '{}')) - coalesce(p.documents_drop, '{}') as documents_by_status,
           (coalesce(t.operations_by_type_status, '{}') || coalesce(p.operations_set, '{}')) - coalesce(p.operations_drop, '{}') as operations_by_type_status
    from sums s
    left join current t on t.tenant_id = s.tenant_id and t.collection_id = s.collection_id
    left join patches p on p.tenant_id = s.tenant_id and p.collection_id = s.collection_id
  ), decided as (
    -- a bound is kept unless a folded delete reached it (then it is recomputed); a map is
    -- recomputed when a folded delta lacks it (written by a writer of an earlier version)
    select m.*,
           m.chunking_total <> 0 and not (m.first_at is not null and (m.deleted_first_at is null or m.deleted_first_at > m.first_at)) as redo_first,
           m.chunking_total <> 0 and not (m.last_at is not null and (m.deleted_last_at is null or m.deleted_last_at < m.last_at)) as redo_last,
           m.chunks_total <> 0 and not (m.min_size is not null and (m.deleted_min_size is null or m.deleted_min_size > m.min_size)) as redo_min,
           m.chunks_total <> 0 and not (m.max_size is not null and (m.deleted_max_size is null or m.deleted_max_size < m.max_size)) as redo_max
    from merged m
  ), upserted as (
    insert into app.collection_stat_totals as t (
      tenant_id, collection_id, chunking_total, chunking_completed, chunking_failed, chunking_processing,
      chunking_time_sum, chunking_time_count, chunking_first_at, chunking_last_at, chunking_strategies,
      chunks_total, chunk_size_sum, chunk_documents, chunk_min_size, chunk_max_size,
      documents_by_status, operations_by_type_status, folded_at)
    select m.tenant_id, m.collection_id, m.chunking_total, m.chunking_completed, m.chunking_failed, m.chunking_processing,
           m.chunking_time_sum, m.chunking_time_count,
           case when m.chunking_total = 0 then null
                when not m.redo_first then m.first_at
                else (select min(o.created_at) from app.operations o
                      where o.tenant_id = m.tenant_id and o.collection_id = m.collection_id
                        and (p_tenant_id is null or o.tenant_id = p_tenant_id) and o.type = 'chunking') end,
           case when m.chunking_total = 0 then null
                when not m.redo_last then m.last_at
                else (select max(o.created_at) from app.operations o
                      where o.tenant_id = m.tenant_id and o.collection_id = m.collection_id
                        and (p_tenant_id is null or o.tenant_id = p_tenant_id) and o.type = 'chunking') end,
           m.strategies,
           m.chunks_total, m.chunk_size_sum, m.chunk_documents,
           case when m.chunks_total = 0 then null
                when not m.redo_min then m.min_size
                else (select min(k.size) from app.chunks k where k.tenant_id = m.tenant_id and k.collection_id = m.collection_id
                        and (p_tenant_id is null or k.tenant_id = p_tenant_id)) end,
           case when m.chunks_total = 0 then null
                when not m.redo_max then m.max_size
                else (select max(k.size) from app.chunks k where k.tenant_id = m.tenant_id and k.collection_id = m.collection_id
                        and (p_tenant_id is null or k.tenant_id = p_tenant_id)) end,
           case when not m.documents_unknown then m.documents_by_status
                else (select coalesce(jsonb_object_agg(g.status, g.n), '{}')
                      from (select d.status, count(*) as n from app.documents d
                            where d.tenant_id = m.tenant_id and d.collection_id = m.collection_id
                        and (p_tenant_id is null or d.tenant_id = p_tenant_id)
                            group by d.status) g) end,
           case when not m.operations_unknown then m.operations_by_type_status
                else (select coalesce(jsonb_object_agg(g.type || ':' || g.status, g.n), '{}')
                      from (select o.type, o.status, count(*) as n from app.operations o
                            where o.tenant_id = m.tenant_id and o.collection_id = m.collection_id
                        and (p_tenant_id is null or o.tenant_id = p_tenant_id)
                            group by o.type, o.status) g) end,
           now()
    from decided m
    on conflict (tenant_id, collection_id) do update
      set chunking_total = excluded.chunking_total, chunking_completed = excluded.chunking_completed,
          chunking_failed = excluded.chunking_failed, chunking_processing = excluded.chunking_processing,
          chunking_time_sum = excluded.chunking_time_sum, chunking_time_count = excluded.chunking_time_count,
          chunking_first_at = excluded.chunking_first_at, chunking_last_at = excluded.chunking_last_at,
          chunking_strategies = excluded.chunking_strategies, chunks_total = excluded.chunks_total,
          chunk_size_sum = excluded.chunk_size_sum, chunk_documents = excluded.chunk_documents,
          chunk_min_size = excluded.chunk_min_size, chunk_max_size = excluded.chunk_max_size,
          documents_by_status = excluded.documents_by_status,
          operations_by_type_status = excluded.operations_by_type_status, folded_at = excluded.folded_at
    returning 1
  )
  select (select count(*) from folded), (select count(*) from upserted),
         (select count(*) from decided m
          where m.redo_first or m.redo_last or m.redo_min or m.redo_max or m.documents_unknown or m.operations_unknown)
    into folded, collections, recomputed;
end
$$;
comment on function maint.fold_tenant_stat_deltas(bigint) is
  'The fold''s one statement (maint.fold_collection_stat_deltas, which takes the lock and keeps the record): folds the committed deltas of p_tenant_id, or of every tenant when null, into app.collection_stat_totals; returns the deltas folded, the collections written and how many of them had a bound or a map recomputed from their rows.';

create or replace function maint.fold_collection_stat_deltas()
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_folded bigint;
  v_collections bigint;
  v_recomputed bigint;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtextextended('querybudget.collection_stat_totals', 0)) then
    return 0;
  end if;
  if current_setting('citus.propagate_set_commands', true) is null then
    -- one statement for every tenant
    select r.folded, r.collections, r.recomputed into v_folded, v_collections, v_recomputed
    from maint.fold_tenant_stat_deltas(null) r;
  else
    -- on Citus one statement per tenant with pending deltas, each routed to its shards
    with tenants as materialized (
      select distinct d.tenant_id from app.collection_stat_deltas d
    )
    select coalesce(sum(r.folded), 0), coalesce(sum(r.collections), 0), coalesce(sum(r.recomputed), 0)
      into v_folded, v_collections, v_recomputed
    from tenants t
    cross join lateral maint.fold_tenant_stat_deltas(t.tenant_id) r;
  end if;
  -- the fold's own record (perf.collection_stats_serving): one row, written by one fold at a
  -- time (the advisory lock above), never by the api
  insert into maint.collection_stat_folds as f (singleton, folds, deltas_folded, total_ms, last_at, last_ms, last_deltas, last_collections, last_recomputed)
  values (true, 1, v_folded, 1000 * extract(epoch from clock_timestamp() - v_started), v_started,
          1000 * extract(epoch from clock_timestamp() - v_started), v_folded, v_collections, v_recomputed)
  on conflict (singleton) do update
    set folds = f.folds + 1, deltas_folded = f.deltas_folded + excluded.deltas_folded,
        total_ms = f.total_ms + excluded.total_ms, last_at = excluded.last_at, last_ms = excluded.last_ms,
        last_deltas = excluded.last_deltas, last_collections = excluded.last_collections,
        last_recomputed = excluded.last_recomputed;
  return v_folded;
end
$$;
comment on function maint.fold_collection_stat_deltas() is
  'Job body: folds every committed row of app.collection_stat_deltas into app.collection_stat_totals in one statement (deleted and added in the same snapshot; on Citus one statement per tenant with pending deltas, each routed to its shards) and returns how many it folded; cost proportional to the deltas, except a chunk size or chunking created_at bound a folded delete reached, or a count map a delta lacks, recomputed from that collection''s rows. '
  'Records its run in maint.collection_stat_folds (time, deltas, collections, recomputed). One fold at a time (advisory lock; a second concurrent call returns 0 at once). Readers are never blocked and read the same numbers before and after. Call: select maint.fold_collection_stat_deltas().';

-- The one full recomputation of the statistics, from the rows (app.documents, app.operations,
-- app.chunks): every collection that has a document, an operation or a chunk (no row: all
-- zeros). A full scan of the three tables; p_tenant_id limits it to one tenant.
create or replace function maint.collection_stats_recomputed(p_tenant_id bigint default null)
returns table (
  tenant_id bigint, collection_id bigint, chunking_total bigint, chunking_completed bigint, chunking_failed bigint,
  chunking_processing bigint, chunking_time_sum numeric, chunking_time_count bigint, chunking_first_at timestamptz,
  chunking_last_at timestamptz, chunking_strategies jsonb, chunks_total bigint, chunk_size_sum bigint,
  chunk_documents bigint, chunk_min_size integer, chunk_max_size integer, documents_by_status jsonb,
  operations_by_type_status jsonb)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
-- PL/pgSQL, not SQL: Citus cannot plan the statement of a SQL function with parameters over
-- distributed tables (docs/scaling.md); in PL/pgSQL it runs there, for every tenant or one.
#variable_conflict use_column
begin
  return query
  with ops as (
    -- one pass over the operations: (collection, type, status, strategy) groups
    select op.tenant_id, op.collection_id, op.type, op.status, op.metadata ->> 'strategy' as strategy, count(*) as n,
           sum(op.processing_time::numeric) as time_sum, count(op.processing_time) as time_count,
           min(op.created_at) as first_at, max(op.created_at) as last_at
    from app.operations op
    where p_tenant_id is null or op.tenant_id = p_tenant_id
    group by op.tenant_id, op.collection_id, op.type, op.status, op.metadata ->> 'strategy'
  ), o as (
    select g.tenant_id, g.collection_id,
           coalesce(sum(g.n) filter (where g.type = 'chunking'), 0)::bigint as total,
           coalesce(sum(g.n) filter (where g.type = 'chunking' and g.status = 'completed'), 0)::bigint as completed,
           coalesce(sum(g.n) filter (where g.type = 'chunking' and g.status = 'failed'), 0)::bigint as failed,
           coalesce(sum(g.n) filter (where g.type = 'chunking' and g.status = 'processing'), 0)::bigint as processing,
           coalesce(sum(g.time_sum) filter (where g.type = 'chunking' and g.status = 'completed'), 0) as time_sum,
           coalesce(sum(g.time_count) filter (where g.type = 'chunking' and g.status = 'completed'), 0)::bigint as time_count,
           min(g.first_at) filter (where g.type = 'chunking') as first_at,
           max(g.last_at) filter (where g.type = 'chunking') as last_at
    from ops g
    group by g.tenant_id, g.collection_id
  ), ts as (
    select x.tenant_id, x.collection_id, jsonb_object_agg(x.type || ':' || x.status, x.n) as by_type_status
    from (select g.tenant_id, g.collection_id, g.type, g.status, sum(g.n) as n
          from ops g group by g.tenant_id, g.collection_id, g.type, g.status) x
    group by x.tenant_id, x.collection_id
  ), st as (
    select x.tenant_id, x.collection_id, jsonb_object_agg(x.strategy, x.n) as strategies
    from (select g.tenant_id, g.collection_id, g.strategy, sum(g.n) as n
          from ops g where g.type = 'chunking' and g.strategy is not null
          group by g.tenant_id, g.collection_id, g.strategy) x
    group by x.tenant_id, x.collection_id
  ), k as (
    select ch.tenant_id, ch.collection_id, count(*) as total, sum(ch.size) as size_sum,
           count(distinct ch.document_id) as documents, min(ch.size) as min_size, max(ch.size) as max_size
    from app.chunks ch
    where p_tenant_id is null or ch.tenant_id = p_tenant_id
    group by ch.tenant_id, ch.collection_id
  ), d as (
    select x.tenant_id, x.collection_id, jsonb_object_agg(x.status, x.n) as by_status
    from (select dd.tenant_id, dd.collection_id, dd.status, count(*) as n
          from app.documents dd
          where p_tenant_id is null or dd.tenant_id = p_tenant_id
          group by dd.tenant_id, dd.collection_id, dd.status) x
    group by x.tenant_id, x.collection_id
  )
  select c.tenant_id, c.id,
         coalesce(o.total, 0), coalesce(o.completed, 0), coalesce(o.failed, 0), coalesce(o.processing, 0),
         coalesce(o.time_sum, 0), coalesce(o.time_count, 0), o.first_at, o.last_at, coalesce(st.strategies, '{}'),
         coalesce(k.total, 0), coalesce(k.size_sum, 0), coalesce(k.documents, 0), k.min_size, k.max_size,
         coalesce(d.by_status, '{}'), coalesce(ts.by_type_status, '{}')
  from app.collections c
  left join o on o.tenant_id = c.tenant_id and o.collection_id = c.id
  left join ts on ts.tenant_id = c.tenant_id and ts.collection_id = c.id
  left join st on st.tenant_id = c.tenant_id and st.collection_id = c.id
  left join k on k.tenant_id = c.tenant_id and k.collection_id = c.id
  left join d on d.tenant_id = c.tenant_id and d.collection_id = c.id
  where (p_tenant_id is null or c.tenant_id = p_tenant_id)
    and (ts.tenant_id is not null or k.tenant_id is not null or d.tenant_id is not null);
end
$$;
comment on function maint.collection_stats_recomputed(bigint) is
  'The statistics of every collection (of p_tenant_id, or of all tenants when null) computed from the rows of app.operations, app.chunks and app.documents: the columns of app.collection_stat_totals; collections without any of these rows are left out (no row: zeros). '
  'The one full recomputation: maint.rebuild_collection_stats() writes it, perf.collection_stats_drift() compares the maintained statistics with it. A full scan; run by roles that see every tenant (BYPASSRLS or superuser).';

create or replace function maint.rebuild_collection_stats()
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set jit = off
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
    chunks_total, chunk_size_sum, chunk_documents, chunk_min_size, chunk_max_size,
    documents_by_status, operations_by_type_status, folded_at)
  select r.tenant_id, r.collection_id, r.chunking_total, r.chunking_completed, r.chunking_failed, r.chunking_processing,
         r.chunking_time_sum, r.chunking_time_count, r.chunking_first_at, r.chunking_last_at, r.chunking_strategies,
         r.chunks_total, r.chunk_size_sum, r.chunk_documents, r.chunk_min_size, r.chunk_max_size,
         r.documents_by_status, r.operations_by_type_status, now()
  from maint.collection_stats_recomputed() r;
  get diagnostics v_rows = row_count;
  return v_rows;
end
$$;
comment on function maint.rebuild_collection_stats() is
  'Computes app.collection_stat_totals from the rows (maint.collection_stats_recomputed()) and empties app.collection_stat_deltas, in one transaction that holds off folds and writers of deltas until it commits. '
  'After seeding (rows written around the api), a retention drop of operations, or to repair what perf.collection_stats_drift() reports; a full scan of documents, operations and chunks. Returns the rows written. Call: select maint.rebuild_collection_stats().';
