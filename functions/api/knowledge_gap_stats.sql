-- api.knowledge_gap_stats: seed 004 priority 4, the eight COUNT queries as one statement.
--
-- PL/pgSQL, not SQL: Citus cannot plan the statements of a SQL function with parameters that
-- read distributed tables ("could not create distributed plan", docs/scaling.md), and
-- PostgreSQL 15 plans a SQL function's statements again on every call anyway, where PL/pgSQL
-- caches them. The guard is an assignment, evaluated without a statement of its own
-- (functions/app/guards.sql): the call runs the tenant check and the query.
create or replace function api.knowledge_gap_stats(p_tenant_id bigint)
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

  -- One index-only scan on knowledge_gaps_tenant_id_category_status_idx gives the (category,
  -- status) groups; every category and status is listed, so absent ones count 0.
  with groups as (
    select g.category, g.status, count(*) as n
    from app.knowledge_gaps g
    where g.tenant_id = p_tenant_id
    group by g.category, g.status
  ),
  categories(category) as (
    values ('decision'), ('technical'), ('process'), ('context'), ('relationship'), ('timeline')
  ),
  statuses(status) as (
    values ('open'), ('in_progress'), ('answered'), ('closed')
  )
  select jsonb_build_object(
    'total', (select coalesce(sum(gr.n), 0) from groups gr),
    'open', (select coalesce(sum(gr.n), 0) from groups gr where gr.status = 'open'),
    'closed', (select coalesce(sum(gr.n), 0) from groups gr where gr.status = 'closed'),
    'by_status', (select jsonb_object_agg(s.status, (select coalesce(sum(gr.n), 0) from groups gr where gr.status = s.status))
                  from statuses s),
    'by_category', (select jsonb_object_agg(c.category, (select coalesce(sum(gr.n), 0) from groups gr where gr.category = c.category))
                    from categories c))
  into v_result;
  return v_result;
end
$$;
comment on function api.knowledge_gap_stats(bigint) is
  'Knowledge gap statistics of a tenant (seed 004): jsonb {total, open, closed, by_status: {open, in_progress, answered, closed}, by_category: {decision, technical, process, context, relationship, timeline}}, every key present (0 when none); in_progress and answered gaps count in total and by_status only. '
  'Errors: QB001 null tenant; QB005 unknown tenant. Index: knowledge_gaps_tenant_id_category_status_idx, one index-only scan.';
