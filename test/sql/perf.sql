-- The monitoring functions of schema perf (functions/perf/*.sql): they exist with their
-- signatures; the ones that read other sessions, other roles' statements, pg_cron or pg_statistic are
-- security definer, the catalog-only ones security invoker (docs/monitoring.md
-- "Privileges"); every one pins search_path and turns JIT off, carries a comment, and is not
-- executable by public; the report bundles every section.
begin;
select plan(26);

create temp table expected (signature text, definer boolean, returns text) on commit drop;
insert into expected values
  ('perf.index_usage()', false, 'setof record'),
  ('perf.statistics_age()', false, 'setof record'),
  ('perf.unused_indexes(bigint)', false, 'setof record'),
  ('perf.duplicate_indexes()', false, 'setof record'),
  ('perf.missing_fk_indexes()', false, 'setof record'),
  ('perf.invalid_indexes()', false, 'setof record'),
  ('perf.table_sizes()', false, 'setof record'),
  ('perf.seq_scan_tables(numeric,bigint)', false, 'setof record'),
  ('perf.tables_needing_analyze()', true, 'setof record'),
  ('perf.cache_hit_ratio(numeric)', false, 'setof record'),
  ('perf.connections()', true, 'setof record'),
  ('perf.long_running_queries(interval)', true, 'setof record'),
  ('perf.blocked_queries()', true, 'setof record'),
  ('perf.slow_queries(numeric,numeric)', true, 'setof record'),
  ('perf.job_health()', true, 'setof record'),
  ('perf.collection_stats_drift()', true, 'setof record'),
  ('perf.collection_stats_serving()', true, 'setof record'),
  ('perf.tenant_overview(bigint)', true, 'setof record'),
  ('perf.auto_explain_settings()', false, 'setof record'),
  ('perf.database_report()', true, 'jsonb'),
  ('perf.require_threshold(anycompatible,text,anycompatible,anycompatible)', false, 'anycompatible'),
  ('perf.leaf_relations(oid)', false, 'setof oid'),
  ('perf.in_scope(oid)', false, 'boolean'),
  ('perf.generic_plan(text,text[])', false, 'jsonb'),
  ('perf.reloption(text[],text)', false, 'text'),
  ('perf.wraparound_danger(real)', false, 'setof record'),
  ('perf.sequence_position(regclass)', false, 'setof record'),
  ('perf.sequence_overflow(real)', true, 'setof record'),
  ('perf.vacuum_health()', false, 'setof record'),
  ('perf.bloat_estimates(bigint,real)', true, 'setof record'),
  ('perf.not_valid_constraints()', false, 'setof record'),
  ('perf.replication_health(bigint)', true, 'setof record'),
  ('perf.take_snapshot(timestamp with time zone,interval)', true, 'setof record'),
  ('perf.routine_history(timestamp with time zone)', true, 'setof record'),
  ('perf.routine_changes_since(timestamp with time zone,real)', true, 'setof record'),
  ('perf.table_size_history(timestamp with time zone)', true, 'setof record'),
  ('perf.table_growth_since(timestamp with time zone)', true, 'setof record'),
  ('perf.history_status()', true, 'setof record'),
  ('perf.statement_history(bigint,timestamp with time zone)', true, 'setof record'),
  ('perf.statement_changes_since(timestamp with time zone,real)', true, 'setof record'),
  ('perf.routine_statistics()', true, 'setof record'),
  ('perf.table_maintenance()', false, 'setof record'),
  ('perf.job_runs(integer)', true, 'setof record'),
  ('perf.routine_window(timestamp with time zone)', false, 'setof record'),
  ('perf.attention()', true, 'setof record');

select is_empty(
  $$ select e.signature from expected e where to_regprocedure(e.signature) is null $$,
  'every perf function exists with its signature');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'perf'::regnamespace
       and p.oid::regprocedure::text not in (select e.signature from expected e) $$,
  'perf has no function this file does not know about (add it to the list and to docs/monitoring.md)');

select results_eq(
  $$ select e.signature, e.definer from expected e order by 1 $$,
  $$ select p.oid::regprocedure::text, p.prosecdef from pg_proc p join expected e on p.oid = to_regprocedure(e.signature) order by 1 $$,
  'security definer exactly where the function reads other sessions, other roles'' statements, pg_cron, pg_statistic, sequences or the replication views');

select results_eq(
  $$ select e.signature, e.returns from expected e order by 1 $$,
  $$ select p.oid::regprocedure::text, case when p.proretset then 'setof ' else '' end || format_type(p.prorettype, null)
     from pg_proc p join expected e on p.oid = to_regprocedure(e.signature) order by 1 $$,
  'return types: a set of rows, the report jsonb');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'perf'::regnamespace
       and not (coalesce(p.proconfig, '{}') @> array['search_path=pg_catalog, pg_temp', 'jit=off']) $$,
  'every perf function pins search_path = pg_catalog, pg_temp and jit = off');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'perf'::regnamespace
       and coalesce(length(obj_description(p.oid, 'pg_proc')), 0) < 80 $$,
  'every perf function has a comment stating its contract');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'perf'::regnamespace
       and has_function_privilege('public', p.oid, 'execute') $$,
  'no perf function is executable by public (the monitoring role is granted EXECUTE)');

select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p
     where p.pronamespace = 'perf'::regnamespace and p.provolatile = 'v'
       and p.oid not in ('perf.generic_plan(text,text[])'::regprocedure, 'perf.take_snapshot(timestamptz,interval)'::regprocedure) $$,
  'every perf function is stable: it only reads (perf.generic_plan prepares and deallocates a statement of its session, perf.take_snapshot writes the history: volatile)');

-- the report: every section, arrays where there may be several rows
select is(
  (select array_agg(k order by k) from jsonb_object_keys(perf.database_report()) k),
  array['auto_explain', 'bloat', 'blocked_queries', 'cache_hit_ratio', 'collection_statistics', 'connections', 'database', 'database_size', 'duplicate_indexes',
        'generated_at', 'history', 'index_usage', 'invalid_indexes', 'job_health', 'long_running_queries', 'missing_fk_indexes', 'not_valid_constraints',
        'replication', 'routine_changes', 'seq_scan_tables', 'sequences', 'server_version', 'slow_queries', 'statistics', 'summary', 'table_growth',
        'table_sizes', 'tables_needing_analyze', 'tenant_overview', 'thresholds', 'unused_indexes', 'vacuum', 'wraparound'],
  'database_report has every section');

select is_empty(
  $$ select k from jsonb_each(perf.database_report()) r (k, v)
     where k in ('auto_explain', 'blocked_queries', 'cache_hit_ratio', 'connections', 'duplicate_indexes', 'index_usage',
                 'invalid_indexes', 'job_health', 'long_running_queries', 'missing_fk_indexes', 'seq_scan_tables', 'tenant_overview',
                 'slow_queries', 'table_sizes', 'tables_needing_analyze', 'unused_indexes', 'wraparound', 'sequences', 'vacuum',
                 'bloat', 'not_valid_constraints', 'replication', 'routine_changes', 'table_growth')
       and jsonb_typeof(v) <> 'array' $$,
  'every list section is an array, never null');

select is(
  (select count(*)::int from jsonb_array_elements(perf.database_report() -> 'table_sizes')),
  (select count(*)::int from perf.table_sizes()),
  'the report''s table_sizes is perf.table_sizes()');

select is(
  (select count(*)::int from jsonb_array_elements(perf.database_report() -> 'index_usage')),
  (select count(*)::int from perf.index_usage()),
  'the report''s index_usage is perf.index_usage()');

-- the argument guards
select throws_ok($$ select * from perf.unused_indexes(null) $$, 'QB001', null, 'unused_indexes: null threshold is QB001');
select throws_ok($$ select * from perf.unused_indexes(-1) $$, 'QB008', null, 'unused_indexes: negative threshold is QB008');
select throws_ok($$ select * from perf.seq_scan_tables(null, 10) $$, 'QB001', null, 'seq_scan_tables: null share is QB001');
select throws_ok($$ select * from perf.seq_scan_tables(101, 10) $$, 'QB008', null, 'seq_scan_tables: a share over 100 % is QB008');
select throws_ok($$ select * from perf.seq_scan_tables(95, -1) $$, 'QB008', null, 'seq_scan_tables: negative rows is QB008');
select throws_ok($$ select * from perf.cache_hit_ratio(null) $$, 'QB001', null, 'cache_hit_ratio: null is QB001');
select throws_ok($$ select * from perf.cache_hit_ratio(1.5) $$, 'QB008', null, 'cache_hit_ratio: over 1 is QB008');
select throws_ok($$ select * from perf.long_running_queries(null) $$, 'QB001', null, 'long_running_queries: null is QB001');
select throws_ok($$ select * from perf.long_running_queries('-1 second') $$, 'QB008', null, 'long_running_queries: negative is QB008');
select throws_ok($$ select * from perf.slow_queries(null, 500) $$, 'QB001', null, 'slow_queries: null is QB001');
select throws_ok($$ select * from perf.slow_queries(500, 100) $$, 'QB008', null, 'slow_queries: error below warning is QB008');

-- auto_explain: the recommended settings, each with its reason
select is(
  (select count(*)::int from perf.auto_explain_settings() where why is not null and recommended is not null),
  9,
  'auto_explain_settings lists the nine recommended settings with their reasons');

select is(
  (select setting from pg_settings where name = 'shared_preload_libraries') ~ 'auto_explain',
  true,
  'auto_explain is preloaded (the settings take effect in every session)');

select is(
  (select count(*)::int from perf.job_health()),
  0,
  'job_health has no rows in a database without pg_cron (a test copy)');

select * from finish();
rollback;
