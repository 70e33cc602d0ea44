-- What `npm run dashboard` (scripts/dashboard.ts) reads that no other perf function answers:
-- what needs attention with its fix (the overview), the api routines' live statistics (the
-- budgets page), the tables' vacuum and analyze state, and the pg_cron runs (the jobs page).
-- Documentation: docs/monitoring.md "The dashboard".
--
-- The dashboard connects as querybudget_monitor, which has EXECUTE on the perf functions and
-- nothing else; these read nothing of any tenant's rows, only catalogs and statistics.

-- The api routines' calls as pg_stat_statements counted them: the top-level statements of
-- this database that call an api function (`select * from api.chunks_page($1, ...)`), summed
-- per routine. The variance of the sum is pooled from the entries' own (each entry keeps mean
-- and stddev), so the p95 estimate is the same normal approximation as perf.slow_queries' p99.
create or replace function perf.routine_statistics()
returns table (
  routine text,
  statements integer,
  calls bigint,
  total_ms numeric,
  mean_ms numeric,
  max_ms numeric,
  p95_ms numeric,
  rows_per_call numeric,
  blocks_per_call numeric)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  v_schema text;
begin
  select e.extnamespace::regnamespace::text into v_schema from pg_extension e where e.extname = 'pg_stat_statements';
  if v_schema is null then
    return;
  end if;
  return query execute format($q$
    with s as (
      select 'api.' || substring(s.query from '\mapi\.([a-z_][a-z0-9_]*)\s*\(') as routine,
             s.calls, s.total_exec_time, s.mean_exec_time, s.stddev_exec_time, s.min_exec_time, s.max_exec_time,
             s.rows, s.shared_blks_hit + s.shared_blks_read as blocks
      from %I.pg_stat_statements(true) s
      where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
        and s.toplevel
        and s.calls > 0
        and s.query ~ '\mapi\.[a-z_][a-z0-9_]*\s*\('
    ), r as (
      select s.routine, count(*)::integer as statements, sum(s.calls)::bigint as calls,
             sum(s.total_exec_time) as total, sum(s.total_exec_time) / sum(s.calls) as mean,
             -- pooled: E[x²] over all calls minus the square of the mean
             sqrt(greatest(sum(s.calls * (s.stddev_exec_time ^ 2 + s.mean_exec_time ^ 2)) / sum(s.calls)
                           - (sum(s.total_exec_time) / sum(s.calls)) ^ 2, 0)) as stddev,
             min(s.min_exec_time) as min, max(s.max_exec_time) as max,
             sum(s.rows) as rows, sum(s.blocks) as blocks
      from s
      where s.routine in (select 'api.' || p.proname::text from pg_proc p where p.pronamespace = 'api'::regnamespace)
      group by s.routine
    )
    select r.routine, r.statements, r.calls, round(r.total::numeric, 3), round(r.mean::numeric, 3),
           round(r.max::numeric, 3),
           -- 1.645 standard deviations: the normal distribution's 95th percentile, within [min, max]
           round(least(greatest(r.mean + 1.645 * r.stddev, r.min), r.max)::numeric, 3),
           round(r.rows::numeric / r.calls, 1), round(r.blocks::numeric / r.calls, 1)
    from r
    order by r.total desc, r.routine
  $q$, v_schema);
end
$$;
comment on function perf.routine_statistics() is
  'The api routines as pg_stat_statements counts their calls since its last reset: the top-level statements of this database that call api.<name>(...), summed per routine: '
  'statements (entries), calls, total_ms, mean_ms, max_ms, p95_ms (estimate: mean + 1.645 pooled standard deviations, within [min, max]; no histogram is kept), rows_per_call, '
  'blocks_per_call (shared hit + read, the statements the routine runs included). Most total time first. No rows when pg_stat_statements is not installed. '
  'Security definer: sees every role''s statements. No arguments, no errors of its own.';
revoke all on function perf.routine_statistics() from public;

