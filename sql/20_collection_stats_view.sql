-- app.collection_stats: one row per collection with its operation, chunk and strategy
-- statistics, so api.collection_statistics answers with one index lookup whatever the size of
-- the collection. Refreshed (concurrently, thanks to the unique index) by
-- maint.refresh_collection_stats(), which a pg_cron job calls.
--
-- There is no `create or replace materialized view`: the definition below carries a version
-- (the md5 of its text) in the view's comment, and the view is dropped and recreated only when
-- that version differs, so re-applying this file changes nothing. api.collection_statistics
-- is plpgsql (not dependency-tracked), so dropping the view never breaks it.
--
-- Averages are exact: the view and api.collection_statistics(p_fresh => true) must return the
-- same value for the same data (docs/api.md). A float sum depends on the order it adds in
-- (here: per group, then the groups; there: row by row), so the two paths differed in the
-- 15th digit. Both now sum processing_time as numeric (exact, in any order) and divide by the
-- count in numeric, then round once to double precision. chunk_avg_size is avg() of an
-- integer column, already an exact numeric in both.
do $do$
declare
  definition constant text := $view$
with operation_groups as (
  -- one row per (collection, type, status, strategy), from one pass over the operations:
  -- everything below is computed from these
  select op.tenant_id, op.collection_id, op.type, op.status, op.metadata ->> 'strategy' as strategy, count(*) as n,
         sum(op.processing_time::numeric) as sum_time, count(op.processing_time) as n_time,
         min(op.created_at) as first_at, max(op.created_at) as last_at
  from app.operations op
  group by op.tenant_id, op.collection_id, op.type, op.status, op.metadata ->> 'strategy'
)
select
  c.tenant_id,
  c.id as collection_id,
  -- every operation of the collection, all types
  coalesce(bs.operations_total, 0)::bigint as operations_total,
  coalesce(bs.operations_by_status, '{}')::jsonb as operations_by_status,
  coalesce(bt.operations_by_type, '{}')::jsonb as operations_by_type,
  -- chunking operations: what api.collection_statistics reports (seed 000)
  coalesce(ch.chunking_total, 0)::bigint as chunking_total,
  coalesce(ch.chunking_completed, 0)::bigint as chunking_completed,
  coalesce(ch.chunking_failed, 0)::bigint as chunking_failed,
  coalesce(ch.chunking_processing, 0)::bigint as chunking_processing,
  ch.chunking_avg_processing_time::double precision as chunking_avg_processing_time,
  ch.chunking_first_at::timestamptz as chunking_first_at,
  ch.chunking_last_at::timestamptz as chunking_last_at,
  coalesce(st.strategies, '{}')::jsonb as chunking_strategies,
  -- chunks
  coalesce(k.chunks_total, 0)::bigint as chunks_total,
  k.chunk_avg_size::double precision as chunk_avg_size,
  k.chunk_min_size::integer as chunk_min_size,
  k.chunk_max_size::integer as chunk_max_size,
  coalesce(k.unique_documents, 0)::bigint as unique_documents,
  now() as refreshed_at
from app.collections c
left join (
  select x.tenant_id, x.collection_id, sum(x.n) as operations_total,
         jsonb_object_agg(x.status, x.n) as operations_by_status
  from (select g.tenant_id, g.collection_id, g.status, sum(g.n) as n
        from operation_groups g group by g.tenant_id, g.collection_id, g.status) x
  group by x.tenant_id, x.collection_id
) bs on bs.tenant_id = c.tenant_id and bs.collection_id = c.id
left join (
  select x.tenant_id, x.collection_id, jsonb_object_agg(x.type, x.n) as operations_by_type
  from (select g.tenant_id, g.collection_id, g.type, sum(g.n) as n
        from operation_groups g group by g.tenant_id, g.collection_id, g.type) x
  group by x.tenant_id, x.collection_id
) bt on bt.tenant_id = c.tenant_id and bt.collection_id = c.id
left join (
  select g.tenant_id, g.collection_id,
         sum(g.n) as chunking_total,
         sum(g.n) filter (where g.status = 'completed') as chunking_completed,
         sum(g.n) filter (where g.status = 'failed') as chunking_failed,
         sum(g.n) filter (where g.status = 'processing') as chunking_processing,
         -- exact: numeric sum over numeric count (the same expression as the fresh path's)
         sum(g.sum_time) filter (where g.status = 'completed')
           / nullif(sum(g.n_time) filter (where g.status = 'completed'), 0) as chunking_avg_processing_time,
         min(g.first_at) as chunking_first_at,
         max(g.last_at) as chunking_last_at
  from operation_groups g
  where g.type = 'chunking'
  group by g.tenant_id, g.collection_id
) ch on ch.tenant_id = c.tenant_id and ch.collection_id = c.id
left join (
  select s.tenant_id, s.collection_id, jsonb_object_agg(s.strategy, s.n) as strategies
  from (select g.tenant_id, g.collection_id, g.strategy, sum(g.n) as n
        from operation_groups g
        where g.type = 'chunking' and g.strategy is not null
        group by g.tenant_id, g.collection_id, g.strategy) s
  group by s.tenant_id, s.collection_id
) st on st.tenant_id = c.tenant_id and st.collection_id = c.id
left join (
  select k.tenant_id, k.collection_id, count(*) as chunks_total, avg(k.size) as chunk_avg_size,
         min(k.size) as chunk_min_size, max(k.size) as chunk_max_size,
         count(distinct k.document_id) as unique_documents
  from app.chunks k
  group by k.tenant_id, k.collection_id
) k on k.tenant_id = c.tenant_id and k.collection_id = c.id
$view$;
  version constant text := 'querybudget:collection_stats:' || md5(definition);
  current_comment text;
begin
  select obj_description(cl.oid, 'pg_class') into current_comment
  from pg_class cl
  where cl.oid = to_regclass('app.collection_stats') and cl.relkind = 'm';

  if current_comment is not null and split_part(current_comment, ' ', 1) = version then
    return;
  end if;

  drop materialized view if exists app.collection_stats;
  execute 'create materialized view app.collection_stats as ' || definition;
  create unique index collection_stats_tenant_id_collection_id_idx on app.collection_stats (tenant_id, collection_id);
  comment on index app.collection_stats_tenant_id_collection_id_idx is
    'api.collection_statistics: one row per collection; also makes refresh materialized view concurrently possible.';
  execute format('comment on materialized view app.collection_stats is %L',
    version || ' One row per collection (also those without operations or chunks): operations by status and by type, '
    || 'chunking operations (counts, average processing time of the completed ones: exact numeric sum over count, rounded once to '
    || 'double precision, as api.collection_statistics computes it fresh; first and last), strategy distribution, '
    || 'chunk size statistics and unique documents, as of refreshed_at. Read by api.collection_statistics; refreshed by '
    || 'maint.refresh_collection_stats(). The first word is the version of the definition: sql/20_collection_stats_view.sql '
    || 'recreates the view when it changes.');
end
$do$;
