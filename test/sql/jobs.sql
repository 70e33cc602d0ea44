-- The maint routines of the pg_cron jobs (docs/jobs.md), in a test copy: no pg_cron here.
begin;
select plan(16);

-- Procedures that COMMIT between batches must be procedures, and may carry neither a SET
-- clause nor SECURITY DEFINER (PostgreSQL refuses transaction control in either case).
select set_eq(
  $$ select p.proname::text, p.prokind::text, p.prosecdef, p.proconfig is null
     from pg_proc p where p.pronamespace = 'maint'::regnamespace
       and p.proname in ('purge_expired', 'run_partition_maintenance', 'analyze_partitioned_parents') $$,
  $$ values ('purge_expired', 'p', false, true),
            ('run_partition_maintenance', 'p', false, true),
            ('analyze_partitioned_parents', 'p', false, true) $$,
  'the TTL, partition maintenance and ANALYZE bodies are plain procedures (no SET clause, not security definer)');

select is((select prokind::text from pg_proc where oid = 'maint.prune_job_history(interval)'::regprocedure), 'f',
  'maint.prune_job_history(interval) is a function');
select is((select prokind::text from pg_proc where oid = 'maint.jobs()'::regprocedure), 'f', 'maint.jobs() is a function');
select is((select prokind::text from pg_proc where oid = 'maint.job_definitions()'::regprocedure), 'f',
  'maint.job_definitions() is a function');
select ok((select prosecdef and proconfig @> array['search_path=pg_catalog, pg_temp'] from pg_proc where oid = 'maint.jobs()'::regprocedure),
  'maint.jobs() is security definer with a pinned search_path');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'maint'::regnamespace and coalesce(obj_description(p.oid, 'pg_proc'), '') = '' $$,
  'every maint routine has a comment (its contract)');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'maint'::regnamespace
       and p.proname in ('purge_expired', 'run_partition_maintenance', 'analyze_partitioned_parents', 'prune_job_history', 'jobs', 'job_definitions')
       and has_function_privilege('public', p.oid, 'execute') $$,
  'PUBLIC cannot execute the job routines');

-- without pg_cron
select ok(to_regclass('cron.job') is null, 'this copy has no pg_cron');
select is_empty($$ select * from maint.jobs() $$, 'maint.jobs() returns no rows without pg_cron');
select is(maint.prune_job_history(), 0::bigint, 'maint.prune_job_history() deletes nothing without pg_cron');
select throws_ok($$ select maint.prune_job_history(null) $$, 'QB001', null, 'prune_job_history(null) raises QB001');

-- the job list
select set_eq(
  $$ select name from maint.job_definitions() $$,
  array['querybudget_ttl', 'querybudget_partition_maintenance', 'querybudget_analyze',
        'querybudget_refresh_stats', 'querybudget_prune_job_history', 'querybudget_fold_stats', 'querybudget_perf_snapshot'],
  'maint.job_definitions() lists the seven querybudget_ jobs');

-- each command names one maint routine of the right kind: CALL a procedure, SELECT a function
select is_empty(
  $$ select d.name from maint.job_definitions() d
     left join pg_proc p on p.oid = to_regproc(substring(d.command from '(?:maint|perf)\.\w+'))
     where p.oid is null
        or (d.command ~* '^call ' and p.prokind <> 'p')
        or (d.command ~* '^select ' and p.prokind <> 'f')
        or d.command !~ '^(CALL|SELECT) (maint\.\w+|perf\.take_snapshot)\(\)$' $$,
  'every job command is one call of an existing maint routine (or perf.take_snapshot, the history job) of the right kind, and nothing else');

select is(
  (select schedule from maint.job_definitions() where name = 'querybudget_refresh_stats'), '* * * * *',
  'the refresh runs every minute by default');
set local querybudget.refresh_stats_schedule = '*/5 * * * *';
set local querybudget.ttl_active = off;
select results_eq(
  $$ select schedule, active from maint.job_definitions() where name in ('querybudget_refresh_stats', 'querybudget_ttl') order by name $$,
  $$ values ('*/5 * * * *', true), ('*/5 * * * *', false) $$,
  'querybudget.<job>_schedule and querybudget.<job>_active override the defaults');

select set_eq(
  $$ select parent_table, retention, retention_keep_table, retention_keep_index, infinite_time_partitions
     from partman.part_config $$,
  $$ values ('app.operations', '12 months', false, false, true), ('app.messages', '6 months', false, false, true) $$,
  'retention: operations 12 months, messages 6 months, partitions dropped (not detached), made ahead even without rows');

select * from finish();
rollback;
