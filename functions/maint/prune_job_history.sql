-- pg_cron writes one row per run into cron.job_run_details and never deletes any: with a job
-- every minute that is 1,440 rows a day. The daily querybudget_prune_job_history job keeps
-- p_keep of history (7 days; maint.jobs() reports on the last 7 days). cron exists only in
-- the database named by cron.database_name: elsewhere this deletes nothing and returns 0.
create or replace function maint.prune_job_history(p_keep interval default interval '7 days')
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  deleted bigint;
begin
  perform app.require_not_null(p_keep, 'p_keep');
  if p_keep < interval '0' then
    raise exception 'p_keep is %; it must not be negative', p_keep using errcode = 'QB008';
  end if;
  if to_regclass('cron.job_run_details') is null then
    return 0;
  end if;
  -- runs still starting or running keep their row, whatever their age
  execute format(
    'delete from %I.%I r where coalesce(r.end_time, r.start_time) < now() - $1 and r.status not in (%L, %L)',
    'cron', 'job_run_details', 'starting', 'running')
  using p_keep;
  get diagnostics deleted = row_count;
  return deleted;
end
$$;
comment on function maint.prune_job_history(interval) is
  'Job body of querybudget_prune_job_history: deletes the cron.job_run_details rows of runs that ended (or, without an end, started) more than p_keep ago (default 7 days; QB001 if null, QB008 if negative), except runs still starting or running; returns how many rows it deleted. Returns 0 in a database without pg_cron. Call: select maint.prune_job_history();';
revoke all on function maint.prune_job_history(interval) from public;
