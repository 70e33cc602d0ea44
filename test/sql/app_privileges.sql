-- What querybudget_app may execute, use, create and read, from the catalogs, compared with what
-- docs/security.md says it may: EXECUTE on every api routine and nothing more. Each check takes
-- the actual set from the privilege functions (has_function_privilege, has_schema_privilege,
-- has_database_privilege, has_table_privilege) over the catalogs, so anything granted beyond the
-- expected set fails, whoever granted it (PUBLIC's defaults included). The expected api set is
-- the catalog of schema api itself, not a list. sql/50_grants.sql, sql/52_database_privileges.sql,
-- sql/55_builtin_privileges.sql. Runs as the superuser, inside a transaction that is rolled back.
begin;
select plan(19);

-- Schemas that are PostgreSQL's own. Everything else (ours, public, the extensions') is checked.
create function pg_temp.is_system_schema(p_schema oid) returns boolean language sql stable as $$
  select n.nspname in ('pg_catalog', 'information_schema') or n.nspname like 'pg\_toast%' or n.nspname like 'pg\_temp%'
  from pg_namespace n where n.oid = p_schema
$$;

-- pgTAP itself is installed in the test template by the harness (test/harness/global-setup.ts),
-- not by a migrate: its functions are PUBLIC's, as any extension's are, and they are left out.
create function pg_temp.is_pgtap(p_routine oid) returns boolean language sql stable as $$
  select exists (select from pg_depend d join pg_extension e on e.oid = d.refobjid
                 where d.classid = 'pg_proc'::regclass and d.objid = p_routine and d.deptype = 'e' and e.extname = 'pgtap')
$$;

-- the large object functions: PostgreSQL's internal functions whose C symbol is be_lo* (lo_create,
-- lo_creat, lo_from_bytea, lo_import, lo_open, lowrite, lo_put, loread, lo_get, lo_unlink, ...)
create function pg_temp.large_object_functions() returns setof regprocedure language sql stable as $$
  select p.oid::regprocedure from pg_proc p
  where p.pronamespace = 'pg_catalog'::regnamespace and p.prolang = (select oid from pg_language where lanname = 'internal')
    and p.prosrc like 'be\_lo%'
$$;

-- what pg_stat_statements consists of (functions and views), wherever it is installed
create function pg_temp.pg_stat_statements_objects() returns table (kind text, oid oid, name text) language sql stable as $$
  select case d.classid when 'pg_proc'::regclass then 'function' else 'relation' end, d.objid,
         case d.classid when 'pg_proc'::regclass then d.objid::regprocedure::text else d.objid::regclass::text end
  from pg_depend d join pg_extension e on e.oid = d.refobjid
  where e.extname = 'pg_stat_statements' and d.deptype = 'e' and d.classid in ('pg_proc'::regclass, 'pg_class'::regclass)
$$;

-- routines ------------------------------------------------------------------------------------
select set_eq(
  $$ select p.oid::regprocedure::text from pg_proc p
     where not pg_temp.is_system_schema(p.pronamespace) and not pg_temp.is_pgtap(p.oid)
       and has_schema_privilege('querybudget_app', p.pronamespace, 'usage')
       and has_function_privilege('querybudget_app', p.oid, 'execute') $$,
  $$ select p.oid::regprocedure::text from pg_proc p where p.pronamespace = 'api'::regnamespace $$,
  'the routines querybudget_app can call outside PostgreSQL''s own schemas are exactly the routines of schema api');
select cmp_ok((select count(*)::int from pg_proc p where p.pronamespace = 'api'::regnamespace), '>', 0,
  'and schema api has routines (the comparison is not vacuous)');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace in ('app'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)
       and has_function_privilege('querybudget_app', p.oid, 'execute') $$,
  'querybudget_app holds EXECUTE on nothing in app, maint or perf (whatever the schema privileges)');
select is_empty(
  $$ select f::text from pg_temp.large_object_functions() f where has_function_privilege('querybudget_app', f, 'execute') $$,
  'querybudget_app may execute no large object function (it could store data that outlives its session, outside every table)');
select cmp_ok((select count(*)::int from pg_temp.large_object_functions()), '>=', 18,
  'the large object functions are found (lo_create, lo_from_bytea, lowrite, lo_put, ...: the check is not vacuous)');
select set_eq(
  $$ select f::text from pg_temp.large_object_functions() f
     where f::text in ('lo_create(oid)', 'lo_creat(integer)', 'lo_from_bytea(oid,bytea)', 'lo_import(text)', 'lo_import(text,oid)',
                       'lo_put(oid,bigint,bytea)', 'lowrite(integer,bytea)', 'lo_open(oid,integer)') $$,
  array['lo_create(oid)', 'lo_creat(integer)', 'lo_from_bytea(oid,bytea)', 'lo_import(text)', 'lo_import(text,oid)',
        'lo_put(oid,bigint,bytea)', 'lowrite(integer,bytea)', 'lo_open(oid,integer)'],
  'among them every function that creates or writes a large object');
select is_empty(
  $$ select p.oid::regprocedure::text || ' ' || coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC')
     from pg_temp.large_object_functions() f join pg_proc p on p.oid = f, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
     where a.grantee <> p.proowner $$,
  'nobody but their owner (the bootstrap superuser) holds EXECUTE on a large object function: not PUBLIC, none of our roles');
