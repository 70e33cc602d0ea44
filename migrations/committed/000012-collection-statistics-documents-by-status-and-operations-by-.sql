--! Previous: sha1:a645b72218b08a286c8c7f1af61d9b4ea61d9ba2
--! Hash: sha1:46a31bf62349f379ce4926abe371f3ff8741e1fb
--! Message: collection statistics: documents by status and operations by type and status in the deltas, the fold's record, the per-collection view retired, totals rebuilt

-- Collection statistics, step 2 (issue 12, items 2, 4, 5, 6): the per-collection materialized
-- view app.collection_stats gives way to the statistics the writers maintain
-- (app.collection_stat_totals + app.collection_stat_deltas, migration 000011), which now also
-- count documents by status and operations by type and status (for the operators' per-tenant
-- view, sql/20_tenant_overview_view.sql), and the fold records its runs.
--
-- No window of wrong numbers: api.collection_statistics reads the totals since 000011, and
-- this transaction rebuilds them from the rows while it holds off every writer of a delta and
-- every fold (the same advisory lock and table lock as maint.rebuild_collection_stats), so
-- when it commits the totals are exact for every committed write, and every write after it
-- appends its delta. Writers of the previous version that run between this commit and the
-- functions/ transaction of the same migrate append deltas without the two new maps (null):
-- the fold recomputes the maps of such a collection from its rows (functions/maint/
-- collection_stat_deltas.sql). The rebuild below is this migration's frozen copy of
-- maint.collection_stats_recomputed() (a migration cannot call a function of functions/,
-- which is applied after it).

set local lock_timeout = '5s';

-- 1. The new fields. Deltas: null = written by a writer that predates them.
alter table app.collection_stat_deltas
  add column if not exists documents_by_status jsonb,
  add column if not exists operations_by_type_status jsonb;
comment on column app.collection_stat_deltas.documents_by_status is
  '{status: change of the count of the collection''s documents with that status}; null: written by a writer that predates the field (the fold recomputes the collection''s map).';
comment on column app.collection_stat_deltas.operations_by_type_status is
  '{"type:status": change of the count of the collection''s operations with that type and status}; null: as documents_by_status.';
alter table app.collection_stat_totals
  add column if not exists documents_by_status jsonb not null default '{}',
  add column if not exists operations_by_type_status jsonb not null default '{}';
comment on column app.collection_stat_totals.documents_by_status is
  '{status: count of the collection''s documents with that status} (statuses with none left out).';
comment on column app.collection_stat_totals.operations_by_type_status is
  '{"type:status": count of the collection''s operations of that type and status} (pairs with none left out).';

-- 2. The fold's own record (perf.collection_stats_serving): one row.
create table if not exists maint.collection_stat_folds (
  singleton boolean primary key default true check (singleton),
  folds bigint not null default 0,
  deltas_folded bigint not null default 0,
  total_ms double precision not null default 0,
  last_at timestamptz,
  last_ms double precision,
  last_deltas bigint,
  last_collections bigint,
  last_recomputed bigint,
  since timestamptz not null default now()
);
comment on table maint.collection_stat_folds is
  'One row: the runs of maint.fold_collection_stat_deltas() since "since" (folds, deltas folded, total time in ms) and the last one (start, ms, deltas, collections written, collections with a bound or map recomputed from rows). Written by the fold only; read by perf.collection_stats_serving().';

-- 3. The view and its refresh job go.
do $$
begin
  if to_regclass('cron.job') is not null then
    perform cron.unschedule(j.jobid) from cron.job j
    where j.jobname = 'querybudget_refresh_stats' and j.username = current_user;
  end if;
end
$$;
drop function if exists maint.refresh_collection_stats();
drop materialized view if exists app.collection_stats;
drop function if exists maint.rebuild_collection_stat_totals();

-- 4. The totals rebuilt from the rows, every writer and fold held off until commit. The rows
-- of every tenant: when the migrating role is subject to row level security (querybudget_owner:
-- FORCE ROW LEVEL SECURITY), the rebuild runs as querybudget_maint (BYPASSRLS), as the job's
-- does; a new database (no roles yet, no rows) needs nothing.
do $$
begin
  if exists (select from pg_roles r where r.rolname = 'querybudget_maint')
     and not (select r.rolsuper or r.rolbypassrls from pg_roles r where r.rolname = current_user) then
    grant select on app.collections, app.documents, app.operations, app.chunks to querybudget_maint;
    grant select, delete on app.collection_stat_deltas to querybudget_maint;
    grant select, insert, update, delete on app.collection_stat_totals to querybudget_maint;
    set local role querybudget_maint;
  end if;
end
$$;
select pg_advisory_xact_lock(hashtextextended('querybudget.collection_stat_totals', 0));
lock table app.collection_stat_deltas in exclusive mode;
delete from app.collection_stat_deltas;
delete from app.collection_stat_totals;
with ops as (
  select op.tenant_id, op.collection_id, op.type, op.status, op.metadata ->> 'strategy' as strategy, count(*) as n,
         sum(op.processing_time::numeric) as time_sum, count(op.processing_time) as time_count,
         min(op.created_at) as first_at, max(op.created_at) as last_at
  from app.operations op
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
  group by ch.tenant_id, ch.collection_id
), d as (
  select x.tenant_id, x.collection_id, jsonb_object_agg(x.status, x.n) as by_status
  from (select dd.tenant_id, dd.collection_id, dd.status, count(*) as n
        from app.documents dd group by dd.tenant_id, dd.collection_id, dd.status) x
  group by x.tenant_id, x.collection_id
)
insert into app.collection_stat_totals (
  tenant_id, collection_id, chunking_total, chunking_completed, chunking_failed, chunking_processing,
  chunking_time_sum, chunking_time_count, chunking_first_at, chunking_last_at, chunking_strategies,
  chunks_total, chunk_size_sum, chunk_documents, chunk_min_size, chunk_max_size,
  documents_by_status, operations_by_type_status, folded_at)
select c.tenant_id, c.id,
       coalesce(o.total, 0), coalesce(o.completed, 0), coalesce(o.failed, 0), coalesce(o.processing, 0),
       coalesce(o.time_sum, 0), coalesce(o.time_count, 0), o.first_at, o.last_at, coalesce(st.strategies, '{}'),
       coalesce(k.total, 0), coalesce(k.size_sum, 0), coalesce(k.documents, 0), k.min_size, k.max_size,
       coalesce(d.by_status, '{}'), coalesce(ts.by_type_status, '{}'), now()
from app.collections c
left join o on o.tenant_id = c.tenant_id and o.collection_id = c.id
left join ts on ts.tenant_id = c.tenant_id and ts.collection_id = c.id
left join st on st.tenant_id = c.tenant_id and st.collection_id = c.id
left join k on k.tenant_id = c.tenant_id and k.collection_id = c.id
left join d on d.tenant_id = c.tenant_id and d.collection_id = c.id
where ts.tenant_id is not null or k.tenant_id is not null or d.tenant_id is not null;

reset role;
