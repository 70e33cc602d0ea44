-- Autovacuum analyzes partitions but never a partitioned parent, so the statistics of the
-- whole set (pg_stats rows with inherited = true, used when a query is planned against the
-- parent without pruning to one partition) would stay empty or stale. The nightly
-- querybudget_analyze job runs this: first the extended statistics of new partitions
-- (maint.ensure_partition_statistics), then ANALYZE of every partitioned table in app, one per
-- transaction. (PostgreSQL 15 has no ANALYZE ONLY: analyzing a parent also analyzes its
-- partitions, hence nightly.) lock_timeout 10s per table: ANALYZE takes SHARE UPDATE
-- EXCLUSIVE, which waits for DDL (pg_partman making a partition); a table that times out is
-- left for the next night (a notice says so).
create or replace procedure maint.analyze_partitioned_parents(
  inout parents_analyzed integer default null,
  inout statistics_created integer default null)
language plpgsql
as $$
declare
  v_lock_timeout constant text := '10s';
  v_parent record;
begin
  parents_analyzed := 0;
  statistics_created := maint.ensure_partition_statistics();
  commit;
  for v_parent in
    select n.nspname, c.relname
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'app' and c.relkind = 'p'
    order by c.relname
  loop
    begin
      perform pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
      execute format('analyze %I.%I', v_parent.nspname, v_parent.relname);
      parents_analyzed := parents_analyzed + 1;
    exception when lock_not_available then
      raise notice 'maint.analyze_partitioned_parents: %.%: lock_timeout (%) reached; left for the next run',
        v_parent.nspname, v_parent.relname, v_lock_timeout;
    end;
    commit;
  end loop;
  raise notice 'maint.analyze_partitioned_parents: % partitioned tables analyzed, % extended statistics created',
    parents_analyzed, statistics_created;
end
$$;
comment on procedure maint.analyze_partitioned_parents(integer, integer) is
  'Job body of querybudget_analyze: maint.ensure_partition_statistics(), then ANALYZE of every partitioned table in schema app (app.chunks, app.messages, app.operations; autovacuum never analyzes a partitioned parent, so its inherited statistics come only from here), one per transaction, lock_timeout 10s each (a timeout leaves that table for the next run). INOUT parents_analyzed, statistics_created: counts (also raised as a notice). Call alone, outside a transaction block: CALL maint.analyze_partitioned_parents();';
revoke all on procedure maint.analyze_partitioned_parents(integer, integer) from public;
