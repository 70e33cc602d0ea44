-- The checks that keep a production database alive (issue 15): transaction-id and multixact
-- wraparound, identities and sequences running out, vacuum falling behind each table's own
-- autovacuum formula, table and index bloat, constraints left NOT VALID, replication lag and
-- inactive slots. Documentation (what each means, the fix): docs/monitoring.md "Safety checks".
--
-- Each returns the rows that need attention (none when all is well), a level and the fix as a
-- statement or a sentence; thresholds are arguments with documented defaults, checked by
-- perf.require_threshold (QB001 null, QB008 out of range). Read-only; search_path pinned,
-- jit off (catalog queries whose estimates cross jit_above_cost, see functions/perf/indexes.sql).
-- Security invoker where the catalog and the cumulative statistics functions suffice;
-- security definer where they do not: a sequence's position (SELECT on the sequence), the
-- planner's column statistics (pg_statistic), the replication views (pg_read_all_stats).

create or replace function perf.reloption(p_reloptions text[], p_name text)
returns text
language sql
immutable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  -- a storage option's value from pg_class.reloptions ('autovacuum_enabled=false'), or null
  select o.option_value from pg_options_to_table(p_reloptions) o where o.option_name = p_name
$$;
comment on function perf.reloption(text[], text) is
  'The value of the storage option p_name in a reloptions array (pg_class.reloptions), or null when the relation does not set it. Used by perf.vacuum_health and perf.wraparound_danger to apply each table''s own autovacuum settings.';
revoke all on function perf.reloption(text[], text) from public;

