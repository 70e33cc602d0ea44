-- Agents (seed 002): one agent by name, the active agents of a tenant.

create or replace function api.agent_by_name(p_tenant_id bigint, p_name text)
returns setof api.agent_by_name_row
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_name := app.require_not_blank(p_name, 'p_name');

  return query
  select a.id, a.name, a.type, a.is_active, a.config, a.created_at
  from app.agents a
  where a.tenant_id = p_tenant_id
    and a.name = p_name;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.agent_by_name(bigint, text) is
  'The tenant''s agent with this exact name (active or not): one row (id, name, type, is_active, config, created_at), or none. '
  'Errors: QB001 null tenant or name; QB005 unknown tenant; QB008 blank name. Index: agents_tenant_id_name_key.';

create or replace function api.active_agents(p_tenant_id bigint, p_type text default null)
returns setof api.active_agents_row
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  -- the values of the agents_type_check constraint
  p_type := app.require_one_of(p_type, 'p_type', array['orchestrator', 'specialist', 'worker']);

  return query
  select a.id, a.name, a.type, a.config, a.created_at
  from app.agents a
  where a.tenant_id = p_tenant_id
    and a.is_active
    and (p_type is null or a.type = p_type)
  order by a.type, a.id;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.active_agents(bigint, text) is
  'The tenant''s active agents, of type p_type when given (orchestrator, specialist, worker; null: all), ordered by type then id: rows (id, name, type, config, created_at). '
  'Errors: QB001 null tenant; QB005 unknown tenant; QB008 unknown type. Index: agents_tenant_id_is_active_type_idx.';
