-- What Citus needs of the schema to distribute it by tenant (docs/scaling.md), checked on one
-- server: CI has no Citus, so these are the static half of the proof (npm run test:citus is
-- the other). Each is a reason a table or routine would be refused, not routed, or fail on a
-- cluster. Each rule on routines is a function here, asserted to find nothing in the schema,
-- and shown able to fail: pg_temp.finds_planted plants a routine that breaks the rule, runs
-- the rule, and rolls the plant back (a subtransaction), returning what the rule found.
begin;
select plan(14);

create function pg_temp.finds_planted(p_plant text, p_query text)
returns text
language plpgsql
as $$
declare
  v_found text;
begin
  begin
    execute p_plant;
    execute format('select string_agg(f, '', '') from (%s) q (f)', p_query) into v_found;
    raise exception 'the plant is rolled back' using errcode = 'QB999';
  exception when sqlstate 'QB999' then
    null;
  end;
  return coalesce(v_found, '');
end
$$;

-- The text of a routine without its line comments (what a rule reads).
create function pg_temp.body(p_routine oid)
returns text
language sql
stable
as $$ select regexp_replace(pg_get_functiondef(p_routine), '--[^\n]*', '', 'g') $$;

-- 1. Parameterised `language sql` routines of api and app that read app relations: Citus
--    cannot plan their statements ("could not create distributed plan": a SQL function's
--    statements are planned without the values of its parameters). PL/pgSQL instead.
create function pg_temp.sql_routines_reading_tables()
returns setof text
language sql
stable
as $$
  select p.oid::regprocedure::text
  from pg_proc p
  where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace)
    and p.prolang = (select l.oid from pg_language l where l.lanname = 'sql')
    and p.pronargs > 0
    and exists (select from pg_class c
                where c.relnamespace = 'app'::regnamespace
                  and c.relkind in ('r', 'p', 'v', 'm', 'f')
                  and pg_temp.body(p.oid) ~ ('\mapp\.' || c.relname || '\M'))
$$;

-- 2. Relations an api or app routine names that are not distributed tables: a routed call runs
--    on a worker, where a materialized view, a view or a table outside app (which
--    maint.distribute leaves on the coordinator) does not exist. (The routines pin
--    search_path = pg_catalog, pg_temp, so every relation they read is schema-qualified.)
create function pg_temp.routines_reading_undistributed()
returns setof text
language sql
stable
as $$
  with refs as (
    select distinct p.oid as routine, m[1] as nsp, m[2] as rel
    from pg_proc p
    cross join lateral regexp_matches(pg_temp.body(p.oid), '\m([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\M', 'g') m
    where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace)
      and p.prokind in ('f', 'p')
  )
  select r.routine::regprocedure::text || ' reads ' || c.oid::regclass::text
  from refs r
  join pg_namespace n on n.nspname = r.nsp
  join pg_class c on c.relnamespace = n.oid and c.relname = r.rel
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and n.nspname not in ('pg_catalog', 'information_schema')
    and not (n.nspname = 'app' and c.relkind in ('r', 'p'))
$$;

-- 3. Roles a routine runs as without LOGIN: on a cluster Citus opens the connections to the
--    workers as the current role, so the owner of a security definer routine that runs on the
--    coordinator, and a role a job switches to (set_config('role', ...), SET ROLE), must log
--    in there; maint.distribute gives LOGIN to the roles of maint.distribute_login_roles().
create function pg_temp.roles_without_login()
returns setof text
language sql
stable
as $$
  with runs_as as (
    select p.proowner::regrole::text as role, 'owner of ' || p.oid::regprocedure::text as why
    from pg_proc p
    where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace, 'maint'::regnamespace)
      and p.prosecdef
    union
    select m[1], 'switched to by ' || p.oid::regprocedure::text
    from pg_proc p
    cross join lateral regexp_matches(pg_temp.body(p.oid),
      $r$(?:set_config\(\s*'role'\s*,\s*'|\mset\s+(?:local\s+|session\s+)?role\s+)([a-z_][a-z0-9_]*)$r$, 'gi') m
    where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace, 'maint'::regnamespace)
  )
  select r.role || ' (' || r.why || ')'
  from runs_as r
  join pg_roles a on a.rolname = r.role
  where not a.rolcanlogin
    and r.role <> all (maint.distribute_login_roles())
$$;

-- 4. Row locks across tenants: Citus refuses FOR UPDATE/SHARE in a statement over many shards.
--    The rule, per statement of an api, app or maint routine (its text cut at semicolons): a
--    statement that locks rows (FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE)
--    names one tenant (tenant_id = ...), so it is routed to one shard.
create function pg_temp.cross_tenant_row_locks()
returns setof text
language sql
stable
as $$
  select p.oid::regprocedure::text || ': ' || left(btrim(regexp_replace(s.statement, '\s+', ' ', 'g')), 100)
  from pg_proc p
  cross join lateral regexp_split_to_table(pg_temp.body(p.oid), ';') s (statement)
  where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace, 'maint'::regnamespace)
    and s.statement ~* '\mfor\s+(no\s+key\s+update|update|key\s+share|share)\M'
    and s.statement !~* '\mtenant_id\s*='
