-- Security (docs/security.md; sql/40_roles.sql, sql/45_row_level_security.sql, sql/50_grants.sql):
-- the roles and their attributes, row level security on every app table and partition, who
-- owns what, what each role may execute, and that the tenant policy holds for a function that
-- forgets its tenant filter. Runs as the superuser, inside a transaction that is rolled back.
begin;
select plan(53);

-- roles ----------------------------------------------------------------------------------
select has_role(r) from unnest(array['querybudget_owner', 'querybudget_app', 'querybudget_monitor', 'querybudget_maint']) r;
select is_empty(
  $$ select rolname from pg_roles
     where rolname in ('querybudget_owner', 'querybudget_app', 'querybudget_monitor') and (rolsuper or rolbypassrls or rolcreaterole) $$,
  'owner, app and monitor are neither superuser, nor BYPASSRLS, nor CREATEROLE: row level security holds for them');
select ok((select rolbypassrls and not rolcanlogin and not rolsuper from pg_roles where rolname = 'querybudget_maint'),
  'querybudget_maint is BYPASSRLS, NOLOGIN, not superuser');
select ok(not pg_has_role('querybudget_app', r, 'member'), format('querybudget_app cannot become %s', r))
from unnest(array['querybudget_owner', 'querybudget_maint', 'querybudget_monitor']) r;
select ok(not pg_has_role('querybudget_monitor', r, 'member'), format('querybudget_monitor cannot become %s', r))
from unnest(array['querybudget_owner', 'querybudget_maint', 'querybudget_app']) r;
select set_eq(
  $$ select unnest(s.setconfig) from pg_db_role_setting s where s.setrole = 'querybudget_app'::regrole and s.setdatabase = 0 $$,
  array['statement_timeout=5s', 'lock_timeout=2s', 'idle_in_transaction_session_timeout=15s', 'jit=off'],
  'querybudget_app has the documented timeouts, and jit off');

-- row level security ---------------------------------------------------------------------
select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p')
       and not (c.relrowsecurity and c.relforcerowsecurity) $$,
  'row level security is enabled and forced on every app table, partitions included');
select cmp_ok((select count(*)::int from pg_class c where c.relnamespace = 'app'::regnamespace and c.relkind = 'r' and c.relispartition), '>=', 30,
  'the partitions are among them (16 of chunks, the monthly ones of operations and messages)');
select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p')
       and (select count(*) from pg_policy p where p.polrelid = c.oid) <> 1 $$,
  'every app table and partition has exactly one policy');
select is_empty(
  $$ select p.polrelid::regclass::text from pg_policy p
     join pg_class c on c.oid = p.polrelid
     where c.relnamespace = 'app'::regnamespace
       and not (p.polname = 'tenant_isolation' and p.polcmd = '*' and p.polpermissive and p.polroles = '{0}'
                and pg_get_expr(p.polqual, p.polrelid) like '(tenant_id = (NULLIF(current_setting(''querybudget.tenant_id''::text, true)%'
                and pg_get_expr(p.polwithcheck, p.polrelid) = pg_get_expr(p.polqual, p.polrelid)) $$,
  'that policy is tenant_isolation, for all commands and every role: tenant_id = querybudget.tenant_id, for reading and writing');
select is_empty(
  $$ select p.polrelid::regclass::text || ' ' || p.polname from pg_policy p
     join pg_class c on c.oid = p.polrelid
     where c.relnamespace = 'app'::regnamespace
       and (pg_get_expr(p.polqual, p.polrelid) ~* '\mselect\M' or pg_get_expr(p.polwithcheck, p.polrelid) ~* '\mselect\M') $$,
  'no policy on an app table holds a subquery (Citus refuses to distribute such a table: docs/scaling.md)');
select set_eq(
  $$ select c.oid::regclass::text from pg_class c where c.relnamespace = 'app'::regnamespace and c.relkind in ('v', 'm', 'f') $$,
  array['app.tenant_overview'],
  'the one relation of app without row level security is the operators'' tenant overview (a materialized view cannot have it); querybudget_app cannot read it');
