-- Privileges on objects we do not own: PostgreSQL's large object functions and the views and
-- functions of pg_stat_statements (docs/security.md "Grants"). Revoke first, then grant.
--
-- Large objects: PUBLIC may execute lo_create, lo_creat, lo_from_bytea, lo_open, lowrite,
-- lo_put, lo_truncate, ... by default, so any role can store data that outlives its session,
-- outside every table, tenant and policy. None of our roles uses large objects: every large
-- object function (the internal functions whose C symbol is be_lo*: pg_proc.prosrc, which
-- also catches loread and lowrite; lo_import and lo_export are already the superuser's) loses
-- PUBLIC's EXECUTE, and nobody gets it back (a superuser keeps everything).
--
-- pg_stat_statements: its views and reading functions are PUBLIC's by default, so the
-- application role could read the statistics (and, with them, the query shapes and call
-- counts) of every role. Monitoring roles keep them: querybudget_monitor, and pg_monitor (the
-- predefined role the migrating querybudget_owner is a member of on an existing server, so the
-- perf functions it then owns still read them). The reset functions are nobody's but the
-- superuser's (their default), and we make sure nobody of ours was granted them.
--
-- These objects belong to the bootstrap superuser (pg_catalog) and to the superuser who made
-- the extension: only they can change their privileges (a REVOKE by anyone else is a no-op
-- with a warning). So a statement runs only where the privilege differs from what we want,
-- which needs no privilege once it is done, and what still differs afterwards stops the
-- migrate with the statements to run once as a superuser (42501, as sql/40_roles.sql does;
-- docs/security.md "Running on an existing server" lists them). pg_proc and pg_class are per
-- database: copies made with CREATE DATABASE ... TEMPLATE carry these privileges.
do $$
declare
  r record;
  pending text[];
begin
  for pass in 1 .. 2 loop
    pending := null;
    for r in
      with objects as (
        -- the large object functions
        select 'function' as kind, pg_catalog.format('%I.%I(%s)', 'pg_catalog', p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) as name, p.oid, 'execute' as privilege, 'none' as audience
        from pg_catalog.pg_proc p
        where p.pronamespace = 'pg_catalog'::regnamespace and p.prolang = (select l.oid from pg_catalog.pg_language l where l.lanname = 'internal')
          and p.prosrc like 'be\_lo%'
        union all
        -- pg_stat_statements, when installed: its functions (the reset ones: nobody) and views
        select 'function', pg_catalog.format('%I.%I(%s)', (select n.nspname from pg_catalog.pg_namespace n where n.oid = p.pronamespace), p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)), p.oid, 'execute',
               case when p.proname like '%reset%' then 'none' else 'monitor' end
        from pg_catalog.pg_depend d
        join pg_catalog.pg_extension e on e.oid = d.refobjid and e.extname = 'pg_stat_statements'
        join pg_catalog.pg_proc p on p.oid = d.objid
        where d.classid = 'pg_catalog.pg_proc'::regclass and d.refclassid = 'pg_catalog.pg_extension'::regclass and d.deptype = 'e'
        union all
        select 'table', pg_catalog.format('%I.%I', (select n.nspname from pg_catalog.pg_namespace n where n.oid = c.relnamespace), c.relname), c.oid, 'select', 'monitor'
        from pg_catalog.pg_depend d
        join pg_catalog.pg_extension e on e.oid = d.refobjid and e.extname = 'pg_stat_statements'
        join pg_catalog.pg_class c on c.oid = d.objid
        where d.classid = 'pg_catalog.pg_class'::regclass and d.refclassid = 'pg_catalog.pg_extension'::regclass and d.deptype = 'e'
      ),
      wanted as (
        -- who may hold the privilege: PUBLIC and our roles may not, the monitoring roles may
        select o.*, g.grantee, (o.audience = 'monitor' and g.monitor) as allowed
        from objects o
        cross join (values ('public', false), ('querybudget_app', false), ('querybudget_owner', false),
                           ('querybudget_maint', false), ('querybudget_monitor', true), ('pg_monitor', true)) as g (grantee, monitor)
      ),
      held as (
        select w.*,
               exists (select
                       from pg_catalog.aclexplode(coalesce(
                              case w.kind when 'function' then (select p.proacl from pg_catalog.pg_proc p where p.oid = w.oid)
                                          else (select c.relacl from pg_catalog.pg_class c where c.oid = w.oid) end,
                              case w.kind when 'function' then pg_catalog.acldefault('f', (select p.proowner from pg_catalog.pg_proc p where p.oid = w.oid))
                                          else pg_catalog.acldefault('r', (select c.relowner from pg_catalog.pg_class c where c.oid = w.oid)) end)) a
                       where a.grantee = case w.grantee when 'public' then 0::oid
                                                         else (select o.oid from pg_catalog.pg_roles o where o.rolname = w.grantee) end
                         and a.privilege_type = upper(w.privilege)) as holds
        from wanted w
      )
      select format('%s %s on %s %s %s %s',
                    case when h.allowed then 'grant' else 'revoke' end, h.privilege, h.kind, h.name,
                    case when h.allowed then 'to' else 'from' end, h.grantee) as ddl
      from held h
      where h.holds <> h.allowed
      order by not h.allowed desc, h.name, h.grantee  -- revokes first
    loop
      if pass = 1 then
        begin
          execute r.ddl;
        exception when insufficient_privilege then
          null;  -- counted in the second pass
        end;
      else
        pending := pending || (r.ddl || ';');
      end if;
    end loop;
  end loop;

  if pending is not null then
    raise exception '% may not change the privileges of large object or pg_stat_statements objects: % statements left', current_user, cardinality(pending)
      using errcode = '42501',
            hint = 'Run once as a superuser in this database (docs/security.md "Running on an existing server"), then migrate again: '
                   || array_to_string(pending, ' ');
  end if;
end
$$;
