-- app.tenant_overview: the operators' view of the platform, one row per tenant (documents by
-- status, chunks and their characters, operations by type and status), for the monitoring
-- role (perf.tenant_overview(), perf.database_report()) and never for the api. A materialized
-- view is the right tool here: a picture of every tenant at once, a minute old at most, read
-- by dashboards that must not compute it on every look.
--
-- Computed from the statistics the writers maintain (app.collection_stat_totals plus the
-- deltas not yet folded, functions/maint/collection_stat_deltas.sql), never from the rows: a
-- refresh reads one row per collection and the pending deltas, so its cost follows the
-- number of collections, not of documents, chunks or operations. Refreshed concurrently (the
-- unique index) by maint.refresh_tenant_overview(), which the pg_cron job
-- querybudget_refresh_tenant_overview calls every minute.
--
-- There is no `create or replace materialized view`: the definition carries a version (the md5
-- of its text) in the view's comment, and the view is dropped and recreated only when that
-- version differs, so re-applying this file changes nothing. Nothing depends on the view
-- (perf.tenant_overview is plpgsql, not dependency-tracked).
do $do$
declare
  definition constant text := $view$
with s as (
  select t.tenant_id, t.collection_id, t.chunks_total, t.chunk_size_sum, t.documents_by_status, t.operations_by_type_status
  from app.collection_stat_totals t
  union all
  select d.tenant_id, d.collection_id, d.chunks_total, d.chunk_size_sum, d.documents_by_status, d.operations_by_type_status
  from app.collection_stat_deltas d
), per_tenant as (
  select s.tenant_id, sum(s.chunks_total) as chunks_total, sum(s.chunk_size_sum) as chunk_characters,
         app.sum_count_maps(array_agg(s.documents_by_status)) as documents_by_status,
         app.sum_count_maps(array_agg(s.operations_by_type_status)) as operations_by_type_status
  from s
  group by s.tenant_id
)
select tn.tenant_id,
       tn.name,
       (select count(*) from app.collections c where c.tenant_id = tn.tenant_id)::bigint as collections,
       coalesce((select sum(e.value::bigint) from jsonb_each_text(p.documents_by_status) e), 0)::bigint as documents_total,
       coalesce(p.documents_by_status, '{}')::jsonb as documents_by_status,
       coalesce(p.chunks_total, 0)::bigint as chunks_total,
       coalesce(p.chunk_characters, 0)::bigint as chunk_characters,
       coalesce((select sum(e.value::bigint) from jsonb_each_text(p.operations_by_type_status) e), 0)::bigint as operations_total,
       coalesce((select jsonb_object_agg(x.type, x.by_status)
                 from (select split_part(e.key, ':', 1) as type, jsonb_object_agg(split_part(e.key, ':', 2), e.value::bigint) as by_status
                       from jsonb_each_text(p.operations_by_type_status) e
                       group by split_part(e.key, ':', 1)) x), '{}')::jsonb as operations_by_type_status,
       now() as refreshed_at
from app.tenants tn
left join per_tenant p on p.tenant_id = tn.tenant_id
$view$;
  version constant text := 'querybudget:tenant_overview:' || md5(definition);
  current_comment text;
begin
  -- a shadow database replaying the committed migrations before the one that adds the maps
  if not exists (select from pg_attribute a where a.attrelid = to_regclass('app.collection_stat_totals')
                 and a.attname = 'documents_by_status' and not a.attisdropped) then
    raise notice 'sql/20_tenant_overview_view.sql: app.collection_stat_totals has no count maps yet: no view';
    return;
  end if;
  select obj_description(cl.oid, 'pg_class') into current_comment
  from pg_class cl
  where cl.oid = to_regclass('app.tenant_overview') and cl.relkind = 'm';

  if current_comment is not null and split_part(current_comment, ' ', 1) = version then
    return;
  end if;

  drop materialized view if exists app.tenant_overview;
  execute 'create materialized view app.tenant_overview as ' || definition;
  create unique index tenant_overview_tenant_id_idx on app.tenant_overview (tenant_id);
  comment on index app.tenant_overview_tenant_id_idx is
    'perf.tenant_overview(p_tenant_id): one row per tenant; also makes refresh materialized view concurrently possible.';
  execute format('comment on materialized view app.tenant_overview is %L',
    version || ' The operators'' view, one row per tenant: collections, documents (total and by status), chunks and their '
    || 'characters (sum of chunks.size: the content the tenant stores), operations (total and {type: {status: n}}), as of '
    || 'refreshed_at. Computed from app.collection_stat_totals and app.collection_stat_deltas (cost: the number of collections). '
    || 'Read through perf.tenant_overview() and perf.database_report() (querybudget_monitor), never by the api; refreshed by '
    || 'maint.refresh_tenant_overview(). The first word is the version of the definition: sql/20_tenant_overview_view.sql '
    || 'recreates the view when it changes.');
end
$do$;
