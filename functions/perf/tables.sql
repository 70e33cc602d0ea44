-- Table monitoring: sizes (seed 002's table_sizes), tables read by sequential scans, tables
-- whose planner statistics are stale, and the buffer cache hit ratio. Documentation:
-- docs/monitoring.md.
--
-- A partitioned table is one row, its partitions summed: pg_stat_user_tables counts per
-- partition. Same scope and privileges as functions/perf/indexes.sql: security invoker (the
-- catalog, sizes and cumulative statistics are readable by every role), search_path pinned;
-- except tables_needing_analyze, security definer, as it reads pg_statistic (superusers only).
--
-- A database made by CREATE DATABASE ... TEMPLATE (a test copy, the advisor's validation copy)
-- starts with all cumulative statistics at zero, while pg_class and pg_statistic are copied: so
-- row counts take the larger of the live-row counter and pg_class.reltuples, and "analyzed" is
-- read from pg_statistic, not from the last-analyze times.

create or replace function perf.table_sizes()
returns table (
  schema_name text,
  table_name text,
  kind text,
  partitions integer,
  rows_estimate bigint,
  table_bytes bigint,
  index_bytes bigint,
  size_bytes bigint,
  size text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select n.nspname::text,
         t.relname::text,
         case t.relkind when 'p' then 'partitioned table' when 'm' then 'materialized view' else 'table' end,
         case when t.relkind = 'p' then count(leaf.oid)::integer else 1 end,
         coalesce(sum(greatest(lc.reltuples, 0)), 0)::bigint,
         coalesce(sum(pg_table_size(leaf.oid)), 0)::bigint,
         coalesce(sum(pg_indexes_size(leaf.oid)), 0)::bigint,
         coalesce(sum(pg_total_relation_size(leaf.oid)), 0)::bigint,
         pg_size_pretty(coalesce(sum(pg_total_relation_size(leaf.oid)), 0)::bigint)
  from pg_class t
  join pg_namespace n on n.oid = t.relnamespace
  left join lateral perf.leaf_relations(t.oid) leaf (oid) on true
  left join pg_class lc on lc.oid = leaf.oid
  where t.relkind in ('r', 'p', 'm')
    and not t.relispartition
    and perf.in_scope(t.oid)
  group by n.nspname, t.relname, t.relkind
  order by 8 desc, 1, 2
$$;
comment on function perf.table_sizes() is
  'Size of every table, partitioned table (its partitions summed) and materialized view outside the system schemas and extensions (seed 002 table_sizes), largest first: '
  'kind, partitions, rows_estimate (pg_class.reltuples: as of the last VACUUM/ANALYZE), table_bytes (heap, TOAST, free space and visibility maps), index_bytes, '
  'size_bytes (all of it) and size (size_bytes for people).';
revoke all on function perf.table_sizes() from public;

create or replace function perf.seq_scan_tables(p_min_index_share numeric default 95, p_min_rows bigint default 10000)
returns table (
  schema_name text,
  table_name text,
  partitions integer,
  live_rows bigint,
  seq_scans bigint,
  seq_rows_read bigint,
  rows_per_seq_scan bigint,
  index_scans bigint,
  index_share numeric,
  size text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_min_index_share, 'p_min_index_share', 0, 100);
  perform perf.require_threshold(p_min_rows, 'p_min_rows', 0);
  return query
  with per_table as (
    select n.nspname::text as schema_name, t.relname::text as table_name,
           case when t.relkind = 'p' then count(leaf.oid)::integer else 1 end as partitions,
           -- the live-row counter, or the planner's estimate when larger: the counters of a
           -- database made by CREATE DATABASE ... TEMPLATE start at zero, pg_class is copied
           coalesce(sum(greatest(pg_stat_get_live_tuples(leaf.oid), lc.reltuples)), 0)::bigint as live_rows,
           coalesce(sum(pg_stat_get_numscans(leaf.oid)), 0)::bigint as seq_scans,
           coalesce(sum(pg_stat_get_tuples_returned(leaf.oid)), 0)::bigint as seq_rows_read,
           -- index scans of the table: the sum over its indexes (pg_stat_get_numscans of a table is its seq scans)
           coalesce(sum((select sum(pg_stat_get_numscans(x.indexrelid)) from pg_index x where x.indrelid = leaf.oid)), 0)::bigint as index_scans,
           coalesce(sum(pg_total_relation_size(leaf.oid)), 0)::bigint as size_bytes
    from pg_class t
    join pg_namespace n on n.oid = t.relnamespace
    left join lateral perf.leaf_relations(t.oid) leaf (oid) on true
    left join pg_class lc on lc.oid = leaf.oid
    where t.relkind in ('r', 'p', 'm')
      and not t.relispartition
      and perf.in_scope(t.oid)
    group by n.nspname, t.relname, t.relkind
  )
  select p.schema_name, p.table_name, p.partitions, p.live_rows, p.seq_scans, p.seq_rows_read,
         (p.seq_rows_read / nullif(p.seq_scans, 0))::bigint,
         p.index_scans,
         round(100.0 * p.index_scans / nullif(p.seq_scans + p.index_scans, 0), 1),
         pg_size_pretty(p.size_bytes)
  from per_table p
  where p.live_rows >= p_min_rows
    and p.seq_scans > 0
    and 100.0 * p.index_scans / (p.seq_scans + p.index_scans) < p_min_index_share
  order by p.seq_rows_read desc, p.schema_name, p.table_name;
end
$$;
comment on function perf.seq_scan_tables(numeric, bigint) is
  'Tables (partitions summed) with at least p_min_rows live rows (default 10,000; the live-row counter, or pg_class.reltuples when larger, as in a freshly copied database) whose scans are less than p_min_index_share percent index scans (default 95): '
  'partitions, live_rows, seq_scans, seq_rows_read, rows_per_seq_scan, index_scans, index_share (percent), size; most rows read by sequential scans first. '
  'Smaller tables are left out: reading a few pages whole is often the best plan. Counters since the last pg_stat_reset() (perf.statistics_age). '
  'Errors: QB001 a null argument, QB008 p_min_index_share outside 0..100 or negative p_min_rows.';
revoke all on function perf.seq_scan_tables(numeric, bigint) from public;

create or replace function perf.tables_needing_analyze()
returns table (
  schema_name text,
  table_name text,
  kind text,
  live_rows bigint,
  modified_since_analyze bigint,
  threshold bigint,
  last_analyze timestamptz,
  reason text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  with tables as (
    select t.oid, n.nspname::text as schema_name, t.relname::text as table_name, t.relkind, t.reltuples,
           -- autovacuum's trigger: threshold + scale factor x rows, with the table's own storage options
           coalesce((select o.option_value::float8 from pg_options_to_table(t.reloptions) o where o.option_name = 'autovacuum_analyze_threshold'),
                    current_setting('autovacuum_analyze_threshold')::float8)
           + coalesce((select o.option_value::float8 from pg_options_to_table(t.reloptions) o where o.option_name = 'autovacuum_analyze_scale_factor'),
                      current_setting('autovacuum_analyze_scale_factor')::float8) * greatest(t.reltuples, 0) as threshold,
           greatest(pg_stat_get_last_analyze_time(t.oid), pg_stat_get_last_autoanalyze_time(t.oid)) as last_analyze,
           -- analyzed at least once: the planner's column statistics exist (pg_statistic is
           -- copied with the database, the analyze times of the cumulative statistics are not);
           -- a partitioned table's are those over all its partitions (stainherit)
           exists (select from pg_statistic st where st.starelid = t.oid and st.stainherit = (t.relkind = 'p')) as analyzed
    from pg_class t
    join pg_namespace n on n.oid = t.relnamespace
    where t.relkind in ('r', 'p', 'm')
      and perf.in_scope(t.oid)
  ), leaves as (
    -- tables, partitions and materialized views: what autovacuum analyzes on its own
    select t.*, greatest(pg_stat_get_live_tuples(t.oid), t.reltuples)::bigint as live_rows, pg_stat_get_mod_since_analyze(t.oid) as modified
    from tables t
    where t.relkind <> 'p'
  ), parents as (
    -- partitioned tables: autovacuum never analyzes them; their statistics (reltuples and the
    -- whole-table column statistics the planner uses before pruning) come from a manual ANALYZE
    select t.*, coalesce(sum(greatest(pg_stat_get_live_tuples(p.relid), c.reltuples)), 0)::float8 as live_rows
    from tables t
    left join lateral pg_partition_tree(t.oid) p on p.isleaf
    left join pg_class c on c.oid = p.relid
    where t.relkind = 'p'
    group by t.oid, t.schema_name, t.table_name, t.relkind, t.reltuples, t.threshold, t.last_analyze, t.analyzed
  )
  select l.schema_name, l.table_name,
         case when l.relkind = 'm' then 'materialized view' when exists (select from pg_inherits h where h.inhrelid = l.oid) then 'partition' else 'table' end,
         l.live_rows, l.modified, l.threshold::bigint, l.last_analyze,
         case when not l.analyzed then 'never analyzed: the planner guesses its row counts and value distributions'
              else 'rows modified since the last analyze exceed autovacuum''s threshold (autovacuum is behind or off)' end
  from leaves l
  where (not l.analyzed and (l.live_rows > 0 or l.modified > 0))
     or l.modified > l.threshold
  union all
  select p.schema_name, p.table_name, 'partitioned table', p.live_rows::bigint,
         null::bigint,
         p.threshold::bigint,
         p.last_analyze,
         case when not p.analyzed or p.reltuples < 0 then 'partitioned table never analyzed (autovacuum never does: maint.analyze_partitioned_parents)'
              else 'partitioned table''s row count is stale: its partitions hold ' || p.live_rows::bigint || ' rows, its statistics say ' || p.reltuples::bigint end
  from parents p
  where p.live_rows > 0
    and (not p.analyzed or p.reltuples < 0 or abs(p.live_rows - p.reltuples) > p.threshold)
  order by 1, 2
$$;
comment on function perf.tables_needing_analyze() is
  'Tables whose planner statistics are missing or stale: a table, partition or materialized view never analyzed (no column statistics in pg_statistic) although it has rows, or with more rows '
  'modified since its last analyze than autovacuum''s threshold (autovacuum_analyze_threshold + autovacuum_analyze_scale_factor x rows, with the table''s own storage options): autovacuum is behind or off; '
  'and partitioned tables, which autovacuum never analyzes, when never analyzed or when their partitions'' rows differ from the parent''s row count by more than that threshold. '
  'Per table: kind, live_rows (the live-row counter, or pg_class.reltuples when larger), modified_since_analyze (null for a partitioned table), threshold, '
  'last_analyze (manual or auto, from the cumulative statistics: null in a freshly copied database), reason. '
  'Security definer: pg_statistic is readable by superusers only.';
revoke all on function perf.tables_needing_analyze() from public;

create or replace function perf.cache_hit_ratio(p_min_ratio numeric default 0.99)
returns table (
  scope text,
  blocks_hit bigint,
  blocks_read bigint,
  ratio numeric,
  status text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_min_ratio, 'p_min_ratio', 0, 1);
  return query
  with counts (ord, scope, hit, read) as (
    select 1, 'database', d.blks_hit, d.blks_read
    from pg_stat_database d where d.datname = current_database()
    union all
    select 2, 'tables', coalesce(sum(s.heap_blks_hit), 0)::bigint, coalesce(sum(s.heap_blks_read), 0)::bigint
    from pg_statio_user_tables s
    union all
    select 3, 'indexes', coalesce(sum(s.idx_blks_hit), 0)::bigint, coalesce(sum(s.idx_blks_read), 0)::bigint
    from pg_statio_user_indexes s
  )
  select c.scope, c.hit, c.read,
         round(c.hit::numeric / nullif(c.hit + c.read, 0), 4),
         case when c.hit + c.read = 0 then 'no data'
              when c.hit::numeric / (c.hit + c.read) < p_min_ratio then 'low'
              else 'ok' end
  from counts c
  order by c.ord;
end
$$;
comment on function perf.cache_hit_ratio(numeric) is
  'Share of block reads served from shared buffers since the counters began: scope database (everything, catalogs included), tables (heap blocks of user tables), indexes (user indexes); '
  'blocks_hit, blocks_read, ratio (0..1, 4 decimals), status ok / low (below p_min_ratio, default 0.99) / no data. A block "read" may still come from the operating system''s cache. '
  'Errors: QB001 null p_min_ratio, QB008 outside 0..1.';
revoke all on function perf.cache_hit_ratio(numeric) from public;
