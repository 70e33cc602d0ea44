-- Partition maintenance for the pg_partman sets of app (operations and messages, monthly):
-- pg_partman's run_maintenance makes the partitions ahead (premake) and drops the partitions
-- older than part_config.retention (set by sql/30_jobs.sql; docs/jobs.md). Run by the hourly
-- querybudget_partition_maintenance job.
--
-- One partition set per transaction (COMMIT after each, as partman.run_maintenance_proc does),
-- with lock_timeout 5s: making or dropping a partition locks the parent, and a maintenance
-- that waits behind a long query must not queue every other query behind itself. A set that
-- times out is left for the next run (a notice says so). Then the new partitions get their
-- parent's extended statistics (maint.ensure_partition_statistics).
--
-- partman.run_maintenance sets the session's search_path (set_config(.., false)) to one that
-- starts with partman: the caller's is put back at the end.
create or replace procedure maint.run_partition_maintenance(
  inout partitions_created integer default null,
  inout partitions_dropped integer default null)
language plpgsql
as $$
declare
  v_search_path constant text := pg_catalog.current_setting('search_path');
  v_lock_timeout constant text := '5s';
  v_parent text;
  v_before text[];
  v_after text[];
  v_dropped integer;
begin
  partitions_created := 0;
  partitions_dropped := 0;
  for v_parent in
    select pc.parent_table
    from partman.part_config pc
    where pc.parent_table like 'app.%' and not pc.undo_in_progress
    order by pc.parent_table
  loop
    begin
      perform pg_catalog.set_config('lock_timeout', v_lock_timeout, true);
      v_before := array(select s.partition_schemaname || '.' || s.partition_tablename
                        from partman.show_partitions(v_parent) s);
      perform partman.run_maintenance(p_parent_table => v_parent, p_analyze => false, p_jobmon => false);
      v_after := array(select s.partition_schemaname || '.' || s.partition_tablename
                       from partman.show_partitions(v_parent) s);
      partitions_created := partitions_created
        + (select count(*)::integer from unnest(v_after) a where a <> all (v_before));
      v_dropped := (select count(*)::integer from unnest(v_before) b where b <> all (v_after));
      partitions_dropped := partitions_dropped + v_dropped;
      -- A dropped month of operations takes its rows out of the collection statistics, which
      -- the writers keep by deltas (functions/maint/collection_stat_deltas.sql); no writer
      -- wrote one for this, so the totals are rebuilt in the same transaction as the drop.
      -- Retention drops a month at a time, monthly: a rebuild then is the simple exact way.
      if v_parent = 'app.operations' and v_dropped > 0 then
        perform maint.rebuild_collection_stats();
      end if;
    exception when lock_not_available then
      raise notice 'maint.run_partition_maintenance: %: lock_timeout (%) reached; left for the next run', v_parent, v_lock_timeout;
    end;
    perform pg_catalog.set_config('search_path', v_search_path, false);
    commit;
  end loop;

  -- partitions made just now lack the extended statistics of their parent, and its row level
  -- security (a partition named directly applies its own policies: docs/security.md)
  perform maint.ensure_partition_statistics();
  perform maint.ensure_row_level_security();
  perform pg_catalog.set_config('search_path', v_search_path, false);
  commit;
  raise notice 'maint.run_partition_maintenance: % partitions created, % dropped', partitions_created, partitions_dropped;
end
$$;
comment on procedure maint.run_partition_maintenance(integer, integer) is
  'Job body of querybudget_partition_maintenance: runs partman.run_maintenance for every pg_partman set of app (app.operations, app.messages), one set per transaction with lock_timeout 5s (a timeout leaves that set for the next run): makes partitions ahead (premake) and drops those older than part_config.retention (docs/jobs.md), then maint.ensure_partition_statistics() for the new partitions. INOUT partitions_created, partitions_dropped: counts (also raised as a notice). Restores the caller''s search_path, which pg_partman changes. Call alone, outside a transaction block: CALL maint.run_partition_maintenance();';
revoke all on procedure maint.run_partition_maintenance(integer, integer) from public;
