-- How the collection statistics are kept and served (issue 12; docs/monitoring.md,
-- "Collection statistics"):
--   perf.collection_stats_drift()   the maintained statistics against a full recomputation
--                                   (maint.collection_stats_recomputed): no row = exact
--   perf.collection_stats_serving() maintained reads, fresh computations, bounds recomputed on
--                                   read, pending deltas, the folds and the last one's cost
--   perf.tenant_overview()          the operators' per-tenant view (app.tenant_overview)
--
-- Counting reads honestly without a counter on the api's path: a counter row updated by every
-- call would be one hot row that every reader of every tenant queues on. The api statements
-- carry a marker comment (/* querybudget:statistics:maintained */, ...:fresh,
-- ...:bound_recomputed, functions/api/collection_statistics.sql) and pg_stat_statements (track =
-- all, the server contract) already counts every execution of every statement inside a
-- function: the counts are its calls of the marked statements in this database, since its last
-- reset (stats_reset, reported). pg_stat_user_functions cannot tell the two paths apart (one
-- function) and needs track_functions, which the server contract does not set. What it cannot
-- see: executions of statements pg_stat_statements evicted (pg_stat_statements.max), and
-- anything before its reset.
--
-- Ownership (sql/50_grants.sql): perf.collection_stats_drift, perf.tenant_overview and
-- maint.collection_stats_pending belong to querybudget_maint (BYPASSRLS: every tenant's rows;
-- the migrating role may be querybudget_owner, under forced row level security);
-- perf.collection_stats_serving to the migrating role (it reads every role's statements).

create or replace function perf.collection_stats_drift()
returns table (tenant_id bigint, collection_id bigint, field text, maintained jsonb, recomputed jsonb)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  with u as (
    select t.tenant_id, t.collection_id, t.chunking_total, t.chunking_completed, t.chunking_failed, t.chunking_processing,
           t.chunking_time_sum, t.chunking_time_count, t.chunking_first_at, t.chunking_last_at,
           null::timestamptz as deleted_first_at, null::timestamptz as deleted_last_at, t.chunking_strategies,
           t.chunks_total, t.chunk_size_sum, t.chunk_documents, t.chunk_min_size, t.chunk_max_size,
           null::integer as deleted_min_size, null::integer as deleted_max_size, t.documents_by_status, t.operations_by_type_status
    from app.collection_stat_totals t
    union all
    select d.tenant_id, d.collection_id, d.chunking_total, d.chunking_completed, d.chunking_failed, d.chunking_processing,
           d.chunking_time_sum, d.chunking_time_count, d.chunking_first_at, d.chunking_last_at,
           d.chunking_deleted_first_at, d.chunking_deleted_last_at, d.chunking_strategies,
           d.chunks_total, d.chunk_size_sum, d.chunk_documents, d.chunk_min_size, d.chunk_max_size,
           d.chunk_deleted_min_size, d.chunk_deleted_max_size,
           -- a map a writer of an earlier version left out (null) counts as missing: drift shows it
           coalesce(d.documents_by_status, '{"(not written)": 1}'), coalesce(d.operations_by_type_status, '{"(not written)": 1}')
    from app.collection_stat_deltas d
  ), m as (
    -- what the default api.collection_statistics adds up: totals plus pending deltas
    select u.tenant_id, u.collection_id,
           sum(u.chunking_total) as chunking_total, sum(u.chunking_completed) as chunking_completed,
           sum(u.chunking_failed) as chunking_failed, sum(u.chunking_processing) as chunking_processing,
           sum(u.chunking_time_sum) as chunking_time_sum, sum(u.chunking_time_count) as chunking_time_count,
           min(u.chunking_first_at) as first_at, max(u.chunking_last_at) as last_at,
           min(u.deleted_first_at) as deleted_first_at, max(u.deleted_last_at) as deleted_last_at,
           sum(u.chunks_total) as chunks_total, sum(u.chunk_size_sum) as chunk_size_sum, sum(u.chunk_documents) as chunk_documents,
           min(u.chunk_min_size) as min_size, max(u.chunk_max_size) as max_size,
           min(u.deleted_min_size) as deleted_min_size, max(u.deleted_max_size) as deleted_max_size,
           app.sum_count_maps(array_agg(u.chunking_strategies)) as strategies,
           app.sum_count_maps(array_agg(u.documents_by_status)) as documents_by_status,
           app.sum_count_maps(array_agg(u.operations_by_type_status)) as operations_by_type_status
    from u
    group by u.tenant_id, u.collection_id
  ), pairs as (
    select coalesce(m.tenant_id, r.tenant_id) as tenant_id, coalesce(m.collection_id, r.collection_id) as collection_id,
           jsonb_build_object(
             'chunking_total', coalesce(m.chunking_total, 0), 'chunking_completed', coalesce(m.chunking_completed, 0),
             'chunking_failed', coalesce(m.chunking_failed, 0), 'chunking_processing', coalesce(m.chunking_processing, 0),
             'chunking_time_sum', coalesce(m.chunking_time_sum, 0), 'chunking_time_count', coalesce(m.chunking_time_count, 0),
             'chunking_strategies', coalesce(m.strategies, '{}'),
             'chunks_total', coalesce(m.chunks_total, 0), 'chunk_size_sum', coalesce(m.chunk_size_sum, 0),
             'chunk_documents', coalesce(m.chunk_documents, 0),
             'documents_by_status', coalesce(m.documents_by_status, '{}'),
             'operations_by_type_status', coalesce(m.operations_by_type_status, '{}'))
           -- a bound a pending delete reached is read from the rows by the reader (and by the
           -- next fold): nothing maintained to compare; otherwise the kept bound (null: none)
           || case when m.deleted_first_at <= m.first_at then '{}'
                   else jsonb_build_object('chunking_first_at', case when coalesce(m.chunking_total, 0) = 0 then null else m.first_at end) end
           || case when m.deleted_last_at >= m.last_at then '{}'
                   else jsonb_build_object('chunking_last_at', case when coalesce(m.chunking_total, 0) = 0 then null else m.last_at end) end
           || case when m.deleted_min_size <= m.min_size then '{}'
                   else jsonb_build_object('chunk_min_size', case when coalesce(m.chunks_total, 0) = 0 then null else m.min_size end) end
           || case when m.deleted_max_size >= m.max_size then '{}'
                   else jsonb_build_object('chunk_max_size', case when coalesce(m.chunks_total, 0) = 0 then null else m.max_size end) end
             as maintained,
           jsonb_build_object(
             'chunking_total', coalesce(r.chunking_total, 0), 'chunking_completed', coalesce(r.chunking_completed, 0),
             'chunking_failed', coalesce(r.chunking_failed, 0), 'chunking_processing', coalesce(r.chunking_processing, 0),
             'chunking_time_sum', coalesce(r.chunking_time_sum, 0), 'chunking_time_count', coalesce(r.chunking_time_count, 0),
             'chunking_strategies', coalesce(r.chunking_strategies, '{}'),
             'chunks_total', coalesce(r.chunks_total, 0), 'chunk_size_sum', coalesce(r.chunk_size_sum, 0),
             'chunk_documents', coalesce(r.chunk_documents, 0),
             'documents_by_status', coalesce(r.documents_by_status, '{}'),
             'operations_by_type_status', coalesce(r.operations_by_type_status, '{}'),
             'chunking_first_at', r.chunking_first_at, 'chunking_last_at', r.chunking_last_at,
             'chunk_min_size', r.chunk_min_size, 'chunk_max_size', r.chunk_max_size) as recomputed
    from m
    full join maint.collection_stats_recomputed() r on r.tenant_id = m.tenant_id and r.collection_id = m.collection_id
  )
  select p.tenant_id, p.collection_id, e.key, e.value, p.recomputed -> e.key
  from pairs p
  cross join lateral jsonb_each(p.maintained) e
  where e.value is distinct from coalesce(p.recomputed -> e.key, 'null'::jsonb)
  order by p.tenant_id, p.collection_id, e.key
$$;
comment on function perf.collection_stats_drift() is
  'The maintained collection statistics (app.collection_stat_totals plus the pending app.collection_stat_deltas, as the default api.collection_statistics adds them) compared field by field with a full recomputation from the rows (maint.collection_stats_recomputed()): one row (tenant_id, collection_id, field, maintained, recomputed) per difference; no row means exact. '
  'Fields: the chunking counts, time sum and count, strategies, chunk count, size sum and documents, documents_by_status, operations_by_type_status, and the bounds (a bound a pending delete reached is read from the rows by the reader, so not compared). '
  'A full scan of documents, operations and chunks: run on demand, not from a dashboard; maint.rebuild_collection_stats() repairs. Security definer (querybudget_maint: every tenant).';

create or replace function maint.collection_stats_pending()
returns table (deltas bigint, collections bigint, deltas_without_maps bigint)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- the deltas table holds only rows not yet folded (the fold deletes what it folds): small
  select count(*), count(distinct (d.tenant_id, d.collection_id)),
         count(*) filter (where d.documents_by_status is null or d.operations_by_type_status is null)
  from app.collection_stat_deltas d
$$;
comment on function maint.collection_stats_pending() is
  'The statistics deltas not yet folded: how many, over how many collections, and how many lack the count maps (written by a writer of an earlier version; the fold recomputes those). Security definer (querybudget_maint). For perf.collection_stats_serving().';

create or replace function perf.collection_stats_serving()
returns table (
  maintained_reads bigint,
  fresh_computations bigint,
  bounds_recomputed_on_read bigint,
  maintained_read_mean_ms double precision,
  fresh_mean_ms double precision,
  statements_since timestamptz,
  pending_deltas bigint,
  pending_collections bigint,
  pending_deltas_without_maps bigint,
  folds bigint,
  deltas_folded bigint,
  fold_total_ms double precision,
  folds_since timestamptz,
  last_fold_at timestamptz,
  last_fold_ms double precision,
  last_fold_deltas bigint,
  last_fold_collections bigint,
  last_fold_recomputed bigint)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  v_schema text;
begin
  select e.extnamespace::regnamespace::text into v_schema from pg_extension e where e.extname = 'pg_stat_statements';
  if v_schema is not null then
    execute format($q$
      select coalesce(sum(s.calls) filter (where s.query like '%%querybudget:statistics:maintained%%'), 0)::bigint,
             coalesce(sum(s.calls) filter (where s.query like '%%querybudget:statistics:fresh%%'), 0)::bigint,
             coalesce(sum(s.calls) filter (where s.query like '%%querybudget:statistics:bound_recomputed%%'), 0)::bigint,
             sum(s.total_exec_time) filter (where s.query like '%%querybudget:statistics:maintained%%')
               / nullif(sum(s.calls) filter (where s.query like '%%querybudget:statistics:maintained%%'), 0),
             sum(s.total_exec_time) filter (where s.query like '%%querybudget:statistics:fresh%%')
               / nullif(sum(s.calls) filter (where s.query like '%%querybudget:statistics:fresh%%'), 0),
             (select i.stats_reset from %1$I.pg_stat_statements_info i)
      from %1$I.pg_stat_statements(true) s
      where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
        and s.query like '%%querybudget:statistics:%%'$q$, v_schema)
    into maintained_reads, fresh_computations, bounds_recomputed_on_read, maintained_read_mean_ms, fresh_mean_ms, statements_since;
  end if;
  select p.deltas, p.collections, p.deltas_without_maps
    into pending_deltas, pending_collections, pending_deltas_without_maps
  from maint.collection_stats_pending() p;
  select coalesce(f.folds, 0), coalesce(f.deltas_folded, 0), coalesce(f.total_ms, 0), f.since, f.last_at, f.last_ms,
         f.last_deltas, f.last_collections, f.last_recomputed
    into folds, deltas_folded, fold_total_ms, folds_since, last_fold_at, last_fold_ms,
         last_fold_deltas, last_fold_collections, last_fold_recomputed
  from (select 1) one
  left join maint.collection_stat_folds f on true;
  return next;
end
$$;
comment on function perf.collection_stats_serving() is
  'How collection statistics are served, one row: maintained_reads (default api.collection_statistics calls), fresh_computations (p_fresh => true), bounds_recomputed_on_read (a min/max a pending delete reached, read from rows), their mean times in ms, counted by pg_stat_statements since statements_since (its reset; null counts when the extension is not installed); '
  'pending_deltas, pending_collections and pending_deltas_without_maps (maint.collection_stats_pending()); and the folds since folds_since (folds, deltas_folded, fold_total_ms) and the last one (at, ms, deltas, collections written, collections recomputed from rows), from maint.collection_stat_folds. '
  'Cheap (no scan of app data): in perf.database_report(). Security definer.';

create or replace function perf.tenant_overview(p_tenant_id bigint default null)
returns table (
  tenant_id bigint, name text, collections bigint, documents_total bigint, documents_by_status jsonb, chunks_total bigint,
  chunk_characters bigint, operations_total bigint, operations_by_type_status jsonb, refreshed_at timestamptz)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select o.tenant_id, o.name, o.collections, o.documents_total, o.documents_by_status, o.chunks_total,
         o.chunk_characters, o.operations_total, o.operations_by_type_status, o.refreshed_at
  from app.tenant_overview o
  where p_tenant_id is null or o.tenant_id = p_tenant_id
  order by o.tenant_id
$$;
comment on function perf.tenant_overview(bigint) is
  'The operators'' per-tenant view (app.tenant_overview, refreshed every minute by querybudget_refresh_tenant_overview): collections, documents (total, by status), chunks and chunk characters (the content stored), operations (total, {type: {status: n}}), refreshed_at; all tenants, or p_tenant_id''s. '
  'For querybudget_monitor and perf.database_report(); never read by the api. Security definer (querybudget_maint, the view''s owner).';