-- Vacuum and analyze per table, partitions summed (a partitioned table is one row, its
-- partitions' latest times): what the tables page shows beside the sizes. The counters of
-- pg_stat_user_tables are readable by every role: security invoker.
create or replace function perf.table_maintenance()
returns table (
  schema_name text,
  table_name text,
  partitions integer,
  live_rows bigint,
  dead_rows bigint,
  dead_percent numeric,
  modified_since_analyze bigint,
  last_vacuum timestamptz,
  last_autovacuum timestamptz,
  last_analyze timestamptz,
  last_autoanalyze timestamptz,
  vacuum_count bigint,
  autovacuum_count bigint,
  analyze_count bigint,
  autoanalyze_count bigint)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select n.nspname::text, t.relname::text,
         case when t.relkind = 'p' then count(leaf.oid)::integer else 1 end,
         coalesce(sum(s.n_live_tup), 0)::bigint, coalesce(sum(s.n_dead_tup), 0)::bigint,
         round(100 * coalesce(sum(s.n_dead_tup), 0)::numeric / nullif(coalesce(sum(s.n_live_tup), 0) + coalesce(sum(s.n_dead_tup), 0), 0), 1),
         coalesce(sum(s.n_mod_since_analyze), 0)::bigint,
         max(s.last_vacuum), max(s.last_autovacuum), max(s.last_analyze), max(s.last_autoanalyze),
         coalesce(sum(s.vacuum_count), 0)::bigint, coalesce(sum(s.autovacuum_count), 0)::bigint,
         coalesce(sum(s.analyze_count), 0)::bigint, coalesce(sum(s.autoanalyze_count), 0)::bigint
  from pg_class t
  join pg_namespace n on n.oid = t.relnamespace
  cross join lateral perf.leaf_relations(t.oid) leaf (oid)
  left join pg_stat_user_tables s on s.relid = leaf.oid
  where t.relkind in ('r', 'p', 'm')
    and not t.relispartition
    and perf.in_scope(t.oid)
  group by n.nspname, t.relname, t.relkind
  order by coalesce(sum(s.n_dead_tup), 0) desc, n.nspname, t.relname
$$;
comment on function perf.table_maintenance() is
  'Vacuum and analyze per table, materialized view and partitioned table (partitions summed, one row): partitions, live_rows, dead_rows, dead_percent, modified_since_analyze, '
  'the latest last_vacuum, last_autovacuum, last_analyze, last_autoanalyze of its partitions, and the counts of each since the statistics were reset. Most dead rows first. '
  'In a database copied from a template the counters start at zero. No arguments, no errors of its own.';
revoke all on function perf.table_maintenance() from public;

-- The runs of the querybudget_ pg_cron jobs, newest first. pg_cron lives in one database of the
-- server (cron.database_name); elsewhere there are none. Dynamic SQL so the function can be
-- created where the cron schema does not exist (as maint.jobs()). Security definer: pg_cron's
-- row level security shows a role its own jobs only.
create or replace function perf.job_runs(p_limit integer default 100)
returns table (
  job_name text,
  runid bigint,
  status text,
  start_time timestamptz,
  end_time timestamptz,
  duration interval,
  message text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_limit, 'p_limit', 1, 10000);
  if to_regclass('cron.job') is null or to_regclass('cron.job_run_details') is null then
    return;
  end if;
  return query execute $q$
    select j.jobname::text, r.runid, r.status, r.start_time, r.end_time, r.end_time - r.start_time, r.return_message
    from cron.job_run_details r
    join cron.job j on j.jobid = r.jobid
    where j.jobname like 'querybudget\_%'
    order by r.start_time desc nulls last, r.runid desc
    limit $1
  $q$ using p_limit;
end
$$;
comment on function perf.job_runs(integer) is
  'The latest p_limit (default 100, 1..10000) runs of the querybudget_ pg_cron jobs, newest first: job_name, runid, status, start_time, end_time, duration, message. '
  'No rows in a database without pg_cron (it lives in one database of the server). Security definer: pg_cron shows a role its own jobs only. '
  'Errors: QB001 null p_limit, QB008 out of range.';
revoke all on function perf.job_runs(integer) from public;

-- What needs attention, one row per finding, each with its fix: the dashboard's overview.
-- It asks the other perf functions with their documented defaults; the severity says what to
-- do first (error: now, warning: soon, notice: when convenient).
create or replace function perf.attention()
returns table (
  severity text,
  area text,
  subject text,
  problem text,
  fix text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  return query
  with findings (severity, area, subject, problem, fix) as (
    select 'error', 'indexes', i.schema_name || '.' || i.index_name,
           'invalid index on ' || i.schema_name || '.' || i.table_name || ': ' || i.reason, i.fix
    from perf.invalid_indexes() i
    union all
    select 'warning', 'indexes', d.schema_name || '.' || d.index_name,
           d.kind || ' index of ' || d.schema_name || '.' || d.table_name || ' (' || d.index_columns || '), covered by ' || d.covered_by
             || '; every write maintains both (' || d.size || ')',
           d.drop_statement
    from perf.duplicate_indexes() d
    union all
    select case when f.table_rows >= 10000 then 'warning' else 'notice' end, 'indexes', f.schema_name || '.' || f.constraint_name,
           'foreign key ' || f.schema_name || '.' || f.table_name || ' → ' || f.referenced_table || ' has no index: a delete in '
             || f.referenced_table || ' scans ' || f.table_name || ' (' || f.table_rows || ' rows)',
           f.create_statement
    from perf.missing_fk_indexes() f
    union all
    -- unused: only once the statistics cover a day (a window of minutes says nothing)
    select 'notice', 'indexes', u.schema_name || '.' || u.index_name,
           'index not scanned in ' || date_trunc('minute', u.stats_age)::text || ' (' || u.size || ', ' || u.table_writes || ' writes meanwhile)',
           u.drop_statement
    from perf.unused_indexes(0) u
    where u.stats_age >= interval '1 day' and not u.supports_foreign_key
    union all
    select q.level, 'queries', 'query ' || q.queryid,
           'estimated p99 ' || q.p99_ms || ' ms over ' || q.calls || ' calls: ' || left(regexp_replace(q.query, '\s+', ' ', 'g'), 160),
           'look at its plan (auto_explain logs it); npm run analyze-indexes proposes and measures indexes'
    from perf.slow_queries(100, 500) q
    where q.toplevel
      -- the application's statements: applications call the api and nothing else (DESIGN.md),
      -- so a statement calling an api routine is theirs; the seed, migrations, the jobs' bodies
      -- and the monitoring role's own reads are on the slow queries page, not here
      and q.query ~ '\mapi\.[a-z_][a-z0-9_]*\s*\('
    union all
    select 'error', 'connections', 'pid ' || b.pid,
           'waiting ' || date_trunc('second', b.waiting)::text || ' for ' || b.waiting_for || ', held by pid ' || b.blocking_pid
             || ' (' || coalesce(b.blocking_state, '?') || ')',
           case when b.blocking_state like 'idle in transaction%'
                then 'select pg_terminate_backend(' || b.blocking_pid || ');  -- the holder left its transaction open'
                else 'wait, or select pg_cancel_backend(' || b.blocking_pid || ');' end
    from perf.blocked_queries() b
    union all
    select 'warning', 'connections', 'pid ' || l.pid,
           l.state || ' for ' || date_trunc('second', coalesce(l.query_duration, l.transaction_duration))::text || ': ' || left(coalesce(l.query, ''), 120),
           case when l.state like 'idle in transaction%' then 'select pg_terminate_backend(' || l.pid || ');'
                else 'select pg_cancel_backend(' || l.pid || ');' end
    from perf.long_running_queries(interval '1 minute') l
    union all
    select distinct c.level, 'connections', 'max_connections',
           c.total_connections || ' of ' || c.max_connections || ' connections in use (' || c.used_percent || ' %)',
           'put the applications behind PgBouncer (docs/operations.md "Pooling"), or raise max_connections'
    from perf.connections() c
    where c.level in ('warning', 'error')
    union all
    select 'notice', 'cache', h.scope, 'cache hit ratio ' || h.ratio || ' is below 0.99',
           'the working set does not fit in shared_buffers (' || current_setting('shared_buffers') || '): raise it, or find the statements that read most'
    from perf.cache_hit_ratio(0.99) h
    where h.status = 'low'
    union all
    select 'warning', 'tables', s.schema_name || '.' || s.table_name,
           s.index_share || ' % of its scans use an index; ' || s.seq_scans || ' sequential scans read ' || s.seq_rows_read || ' rows',
           'npm run analyze-indexes proposes and measures the missing index'
    from perf.seq_scan_tables(95, 10000) s
    union all
    select 'warning', 'tables', a.schema_name || '.' || a.table_name, a.reason,
           'analyze ' || quote_ident(a.schema_name) || '.' || quote_ident(a.table_name) || ';'
    from perf.tables_needing_analyze() a
    union all
    select j.level, 'jobs', j.name,
           case when j.level = 'error' then 'last run failed: ' else j.failures_7d || ' failed runs in 7 days, last: ' end || coalesce(j.last_failure_message, ''),
           'select * from perf.job_runs() where job_name = ' || quote_literal(j.name) || ';  -- then run its command by hand to see the error'
    from perf.job_health() j
    where j.level in ('error', 'warning')
    union all
    -- the safety checks (functions/perf/safety.sql), each with its own level and fix
    select w.level, 'safety', case when w.scope = 'database' then 'database ' || w.database else w.schema_name || '.' || w.table_name end,
           w.reason, w.fix
    from perf.wraparound_danger(0.5) w
    where w.level in ('error', 'warning')
    union all
    select o.level, 'safety', coalesce(o.schema_name || '.' || o.table_name || '.' || o.column_name, o.schema_name || '.' || o.sequence_name),
           o.sequence_name || ' used ' || round((100 * o.used_fraction)::numeric, 1) || ' % of its range (' || o.values_left || ' values left, limited by the ' || o.limited_by || ')',
           o.fix
    from perf.sequence_overflow(0.75) o
    union all
    select case v.level when 'info' then 'notice' else v.level end, 'tables', v.schema_name || '.' || v.table_name, v.reason, v.fix
    from perf.vacuum_health() v
    union all
    select 'warning', 'tables', b.schema_name || '.' || coalesce(b.index_name, b.table_name),
           b.kind || ' bloat estimated at ' || b.bloat || ' (' || round(100 * b.bloat_ratio, 0) || ' % of ' || pg_size_pretty(b.actual_bytes) || ')',
           b.fix
    from perf.bloat_estimates(10485760, 0.2) b
    union all
    select 'warning', 'safety', c.schema_name || '.' || c.constraint_name,
           c.constraint_type || ' constraint on ' || c.schema_name || '.' || c.table_name || ' is NOT VALID: the rows already there were never checked (' || c.definition || ')',
           c.fix
    from perf.not_valid_constraints() c
    union all
    select r.level, 'replication', r.kind || ' ' || coalesce(r.name, ''), r.reason, r.fix
    from perf.replication_health(1073741824) r
    where r.level in ('error', 'warning')
    union all
    -- a regression of the last day, dated by the history's snapshots
    select 'warning', 'queries', c.routine,
           'mean ' || c.mean_ms_before || ' → ' || c.mean_ms_after || ' ms, buffers per call ' || coalesce(c.blocks_per_call_before::text, '?') || ' → '
             || coalesce(c.blocks_per_call_after::text, '?') || ' since ' || coalesce(c.changed_at::text, 'the last day') || ' (' || c.source || ')',
           'compare its plan with the one before (auto_explain logs slow ones; test/plans holds the fingerprints): a new index, statistics or data shape'
    from perf.routine_changes_since(now() - interval '1 day', 0.5) c
    union all
    select 'warning', 'jobs', 'perf history', 'the latest snapshot of the statistics is ' || date_trunc('second', h.latest_age)::text || ' old (every 5 minutes expected)',
           'select * from perf.job_health() where name = ''querybudget_perf_snapshot'';  -- is the job active, does it fail?'
    from perf.history_status() h
    where h.latest_age > interval '15 minutes'
  )
  select f.severity, f.area, f.subject, f.problem, f.fix
  from findings f
  order by case f.severity when 'error' then 0 when 'warning' then 1 else 2 end, f.area, f.subject;
end
$$;
comment on function perf.attention() is
  'What needs attention in this database, one row per finding: severity (error: act now, warning: soon, notice: when convenient), area (indexes, queries, connections, cache, tables, jobs, safety, replication), '
  'subject, problem, fix (a statement to run, or what to do). From the other perf functions at their documented defaults: invalid, duplicate and redundant indexes, foreign keys without an index, '
  'unused indexes (once the statistics cover a day), slow top-level statements that call an api routine, blocked and long-running sessions, connection use, cache hit ratio, tables read by sequential scans or needing ANALYZE, '
  'failing pg_cron jobs; the safety checks (wraparound at 0.5, sequences at 0.75, vacuum health, bloat of 10 MB and 20 %, NOT VALID constraints, replication at 1 GB); '
  'api routines whose mean time or buffers per call grew by half in the last day (the history), and a history whose latest snapshot is over 15 minutes old. Errors first. Security definer (it bundles the definer functions). No arguments, no errors of its own.';
revoke all on function perf.attention() from public;

-- The api routines over a recent window of the history (functions/perf/history.sql): the
-- snapshot intervals that ended after p_since, summed per routine. What the routines page
-- sets against the budgets as "live": unlike perf.routine_statistics it forgets what ran
-- before the window, so a routine that got faster or slower shows it within the hour.
create or replace function perf.routine_window(p_since timestamptz)
returns table (
  routine text,
  intervals integer,
  calls bigint,
  mean_ms numeric,
  blocks_per_call numeric,
  rows_per_call numeric,
  first_at timestamptz,
  last_at timestamptz)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select h.routine, count(*)::integer, sum(h.calls)::bigint,
         round(sum(h.calls * h.mean_ms) / sum(h.calls), 3),
         round(sum(h.calls * h.blocks_per_call) / sum(h.calls), 1),
         round(sum(h.calls * h.rows_per_call) / sum(h.calls), 1),
         min(h.interval_start), max(h.taken_at)
  from perf.routine_history(perf.require_threshold(p_since, 'p_since', '-infinity'::timestamptz)) h
  where h.calls > 0
  group by h.routine
  order by sum(h.calls * h.mean_ms) desc, h.routine
$$;
comment on function perf.routine_window(timestamptz) is
  'The api routines over the history''s snapshot intervals that ended after p_since (perf.routine_history), one row each: intervals, calls, mean_ms, blocks_per_call (shared hit + read, '
  'the statements the routine runs included), rows_per_call (each weighted by the intervals'' calls), first_at (the earliest interval''s start), last_at (the latest snapshot). '
  'Top-level statements calling the routine only (applications'' calls). Most total time first. Errors: QB001 null p_since.';
revoke all on function perf.routine_window(timestamptz) from public;
