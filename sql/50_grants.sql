-- Ownership and privileges (docs/security.md). Revoke first, then grant per function. Applied
-- on every migrate, in the same transaction as functions/ (so a function made in this run is
-- never executable by PUBLIC, not even for a moment); a second run changes nothing.

-- 1. Ownership -----------------------------------------------------------------------------
-- querybudget_owner owns schemas app and api, every relation and statistics object of app and
-- every routine of app and api: the api functions are security definer, so they run as
-- querybudget_owner, under the forced row level security of the tables it owns. The
-- exceptions belong to querybudget_maint (BYPASSRLS), because their work crosses tenants:
--   app.tenant_overview             a refresh computes the view as its owner: all tenants
--   maint.refresh_tenant_overview   security definer: only the view's owner may refresh it
--   maint.fold_collection_stat_deltas, maint.fold_tenant_stat_deltas, maint.rebuild_collection_stats,
--   maint.collection_stats_recomputed, maint.collection_stats_pending,
--   perf.collection_stats_drift, perf.tenant_overview
--                                   security definer: fold, compute, compare or read every
--                                   tenant's statistics
--   app.session_tenant_id           security definer: finds the tenant of a session token
--   app.live_session                security definer: a live session and its user, by token
-- The rest of maint and perf stays with the role that migrates (their security definer
-- functions read pg_stat_activity, pg_stat_statements and cron.job, which need that role).
-- A new owner needs CREATE on the schema when a non-superuser (querybudget_owner) hands
-- objects over: querybudget_maint gets it on app and maint.
grant usage, create on schema app, maint to querybudget_maint;
do $$
declare
  r record;
begin
  for r in
    select format('alter schema %I owner to %I', n.nspname, 'querybudget_owner') as ddl
    from pg_namespace n
    where n.nspname in ('app', 'api')
      and n.nspowner <> 'querybudget_owner'::regrole
    union all
    select format('alter %s %s owner to %I',
                  case c.relkind when 'm' then 'materialized view' when 'S' then 'sequence' else 'table' end,
                  c.oid::regclass, o.owner)
    from pg_class c
    cross join lateral (select case when c.oid = to_regclass('app.tenant_overview') then 'querybudget_maint'
                                    else 'querybudget_owner' end as owner) o
    where c.relnamespace = 'app'::regnamespace
      and c.relkind in ('r', 'p', 'm', 'S')
      -- identity sequences follow their table
      and not (c.relkind = 'S' and exists (select from pg_depend d where d.classid = 'pg_class'::regclass
                                            and d.objid = c.oid and d.deptype in ('a', 'i')))
      and c.relowner <> o.owner::regrole
    union all
    select format('alter statistics %I.%I owner to %I', 'app', s.stxname, 'querybudget_owner')
    from pg_statistic_ext s
    where s.stxnamespace = 'app'::regnamespace
      and s.stxowner <> 'querybudget_owner'::regrole
    union all
    select format('alter routine %s owner to %I', p.oid::regprocedure, o.owner)
    from pg_proc p
    cross join (select array['maint.refresh_tenant_overview()'::regprocedure,
                             'maint.fold_collection_stat_deltas()'::regprocedure,
                             'maint.fold_tenant_stat_deltas(bigint)'::regprocedure,
                             'maint.rebuild_collection_stats()'::regprocedure,
                             'maint.collection_stats_recomputed(bigint)'::regprocedure,
                             'maint.collection_stats_pending()'::regprocedure,
                             'perf.collection_stats_drift()'::regprocedure,
                             'perf.tenant_overview(bigint)'::regprocedure]::oid[] as routines) m
    cross join lateral (select case when p.oid = any (m.routines) or p.oid in ('app.session_tenant_id(uuid)'::regprocedure, 'app.live_session(uuid)'::regprocedure)
                                    then 'querybudget_maint' else 'querybudget_owner' end as owner) o
    where (p.pronamespace in ('app'::regnamespace, 'api'::regnamespace)
           or p.oid = any (m.routines))
      and p.proowner <> o.owner::regrole
  loop
    execute r.ddl;
  end loop;
end
$$;

