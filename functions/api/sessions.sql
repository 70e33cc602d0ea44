-- Sessions (seeds 001, 003): create a login session, validate it in one round trip, slide its
-- expiry, revoke one or all of a user's. Documentation: docs/api.md "Sessions".
--
-- The token is all a client holds, so the routines that take a token (validate, touch, revoke)
-- take no p_tenant_id: listed exceptions to convention 12 (DESIGN.md), like api.create_tenant.
-- They find the token's tenant through ONE lookup made outside row level security,
-- app.session_tenant_id (owned by querybudget_maint), wrapped by app.enter_session_tenant,
-- which then sets that tenant for the transaction; the rest of each routine runs as that tenant
-- under the policies, like every other api function. Only live sessions (expires_at > now())
-- are found: an expired, revoked (deleted) or unknown token is the same "no session", and the
-- routines answer it with no row (validate, touch) or false (revoke), never an error.
--
-- Tokens are gen_random_uuid() (122 random bits): unguessable, and spread evenly over
-- user_sessions_token_idx. Revoking deletes the row (a revoked session is gone, as an expired
-- one is after the TTL job, functions/maint/ttl.sql), so revoking twice is a no-op.
--
-- TTL bounds (create and touch): p_ttl must bring expires_at after now() and at most 90 days
-- after it (compared on the timestamps, so '3 months' is measured on the calendar), else
-- QB008 (an interval out of range). The default, 30 days, is the seeds' session length.

-- The tenant of a live session token: the one lookup that must cross tenants, since the token
-- is all the caller has. Owned by querybudget_maint (BYPASSRLS, sql/50_grants.sql), so it reads
-- app.user_sessions outside the row level security policies; it returns a tenant id and
-- nothing else, and only app.enter_session_tenant calls it (nothing is granted on it).
create or replace function app.session_tenant_id(p_session_token uuid)
returns bigint
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_tenant_id bigint;
begin
  -- PL/pgSQL, not SQL: Citus cannot plan the statement of a SQL function with parameters that
  -- reads distributed tables (docs/scaling.md), and PL/pgSQL caches its plan.
  -- user_sessions_token_idx; min(): tokens are random uuids, one tenant in practice
  select min(s.tenant_id)
  into v_tenant_id
  from app.user_sessions s
  where s.token = p_session_token
    and s.expires_at > now();
  return v_tenant_id;
end
$$;
comment on function app.session_tenant_id(uuid) is
  'The tenant of the live session (expires_at > now()) with this token, or null. Security definer owned by querybudget_maint: the one read of the session routines made outside the row level security policies (docs/security.md); called only by app.enter_session_tenant. Index: user_sessions_token_idx.';

create or replace function app.enter_session_tenant(p_session_token uuid)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_tenant_id bigint;
begin
  -- assignments, evaluated as simple expressions: the lookup is the one statement
  -- (functions/app/guards.sql)
  p_session_token := app.require_not_null(p_session_token, 'p_session_token');
  v_tenant_id := app.session_tenant_id(p_session_token);
  if v_tenant_id is not null then
    -- the tenant the policies admit for the rest of the transaction, on the nodes that hold
    -- its rows too: the session routines run on a Citus coordinator (functions/app/guards.sql)
    v_tenant_id := app.enter_tenant_everywhere(v_tenant_id);
  end if;
  return v_tenant_id;
end
$$;
comment on function app.enter_session_tenant(uuid) is
  'Guard of the routines that take a session token instead of a tenant (api.validate_session, api.touch_session, api.revoke_session): the token is given (QB001); returns the tenant of its live session (app.session_tenant_id) and sets querybudget.tenant_id to it for the row level security policies, or returns null (unknown, expired or revoked token) and sets nothing.';

create or replace function app.session_expiry(p_ttl interval)
returns timestamptz
language plpgsql
stable
set search_path = pg_catalog, pg_temp
as $$
declare
  v_expires_at timestamptz;
begin
  perform app.require_not_null(p_ttl, 'p_ttl');
  -- compared as an interval first, so an absurd one ('1000000 years') is refused before the
  -- addition could leave the timestamp range (22008); then on the calendar
  if p_ttl <= interval '0' or p_ttl > interval '92 days' then
    raise exception 'p_ttl is %; a session lasts more than 0 and at most 90 days', p_ttl using errcode = 'QB008';
  end if;
  v_expires_at := now() + p_ttl;
  if v_expires_at <= now() or v_expires_at > now() + interval '90 days' then
    raise exception 'p_ttl is %; a session lasts more than 0 and at most 90 days', p_ttl using errcode = 'QB008';
  end if;
  return v_expires_at;