select is(maint.ensure_row_level_security(), 0, 'maint.ensure_row_level_security has nothing left to do after a migrate');
select is_empty(
  $$ select pc.parent_table from partman.part_config pc where pc.parent_table like 'app.%' and not pc.inherit_privileges $$,
  'partitions pg_partman makes later belong to the parent''s owner and carry its grants');

-- ownership ------------------------------------------------------------------------------
select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p')
       and c.relowner <> 'querybudget_owner'::regrole $$,
  'querybudget_owner owns every app table and partition');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'api'::regnamespace and p.proowner <> 'querybudget_owner'::regrole $$,
  'querybudget_owner owns every api routine: security definer functions run as it, under the policies');
select set_eq(
  $$ select c.oid::regclass::text from pg_class c where c.relowner = 'querybudget_maint'::regrole and c.relkind not in ('i', 't')
     union all
     select p.oid::regprocedure::text from pg_proc p where p.proowner = 'querybudget_maint'::regrole $$,
  array['app.tenant_overview', 'maint.refresh_tenant_overview()', 'maint.fold_collection_stat_deltas()', 'maint.fold_tenant_stat_deltas(bigint)',
        'maint.rebuild_collection_stats()', 'maint.collection_stats_recomputed(bigint)', 'maint.collection_stats_pending()',
        'perf.collection_stats_drift()', 'perf.tenant_overview(bigint)', 'app.session_tenant_id(uuid)', 'app.live_session(uuid)'],
  'querybudget_maint (BYPASSRLS) owns exactly the tenant overview view, its refresh and reader, the fold, rebuild, recomputation, pending count and drift of the statistics, and the session token lookups');

-- security definer functions ---------------------------------------------------------------
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)
       and p.prosecdef
       and not coalesce('search_path=pg_catalog, pg_temp' = any (p.proconfig), false) $$,
  'every security definer function pins search_path = pg_catalog, pg_temp');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'api'::regnamespace and not p.prosecdef and p.prokind <> 'p' $$,
  'every api function is security definer (a procedure cannot be: api.purge_documents calls one per batch)');

-- session settings a client may SET (docs/security.md, "Session settings"): pinned per routine,
-- so a pooled session's SET row_security = off (or search_path) changes no api call
select is_empty(
  $$ select p.oid::regprocedure::text || ' ' || coalesce(array_to_string(p.proconfig, ' '), 'no SET clause') from pg_proc p
     where p.pronamespace = 'api'::regnamespace
       and p.prokind <> 'p'
       and not ('row_security=on' = any (coalesce(p.proconfig, '{}')) and 'search_path=pg_catalog, pg_temp' = any (coalesce(p.proconfig, '{}'))) $$,
  'every api function pins row_security = on and search_path = pg_catalog, pg_temp in its SET clause');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'api'::regnamespace and p.prokind = 'p'
       and (p.prosecdef or p.proconfig is not null) $$,
  'api procedures (which commit, so can carry no SET clause) are security invoker: they run as querybudget_app, which can only call the pinned api functions');

-- querybudget_app: EXECUTE on the api, nothing else ---------------------------------------
select is_empty(
  $$ select c.oid::regclass::text || ' ' || priv from pg_class c
     cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) priv
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p', 'm', 'v')
       and has_table_privilege('querybudget_app', c.oid, priv) $$,
  'querybudget_app has no privilege on any app table, partition or view');
select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind = 'S'
       and (has_sequence_privilege('querybudget_app', c.oid, 'usage') or has_sequence_privilege('querybudget_app', c.oid, 'select')
            or has_sequence_privilege('querybudget_app', c.oid, 'update')) $$,
  'querybudget_app has no privilege on any app sequence');
select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p', 'm')
       and (has_table_privilege('querybudget_monitor', c.oid, 'select') or has_table_privilege('querybudget_monitor', c.oid, 'insert')
            or has_table_privilege('querybudget_monitor', c.oid, 'update') or has_table_privilege('querybudget_monitor', c.oid, 'delete')) $$,
  'querybudget_monitor has no privilege on any app table');
