-- auto_explain: the plans of slow statements in the server log, statements inside functions
-- included (our api is functions). The server preloads auto_explain (the server contract);
-- its settings are off until set. The recommended settings below are what
-- perf.auto_explain_settings() reports and what this file sets as defaults of the current
-- database (ALTER DATABASE ... SET) when they are not set there yet: a value set there by hand
-- is never overwritten, so re-applying this file changes nothing. Why each value:
-- docs/monitoring.md "auto_explain".

create or replace function perf.auto_explain_settings()
returns table (name text, recommended text, database_value text, session_value text, matches boolean, why text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  with recommended (ord, name, value, why) as (
    values
      (1, 'auto_explain.log_min_duration', '500ms', 'plan of every statement that runs 500 ms or longer: seed 002''s error threshold (perf.slow_queries lists those from 100 ms)'),
      (2, 'auto_explain.log_nested_statements', 'on', 'statements inside functions: the api is functions, and their statements are what is slow'),
      -- off on Citus: instrumented calls run outside their delegation (functions/maint/distribute.sql)
      (3, 'auto_explain.log_analyze',
       case when exists (select from pg_extension e where e.extname = 'citus') then 'off' else 'on' end,
       case when exists (select from pg_extension e where e.extname = 'citus')
            then 'off on Citus: an instrumented statement makes Citus run a routed call outside its delegation, where the call fails (docs/scaling.md)'
            else 'actual rows next to the estimates: a wrong estimate is the usual cause of a bad plan' end),
      (4, 'auto_explain.log_timing', 'off', 'no per-node clock reads: with log_analyze on every statement is instrumented, and timing is the expensive part'),
      (5, 'auto_explain.log_buffers', 'on', 'pages read per node: the stable measure of what a plan costs (docs/plans.md)'),
      (6, 'auto_explain.log_triggers', 'on', 'time in triggers, i.e. foreign key checks of writes'),
      (7, 'auto_explain.log_settings', 'on', 'planner settings that differ from the defaults, which explain an unusual plan'),
      (8, 'auto_explain.log_format', 'json', 'the plan library (scripts/lib/plan: parseAutoExplainNotice) reads it as a tree'),
      (9, 'auto_explain.sample_rate', '1', 'every slow statement, not a sample')
  ), database_settings as (
    select split_part(c.entry, '=', 1) as name, substr(c.entry, strpos(c.entry, '=') + 1) as value
    from pg_db_role_setting s
    cross join lateral unnest(s.setconfig) c (entry)
    where s.setdatabase = (select d.oid from pg_database d where d.datname = current_database())
      and s.setrole = 0
  )
  select r.name, r.value, d.value, current_setting(r.name, true),
         -- compared as the server shows them (500ms and 500 ms alike): in this session
         current_setting(r.name, true) is not null
           and (current_setting(r.name, true) = r.value
                or (r.name = 'auto_explain.log_min_duration' and current_setting(r.name, true) in ('500ms', '500 ms'))),
         r.why
  from recommended r
  left join database_settings d on d.name = r.name
  order by r.ord
$$;
comment on function perf.auto_explain_settings() is
  'The recommended auto_explain settings (plans of statements of 500 ms and more in the server log, nested statements included, actual rows and buffers, no per-node timing, JSON): '
  'name, recommended value, database_value (ALTER DATABASE ... SET of this database, null if not set), session_value (in effect now; null when auto_explain is not loaded), '
  'matches (the session value is the recommended one), why. functions/perf/auto_explain.sql sets the missing ones on the database; docs/monitoring.md explains them.';
revoke all on function perf.auto_explain_settings() from public;

-- Database defaults: only where auto_explain is loaded, only what is not set on the database
-- yet, only when this role may (superuser-only settings need superuser or SET privilege).
do $$
declare
  r record;
  v_skipped text[] := '{}';
begin
  if current_setting('auto_explain.log_min_duration', true) is null then
    raise notice 'functions/perf/auto_explain.sql: auto_explain is not loaded on this server (shared_preload_libraries): no settings made';
    return;
  end if;
  for r in
    select s.name, s.recommended
    from perf.auto_explain_settings() s
    where s.database_value is null
  loop
    if has_parameter_privilege(r.name, 'SET')
       and (select d.datdba = (select o.oid from pg_roles o where o.rolname = current_user)
                   or (select o.rolsuper from pg_roles o where o.rolname = current_user)
            from pg_database d where d.datname = current_database()) then
      execute format('alter database %I set %s = %L', current_database(), r.name, r.recommended);
    else
      v_skipped := v_skipped || r.name;
    end if;
  end loop;
  if cardinality(v_skipped) > 0 then
    raise notice 'functions/perf/auto_explain.sql: % may not set % on database %: set them as a superuser (docs/monitoring.md)',
      current_user, array_to_string(v_skipped, ', '), current_database();
  end if;
end
$$;