end
$$;
comment on function app.session_expiry(interval) is
  'Guard of a session TTL: p_ttl is given (QB001) and now() + p_ttl is after now() and at most now() + 90 days (QB008 otherwise: zero, negative or longer). Returns now() + p_ttl, the new expires_at.';

-- validate_session ---------------------------------------------------------------------------

-- The one read of api.validate_session, made outside row level security like
-- app.session_tenant_id (owned by querybudget_maint, granted to nobody): the live session of
-- the token and its user, joined on the session's own (tenant_id, user_id), so it returns one
-- tenant's row and nothing else, what the session's holder may see anyway. One statement
-- instead of two: validate_session runs on every request of the seeds' applications, and the
-- tenant lookup then the same read again under the policies cost a statement more than the
-- query (docs/api.md "What a call costs"). PL/pgSQL, not SQL: PostgreSQL 15 plans a sql
-- function's statement on every call, PL/pgSQL caches it. The lowest tenant when (in theory)
-- two tenants hold the token, as app.session_tenant_id's min().
create or replace function app.live_session(
  p_session_token uuid,
  out tenant_id bigint, out user_id bigint, out email text, out display_name text, out expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  select s.tenant_id, s.user_id, u.email, u.display_name, s.expires_at
  into tenant_id, user_id, email, display_name, expires_at
  from app.user_sessions s
  join app.users u on u.tenant_id = s.tenant_id and u.id = s.user_id
  where s.token = p_session_token
    and s.expires_at > now()
  order by s.tenant_id
  limit 1;
end
$$;
comment on function app.live_session(uuid) is
  'The live session (expires_at > now()) with this token and its user: (tenant_id, user_id, email, display_name, expires_at), all null when there is none. Security definer owned by querybudget_maint: read outside the row level security policies, bounded by the token and the session''s own tenant (docs/security.md); called only by api.validate_session. Index: user_sessions_token_idx, then users_pkey.';

create or replace function api.validate_session(p_session_token uuid)
returns setof api.validate_session_row
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_session record;
  v_row api.validate_session_row;
begin
  -- No p_tenant_id: the session tells which tenant it is (see the top of this file). Plpgsql
  -- assignments, evaluated as simple expressions: app.live_session's read is the one statement.
  p_session_token := app.require_not_null(p_session_token, 'p_session_token');
  v_session := app.live_session(p_session_token);
  if v_session.tenant_id is null then
    return;
  end if;
  -- the session's tenant is the transaction's, as for the other session routines
  v_row.tenant_id := app.enter_tenant(v_session.tenant_id);
  v_row.user_id := v_session.user_id;
  v_row.email := v_session.email;
  v_row.display_name := v_session.display_name;
  v_row.expires_at := v_session.expires_at;
  return next v_row;
end
$$;
comment on function api.validate_session(uuid) is
  'The live session of a token with its user: one row (tenant_id, user_id, email, display_name, expires_at), or no row when the token is unknown, expired (expires_at <= now()) or revoked. Errors: QB001 null token. One statement: app.live_session reads the session (user_sessions_token_idx) and its user (users_pkey) outside row level security, bounded by the token; the session''s tenant becomes the transaction''s.';

-- create_session -----------------------------------------------------------------------------

create or replace function api.create_session(p_tenant_id bigint, p_user_id bigint, p_ttl interval default interval '30 days')
returns table (session_token uuid, expires_at timestamptz)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_expires_at timestamptz;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_user_id, 'p_user_id');
  v_expires_at := app.session_expiry(p_ttl);

  -- The user, held FOR KEY SHARE (so a concurrent delete of the user waits for us or makes us
  -- find nothing, never a raw foreign key error), by a statement of its own: Citus refuses a
  -- row lock inside INSERT ... SELECT (docs/scaling.md). No user of this tenant: QB009, nothing
  -- is inserted.
  perform u.id
  from app.users u
  where u.tenant_id = p_tenant_id
    and u.id = p_user_id
  for key share;
  if not found then
    raise exception 'unknown user % of tenant %', p_user_id, p_tenant_id using errcode = 'QB009';
  end if;

  return query
  insert into app.user_sessions as s (tenant_id, user_id, token, expires_at)
  values (p_tenant_id, p_user_id, gen_random_uuid(), v_expires_at)
  returning s.token, s.expires_at;