select ok(has_schema_privilege('querybudget_app', 'api', 'usage'), 'querybudget_app may use schema api');
select is_empty(
  $$ select s || ' ' || priv from unnest(array['app', 'maint', 'perf', 'public']) s, unnest(array['usage', 'create']) priv
     where has_schema_privilege('querybudget_app', s, priv) and not (s = 'public' and priv = 'usage') $$,
  'querybudget_app may not use app, maint or perf, nor create anywhere');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'api'::regnamespace and not has_function_privilege('querybudget_app', p.oid, 'execute') $$,
  'querybudget_app may execute every api routine');
select cmp_ok((select count(*)::int from pg_proc p where p.pronamespace = 'api'::regnamespace), '>=', 18,
  'and there are api routines to execute');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace in ('app'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)
       and has_function_privilege('querybudget_app', p.oid, 'execute') $$,
  'querybudget_app may execute nothing in app, maint or perf');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p, aclexplode(p.proacl) a
     where a.grantee in ('querybudget_app'::regrole, 'querybudget_monitor'::regrole)
       and p.pronamespace not in ('api'::regnamespace, 'perf'::regnamespace)
       and not (a.grantee = 'querybudget_monitor'::regrole
                and exists (select from pg_depend d join pg_extension e on e.oid = d.refobjid
                            where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
                              and e.extname = 'pg_stat_statements' and p.proname not like '%reset%')) $$,
  'nothing outside api and perf (public included) is granted to querybudget_app or querybudget_monitor, but pg_stat_statements'' readers to querybudget_monitor (test/sql/app_privileges.sql)');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p, aclexplode(p.proacl) a
     where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace, 'maint'::regnamespace, 'perf'::regnamespace)
       and a.grantee = 0 $$,
  'no routine of ours is executable by PUBLIC');
select is_empty(
  $$ select 'function' from pg_default_acl d
     where d.defaclrole in ('querybudget_owner'::regrole, 'querybudget_maint'::regrole) and d.defaclobjtype = 'f'
       and d.defaclnamespace = 0
       and exists (select from aclexplode(d.defaclacl) a where a.grantee = 0)
     union all
     select r from unnest(array['querybudget_owner', 'querybudget_maint']) r
     where not exists (select from pg_default_acl d where d.defaclrole = r::regrole and d.defaclobjtype = 'f' and d.defaclnamespace = 0) $$,
  'routines the owning roles make later are not executable by PUBLIC (alter default privileges)');

-- querybudget_monitor: EXECUTE on perf -------------------------------------------------------
select ok(has_schema_privilege('querybudget_monitor', 'perf', 'usage'), 'querybudget_monitor may use schema perf');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'perf'::regnamespace and not has_function_privilege('querybudget_monitor', p.oid, 'execute')
       and p.oid <> 'perf.take_snapshot(timestamptz,interval)'::regprocedure $$,
  'querybudget_monitor may execute every perf function but perf.take_snapshot');
select ok(not has_function_privilege('querybudget_monitor', 'perf.take_snapshot(timestamptz,interval)', 'execute'),
  'querybudget_monitor may not take (write) a history snapshot: perf.take_snapshot is the job''s');
select is_empty(
  $$ select c.oid::regclass::text || ' ' || priv from pg_class c
     cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate']) priv
     cross join unnest(array['querybudget_monitor', 'querybudget_app']) r
     where c.relnamespace = 'perf'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
       and has_table_privilege(r, c.oid, priv) $$,
  'neither querybudget_monitor nor querybudget_app has a privilege on the perf history tables (read through perf functions)');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace in ('api'::regnamespace, 'app'::regnamespace, 'maint'::regnamespace)
       and has_function_privilege('querybudget_monitor', p.oid, 'execute') $$,
  'querybudget_monitor may execute nothing in api, app or maint');

