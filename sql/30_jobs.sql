-- The scheduled maintenance of querybudget (docs/jobs.md). Applied on every migrate; running
-- it again changes nothing.

-- 1. Retention of the pg_partman sets, in every database (the maintenance procedure can be run
--    by hand anywhere): partitions whose whole range is older than the retention are dropped
--    (not detached: retention_keep_table = false), and partitions keep being made ahead even
--    when no rows arrive (infinite_time_partitions). Defaults: operations 12 months, messages
--    6 months; per database: alter database ... set querybudget.operations_retention = '...'
--    (or querybudget.messages_retention), then migrate again.
do $$
declare
  r record;
begin
  for r in
    select v.parent_table,
           coalesce(nullif(btrim(current_setting(v.setting, true)), ''), v.default_retention) as retention,
           v.setting
    from (values ('app.operations', 'querybudget.operations_retention', '12 months'),
                 ('app.messages', 'querybudget.messages_retention', '6 months')) as v (parent_table, setting, default_retention)
  loop
    if r.retention::interval < interval '1 month' then
      raise exception '%: retention % is shorter than one partition (1 month)', r.setting, r.retention
        using errcode = 'QB008';
    end if;
    update partman.part_config pc
    set retention = r.retention,
        retention_keep_table = false,
        retention_keep_index = false,
        infinite_time_partitions = true
    where pc.parent_table = r.parent_table
      and (pc.retention, pc.retention_keep_table, pc.retention_keep_index, pc.infinite_time_partitions)
          is distinct from (r.retention, false, false, true);
  end loop;
end
$$;

-- 2. The jobs, in the database where pg_cron lives only (cron.database_name; test copies and
--    a shadow database have no pg_cron). maint.job_definitions() is the list. Scheduling by
--    name (pg_cron 1.4) updates schedule and command but not database nor active, so those are
--    put right with cron.alter_job (the job keeps its id and its run history); querybudget_
--    jobs that are no longer defined are unscheduled. Nothing is written when nothing differs.
do $$
begin
  if current_database() is distinct from current_setting('cron.database_name', true) then
    raise notice 'sql/30_jobs.sql: pg_cron lives in database %, not in %: no jobs registered here',
      coalesce(current_setting('cron.database_name', true), '(cron.database_name is not set)'), current_database();
    return;
  end if;
  if to_regclass('cron.job') is null then
    raise notice 'sql/30_jobs.sql: the pg_cron extension is not installed in %: no jobs registered', current_database();
    return;
  end if;

  perform cron.unschedule(j.jobid)
  from cron.job j
  where j.jobname like 'querybudget\_%'
    and j.username = current_user
    and j.jobname not in (select d.name from maint.job_definitions() d);

  perform cron.alter_job(j.jobid, database => current_database(), active => d.active)
  from cron.job j
  join maint.job_definitions() d on d.name = j.jobname
  where j.username = current_user
    and (j.database is distinct from current_database() or j.active is distinct from d.active);

  perform cron.schedule_in_database(d.name, d.schedule, d.command, current_database(), null, d.active)
  from maint.job_definitions() d
  left join cron.job j on j.jobname = d.name and j.username = current_user
  where j.jobid is null
     or j.schedule is distinct from d.schedule
     or j.command is distinct from d.command;
end
$$;
