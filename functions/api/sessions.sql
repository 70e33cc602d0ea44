-- Sessions (seeds 001, 003): validate a login token in one round trip.

create or replace function api.validate_session(p_session_token uuid)
returns table (tenant_id bigint, user_id bigint, email text, display_name text, expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  -- The one api function without p_tenant_id: the session tells which tenant it is, so
  -- app.require_tenant cannot run before the lookup.
  perform app.require_not_null(p_session_token, 'p_session_token');

  return query
  select s.tenant_id, s.user_id, u.email, u.display_name, s.expires_at
  from app.user_sessions s
  join app.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
  where s.token = p_session_token
    and s.expires_at > now();
end
$$;
comment on function api.validate_session(uuid) is
  'The live session of a token with its user: one row (tenant_id, user_id, email, display_name, expires_at), or no row when the token is unknown or expired (expires_at <= now()). Errors: QB001 null token. Index: user_sessions_token_idx, then the users primary key.';