-- 2. Revoke -------------------------------------------------------------------------------
-- New routines of the owning roles are not executable by PUBLIC (PostgreSQL's default is that
-- they are). Not for the migrating role itself: a superuser's default privileges would reach
-- every extension installed later in this database (pgTAP's functions, say); its routines in
-- our schemas are revoked one by one below, in this same transaction.
alter default privileges for role querybudget_owner revoke execute on functions from public;
alter default privileges for role querybudget_maint revoke execute on functions from public;

revoke all on schema app, api, maint, perf from public;
revoke all on all tables in schema app from public, querybudget_app, querybudget_monitor;
revoke all on all sequences in schema app from public, querybudget_app, querybudget_monitor;
revoke all on all routines in schema app, api, maint, perf from public;
revoke all on all routines in schema app, maint, perf from querybudget_app;
revoke all on all routines in schema app, api, maint from querybudget_monitor;
revoke all on schema app, maint from querybudget_app, querybudget_monitor;
revoke all on schema perf from querybudget_app;
revoke all on schema api from querybudget_monitor;
-- nothing of ours lives in public, and nobody creates there (the PostgreSQL 15 default, made sure)
revoke create on schema public from public;

-- 3. Grant ----------------------------------------------------------------------------------
-- The application: the api routines, one by one (every routine of schema api is part of the
-- api: test/sql/security.sql lists them), and nothing else: no table, no sequence, nothing in
-- app, maint, perf or public.
grant usage on schema api to querybudget_app;
-- Monitoring: the perf routines, one by one, but the one that writes: perf.take_snapshot (the
-- history job's body, run as the role that migrates) is not the monitoring role's to call. The
-- history tables are read through perf functions only (no table privilege).
grant usage on schema perf to querybudget_monitor;
do $$
declare
  r record;
begin
  for r in
    select p.oid::regprocedure as routine, g.grantee
    from (values ('api', 'querybudget_app'), ('perf', 'querybudget_monitor')) as g (schema_name, grantee)
    join pg_proc p on p.pronamespace = g.schema_name::regnamespace
    where not has_function_privilege(g.grantee, p.oid, 'execute')
      and p.oid <> 'perf.take_snapshot(timestamptz,interval)'::regprocedure
    order by p.oid
  loop
    execute format('grant execute on routine %s to %I', r.routine, r.grantee);
  end loop;
end
$$;

revoke all on function perf.take_snapshot(timestamptz, interval) from querybudget_monitor;
revoke all on all tables in schema perf from public, querybudget_app, querybudget_monitor;

-- Cross-tenant maintenance (querybudget_maint, BYPASSRLS): what the statistics and the tenant
-- overview read, what the TTL job deletes (FOR UPDATE needs UPDATE on a column), what the
-- token lookup reads.
grant select on app.tenants, app.collections, app.documents, app.operations, app.chunks to querybudget_maint;
-- the statistics the writers maintain: folded (deltas deleted, totals upserted) or rebuilt
grant select, delete on app.collection_stat_deltas to querybudget_maint;
grant select, insert, update, delete on app.collection_stat_totals to querybudget_maint;
-- the count maps the fold, the recomputation and the tenant overview add up
grant execute on function app.sum_count_maps(jsonb[]) to querybudget_maint;
-- the fold records its runs (perf.collection_stats_serving reads them as the migrating role);
-- a shadow database replaying the migrations before the one that makes the table has none
do $$
begin
  if to_regclass('maint.collection_stat_folds') is not null then
    grant select, insert, update on maint.collection_stat_folds to querybudget_maint;
  end if;
end
$$;
grant select, delete on app.messages, app.conversations, app.user_sessions to querybudget_maint;
grant update (expires_at) on app.messages, app.conversations, app.user_sessions to querybudget_maint;
-- the session's user, which app.live_session (api.validate_session's one read) returns with it
grant select (tenant_id, id, email, display_name) on app.users to querybudget_maint;
-- the TTL batch, which maint.purge_expired calls after switching to querybudget_maint
grant execute on function maint.delete_expired_batch(regclass, integer) to querybudget_maint;
-- Privileges on the database itself (CONNECT, TEMPORARY, CREATE): sql/52_database_privileges.sql.
-- Large objects and pg_stat_statements (objects we do not own): sql/55_builtin_privileges.sql.
