-- api.collection_statistics: seed 000's get_statistics, without loading any operation or chunk.
-- By default the collection's totals kept by the writers plus its deltas not yet folded
-- (functions/maint/collection_stat_deltas.sql): constant time whatever the size of the
-- collection; with p_fresh => true, three aggregates computed live, the reference.
create or replace function api.collection_statistics(p_tenant_id bigint, p_collection_id bigint, p_fresh boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
set extra_float_digits = 1
-- the totals and the pending deltas are read by (tenant_id, collection_id): through their
-- indexes at every size. Without it, on the one- or two-page tables of a small tier the planner
-- chose a sequential scan or the index by the page count (dead rows a fold or a rebuild left),
-- so the same data planned and read differently from one run to the next.
set enable_seqscan = off
as $$
declare
  ops_total bigint;
  ops_completed bigint;
  ops_failed bigint;
  ops_processing bigint;
  ops_avg_time double precision;
  ops_first timestamptz;
  ops_last timestamptz;
  strategies jsonb;
  chunks_total bigint;
  chunk_avg double precision;
  chunk_min integer;
  chunk_max integer;
  chunk_documents bigint;
  as_of timestamptz;
  v_rows bigint;
  v_time_sum numeric;
  v_time_count bigint;
  v_size_sum bigint;
  v_deleted_first timestamptz;
  v_deleted_last timestamptz;
  v_deleted_min integer;
  v_deleted_max integer;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_collection_id, 'p_collection_id');
  perform app.require_not_null(p_fresh, 'p_fresh');

  if not p_fresh then
    -- The collection's folded totals plus its pending deltas (app.collection_stat_totals,
    -- app.collection_stat_deltas, maintained by the writers): one statement, so one snapshot;
    -- every write committed before it is counted. Cost: one primary key probe and a range scan
    -- of the deltas not yet folded. The comment in the statement is how
    -- perf.collection_stats_serving() finds it in pg_stat_statements (maintained reads).
    with /* querybudget:statistics:maintained */ u as (
      select false as pending, t.chunking_total, t.chunking_completed, t.chunking_failed, t.chunking_processing,
             t.chunking_time_sum, t.chunking_time_count, t.chunking_first_at, t.chunking_last_at,
             null::timestamptz as deleted_first_at, null::timestamptz as deleted_last_at, t.chunking_strategies,
             t.chunks_total, t.chunk_size_sum, t.chunk_documents, t.chunk_min_size, t.chunk_max_size,
             null::integer as deleted_min_size, null::integer as deleted_max_size
      from app.collection_stat_totals t
      where t.tenant_id = p_tenant_id and t.collection_id = p_collection_id
      union all
      select true, d.chunking_total, d.chunking_completed, d.chunking_failed, d.chunking_processing,
             d.chunking_time_sum, d.chunking_time_count, d.chunking_first_at, d.chunking_last_at,
             d.chunking_deleted_first_at, d.chunking_deleted_last_at, d.chunking_strategies,
             d.chunks_total, d.chunk_size_sum, d.chunk_documents, d.chunk_min_size, d.chunk_max_size,
             d.chunk_deleted_min_size, d.chunk_deleted_max_size
      from app.collection_stat_deltas d
      where d.tenant_id = p_tenant_id and d.collection_id = p_collection_id
    )
    select count(*), coalesce(sum(u.chunking_total), 0), coalesce(sum(u.chunking_completed), 0),
           coalesce(sum(u.chunking_failed), 0), coalesce(sum(u.chunking_processing), 0),
           coalesce(sum(u.chunking_time_sum), 0), coalesce(sum(u.chunking_time_count), 0),
           min(u.chunking_first_at), max(u.chunking_last_at), min(u.deleted_first_at), max(u.deleted_last_at),
           coalesce(sum(u.chunks_total), 0), coalesce(sum(u.chunk_size_sum), 0), coalesce(sum(u.chunk_documents), 0),
           min(u.chunk_min_size), max(u.chunk_max_size), min(u.deleted_min_size), max(u.deleted_max_size),
           (select coalesce(jsonb_object_agg(x.key, x.n) filter (where x.n <> 0), '{}')
            from (select e.key, sum(e.value::bigint) as n
                  from u cross join lateral jsonb_each_text(u.chunking_strategies) e
                  group by e.key) x)
      into v_rows, ops_total, ops_completed, ops_failed, ops_processing, v_time_sum, v_time_count,
           ops_first, ops_last, v_deleted_first, v_deleted_last, chunks_total, v_size_sum, chunk_documents,
           chunk_min, chunk_max, v_deleted_min, v_deleted_max, strategies
    from u;
    as_of := clock_timestamp();

    if v_rows = 0 then
      -- nothing written yet (all zeros), or not a collection of the tenant
      if not exists (select from app.collections c where c.tenant_id = p_tenant_id and c.id = p_collection_id) then
        raise exception 'unknown collection % of tenant %', p_collection_id, p_tenant_id using errcode = 'QB009';
      end if;
    end if;

    -- exact, as the fresh path: numeric sums over counts, rounded once to double precision
    ops_avg_time := (v_time_sum / nullif(v_time_count, 0))::double precision;
    chunk_avg := (v_size_sum::numeric / nullif(chunks_total, 0)::numeric)::double precision;

    -- A bound stays exact unless a pending delete reached it (a deleted chunk of size <= the
    -- minimum, ...): then it is read from the collection's rows, as the fresh path does.
    if chunks_total = 0 then
      chunk_min := null;
      chunk_max := null;
    elsif chunk_min is null or chunk_max is null or v_deleted_min <= chunk_min or v_deleted_max >= chunk_max then
      select /* querybudget:statistics:bound_recomputed */ min(k.size), max(k.size) into chunk_min, chunk_max
      from app.chunks k
      where k.tenant_id = p_tenant_id and k.collection_id = p_collection_id;
    end if;
    if ops_total = 0 then
      ops_first := null;
      ops_last := null;
    elsif ops_first is null or ops_last is null or v_deleted_first <= ops_first or v_deleted_last >= ops_last then
      select /* querybudget:statistics:bound_recomputed */ min(o.created_at), max(o.created_at) into ops_first, ops_last
      from app.operations o
      where o.tenant_id = p_tenant_id and o.collection_id = p_collection_id and o.type = 'chunking';
    end if;
  end if;

  if p_fresh then
    -- fresh numbers, computed now from the rows (the reference the default must equal)
    if not exists (select from app.collections c where c.tenant_id = p_tenant_id and c.id = p_collection_id) then
      raise exception 'unknown collection % of tenant %', p_collection_id, p_tenant_id using errcode = 'QB009';
    end if;
    as_of := clock_timestamp();

    -- index-only scan on operations_tenant_id_collection_id_type_status_idx (it includes processing_time, created_at);
    -- the comment counts fresh computations in pg_stat_statements (perf.collection_stats_serving).
    -- The average is exact (numeric sum over count, rounded once to double precision), as the
    -- default path computes it: a float avg() depends on the order it adds in, and the two paths
    -- must return the same value for the same data.
    select /* querybudget:statistics:fresh */ count(*), count(*) filter (where o.status = 'completed'),
           count(*) filter (where o.status = 'failed'), count(*) filter (where o.status = 'processing'),
           (sum(o.processing_time::numeric) filter (where o.status = 'completed')
              / nullif(count(o.processing_time) filter (where o.status = 'completed'), 0))::double precision,
           min(o.created_at), max(o.created_at)
      into ops_total, ops_completed, ops_failed, ops_processing, ops_avg_time, ops_first, ops_last
    from app.operations o
    where o.tenant_id = p_tenant_id and o.collection_id = p_collection_id and o.type = 'chunking';

    -- the one hash partition of the collection
    select count(*), avg(k.size), min(k.size), max(k.size), count(distinct k.document_id)
      into chunks_total, chunk_avg, chunk_min, chunk_max, chunk_documents
    from app.chunks k
    where k.tenant_id = p_tenant_id and k.collection_id = p_collection_id;

    select coalesce(jsonb_object_agg(s.strategy, s.n), '{}')
      into strategies
    from (
      select o.metadata ->> 'strategy' as strategy, count(*) as n
      from app.operations o
      where o.tenant_id = p_tenant_id and o.collection_id = p_collection_id and o.type = 'chunking'
        and o.metadata ->> 'strategy' is not null
      group by o.metadata ->> 'strategy'
    ) s;
  end if;

  return jsonb_build_object(
    'operations', jsonb_build_object(
      'total', ops_total,
      'completed', ops_completed,
      'failed', ops_failed,
      'processing', ops_processing,
      'success_rate', case when ops_total = 0 then 0 else round(100.0 * ops_completed / ops_total, 2) end,
      'avg_processing_time', coalesce(ops_avg_time, 0),
      'first_operation_at', ops_first,
      'last_operation_at', ops_last),
    'chunks', jsonb_build_object(
      'total', chunks_total,
      'avg_size', coalesce(chunk_avg, 0),
      'min_size', coalesce(chunk_min, 0),
      'max_size', coalesce(chunk_max, 0),
      'unique_documents', chunk_documents),
    'strategies', strategies,
    'as_of', as_of);
end
$$;
comment on function api.collection_statistics(bigint, bigint, boolean) is
  'Statistics of a collection (seed 000 get_statistics): jsonb {operations: {total, completed, failed, processing, success_rate, avg_processing_time, first_operation_at, last_operation_at} of its chunking operations, chunks: {total, avg_size, min_size, max_size, unique_documents}, strategies: {strategy: count}, as_of} (docs/api.md), the same for the same data whichever p_fresh, as_of apart. '
  'p_fresh false (default): the totals the writers keep (app.collection_stat_totals, primary key) plus the deltas not yet folded (app.collection_stat_deltas), every committed write included; true: computed now (operations_tenant_id_collection_id_type_status_idx, the collection''s chunk partition). as_of is the time of the call. '
  'Errors: QB001 null argument; QB005 unknown tenant; QB009 collection unknown within the tenant.';
