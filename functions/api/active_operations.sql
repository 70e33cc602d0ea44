-- api.active_operations: a user's operations still pending or processing (seed 000's
-- "what is running for me" panel, for which it added the partial index on the active statuses).
create or replace function api.active_operations(p_tenant_id bigint, p_user_id bigint, p_limit integer default 100)
returns table (id bigint, collection_id bigint, type text, status text, metadata jsonb, created_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_user_id := app.require_not_null(p_user_id, 'p_user_id');
  p_limit := app.require_limit(p_limit, 'p_limit');

  -- The status list is the partial index's predicate, word for word, so the planner can use it:
  -- on each monthly partition it reads only the user's few active rows.
  return query
  select o.id, o.collection_id, o.type, o.status, o.metadata, o.created_at
  from app.operations o
  where o.tenant_id = p_tenant_id
    and o.user_id = p_user_id
    and o.status in ('pending', 'processing')
  order by o.created_at desc, o.id desc
  limit p_limit;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.active_operations(bigint, bigint, integer) is
  'A user''s operations that are pending or processing, newest first (created_at desc, id desc), at most p_limit (1..1000, default 100): rows (id, collection_id, type, status, metadata, created_at). '
  'Errors: QB001 null tenant, user or limit; QB004 limit out of range; QB005 unknown tenant. '
  'Index: operations_tenant_id_user_id_status_idx (partial, on the active statuses) on each monthly partition.';