end
$$;
comment on function api.create_session(bigint, bigint, interval) is
  'A new login session of a user of the tenant: one row (session_token: a new random uuid, expires_at = now() + p_ttl). p_ttl: more than 0 and at most 90 days, default 30 days. '
  'Errors: QB001 null tenant, user or TTL; QB005 unknown tenant; QB008 TTL out of range; QB009 the user is not the tenant''s. Index: users_pkey (the user, held FOR KEY SHARE by a statement of its own), then one insert.';

-- touch_session ------------------------------------------------------------------------------

create or replace function api.touch_session(p_session_token uuid, p_ttl interval default interval '30 days')
returns table (tenant_id bigint, user_id bigint, expires_at timestamptz)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_tenant_id bigint;
  v_expires_at timestamptz;
begin
  v_expires_at := app.session_expiry(p_ttl);
  v_tenant_id := app.enter_session_tenant(p_session_token);
  if v_tenant_id is null then
    return;
  end if;

  -- Sliding expiry: the session lives at least p_ttl from now. Written only when that moves
  -- expires_at later (a session made with a longer TTL is not shortened, and a second touch in
  -- the same transaction writes nothing): no dead row version per request for nothing.
  return query
  with live as (
    select s.tenant_id, s.id, s.user_id, s.expires_at
    from app.user_sessions s
    where s.tenant_id = v_tenant_id
      and s.token = p_session_token
      and s.expires_at > now()
  ), touched as (
    update app.user_sessions s
    set expires_at = v_expires_at
    from live l
    where s.tenant_id = l.tenant_id
      and s.id = l.id
      and s.expires_at < v_expires_at
      and s.expires_at > now()
    returning s.tenant_id, s.id, s.user_id, s.expires_at
  )
  select l.tenant_id, l.user_id, coalesce(t.expires_at, l.expires_at)
  from live l
  left join touched t on t.id = l.id;
end
$$;
comment on function api.touch_session(uuid, interval) is
  'Sliding expiry: a live session with this token is extended to expire at least p_ttl from now (more than 0, at most 90 days, default 30 days; never shortened). '
  'Returns one row (tenant_id, user_id, expires_at after the touch), or no row when the token is unknown, expired or revoked (nothing is written then). '
  'Errors: QB001 null token or TTL; QB008 TTL out of range. Index: user_sessions_token_idx (app.session_tenant_id, then the session as its tenant).';

-- revoke_session -----------------------------------------------------------------------------

create or replace function api.revoke_session(p_session_token uuid)
returns boolean
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_tenant_id bigint;
begin
  v_tenant_id := app.enter_session_tenant(p_session_token);
  if v_tenant_id is null then
    return false;
  end if;

  delete from app.user_sessions s
  where s.tenant_id = v_tenant_id
    and s.token = p_session_token
    and s.expires_at > now();
  return found;
end
$$;
comment on function api.revoke_session(uuid) is
  'Logout: deletes the live session with this token. Returns true when it ended one, false when the token is unknown, expired or already revoked (idempotent: a replay changes nothing and returns false). '
  'Errors: QB001 null token. Index: user_sessions_token_idx (app.session_tenant_id, then the delete as the session''s tenant).';

-- revoke_user_sessions -----------------------------------------------------------------------

create or replace function api.revoke_user_sessions(p_tenant_id bigint, p_user_id bigint)
returns integer
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_revoked integer;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_user_id, 'p_user_id');

  -- Every session of the user goes, the expired ones too (the TTL job would delete them
  -- anyway); the live ones are counted.
  with revoked as (
    delete from app.user_sessions s
    where s.tenant_id = p_tenant_id
      and s.user_id = p_user_id
    returning s.expires_at
  )
  select count(*) filter (where r.expires_at > now())
  into v_revoked
  from revoked r;
  return v_revoked;
end
$$;
comment on function api.revoke_user_sessions(bigint, bigint) is
  'Logout everywhere: deletes every session of the user (expired ones too). Returns how many live sessions it ended: 0 for a user without any, an unknown user or another tenant''s (idempotent: a replay returns 0). '
  'Errors: QB001 null tenant or user; QB005 unknown tenant. Index: user_sessions_tenant_id_user_id_idx.';
