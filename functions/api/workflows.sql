-- Workflows and their tasks (seed 002): by status newest first (exact keyset on
-- (created_at, id), as in functions/api/conversations.sql, whose header gives the reasoning on
-- ties, the plan and row level security), and a workflow's tasks in execution order.

create or replace function api.workflows_by_status(
  p_tenant_id bigint,
  p_status text,
  p_before timestamptz default null,
  p_limit integer default 50,
  p_before_id bigint default null)
returns table (id bigint, agent_id bigint, name text, status text, created_at timestamptz, completed_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  -- plain values: a comparison with them is leakproof, so it stays an index condition under
  -- row level security (a security barrier)
  v_cursor record;
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_status := app.require_not_null(p_status, 'p_status');
  p_limit := app.require_limit(p_limit, 'p_limit');
  -- the values of the workflows_status_check constraint
  p_status := app.require_one_of(p_status, 'p_status', array['pending', 'executing', 'completed', 'failed', 'cancelled']);
  p_before := app.require_cursor(p_before, 'p_before', p_before_id);
  v_cursor := app.keyset_bounds(p_before, p_before_id);

  -- bulk-inserted workflows share created_at (one transaction): the id orders them
  return query
  select w.id, w.agent_id, w.name, w.status, w.created_at, w.completed_at
  from app.workflows w
  where w.tenant_id = p_tenant_id
    and w.status = p_status
    and (w.created_at, w.id) < (v_cursor.before, v_cursor.before_id)
  order by w.created_at desc, w.id desc
  limit p_limit;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.workflows_by_status(bigint, text, timestamptz, integer, bigint) is
  'A tenant''s workflows in one status (pending, executing, completed, failed, cancelled) newest first (created_at desc, id desc), at most p_limit (1..1000, default 50), strictly before the cursor (p_before, p_before_id), the last row''s created_at (as text) and id (p_before alone: the legacy form, rows tied on it skipped): rows (id, agent_id, name, status, created_at, completed_at). '
  'Errors: QB001 null tenant, status or limit; QB004 limit out of range; QB005 unknown tenant; QB006 invalid cursor (p_before not finite, p_before_id without p_before, negative p_before_id); QB008 unknown status. '
  'Index: workflows_tenant_id_status_created_at_id_idx, backward from the cursor.';

create or replace function api.workflow_tasks(p_tenant_id bigint, p_workflow_id bigint, p_status text default null)
returns setof api.workflow_tasks_row
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_workflow_id := app.require_not_null(p_workflow_id, 'p_workflow_id');
  -- the values of the workflow_tasks_status_check constraint
  p_status := app.require_one_of(p_status, 'p_status', array['pending', 'running', 'completed', 'failed', 'skipped']);

  return query
  select t.id, t.workflow_id, t.agent_id, t.name, t.status, t.execution_order, t.created_at
  from app.workflow_tasks t
  where t.tenant_id = p_tenant_id
    and t.workflow_id = p_workflow_id
    and (p_status is null or t.status = p_status)
  order by t.execution_order, t.id;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.workflow_tasks(bigint, bigint, text) is
  'The tasks of a workflow in execution order (execution_order, id), only those in p_status when given (pending, running, completed, failed, skipped; null: all): rows (id, workflow_id, agent_id, name, status, execution_order, created_at), none for an unknown workflow. '
  'Errors: QB001 null tenant or workflow; QB005 unknown tenant; QB008 unknown status. Index: workflow_tasks_tenant_id_workflow_id_status_idx.';