-- 1. Wraparound --------------------------------------------------------------------------------
-- Transaction ids and multixact ids are 32-bit counters compared modulo 2^32: a row frozen
-- never, whose xmin is 2^31 transactions old, would look as if it were in the future. VACUUM
-- freezes old rows and advances pg_class.relfrozenxid / relminmxid (and, over all tables,
-- pg_database.datfrozenxid / datminmxid); autovacuum forces such a vacuum once the age passes
-- autovacuum_freeze_max_age (autovacuum_multixact_freeze_max_age), and the server stops
-- assigning ids 3 million short of 2^31. A long-open transaction, a prepared transaction or a
-- replication slot holding back xmin keeps vacuum from freezing.
create or replace function perf.wraparound_danger(p_warn_fraction real default 0.5)
returns table (
  scope text,
  database text,
  schema_name text,
  table_name text,
  xid_age bigint,
  xid_freeze_max_age bigint,
  mxid_age bigint,
  mxid_freeze_max_age bigint,
  wraparound_fraction double precision,
  xids_remaining bigint,
  level text,
  reason text,
  fix text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  c_horizon constant double precision := 2147483648;  -- 2^31: half the 32-bit id space
begin
  perform perf.require_threshold(p_warn_fraction, 'p_warn_fraction', 0::real, 1::real);
  return query
  with ages as (
    -- every database of the server (pg_database is readable by every role)
    select 'database'::text as scope, d.datname::text as database, null::text as schema_name, null::text as table_name,
           age(d.datfrozenxid)::bigint as xid_age,
           current_setting('autovacuum_freeze_max_age')::bigint as xid_max,
           mxid_age(d.datminmxid)::bigint as mxid_age,
           current_setting('autovacuum_multixact_freeze_max_age')::bigint as mxid_max
    from pg_database d
    where d.datallowconn or d.datfrozenxid <> 0
    union all
    -- every table of this database that has frozen ids (system catalogs too: the database's
    -- age is its oldest table's), TOAST tables named after their owner. A per-table
    -- autovacuum_freeze_max_age only counts when it is lower than the server's.
    select 'table', current_database()::text, n.nspname::text,
           coalesce(owner.relname::text || ' (TOAST)', c.relname::text),
           age(c.relfrozenxid)::bigint,
           least(current_setting('autovacuum_freeze_max_age')::bigint,
                 coalesce(perf.reloption(coalesce(owner.reloptions, c.reloptions),
                                         case when owner.oid is null then 'autovacuum_freeze_max_age'
                                              else 'toast.autovacuum_freeze_max_age' end)::bigint,
                          current_setting('autovacuum_freeze_max_age')::bigint)),
           mxid_age(c.relminmxid)::bigint,
           least(current_setting('autovacuum_multixact_freeze_max_age')::bigint,
                 coalesce(perf.reloption(coalesce(owner.reloptions, c.reloptions),
                                         case when owner.oid is null then 'autovacuum_multixact_freeze_max_age'
                                              else 'toast.autovacuum_multixact_freeze_max_age' end)::bigint,
                          current_setting('autovacuum_multixact_freeze_max_age')::bigint))
    from pg_class c
    left join pg_class owner on owner.reltoastrelid = c.oid and c.relkind = 't'
    join pg_namespace n on n.oid = coalesce(owner.relnamespace, c.relnamespace)
    where c.relkind in ('r', 'm', 't')
      and c.relfrozenxid <> '0'::xid
      and c.relpersistence <> 't'
  )
  select a.scope, a.database, a.schema_name, a.table_name,
         a.xid_age, a.xid_max, a.mxid_age, a.mxid_max,
         greatest(a.xid_age, a.mxid_age) / c_horizon,
         (c_horizon - a.xid_age)::bigint,
         case when greatest(a.xid_age, a.mxid_age) >= p_warn_fraction * c_horizon then 'error' else 'warning' end,
         case when greatest(a.xid_age, a.mxid_age) >= p_warn_fraction * c_horizon
              then format('the oldest unfrozen %s is %s%% of the way to wraparound (2^31); the warning fraction is %s%%',
                          case when a.xid_age >= a.mxid_age then 'transaction id' else 'multixact id' end,
                          round((100 * greatest(a.xid_age, a.mxid_age) / c_horizon)::numeric, 6), round((100 * p_warn_fraction)::numeric, 6))
              else 'older than autovacuum''s freeze_max_age: an anti-wraparound vacuum is due and has not finished' end,
         case when a.scope = 'database'
              then case when a.database in (select d.datname::text from pg_database d where not d.datallowconn)
                        then format('%I takes no connections: autovacuum freezes it itself when it must; if it does not, end what holds back the xmin horizon (long and prepared transactions, replication slots)', a.database)
                        else format('connect to %I and vacuum its oldest tables (this function there lists them) with VACUUM (FREEZE, VERBOSE); first end what holds back the xmin horizon: '
                          'long transactions (perf.long_running_queries), prepared transactions (pg_prepared_xacts), replication slots (perf.replication_health)', a.database) end
              else format('vacuum (freeze, verbose) %I.%I;', a.schema_name, regexp_replace(a.table_name, ' \(TOAST\)$', '')) end
  from ages a
  where greatest(a.xid_age, a.mxid_age) >= p_warn_fraction * c_horizon
     or a.xid_age > a.xid_max
     or a.mxid_age > a.mxid_max
  order by greatest(a.xid_age, a.mxid_age) desc, a.scope, a.database, a.schema_name, a.table_name;
end
$$;
comment on function perf.wraparound_danger(real) is
  'Transaction-id and multixact wraparound danger per database of the server (pg_database.datfrozenxid / datminmxid) and per table of this database (relfrozenxid / relminmxid, system catalogs and TOAST tables included): '
  'scope (database or table), database, schema_name, table_name, xid_age, xid_freeze_max_age (autovacuum_freeze_max_age, or the table''s lower storage option), mxid_age, mxid_freeze_max_age, '
  'wraparound_fraction (the larger age / 2^31), xids_remaining, level, reason, fix. A row is listed with level error when wraparound_fraction >= p_warn_fraction (default 0.5: a billion ids), '
  'with level warning when an age passed its freeze_max_age (autovacuum''s forced vacuum is due and has not finished). p_warn_fraction 0 lists every database and table. Oldest first. '
  'Errors: QB001 null, QB008 outside 0..1.';
revoke all on function perf.wraparound_danger(real) from public;

-- 2. Sequences and identities ----------------------------------------------------------------
create or replace function perf.sequence_position(p_sequence regclass)
returns table (last_value bigint, is_called boolean)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  -- the sequence relation itself: unlike pg_sequences.last_value it also knows the position of
  -- a sequence restarted or set with is_called = false (the next value is last_value then)
  return query execute format('select s.last_value, s.is_called from %s s', p_sequence);
end
$$;
comment on function perf.sequence_position(regclass) is
  'The state of one sequence as stored in the sequence relation: last_value and is_called (false after ALTER ... RESTART or setval(..., false): nextval returns last_value). Needs SELECT on the sequence; perf.sequence_overflow (security definer) calls it.';
revoke all on function perf.sequence_position(regclass) from public;

create or replace function perf.sequence_overflow(p_warn_fraction real default 0.75)
returns table (
  schema_name text,
  sequence_name text,
  table_name text,
  column_name text,
  is_identity boolean,
  sequence_type text,
  column_type text,
  next_value bigint,
  increment bigint,
  limit_value bigint,
  limited_by text,
  values_left numeric,
  used_fraction double precision,
  cycles boolean,
  level text,
  fix text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_warn_fraction, 'p_warn_fraction', 0::real, 1::real);
  return query
  with seqs as (
    select s.seqrelid, n.nspname::text as schema_name, c.relname::text as sequence_name,
           format_type(s.seqtypid, null) as sequence_type,
           s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle
    from pg_sequence s
    join pg_class c on c.oid = s.seqrelid
    join pg_namespace n on n.oid = c.relnamespace
    where perf.in_scope(s.seqrelid)
  ), feeds as (
    -- the columns a sequence feeds: its identity or OWNED BY column (pg_depend 'i' / 'a'), and
    -- any column whose default calls nextval on it (pg_attrdef depends on the sequence)
    select d.objid as seqrelid, d.refobjid as relid, d.refobjsubid as attnum, d.deptype = 'i' as is_identity
    from pg_depend d
    where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
      and d.deptype in ('a', 'i') and d.refobjsubid > 0
    union
    select d.refobjid, ad.adrelid, ad.adnum, false
    from pg_depend d
    join pg_attrdef ad on ad.oid = d.objid
    where d.classid = 'pg_attrdef'::regclass and d.refclassid = 'pg_class'::regclass
  ), used as (
    select s.*, f.relid, f.attnum, coalesce(f.is_identity, false) as is_identity,
           t.relname::text as table_name, a.attname::text as column_name, format_type(a.atttypid, null) as column_type,
           -- the range of the column's type, where it is narrower than bigint
           case a.atttypid when 'int2'::regtype then 32767 when 'int4'::regtype then 2147483647 end::bigint as col_max,
           case a.atttypid when 'int2'::regtype then -32768 when 'int4'::regtype then -2147483648 end::bigint as col_min,
           -- the value nextval hands out next (past the limit when the sequence is exhausted)
           case when p.is_called then p.last_value::numeric + s.seqincrement else p.last_value::numeric end as next_value
    from seqs s
    cross join lateral perf.sequence_position(s.seqrelid) p
    left join feeds f on f.seqrelid = s.seqrelid
    left join pg_class t on t.oid = f.relid
    left join pg_attribute a on a.attrelid = f.relid and a.attnum = f.attnum
    -- an identity of a partitioned table feeds its partitions through the parent
    where t.oid is null or not t.relispartition
  ), limits as (
    select u.*,
           case when u.seqincrement > 0 then least(u.seqmax, coalesce(u.col_max, u.seqmax))
                else greatest(u.seqmin, coalesce(u.col_min, u.seqmin)) end as limit_value,
           case when u.seqincrement > 0 and u.col_max is not null and u.col_max < u.seqmax then 'column'
                when u.seqincrement < 0 and u.col_min is not null and u.col_min > u.seqmin then 'column'
                else 'sequence' end as limited_by
    from used u
  ), judged as (
    select l.*,
           -- values still to hand out, counting the next one, and the share of the range used
           greatest(floor((l.limit_value - l.next_value) / l.seqincrement) + 1, 0) as values_left,
           least(greatest((l.next_value - l.seqincrement - l.seqstart + l.seqincrement)::float8
                          / nullif((l.limit_value - l.seqstart + l.seqincrement)::float8, 0), 0), 1) as used_fraction
    from limits l
  )
  select j.schema_name, j.sequence_name, j.table_name, j.column_name, j.is_identity, j.sequence_type, j.column_type,
         least(j.next_value, 9223372036854775807)::bigint, j.seqincrement, j.limit_value, j.limited_by,
         j.values_left, j.used_fraction, j.seqcycle,
         case when j.used_fraction >= 0.95 or j.values_left = 0 then 'error' else 'warning' end,
         concat_ws(' ',
           case when j.col_max is not null
                then format('alter table %I.%I alter column %I type bigint;  -- rewrites the table under an ACCESS EXCLUSIVE lock: plan it (docs/monitoring.md)',
                            j.schema_name, j.table_name, j.column_name) end,
           case when j.seqcycle
                then format('alter sequence %I.%I no cycle;  -- it cycles: it would hand out %s again', j.schema_name, j.sequence_name, j.seqstart) end,
           case when j.sequence_type <> 'bigint' and not (j.is_identity and j.col_max is not null)
                then format('alter sequence %I.%I as bigint;', j.schema_name, j.sequence_name)
                when j.sequence_type = 'bigint' and j.seqincrement > 0 and j.seqmax < 9223372036854775807 and j.limited_by = 'sequence'
                then format('alter sequence %I.%I maxvalue 9223372036854775807;', j.schema_name, j.sequence_name)
                when j.sequence_type = 'bigint' and j.seqincrement < 0 and j.seqmin > -9223372036854775808 and j.limited_by = 'sequence'
                then format('alter sequence %I.%I minvalue -9223372036854775808;', j.schema_name, j.sequence_name)
                when j.sequence_type = 'bigint' and j.limited_by = 'sequence'
                then 'the bigint range itself is spent: move the key to a new column (uuid)' end)
  from judged j
  where j.used_fraction >= p_warn_fraction
  order by j.used_fraction desc, j.schema_name, j.sequence_name, j.table_name, j.column_name;
end
$$;
comment on function perf.sequence_overflow(real) is
  'Sequences and identity columns that used p_warn_fraction (default 0.75) or more of their range: per sequence and column it feeds (identity, OWNED BY, or a nextval default; none: the sequence alone): '
  'schema_name, sequence_name, table_name, column_name, is_identity, sequence_type, column_type, next_value (what nextval returns next; after RESTART or setval(..., false) the stored value), increment, '
  'limit_value (the sequence''s max, or min when descending, or the column type''s when narrower: an integer column fed by a bigint sequence fails at 2^31-1), limited_by (sequence or column), '
  'values_left, used_fraction ((next - start) / (limit - start + increment)), cycles, level (error from 0.95 or when exhausted, else warning), fix. Most used first. '
  'Security definer: reads each sequence''s position (SELECT on it). Errors: QB001 null, QB008 outside 0..1.';
revoke all on function perf.sequence_overflow(real) from public;

-- 3. Vacuum ----------------------------------------------------------------------------------
-- Autovacuum vacuums a table when dead rows > autovacuum_vacuum_threshold +
-- autovacuum_vacuum_scale_factor x reltuples, or rows inserted since the last vacuum >
-- autovacuum_vacuum_insert_threshold + autovacuum_vacuum_insert_scale_factor x reltuples,
-- each setting the table's own storage option when it has one (TOAST tables: toast.*), never
-- when autovacuum is off (server) or autovacuum_enabled = false (table), but for wraparound.
-- reltuples < 0 (never vacuumed or analyzed) counts as 0, as autovacuum counts it.
create or replace function perf.vacuum_health()
returns table (
  schema_name text,
  table_name text,
  kind text,
  autovacuum_enabled boolean,
  live_rows bigint,
  dead_rows bigint,
  vacuum_threshold bigint,
  inserted_since_vacuum bigint,
  insert_threshold bigint,
  dead_fraction numeric,
  last_vacuum timestamptz,
  last_autovacuum timestamptz,
  vacuum_count bigint,
  autovacuum_count bigint,
  last_analyze timestamptz,
  last_autoanalyze timestamptz,
  level text,
  reason text,
  fix text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  with tables as (
    select c.oid, n.nspname::text as schema_name,
           coalesce(owner.relname::text || ' (TOAST)', c.relname::text) as table_name,
           case when c.relkind = 't' then 'toast' when c.relkind = 'm' then 'materialized view'
                when c.relispartition then 'partition' else 'table' end as kind,
           greatest(c.reltuples, 0)::float8 as reltuples,
           coalesce(owner.reloptions, c.reloptions) as options,
           case when owner.oid is null then '' else 'toast.' end as prefix,
           coalesce(owner.oid, c.oid) as main_oid
    from pg_class c
    left join pg_class owner on owner.reltoastrelid = c.oid and c.relkind = 't'
    join pg_namespace n on n.oid = coalesce(owner.relnamespace, c.relnamespace)
    where c.relkind in ('r', 'm', 't')
      and c.relpersistence <> 't'
      and perf.in_scope(coalesce(owner.oid, c.oid))
  ), judged as (
    select t.*,
           current_setting('autovacuum')::boolean
             and coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_enabled')::boolean, true) as av_enabled,
           coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_enabled')::boolean, true) as table_enabled,
           pg_stat_get_live_tuples(t.oid) as live, pg_stat_get_dead_tuples(t.oid) as dead,
           pg_stat_get_ins_since_vacuum(t.oid) as inserted,
           coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_vacuum_threshold')::float8, current_setting('autovacuum_vacuum_threshold')::float8)
           + coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_vacuum_scale_factor')::float8, current_setting('autovacuum_vacuum_scale_factor')::float8)
             * t.reltuples as vac_threshold,
           coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_vacuum_insert_threshold')::float8, current_setting('autovacuum_vacuum_insert_threshold')::float8) as ins_base,
           coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_vacuum_insert_threshold')::float8, current_setting('autovacuum_vacuum_insert_threshold')::float8)
           + coalesce(perf.reloption(t.options, t.prefix || 'autovacuum_vacuum_insert_scale_factor')::float8, current_setting('autovacuum_vacuum_insert_scale_factor')::float8)
             * t.reltuples as ins_threshold
    from tables t
  ), flagged as (
    select j.*,
           j.dead > j.vac_threshold as dead_over,
           j.ins_base >= 0 and j.inserted > j.ins_threshold as inserts_over
    from judged j
  )
  select f.schema_name, f.table_name, f.kind, f.av_enabled, f.live, f.dead, f.vac_threshold::bigint,
         f.inserted, case when f.ins_base >= 0 then f.ins_threshold::bigint end,
         round(f.dead::numeric / nullif(f.live + f.dead, 0), 4),
         pg_stat_get_last_vacuum_time(f.oid), pg_stat_get_last_autovacuum_time(f.oid),
         pg_stat_get_vacuum_count(f.oid), pg_stat_get_autovacuum_count(f.oid),
         pg_stat_get_last_analyze_time(f.main_oid), pg_stat_get_last_autoanalyze_time(f.main_oid),
         case when f.dead_over and not f.av_enabled then 'error'
              when f.dead_over or f.inserts_over then 'warning'
              else 'info' end,
         concat_ws('; ',
           case when f.dead_over then format('%s dead rows, over autovacuum''s threshold of %s (%s)', f.dead, f.vac_threshold::bigint,
                                             case when f.av_enabled then 'autovacuum is behind: it should have vacuumed this table' else 'and autovacuum will not vacuum it' end) end,
           case when f.inserts_over then format('%s rows inserted since the last vacuum, over the insert threshold of %s (the visibility map lags: index-only scans visit the heap)',
                                                f.inserted, f.ins_threshold::bigint) end,
           case when not f.table_enabled then 'autovacuum is disabled on this table (storage option ' || f.prefix || 'autovacuum_enabled = false)'
                when not f.av_enabled then 'autovacuum is off on the server' end),
         concat_ws(' ',
           case when f.dead_over or f.inserts_over
                then format('vacuum (verbose, analyze) %I.%I;', f.schema_name, (select c.relname from pg_class c where c.oid = f.main_oid)) end,
           case when not f.table_enabled
                then format('alter table %I.%I reset (%s);', f.schema_name, (select c.relname from pg_class c where c.oid = f.main_oid), f.prefix || 'autovacuum_enabled')
                when not f.av_enabled then 'alter system set autovacuum = on; select pg_reload_conf();' end)
  from flagged f
  where f.dead_over or f.inserts_over or not f.av_enabled
  order by case when f.dead_over and not f.av_enabled then 0 when f.dead_over or f.inserts_over then 1 else 2 end,
           f.dead desc, f.schema_name, f.table_name
$$;
comment on function perf.vacuum_health() is
  'Tables (partitions, materialized views and TOAST tables each on their own: autovacuum works per relation) that autovacuum should have vacuumed or will not: '
  'dead rows over the table''s own threshold (autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor x reltuples, each from the table''s storage options when set), '
  'rows inserted since the last vacuum over the insert threshold (autovacuum_vacuum_insert_threshold + ..._insert_scale_factor x reltuples), or autovacuum disabled (storage option autovacuum_enabled = false, or the server''s autovacuum = off). '
  'Columns: schema_name, table_name, kind, autovacuum_enabled, live_rows, dead_rows, vacuum_threshold, inserted_since_vacuum, insert_threshold (null when disabled), dead_fraction, '
  'last_vacuum, last_autovacuum, vacuum_count, autovacuum_count, last_analyze, last_autoanalyze (cumulative statistics: null in a freshly copied database), '
  'level (error: dead rows over the threshold and autovacuum off for it; warning: over a threshold; info: autovacuum disabled, nothing over), reason, fix. Thresholds are each table''s own: no arguments.';
revoke all on function perf.vacuum_health() from public;

-- 4. Bloat -----------------------------------------------------------------------------------
-- A statistics-based estimate, no page is read: the size the live rows would take, packed
-- fresh, from pg_class.reltuples and the planner's column statistics (pg_stats.avg_width and
-- null_frac), against the relation's size on disk. Heap: a row is its 23-byte header (plus
-- the null bitmap) and the average width of its columns, rounded up to 8 bytes, plus a 4-byte
-- line pointer, in 8 kB pages of which 24 bytes are the page header, at most fillfactor full.
-- B-tree: an entry is its 8-byte header plus its keys' widths rounded up to 8, plus a line
-- pointer, leaf pages 90 % full (the build's fillfactor), plus the meta page and about one
-- internal page per 300 leaves. Column alignment padding is ignored (an underestimate of the
-- expected size, so an overestimate of bloat for tables of many narrow mixed columns), and
-- B-tree deduplication (PostgreSQL 13+) packs repeated keys tighter than this, so an index of
-- few distinct values may be estimated smaller than it should (its bloat reads 0).
create or replace function perf.bloat_estimates(p_min_bytes bigint default 10485760, p_min_ratio real default 0.2)
returns table (
  schema_name text,
  table_name text,
  index_name text,
  kind text,
  actual_bytes bigint,
  expected_bytes bigint,
  bloat_bytes bigint,
  bloat_ratio numeric,
  bloat text,
  fix text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  c_block constant float8 := current_setting('block_size')::float8;
begin
  perform perf.require_threshold(p_min_bytes, 'p_min_bytes', 0::bigint);
  perform perf.require_threshold(p_min_ratio, 'p_min_ratio', 0::real, 1::real);
  return query
  with heaps as (
    select c.oid, n.nspname::text as schema_name, c.relname::text as table_name, c.reltuples,
           coalesce(perf.reloption(c.reloptions, 'fillfactor')::float8, 100) as fillfactor,
           pg_relation_size(c.oid) as actual,
           -- the columns and their statistics (all of them must have some: else not analyzed)
           (select count(*) from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
           (select count(*) from pg_statistic s where s.starelid = c.oid and s.stainherit = false) as analyzed_columns,
           (select coalesce(sum(s.stawidth * (1 - s.stanullfrac)), 0) from pg_statistic s where s.starelid = c.oid and s.stainherit = false) as data_width,
           (select coalesce(max(s.stanullfrac), 0) > 0 from pg_statistic s where s.starelid = c.oid and s.stainherit = false) as has_nulls
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'm')
      and c.relpersistence <> 't'
      and perf.in_scope(c.oid)
  ), heap_estimates as (
    select h.*,
           -- header 23 bytes + null bitmap, data, rounded up to 8; plus the line pointer
           (ceil((23 + case when h.has_nulls then ceil(h.columns / 8.0) else 0 end + h.data_width) / 8.0) * 8 + 4) as row_bytes
    from heaps h
    where h.reltuples >= 0 and h.columns > 0 and h.analyzed_columns = h.columns
  ), heap_rows as (
    select e.schema_name, e.table_name, null::text as index_name, 'table'::text as kind, e.actual,
           (ceil(e.reltuples / greatest(least(floor((c_block - 24) * e.fillfactor / 100 / e.row_bytes), 291), 1)) * c_block)::bigint as expected,
           format('vacuum full %I.%I;  -- takes an ACCESS EXCLUSIVE lock for the rewrite; pg_repack does it online', e.schema_name, e.table_name) as fix
    from heap_estimates e
  ), btrees as (
    select n.nspname::text as schema_name, t.relname::text as table_name, ic.relname::text as index_name, ic.reltuples,
           coalesce(perf.reloption(ic.reloptions, 'fillfactor')::float8, 90) as fillfactor,
           pg_relation_size(ic.oid) as actual,
           i.indnatts as columns,
           -- a key column's statistics are its table column's; an expression's are the index's own
           (select count(*) from unnest(i.indkey) with ordinality k (attnum, pos)
            where exists (select from pg_statistic s
                          where (k.attnum > 0 and s.starelid = i.indrelid and s.staattnum = k.attnum and s.stainherit = false)
                             or (k.attnum = 0 and s.starelid = i.indexrelid and s.staattnum = k.pos))) as analyzed_columns,
           (select coalesce(sum(s.stawidth * (1 - s.stanullfrac)), 0)
            from unnest(i.indkey) with ordinality k (attnum, pos)
            join pg_statistic s on (k.attnum > 0 and s.starelid = i.indrelid and s.staattnum = k.attnum and s.stainherit = false)
                                or (k.attnum = 0 and s.starelid = i.indexrelid and s.staattnum = k.pos)) as data_width
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    join pg_am am on am.oid = ic.relam
    where am.amname = 'btree'
      and ic.relkind = 'i'
      and i.indisvalid
      and t.relkind in ('r', 'm')
      and t.relpersistence <> 't'
      and perf.in_scope(t.oid)
  ), index_estimates as (
    select b.*,
           ceil(b.reltuples / greatest(floor((c_block - 24 - 16) * b.fillfactor / 100 / (ceil((8 + b.data_width) / 8.0) * 8 + 4)), 1)) as leaf_pages
    from btrees b
    where b.reltuples >= 0 and b.analyzed_columns = b.columns
  ), index_rows as (
    select e.schema_name, e.table_name, e.index_name, 'index'::text as kind, e.actual,
           -- leaf pages, the meta page, about one internal page per 300 leaves
           ((e.leaf_pages + 1 + ceil(e.leaf_pages / 300)) * c_block)::bigint as expected,
           format('reindex index concurrently %I.%I;', e.schema_name, e.index_name) as fix
    from index_estimates e
  ), estimates as (
    select * from heap_rows
    union all
    select * from index_rows
  )
  select e.schema_name, e.table_name, e.index_name, e.kind, e.actual, e.expected,
         greatest(e.actual - e.expected, 0),
         round(greatest(e.actual - e.expected, 0)::numeric / nullif(e.actual, 0), 4),
         pg_size_pretty(greatest(e.actual - e.expected, 0)),
         e.fix
  from estimates e
  where greatest(e.actual - e.expected, 0) >= p_min_bytes
    and greatest(e.actual - e.expected, 0)::float8 / nullif(e.actual, 0) >= p_min_ratio
  order by greatest(e.actual - e.expected, 0) desc, e.schema_name, e.table_name, e.index_name nulls first;
end
$$;
comment on function perf.bloat_estimates(bigint, real) is
  'Estimated bloat of tables (heap, main fork) and B-tree indexes (partitions and their indexes each on their own) whose estimated bloat is at least p_min_bytes (default 10 MB) and p_min_ratio of their size (default 0.2): '
  'schema_name, table_name, index_name (null for the table), kind (table or index), actual_bytes, expected_bytes (the live rows packed fresh), bloat_bytes, bloat_ratio, bloat (for people), fix. '
  'Method: a statistics-based estimate (pg_class.reltuples, pg_statistic widths and null fractions; no page is read; docs/monitoring.md "Bloat"): rough (+-20 %), and only for relations analyzed (every column has statistics). '
  'Largest first. Security definer: pg_statistic is readable by superusers only. Errors: QB001 null, QB008 negative p_min_bytes or p_min_ratio outside 0..1.';
revoke all on function perf.bloat_estimates(bigint, real) from public;

-- 5. NOT VALID constraints -----------------------------------------------------------------
-- The migration rules add a foreign key or check NOT VALID (no long lock, no full scan under
-- it) and VALIDATE it in a later step; until then the rows already there are unchecked, and
-- the planner cannot use a check constraint to exclude partitions or prove quals.
create or replace function perf.not_valid_constraints()
returns table (
  schema_name text,
  table_name text,
  constraint_name text,
  constraint_type text,
  definition text,
  fix text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select n.nspname::text,
         coalesce(t.relname, ty.typname)::text,
         k.conname::text,
         case k.contype when 'f' then 'foreign key' when 'c' then 'check' else k.contype::text end
           || case when k.contypid <> 0 then ' (domain)' else '' end,
         pg_get_constraintdef(k.oid),
         case when k.conrelid <> 0 then format('alter table %I.%I validate constraint %I;', n.nspname, t.relname, k.conname)
              else format('alter domain %I.%I validate constraint %I;', n.nspname, ty.typname, k.conname) end
  from pg_constraint k
  join pg_namespace n on n.oid = k.connamespace
  left join pg_class t on t.oid = k.conrelid
  left join pg_type ty on ty.oid = k.contypid
  where not k.convalidated
    -- a partition's copy of its parent's constraint is validated with the parent's
    and k.conparentid = 0
    and (k.conrelid = 0 or perf.in_scope(k.conrelid))
    and n.nspname not in ('pg_catalog', 'information_schema')
    and not exists (select from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = k.contypid and d.deptype = 'e')
  order by 1, 2, 3
$$;
comment on function perf.not_valid_constraints() is
  'Constraints added NOT VALID and never validated (pg_constraint.convalidated = false), of tables and domains outside the system schemas and extensions: '
  'schema_name, table_name (or the domain''s name), constraint_name, constraint_type (foreign key, check; "(domain)" for a domain''s), definition, fix (ALTER ... VALIDATE CONSTRAINT: a SHARE UPDATE EXCLUSIVE lock, writes go on). '
  'Rows already there are unchecked until then. No arguments: every such constraint is listed.';
revoke all on function perf.not_valid_constraints() from public;

-- 6. Replication ------------------------------------------------------------------------------
-- Replicas connected to this server (pg_stat_replication), replication slots (a slot no
-- client uses keeps WAL, and a slot's xmin keeps vacuum from removing dead rows, until the
-- disk fills or wraparound nears), and, on a standby, how far replay is behind what it received.
create or replace function perf.replication_health(p_max_lag_bytes bigint default 1073741824)
returns table (
  kind text,
  name text,
  state text,
  active boolean,
  lag_bytes numeric,
  replay_lag interval,
  retained_wal_bytes numeric,
  xmin_age bigint,
  level text,
  reason text,
  fix text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  v_current pg_lsn;
  v_standby boolean := pg_is_in_recovery();
begin
  perform perf.require_threshold(p_max_lag_bytes, 'p_max_lag_bytes', 0::bigint);
  v_current := case when v_standby then pg_last_wal_receive_lsn() else pg_current_wal_lsn() end;
  return query
  with replicas as (
    select 'replica'::text as kind, coalesce(nullif(r.application_name, ''), r.client_addr::text, r.pid::text) as name,
           r.state, true as active,
           pg_wal_lsn_diff(v_current, r.replay_lsn) as lag, r.replay_lag, null::numeric as retained, null::bigint as xmin_age
    from pg_stat_replication r
  ), slots as (
    select 'slot'::text, s.slot_name::text, s.slot_type || coalesce(', wal ' || s.wal_status, ''), s.active,
           pg_wal_lsn_diff(v_current, s.confirmed_flush_lsn), null::interval,
           pg_wal_lsn_diff(v_current, s.restart_lsn),
           greatest(age(s.xmin), age(s.catalog_xmin))::bigint
    from pg_replication_slots s
  ), standby as (
    select 'standby'::text, 'this server'::text, 'replaying', true,
           pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()),
           now() - pg_last_xact_replay_timestamp(), null::numeric, null::bigint
    where v_standby
  ), rows as (
    select * from replicas union all select * from slots union all select * from standby
  )
  select r.kind, r.name, r.state, r.active, r.lag, r.replay_lag, r.retained, r.xmin_age,
         case when r.kind = 'slot' and not r.active and coalesce(r.retained, 0) > p_max_lag_bytes then 'error'
              when r.kind = 'slot' and not r.active then 'warning'
              when coalesce(r.lag, 0) > p_max_lag_bytes or coalesce(r.retained, 0) > p_max_lag_bytes then 'warning'
              else 'ok' end,
         concat_ws('; ',
           case when r.kind = 'slot' and not r.active then 'inactive slot: it keeps WAL' || case when r.xmin_age is not null then ' and holds back vacuum''s xmin horizon' else '' end end,
           case when coalesce(r.lag, 0) > p_max_lag_bytes then format('%s behind (more than %s)', pg_size_pretty(r.lag), pg_size_pretty(p_max_lag_bytes)) end,
           case when coalesce(r.retained, 0) > p_max_lag_bytes then format('retains %s of WAL', pg_size_pretty(r.retained)) end),
         case when r.kind = 'slot' and not r.active then format('reconnect its consumer, or drop it: select pg_drop_replication_slot(%L);', r.name)
              when r.kind = 'replica' and coalesce(r.lag, 0) > p_max_lag_bytes then 'check the replica''s disk, network and long queries (hot_standby_feedback, max_standby_streaming_delay)'
              when r.kind = 'standby' and coalesce(r.lag, 0) > p_max_lag_bytes then 'replay is behind: long queries on this standby conflict with replay, or its disk is slow'
              else '' end
  from rows r
  order by case when r.kind = 'slot' and not r.active then 0 else 1 end, r.lag desc nulls last, r.kind, r.name;
end
$$;
comment on function perf.replication_health(bigint) is
  'Replication, when there is any (no rows otherwise): every replica connected to this server (kind replica: lag_bytes of replay behind the current WAL position, replay_lag), every replication slot '
  '(kind slot: state is its type and wal_status, active, lag_bytes behind confirmed_flush, retained_wal_bytes since restart_lsn, xmin_age of the xmin it holds), and on a standby the replay delay (kind standby). '
  'level: error for an inactive slot retaining more than p_max_lag_bytes (default 1 GB), warning for an inactive slot or a lag or retention over p_max_lag_bytes, else ok; reason, fix. '
  'Security definer: pg_stat_replication shows details to pg_read_all_stats only. Errors: QB001 null, QB008 negative.';
revoke all on function perf.replication_health(bigint) from public;