$$;

-- 5. The api routines without p_tenant_id: Citus cannot route them by tenant; they run on the
--    coordinator, and must be the documented exceptions.
create function pg_temp.tenantless_api_routines()
returns setof text
language sql
stable
as $$
  select distinct 'api.' || p.proname
  from pg_proc p
  where p.pronamespace = 'api'::regnamespace
    and not coalesce('p_tenant_id' = any (p.proargnames), false)
$$;

select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
       and not exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) $$,
  'every app table has tenant_id, its distribution column');

select is_empty(
  $$ select k.conrelid::regclass::text || ' ' || k.conname from pg_constraint k
     join pg_class c on c.oid = k.conrelid
     where c.relnamespace = 'app'::regnamespace and not c.relispartition
       and k.contype in ('p', 'u', 'x')
       and not (select a.attnum from pg_attribute a where a.attrelid = k.conrelid and a.attname = 'tenant_id') = any (k.conkey) $$,
  'every primary key, unique and exclusion constraint of an app table includes tenant_id (Citus refuses one that does not)');

select is_empty(
  $$ select k.conrelid::regclass::text || ' ' || k.conname from pg_constraint k
     join pg_class c on c.oid = k.conrelid
     where c.relnamespace = 'app'::regnamespace and not c.relispartition and k.contype = 'f'
       and not exists (
         select from unnest(k.conkey, k.confkey) as p (child, parent)
         where p.child = (select a.attnum from pg_attribute a where a.attrelid = k.conrelid and a.attname = 'tenant_id')
           and p.parent = (select a.attnum from pg_attribute a where a.attrelid = k.confrelid and a.attname = 'tenant_id')) $$,
  'every foreign key between app tables pairs tenant_id with tenant_id (colocated tables: the key holds shard by shard)');

select is_empty(
  $$ select t.tgrelid::regclass::text || ' ' || t.tgname from pg_trigger t
     join pg_class c on c.oid = t.tgrelid
     where c.relnamespace = 'app'::regnamespace and not t.tgisinternal $$,
  'no trigger on an app table (DESIGN.md convention 12: Citus does not run them on shards by default)');

select is_empty(
  'select * from pg_temp.sql_routines_reading_tables()',
  'no api or app routine with parameters that reads app relations is language sql (Citus cannot plan it: PL/pgSQL)');
select isnt(
  pg_temp.finds_planted(
    $p$ create function api.planted_sql_read(p_tenant_id bigint) returns bigint language sql
        as $$ select count(*) from app.documents d where d.tenant_id = p_tenant_id $$ $p$,
    'select * from pg_temp.sql_routines_reading_tables()'),
  '',
  'the language sql rule finds a planted one');

select is_empty(
  'select * from pg_temp.routines_reading_undistributed()',
  'no api or app routine reads a relation that is not a distributed app table (a view, a materialized view, a table of another schema)');
select isnt(
  pg_temp.finds_planted(
    $p$ create function api.planted_view_read(p_tenant_id bigint) returns bigint language plpgsql
        as $$ begin return (select count(*) from app.tenant_overview o where o.tenant_id = p_tenant_id); end $$ $p$,
    'select * from pg_temp.routines_reading_undistributed()'),
  '',
  'the undistributed-relation rule finds a planted reader of a materialized view');

select is_empty(
  'select * from pg_temp.roles_without_login()',
  'every role a routine runs as (security definer owner, role switched to) can log in, or maint.distribute gives it LOGIN');
select isnt(
  pg_temp.finds_planted(
    $p$ create function maint.planted_switch() returns void language plpgsql
        as $$ begin perform pg_catalog.set_config('role', 'pg_monitor', true); end $$ $p$,
    'select * from pg_temp.roles_without_login()'),
  '',
  'the LOGIN rule finds a planted switch to a NOLOGIN role');

select is_empty(
  'select * from pg_temp.cross_tenant_row_locks()',
  'every statement of an api, app or maint routine that locks rows names its tenant (no row lock across shards)');
select isnt(
  pg_temp.finds_planted(
    $p$ create function maint.planted_lock() returns void language plpgsql
        as $$ begin perform d.id from app.documents d order by d.id limit 10 for update skip locked; end $$ $p$,
    'select * from pg_temp.cross_tenant_row_locks()'),
  '',
  'the row lock rule finds a planted lock over every tenant');

select set_eq(
  'select * from pg_temp.tenantless_api_routines()',
  array['api.create_tenant', 'api.revoke_session', 'api.touch_session', 'api.validate_session'],
  'the api routines without p_tenant_id (not routed by tenant on Citus) are the listed exceptions: the tenant maker and the session-token routines');
select is(
  pg_temp.finds_planted(
    $p$ create function api.planted_tenantless(p_id bigint) returns bigint language sql as $$ select p_id $$ $p$,
    'select * from pg_temp.tenantless_api_routines() except select unnest(array[''api.create_tenant'', ''api.revoke_session'', ''api.touch_session'', ''api.validate_session''])'),
  'api.planted_tenantless',
  'the tenantless rule finds a planted api routine without p_tenant_id');

select * from finish();
rollback;
