-- Privileges on the database itself (docs/security.md "Grants"). Revoke first, then grant.
--
-- PostgreSQL gives PUBLIC CONNECT and TEMPORARY on every new database. TEMPORARY lets a role
-- create temporary tables, and temporary functions in pg_temp: the application and the
-- monitoring role need neither, so PUBLIC loses it. The one role that needs it gets it back by
-- name: querybudget_maint, because REFRESH MATERIALIZED VIEW CONCURRENTLY (in
-- maint.refresh_tenant_overview, security definer as querybudget_maint, the view's owner)
-- compares old and new rows through a temporary table it creates as the view's owner. CREATE
-- (new schemas) is PUBLIC's on no database; it is revoked from our roles as well, in case a
-- hand grant gave it. CONNECT stays with PUBLIC (PostgreSQL's default) and is granted to
-- querybudget_app and querybudget_monitor by name, so revoking it from PUBLIC later does not
-- lock them out.
--
-- The database's name differs from server to server (and test copies have names of their
-- own): current_database() through format('%I'). The database's owner (querybudget_owner on
-- an existing server, docs/security.md) keeps its own privileges, as owners do.
--
-- CREATE DATABASE ... TEMPLATE does not copy database privileges (they live in pg_database,
-- not in the database), so the test harness applies this file again to every copy it makes
-- (test/harness/database.ts). Applying it again changes nothing: a revoke runs only when the
-- privilege it removes is there.
do $$
declare
  r record;
begin
  for r in
    select format('revoke %s on database %I from %s', v.privilege, current_database(), v.grantee) as ddl
    from (values ('temporary', 'public'),
                 ('create, temporary', 'querybudget_app'),
                 ('create, temporary', 'querybudget_monitor'),
                 ('create', 'querybudget_maint')) as v (privilege, grantee)
    where exists (select
                  from pg_catalog.pg_database d,
                       pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
                  where d.datname = current_database()
                    and a.grantee = coalesce((select o.oid from pg_catalog.pg_roles o where o.rolname = v.grantee), 0)
                    and a.privilege_type = any (string_to_array(upper(replace(v.privilege, ' ', '')), ',')))
  loop
    execute r.ddl;
  end loop;
  execute format('grant connect on database %I to querybudget_app, querybudget_monitor', current_database());
  execute format('grant temporary on database %I to querybudget_maint', current_database());
end
$$;
