-- seed 002's GET /api/performance/database, from SQL: every perf section in one jsonb, with
-- the thresholds used. Documentation: docs/monitoring.md.
--
-- Security definer, so the sections that need it (activity, statements, jobs) see everything,
-- and the monitoring role needs EXECUTE on this one function for the whole picture.

create or replace function perf.database_report()
returns jsonb
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  -- the thresholds of the sections, reported with them (docs/monitoring.md explains each)
  c_warn_ms constant numeric := 100;
  c_error_ms constant numeric := 500;
  c_long_running constant interval := interval '1 minute';
  c_min_cache_ratio constant numeric := 0.99;
  c_min_index_share constant numeric := 95;
  c_min_rows constant bigint := 10000;
  c_max_unused_scans constant bigint := 0;
  c_slow_limit constant integer := 50;
  c_wraparound_fraction constant real := 0.5;
  c_sequence_fraction constant real := 0.75;
  c_bloat_min_bytes constant bigint := 10485760;
  c_bloat_min_ratio constant real := 0.2;
  c_replication_max_lag constant bigint := 1073741824;
  c_history_window constant interval := interval '24 hours';
  c_routine_min_growth constant real := 0.5;
  c_growth_listed constant integer := 20;
  v_report jsonb;
begin
  select jsonb_build_object(
    'generated_at', now(),
    'database', current_database(),
    'server_version', current_setting('server_version'),
    'database_size', jsonb_build_object('bytes', pg_database_size(current_database()),
                                        'size', pg_size_pretty(pg_database_size(current_database()))),
    'statistics', (select to_jsonb(s) from perf.statistics_age() s),
    'thresholds', jsonb_build_object(
      'slow_query_warning_ms', c_warn_ms, 'slow_query_error_ms', c_error_ms,
      'long_running', c_long_running, 'min_cache_hit_ratio', c_min_cache_ratio,
      'seq_scan_min_index_share_percent', c_min_index_share, 'seq_scan_min_rows', c_min_rows,
      'unused_index_max_scans', c_max_unused_scans, 'slow_queries_listed', c_slow_limit,
      'nfr_target', '< 100 ms per query (95th percentile)',
      'wraparound_warn_fraction', c_wraparound_fraction, 'sequence_warn_fraction', c_sequence_fraction,
      'bloat_min_bytes', c_bloat_min_bytes, 'bloat_min_ratio', c_bloat_min_ratio,
      'replication_max_lag_bytes', c_replication_max_lag, 'history_window', c_history_window,
      'routine_min_growth', c_routine_min_growth, 'table_growth_listed', c_growth_listed),
    'connections', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.connections() x),
    'long_running_queries', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.long_running_queries(c_long_running) x),
    'blocked_queries', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.blocked_queries() x),
    'cache_hit_ratio', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.cache_hit_ratio(c_min_cache_ratio) x),
    'slow_queries', (select coalesce(jsonb_agg(to_jsonb(x)), '[]')
                     from (select * from perf.slow_queries(c_warn_ms, c_error_ms) limit c_slow_limit) x),
    'index_usage', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.index_usage() x),
    'unused_indexes', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.unused_indexes(c_max_unused_scans) x),
    'duplicate_indexes', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.duplicate_indexes() x),
    'missing_fk_indexes', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.missing_fk_indexes() x),
    'invalid_indexes', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.invalid_indexes() x),
    'seq_scan_tables', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.seq_scan_tables(c_min_index_share, c_min_rows) x),
    'table_sizes', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.table_sizes() x),
    'tables_needing_analyze', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.tables_needing_analyze() x),
    'job_health', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.job_health() x),
    'auto_explain', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.auto_explain_settings() x)
  ) || jsonb_build_object(
    -- the safety checks (functions/perf/safety.sql)
    'wraparound', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.wraparound_danger(c_wraparound_fraction) x),
    'sequences', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.sequence_overflow(c_sequence_fraction) x),
    'vacuum', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.vacuum_health() x),
    'bloat', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.bloat_estimates(c_bloat_min_bytes, c_bloat_min_ratio) x),
    'not_valid_constraints', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.not_valid_constraints() x),
    'replication', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.replication_health(c_replication_max_lag) x),
    -- the history (functions/perf/history.sql): its state, and what changed in the last 24 hours
    'history', (select to_jsonb(h) from perf.history_status() h),
    'routine_changes', (select coalesce(jsonb_agg(to_jsonb(x)), '[]') from perf.routine_changes_since(now() - c_history_window, c_routine_min_growth) x),
    'table_growth', (select coalesce(jsonb_agg(to_jsonb(x)), '[]')
                     from (select * from perf.table_growth_since(now() - c_history_window) limit c_growth_listed) x)
  ) into v_report;

  -- what needs attention, counted per section: the first thing a dashboard shows
  return v_report || jsonb_build_object('summary', jsonb_build_object(
    'slow_query_errors', (select count(*) from jsonb_array_elements(v_report -> 'slow_queries') e where e ->> 'level' = 'error'),
    'slow_query_warnings', (select count(*) from jsonb_array_elements(v_report -> 'slow_queries') e where e ->> 'level' = 'warning'),
    'connections_level', coalesce((select e ->> 'level' from jsonb_array_elements(v_report -> 'connections') e limit 1), 'ok'),
    'long_running_queries', jsonb_array_length(v_report -> 'long_running_queries'),
    'blocked_queries', jsonb_array_length(v_report -> 'blocked_queries'),
    'low_cache_hit_ratios', (select count(*) from jsonb_array_elements(v_report -> 'cache_hit_ratio') e where e ->> 'status' = 'low'),
    'unused_indexes', jsonb_array_length(v_report -> 'unused_indexes'),
    'duplicate_indexes', jsonb_array_length(v_report -> 'duplicate_indexes'),
    'missing_fk_indexes', jsonb_array_length(v_report -> 'missing_fk_indexes'),
    'invalid_indexes', jsonb_array_length(v_report -> 'invalid_indexes'),
    'seq_scan_tables', jsonb_array_length(v_report -> 'seq_scan_tables'),
    'tables_needing_analyze', jsonb_array_length(v_report -> 'tables_needing_analyze'),
    'failing_jobs', (select count(*) from jsonb_array_elements(v_report -> 'job_health') e where e ->> 'level' in ('error', 'warning')),
    'wraparound_errors', (select count(*) from jsonb_array_elements(v_report -> 'wraparound') e where e ->> 'level' = 'error'),
    'wraparound_warnings', (select count(*) from jsonb_array_elements(v_report -> 'wraparound') e where e ->> 'level' = 'warning'),
    'sequences_near_limit', jsonb_array_length(v_report -> 'sequences'),
    'vacuum_behind', (select count(*) from jsonb_array_elements(v_report -> 'vacuum') e where e ->> 'level' in ('error', 'warning')),
    'bloated_relations', jsonb_array_length(v_report -> 'bloat'),
    'not_valid_constraints', jsonb_array_length(v_report -> 'not_valid_constraints'),
    'replication_problems', (select count(*) from jsonb_array_elements(v_report -> 'replication') e where e ->> 'level' <> 'ok'),
    'routine_regressions', jsonb_array_length(v_report -> 'routine_changes')));
end
$$;
comment on function perf.database_report() is
  'Everything perf knows about this database as one jsonb (seed 002''s /api/performance/database): generated_at, database, server_version, database_size, statistics (perf.statistics_age), '
  'thresholds, and the sections connections, long_running_queries (1 minute), blocked_queries, cache_hit_ratio (0.99), slow_queries (100 / 500 ms, the 50 with the most total time), '
  'index_usage, unused_indexes (0 scans), duplicate_indexes, missing_fk_indexes, invalid_indexes, seq_scan_tables (95 %, 10,000 rows), table_sizes, tables_needing_analyze, job_health, '
  'auto_explain (perf.auto_explain_settings), wraparound (perf.wraparound_danger 0.5), sequences (perf.sequence_overflow 0.75), vacuum (perf.vacuum_health), bloat (perf.bloat_estimates 10 MB, 0.2), '
  'not_valid_constraints, replication (perf.replication_health 1 GB), history (perf.history_status, an object), routine_changes (perf.routine_changes_since the last 24 hours, +50 %), table_growth (perf.table_growth_since the last 24 hours, the 20 that grew most), '
  'each an array (empty when there is nothing), and summary: counts of what needs attention per section. Security definer.';
revoke all on function perf.database_report() from public;
