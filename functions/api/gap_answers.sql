-- api.gap_answers: the answers given to one knowledge gap (seed 004, which added the
-- knowledge_gap_id index for it).
create or replace function api.gap_answers(p_tenant_id bigint, p_knowledge_gap_id bigint)
returns table (id bigint, knowledge_gap_id bigint, content text, created_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_knowledge_gap_id := app.require_not_null(p_knowledge_gap_id, 'p_knowledge_gap_id');

  return query
  select a.id, a.knowledge_gap_id, a.content, a.created_at
  from app.gap_answers a
  where a.tenant_id = p_tenant_id
    and a.knowledge_gap_id = p_knowledge_gap_id
  order by a.created_at, a.id;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.gap_answers(bigint, bigint) is
  'The answers of one knowledge gap of the tenant, oldest first (created_at, id): rows (id, knowledge_gap_id, content, created_at), none for an unknown gap. '
  'Errors: QB001 null tenant or gap; QB005 unknown tenant. Index: gap_answers_tenant_id_knowledge_gap_id_idx.';
