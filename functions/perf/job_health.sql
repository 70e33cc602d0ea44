-- Health of the querybudget_ pg_cron jobs (docs/jobs.md): failures and durations over the last
-- 7 days, with a level for alerting (seed 003's alerts). Documentation: docs/monitoring.md.
--
-- The runs come from maint.jobs(), which reads pg_cron's tables where pg_cron lives and returns
-- no rows elsewhere. Security definer: the monitoring role gets nothing of maint itself.

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
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  -- maint.jobs() reads pg_cron's tables (and returns nothing where pg_cron is not); this adds
  -- the alert level of seed 003
  select j.name, j.schedule, j.active, j.last_status, j.last_start, j.last_duration, j.last_success,
         j.runs_7d, j.failures_7d, j.avg_duration_7d, j.max_duration_7d, j.last_failure, j.last_failure_message,
         case when j.last_status = 'failed' then 'error'
              when j.failures_7d > 0 then 'warning'
              when j.last_status is null then 'unknown'
              else 'ok' end
  from maint.jobs() j
$$;
comment on function perf.job_health() is
  'The querybudget_ pg_cron jobs, one row each: name, schedule, active, the last run (last_status, last_start, last_duration), last_success, runs_7d, failures_7d, '
  'avg_duration_7d and max_duration_7d (runs started in the last 7 days), last_failure and its message, '
  'level: error when the last run failed, warning when a run failed in the last 7 days, unknown when the job never ran, else ok. '
  'No rows in a database without pg_cron. Security definer (pg_cron shows a role its own jobs only). Job definitions and schedules: maint.jobs(), docs/jobs.md.';
revoke all on function perf.job_health() from public;
