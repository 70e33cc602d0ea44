-- The pg_cron jobs of querybudget: what they are (maint.job_definitions, the one list that
-- sql/30_jobs.sql registers) and how they are doing (maint.jobs). `comment on` cannot name a
-- cron job, so each job's description lives here and in docs/jobs.md.
--
-- Every schedule can be changed per database without editing this file: the setting
-- querybudget.<job>_schedule (e.g. querybudget.refresh_stats_schedule) replaces the default,
-- and querybudget.<job>_active = off pauses a job; `alter database querybudget set ...`, then
-- migrate again (docs/jobs.md). pg_cron reads schedules in GMT, with minute granularity.
create or replace function maint.job_definitions()
returns table (name text, schedule text, command text, active boolean, description text)
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  select 'querybudget_' || d.job,
         coalesce(nullif(btrim(current_setting('querybudget.' || d.job || '_schedule', true)), ''), d.default_schedule),
         d.command,
         coalesce(nullif(btrim(current_setting('querybudget.' || d.job || '_active', true)), '')::boolean, true),
         d.description
  from (values
    (1, 'ttl', '*/5 * * * *', 'CALL maint.purge_expired()',
     'Every 5 minutes: deletes expired app.messages, app.conversations (with their messages) and app.user_sessions (expires_at < now()), 5,000 rows a batch, at most 100 batches per table per run.'),
    (2, 'partition_maintenance', '7 * * * *', 'CALL maint.run_partition_maintenance()',
     'Hourly: pg_partman maintenance of app.operations and app.messages: makes monthly partitions ahead and drops those past their retention (operations 12 months, messages 6 months).'),
    (3, 'analyze', '30 3 * * *', 'CALL maint.analyze_partitioned_parents()',
     'Nightly 03:30 GMT: extended statistics for new partitions, then ANALYZE of the partitioned tables of app (autovacuum never analyzes them).'),
    (4, 'refresh_stats', '* * * * *', 'SELECT maint.refresh_collection_stats()',
     'Every minute by default (querybudget.refresh_stats_schedule): refresh materialized view concurrently app.collection_stats (the per-collection view of earlier versions; api.collection_statistics now reads the totals the writers keep, folded by querybudget_fold_stats).'),
    (5, 'prune_job_history', '15 4 * * *', 'SELECT maint.prune_job_history()',
     'Daily 04:15 GMT: deletes cron.job_run_details rows older than 7 days (pg_cron never does).'),
    (6, 'fold_stats', '* * * * *', 'SELECT maint.fold_collection_stat_deltas()',
     'Every minute by default (querybudget.fold_stats_schedule): folds the statistics deltas the writers appended into app.collection_stat_totals, so api.collection_statistics reads a short tail of deltas.'),
    (7, 'perf_snapshot', '*/5 * * * *', 'SELECT perf.take_snapshot()',
     'Every 5 minutes: perf.take_snapshot() records what each statement and api routine did since the previous snapshot and the size of every table and index, and deletes snapshots older than querybudget.perf_history_retention (default 14 days).')
  ) as d (ord, job, default_schedule, command, description)
  order by d.ord
$$;
comment on function maint.job_definitions() is
  'The pg_cron jobs of querybudget, one row each: name (querybudget_<job>), schedule (the setting querybudget.<job>_schedule if set, else the default), command, active (the setting querybudget.<job>_active, default true), description. sql/30_jobs.sql registers exactly these; docs/jobs.md explains them.';
revoke all on function maint.job_definitions() from public;

-- Job health. Reads cron.job and cron.job_run_details with dynamic SQL, so it compiles and
-- runs in a database without pg_cron (test copies, a shadow database): there it returns no
-- rows. security definer: pg_cron's row level security shows a role only its own jobs, and
-- the jobs belong to the role that migrates.
create or replace function maint.jobs()
returns table (
  name text,
  schedule text,
  command text,
  database text,
  active boolean,
  last_status text,
  last_start timestamptz,
  last_duration interval,
  last_message text,
  last_success timestamptz,
  last_failure timestamptz,
  last_failure_message text,
  runs_7d bigint,
  failures_7d bigint,
  avg_duration_7d interval,
  max_duration_7d interval,
  description text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as $$
begin
  if to_regclass('cron.job') is null or to_regclass('cron.job_run_details') is null then
    return;
  end if;
  return query execute format($q$
    with runs as (
      select r.jobid, r.runid, r.status, r.start_time, r.end_time, r.return_message
      from %1$I.%3$I r
      join %1$I.%2$I j on j.jobid = r.jobid
      where j.jobname like 'querybudget\_%%'
    ), recent as (
      select r.jobid,
             count(*) as runs,
             count(*) filter (where r.status = 'failed') as failures,
             avg(r.end_time - r.start_time) filter (where r.end_time is not null) as avg_duration,
             max(r.end_time - r.start_time) filter (where r.end_time is not null) as max_duration
      from runs r
      where r.start_time > now() - interval '7 days'
      group by r.jobid
    ), last_run as (
      select distinct on (r.jobid) r.jobid, r.status, r.start_time, r.end_time, r.return_message
      from runs r
      order by r.jobid, r.runid desc
    ), last_success as (
      select r.jobid, max(r.start_time) as at from runs r where r.status = 'succeeded' group by r.jobid
    ), last_failure as (
      select distinct on (r.jobid) r.jobid, r.start_time, r.return_message
      from runs r
      where r.status = 'failed'
      order by r.jobid, r.runid desc
    )
    select j.jobname::text, j.schedule, j.command, j.database, j.active,
           l.status, l.start_time, l.end_time - l.start_time, l.return_message,
           s.at, f.start_time, f.return_message,
           coalesce(rc.runs, 0), coalesce(rc.failures, 0), rc.avg_duration, rc.max_duration,
           d.description
    from %1$I.%2$I j
    left join last_run l on l.jobid = j.jobid
    left join recent rc on rc.jobid = j.jobid
    left join last_success s on s.jobid = j.jobid
    left join last_failure f on f.jobid = j.jobid
    left join maint.job_definitions() d on d.name = j.jobname
    where j.jobname like 'querybudget\_%%'
    order by j.jobname
  $q$, 'cron', 'job', 'job_run_details');
end
$$;
comment on function maint.jobs() is
  'Health of the querybudget_ pg_cron jobs, one row per job in cron.job: name, schedule, command, database, active, the last run (status, start, duration, return message), '
  'last_success, last_failure and its message, runs_7d, failures_7d, avg_duration_7d and max_duration_7d (runs started in the last 7 days), '
  'description (from maint.job_definitions; null for a querybudget_ job no longer defined). No rows in a database without pg_cron. '
  'The one reader of pg_cron''s tables: perf.job_health() reports from it. Call: select * from maint.jobs();';
revoke all on function maint.jobs() from public;
