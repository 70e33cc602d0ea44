-- Sessions (seeds 001, 003): validate a login token in one round trip.

-- The tenant of a live session token: the one lookup that must cross tenants, since the token
-- is all the caller has. Owned by querybudget_maint (BYPASSRLS, sql/50_grants.sql), so it reads
-- app.user_sessions outside the row level security policies; it returns a tenant id and
-- nothing else, and only api.validate_session calls it (nothing is granted on it).
create or replace function app.session_tenant_id(p_session_token uuid)
returns bigint
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
  -- user_sessions_token_idx; min(): tokens are random uuids, one tenant in practice
  select min(s.tenant_id)
  from app.user_sessions s
  where s.token = p_session_token
    and s.expires_at > now();
$$;
comment on function app.session_tenant_id(uuid) is
  'The tenant of the live session (expires_at later than now()) with this token, or null: the one read of api.validate_session outside the row level security policies (security definer owned by querybudget_maint, docs/security.md). '
  'Index: user_sessions_token_idx.';

create or replace function api.validate_session(p_session_token uuid)
returns table (tenant_id bigint, user_id bigint, email text, display_name text, expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_tenant_id bigint;
begin
  -- The one api function without p_tenant_id: the session tells which tenant it is, so
  -- app.require_tenant cannot run before the lookup. The lookup is app.session_tenant_id (it
  -- crosses tenants); then, as in every api function, the rest runs as that tenant under the
  -- row level security policies.
  perform app.require_not_null(p_session_token, 'p_session_token');
  v_tenant_id := app.session_tenant_id(p_session_token);
  if v_tenant_id is null then
    return;
  end if;
  perform set_config('querybudget.tenant_id', v_tenant_id::text, true);

  return query
  select s.tenant_id, s.user_id, u.email, u.display_name, s.expires_at
  from app.user_sessions s
  join app.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
  where s.tenant_id = v_tenant_id
    and s.token = p_session_token
    and s.expires_at > now();
end
$$;
comment on function api.validate_session(uuid) is
  'The live session of a token with its user: one row (tenant_id, user_id, email, display_name, expires_at), or none when the token is unknown or expired (expires_at <= now()). '
  'Errors: QB001 null token. Index: user_sessions_token_idx (app.session_tenant_id finds the tenant, then the session is read again as that tenant), then the users primary key.';