-- a function that forgets its tenant filter ----------------------------------------------------
-- Made here as the api functions are made: security definer, owned by querybudget_owner. It
-- counts the rows of any app table (partitions too) with no tenant condition at all.
create function api.test_forgetful_count(p_tenant_id bigint, p_table regclass)
returns bigint
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  n bigint;
begin
  if p_tenant_id is null then
    perform set_config('querybudget.tenant_id', '', true);  -- as in a transaction after an api call
  else
    perform app.require_tenant(p_tenant_id);
  end if;
  execute format('select count(*) from %s', p_table) into n;
  return n;
end
$$;
alter function api.test_forgetful_count(bigint, regclass) owner to querybudget_owner;

create function api.test_forgetful_retitle(p_tenant_id bigint)
returns table (tenant_id bigint, n bigint)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform app.require_tenant(p_tenant_id);
  return query
  with changed as (update app.documents d set title = d.title where true returning d.tenant_id)
  select c.tenant_id, count(*) from changed c group by c.tenant_id;
end
$$;
alter function api.test_forgetful_retitle(bigint) owner to querybudget_owner;

create function api.test_forgetful_write(p_tenant_id bigint, p_sql text)
returns void
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  perform app.require_tenant(p_tenant_id);
  execute p_sql;
end
$$;
alter function api.test_forgetful_write(bigint, text) owner to querybudget_owner;

-- the superuser's count of one tenant's rows (it bypasses row level security)
create function pg_temp.tenant_rows(p_table regclass, p_tenant_id bigint) returns bigint language plpgsql as $$
declare n bigint;
begin
  execute format('select count(*) from %s where tenant_id = $1', p_table) into n using p_tenant_id;
  return n;
end $$;

select is_empty(
  $$ select c.oid::regclass::text || ': ' || api.test_forgetful_count(t, c.oid) || ' rows seen, ' || pg_temp.tenant_rows(c.oid, t) || ' are the tenant''s'
     from pg_class c, (values (1::bigint), (2), (3)) as v (t)
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p')
       and api.test_forgetful_count(t, c.oid) <> pg_temp.tenant_rows(c.oid, t) $$,
  'without a tenant filter a function sees exactly its tenant''s rows, in every app table and every partition named directly (tenants 1, 2, 3)');
select cmp_ok(
  (select count(*)::int from pg_class c where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and pg_temp.tenant_rows(c.oid, 1) > 0),
  '>', 20, 'and most of those tables and partitions hold rows of tenant 1 (the check is not vacuous)');
select ok(
  (select count(*) from app.documents) > pg_temp.tenant_rows('app.documents', 1)
  and (select count(*) from app.chunks_p03) > pg_temp.tenant_rows('app.chunks_p03', 1),
  'and rows of other tenants are there too');
select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p')
       and api.test_forgetful_count(null, c.oid) <> 0 $$,
  'without the tenant setting no row of any app table is visible');
select results_eq(
  $$ select tenant_id, n from api.test_forgetful_retitle(2) $$,
  $$ select 2::bigint, count(*) from app.documents where tenant_id = 2 $$,
  'an UPDATE without a tenant filter changes only the tenant''s rows');
select throws_ok(
  $$ select api.test_forgetful_write(1, 'insert into app.knowledge_gaps (tenant_id, title, category) values (2, ''x'', ''process'')') $$,
  '42501', null, 'an INSERT of another tenant''s row is refused (42501)');
select throws_ok(
  $$ select api.test_forgetful_write(1, 'update app.knowledge_gaps set tenant_id = 2 where tenant_id = 1') $$,
  '42501', null, 'moving a row to another tenant is refused (42501)');
select lives_ok(
  $$ select api.test_forgetful_write(1, 'delete from app.gap_answers where tenant_id = 2') $$,
  'a DELETE aimed at another tenant runs ...');
select isnt_empty($$ select from app.gap_answers where tenant_id = 2 $$, '... and deletes nothing of it');

select * from finish();
rollback;
