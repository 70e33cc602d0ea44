-- api.document_status_counts: how many documents of a tenant are in each status (the
-- classification review dashboard of seeds 001 and 004), as one index-only scan.
--
-- PL/pgSQL, not SQL: Citus cannot plan the statements of a SQL function with parameters that
-- read distributed tables (docs/scaling.md); PostgreSQL 15 plans a SQL function's statements
-- again on every call anyway. The guard is an assignment (functions/app/guards.sql).
create or replace function api.document_status_counts(p_tenant_id bigint)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_result jsonb;
begin
  p_tenant_id := app.require_tenant(p_tenant_id);

  with groups as (
    select d.status, count(*) as n
    from app.documents d
    where d.tenant_id = p_tenant_id
    group by d.status
  ),
  statuses(status) as (
    values ('pending'), ('processing'), ('classified'), ('confirmed'), ('failed'), ('deleted')
  )
  select jsonb_build_object(
    'total', (select coalesce(sum(g.n), 0) from groups g where g.status <> 'deleted'),
    'by_status', (select jsonb_object_agg(s.status, coalesce(g.n, 0)) from statuses s left join groups g using (status)))
  into v_result;
  return v_result;
end
$$;
comment on function api.document_status_counts(bigint) is
  'Documents of a tenant counted by status (seeds 001, 004): jsonb {total, by_status: {pending, processing, classified, confirmed, failed, deleted}}, every status present (0 when none), total without soft-deleted documents. '
  'Errors: QB001 null tenant; QB005 unknown tenant. Index: documents_tenant_id_status_idx, one index-only scan.';
