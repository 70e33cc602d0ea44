-- Health of the querybudget_ pg_cron jobs (docs/jobs.md): failures and durations over the last
-- 7 days, with a level for alerting (seed 003's alerts). Documentation: docs/monitoring.md.
--
-- pg_cron lives in one database (cron.database_name): elsewhere (test copies, a shadow
-- database) there is no cron schema, so the tables are read with dynamic SQL and the function
-- returns no rows there. Security definer: pg_cron's row level security shows a role its own
-- jobs only, and the jobs belong to the role that migrates.

create or replace function perf.job_health()
returns table (
  name text,
  schedule text,
  active boolean,
  last_status text,
  last_start timestamptz,
  last_duration interval,
  last_success timestamptz,
  runs_7d bigint,
  failures_7d bigint,
  avg_duration_7d interval,
  max_duration_7d interval,
  last_failure timestamptz,
  last_failure_message text,
  level text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
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
      select distinct on (r.jobid) r.jobid, r.status, r.start_time, r.end_time
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
    select j.jobname::text, j.schedule, j.active,
           l.status, l.start_time, l.end_time - l.start_time, s.at,
           coalesce(rc.runs, 0), coalesce(rc.failures, 0), rc.avg_duration, rc.max_duration,
           f.start_time, f.return_message,
           case when l.status = 'failed' then 'error'
                when coalesce(rc.failures, 0) > 0 then 'warning'
                when l.jobid is null then 'unknown'
                else 'ok' end
    from %1$I.%2$I j
    left join last_run l on l.jobid = j.jobid
    left join recent rc on rc.jobid = j.jobid
    left join last_success s on s.jobid = j.jobid
    left join last_failure f on f.jobid = j.jobid
    where j.jobname like 'querybudget\_%%'
    order by j.jobname
  $q$, 'cron', 'job', 'job_run_details');
end
$$;
comment on function perf.job_health() is
  'The querybudget_ pg_cron jobs, one row each: name, schedule, active, the last run (last_status, last_start, last_duration), last_success, runs_7d, failures_7d, '
  'avg_duration_7d and max_duration_7d (runs started in the last 7 days), last_failure and its message, '
  'level: error when the last run failed, warning when a run failed in the last 7 days, unknown when the job never ran, else ok. '
  'No rows in a database without pg_cron. Security definer (pg_cron shows a role its own jobs only). Job definitions and schedules: maint.jobs(), docs/jobs.md.';
revoke all on function perf.job_health() from public;