select is_empty(
  $$ select o.name from pg_temp.pg_stat_statements_objects() o
     where (o.kind = 'function' and has_function_privilege('querybudget_app', o.oid, 'execute'))
        or (o.kind = 'relation' and has_table_privilege('querybudget_app', o.oid, 'select')) $$,
  'querybudget_app may neither read pg_stat_statements nor reset it');
select cmp_ok((select count(*)::int from pg_temp.pg_stat_statements_objects()), '>=', 4,
  'pg_stat_statements is installed (its views and functions are found: the check is not vacuous)');

-- relations -----------------------------------------------------------------------------------
select is_empty(
  $$ select c.oid::regclass::text || ' ' || priv from pg_class c
     cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) priv
     where not pg_temp.is_system_schema(c.relnamespace) and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and has_schema_privilege('querybudget_app', c.relnamespace, 'usage')
       and has_table_privilege('querybudget_app', c.oid, priv)
       and not exists (select from pg_depend d join pg_extension e on e.oid = d.refobjid
                       where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e' and e.extname = 'pgtap') $$,
  'querybudget_app has no privilege on any table or view it can reach outside PostgreSQL''s own schemas (public''s pg_stat_statements included)');

-- schemas and the database --------------------------------------------------------------------
select is_empty(
  $$ select n.nspname from pg_namespace n where has_schema_privilege('querybudget_app', n.oid, 'create') $$,
  'querybudget_app may create in no schema');
select set_eq(
  $$ select n.nspname::text from pg_namespace n
     where has_schema_privilege('querybudget_app', n.oid, 'usage') and n.nspname not like 'pg\_temp\_%' and n.nspname not like 'pg\_toast\_temp\_%' $$,
  array['api', 'public', 'pg_catalog', 'information_schema'],
  'querybudget_app may use schema api, and public and PostgreSQL''s own (USAGE only: nothing of ours is there)');
select is(
  array[has_database_privilege('querybudget_app', current_database(), 'connect'),
        has_database_privilege('querybudget_app', current_database(), 'create'),
        has_database_privilege('querybudget_app', current_database(), 'temporary')],
  array[true, false, false],
  'on the database querybudget_app may CONNECT, and neither CREATE (schemas) nor TEMPORARY (temporary tables and functions)');
select is_empty(
  $$ select a.grantee::regrole::text || ' ' || a.privilege_type from pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
     where d.datname = current_database() and a.privilege_type in ('CREATE', 'TEMPORARY') and a.grantee <> d.datdba
       and not (a.grantee = 'querybudget_maint'::regrole and a.privilege_type = 'TEMPORARY') $$,
  'nobody but the database''s owner holds CREATE or TEMPORARY on it, but querybudget_maint TEMPORARY (PUBLIC''s default TEMPORARY is revoked)');
select is_empty(
  $$ select 'relation ' || c.oid::regclass from pg_class c where c.relowner = 'querybudget_app'::regrole
     union all select 'routine ' || p.oid::regprocedure from pg_proc p where p.proowner = 'querybudget_app'::regrole
     union all select 'schema ' || n.nspname from pg_namespace n where n.nspowner = 'querybudget_app'::regrole
     union all select 'large object ' || m.oid from pg_largeobject_metadata m where m.lomowner = 'querybudget_app'::regrole $$,
  'querybudget_app owns nothing: no relation, routine, schema or large object');

-- the monitoring role still reads what perf needs; maint still works ---------------------------
select is_empty(
  $$ select o.name from pg_temp.pg_stat_statements_objects() o
     where o.name not like '%reset%'
       and not ((o.kind = 'function' and has_function_privilege('querybudget_monitor', o.oid, 'execute') and has_function_privilege('pg_monitor', o.oid, 'execute'))
                or (o.kind = 'relation' and has_table_privilege('querybudget_monitor', o.oid, 'select') and has_table_privilege('pg_monitor', o.oid, 'select'))) $$,
  'querybudget_monitor and pg_monitor (the migrating querybudget_owner''s, on an existing server) may read pg_stat_statements');
select is_empty(
  $$ select o.name || ' ' || coalesce(nullif(a.grantee, 0)::regrole::text, 'PUBLIC') from pg_temp.pg_stat_statements_objects() o,
       aclexplode(case o.kind when 'function' then (select proacl from pg_proc where oid = o.oid) else (select relacl from pg_class where oid = o.oid) end) a
     where a.grantee <> (case o.kind when 'function' then (select proowner from pg_proc where oid = o.oid) else (select relowner from pg_class where oid = o.oid) end)
       and (o.name like '%reset%' or a.grantee not in ('querybudget_monitor'::regrole, 'pg_monitor'::regrole)) $$,
  'pg_stat_statements is granted to nobody else (not PUBLIC), and its reset to nobody');
select lives_ok(
  $$ set local role querybudget_monitor; select count(*) from perf.slow_queries(); reset role $$,
  'querybudget_monitor still reads the slow statements (perf.slow_queries)');
select lives_ok(
  $$ set local role querybudget_owner; set local role querybudget_maint; select maint.refresh_tenant_overview(); reset role $$,
  'querybudget_maint still refreshes the statistics view (concurrently: that makes a temporary table, hence its TEMPORARY)');

select * from finish();
rollback;
