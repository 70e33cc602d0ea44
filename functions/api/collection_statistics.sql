-- api.collection_statistics: seed 000's get_statistics, without loading any operation or chunk.
-- By default one index lookup in the materialized view app.collection_stats (constant time
-- whatever the size of the collection); with p_fresh => true, three aggregates computed live.
create or replace function api.collection_statistics(p_tenant_id bigint, p_collection_id bigint, p_fresh boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
set extra_float_digits = 1
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
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_collection_id, 'p_collection_id');
  perform app.require_not_null(p_fresh, 'p_fresh');

  if not p_fresh then
    -- one lookup on collection_stats_tenant_id_collection_id_idx
    select v.chunking_total, v.chunking_completed, v.chunking_failed, v.chunking_processing,
           v.chunking_avg_processing_time, v.chunking_first_at, v.chunking_last_at, v.chunking_strategies,
           v.chunks_total, v.chunk_avg_size, v.chunk_min_size, v.chunk_max_size, v.unique_documents, v.refreshed_at
      into ops_total, ops_completed, ops_failed, ops_processing, ops_avg_time, ops_first, ops_last, strategies,
           chunks_total, chunk_avg, chunk_min, chunk_max, chunk_documents, as_of
    from app.collection_stats v
    where v.tenant_id = p_tenant_id and v.collection_id = p_collection_id;
  end if;

  if p_fresh or not found then
    -- fresh numbers, or a collection made since the last refresh (or an unknown one)
    if not exists (select from app.collections c where c.tenant_id = p_tenant_id and c.id = p_collection_id) then
      raise exception 'unknown collection % of tenant %', p_collection_id, p_tenant_id using errcode = 'QB009';
    end if;
    as_of := clock_timestamp();

    -- index-only scan on operations_tenant_id_collection_id_type_status_idx (it includes processing_time, created_at).
    -- The average is exact (numeric sum over count, rounded once to double precision), as in
    -- app.collection_stats: a float avg() depends on the order it adds in, and the two paths
    -- must return the same value for the same data.
    select count(*), count(*) filter (where o.status = 'completed'), count(*) filter (where o.status = 'failed'),
           count(*) filter (where o.status = 'processing'),
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
  'p_fresh false (default): one lookup in app.collection_stats as of its last refresh (collection_stats_tenant_id_collection_id_idx; a collection made since is computed live); true: computed now (operations_tenant_id_collection_id_type_status_idx, the collection''s chunk partition). '
  'Errors: QB001 null argument; QB005 unknown tenant; QB009 collection unknown within the tenant.';
