-- History of the monitoring (issue 15, item 2): perf.take_snapshot() records, per interval
-- between two snapshots, what each statement and each api routine did and how large each table
-- and index is; the readers answer "what changed since" so a regression can be dated.
-- Tables: migrations (perf.snapshots, perf.statement_deltas, perf.routine_deltas,
-- perf.relation_sizes, and the state tables perf.statement_counters, perf.function_counters).
-- Job: querybudget_perf_snapshot (functions/maint/jobs.sql, docs/jobs.md), every 5 minutes.
-- Documentation: docs/monitoring.md "History".
--
-- Deltas, not cumulative counters: pg_stat_statements' counters restart at a reset or when an
-- entry is evicted and comes back; a delta is the counters minus those last seen, or the
-- counters themselves when they went down or the reset time changed. The first snapshot (none
-- before it) is a baseline: it records the counters and sizes, no deltas.
--
-- Attribution of statements to api routines: a top-level statement whose text calls exactly
-- one api routine (`select * from api.f($1, $2)`) is that routine's call; its buffers include
-- those of the routine's nested statements (pg_stat_statements counts a statement's buffers
-- over everything it executes). pg_stat_user_functions adds calls and times of every call,
-- nested ones too, when track_functions is pl or all.
--
-- Plans: one snapshot reads pg_stat_statements once (a function scan), joins it to the
-- counters by primary key, and writes a few thousand rows; the readers aggregate the deltas of
-- the retained snapshots (14 days at 5 minutes: 4,032 snapshots), a scan of perf.routine_deltas
-- joined to perf.snapshots, whose taken_at range picks the windows.

create or replace function perf.take_snapshot(p_at timestamptz default null, p_retention interval default null)
returns table (snapshot_id bigint, statements integer, routines integer, relations integer, snapshots_pruned integer)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  v_retention interval;
  v_schema text;
  v_reset timestamptz;
  v_previous perf.snapshots%rowtype;
  v_id bigint;
  v_baseline boolean;
  v_restarted boolean;
  v_statements integer := 0;
  v_routines integer := 0;
  v_relations integer := 0;
  v_pruned integer := 0;
begin
  if not isfinite(p_at) then
    raise exception 'p_at is %; it must be a finite time', p_at using errcode = 'QB008';
  end if;
  v_retention := coalesce(p_retention,
                          nullif(btrim(current_setting('querybudget.perf_history_retention', true)), '')::interval,
                          interval '14 days');
  if v_retention <= interval '0' then
    raise exception 'the retention is %; it must be positive (p_retention or querybudget.perf_history_retention)', v_retention
      using errcode = 'QB008';
  end if;

  -- one snapshot at a time (the job and a manual call): the deltas are computed against the
  -- counters the previous one stored
  lock table perf.snapshots in share row exclusive mode;
  -- null: now, read after the lock (a snapshot that waited for another one is still later than it)
  p_at := coalesce(p_at, clock_timestamp());
  select s.* into v_previous from perf.snapshots s order by s.taken_at desc limit 1;
  if v_previous.taken_at >= p_at then
    raise exception 'p_at is %; it must be later than the latest snapshot (%)', p_at, v_previous.taken_at
      using errcode = 'QB008';
  end if;
  v_baseline := v_previous.id is null;

  select e.extnamespace::regnamespace::text into v_schema from pg_extension e where e.extname = 'pg_stat_statements';
  if v_schema is not null then
    execute format('select i.stats_reset from %I.pg_stat_statements_info i', v_schema) into v_reset;
  end if;
  v_restarted := not v_baseline and v_reset is distinct from v_previous.statements_reset;

  insert into perf.snapshots (taken_at, previous_at, statements_reset)
  values (p_at, v_previous.taken_at, v_reset)
  returning id into v_id;

  -- statements: deltas against the counters last seen, then the counters themselves
  if v_schema is not null then
    execute format($q$
      with cur as (
        select s.userid, s.queryid, s.toplevel, s.calls, s.total_exec_time as total_ms, s.rows,
               s.shared_blks_hit, s.shared_blks_read, s.query
        from %I.pg_stat_statements(true) s
        where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
          and s.queryid is not null
      ), delta as (
        select c.userid, c.queryid, c.toplevel, c.query,
               -- restarted: a reset of pg_stat_statements, or an entry evicted and made again
               $3 or p.calls is null or c.calls < p.calls as fresh,
               c.calls, c.total_ms, c.rows, c.shared_blks_hit, c.shared_blks_read,
               p.calls as p_calls, p.total_ms as p_total_ms, p.rows as p_rows, p.shared_blks_hit as p_hit, p.shared_blks_read as p_read
        from cur c
        left join perf.statement_counters p on (p.userid, p.queryid, p.toplevel) = (c.userid, c.queryid, c.toplevel)
      ), inserted as (
        insert into perf.statement_deltas (snapshot_id, userid, queryid, toplevel, calls, total_ms, rows, shared_blks_hit, shared_blks_read)
        select $1, d.userid, d.queryid, d.toplevel,
               case when d.fresh then d.calls else d.calls - d.p_calls end,
               greatest(case when d.fresh then d.total_ms else d.total_ms - d.p_total_ms end, 0),
               case when d.fresh then d.rows else greatest(d.rows - d.p_rows, 0) end,
               case when d.fresh then d.shared_blks_hit else greatest(d.shared_blks_hit - d.p_hit, 0) end,
               case when d.fresh then d.shared_blks_read else greatest(d.shared_blks_read - d.p_read, 0) end
        from delta d
        where not $4
          and case when d.fresh then d.calls else d.calls - d.p_calls end > 0
        returning queryid
      ), texts as (
        insert into perf.statement_texts (queryid, query, first_seen)
        select distinct on (d.queryid) d.queryid, d.query, $2
        from delta d
        where d.queryid in (select i.queryid from inserted i)
        order by d.queryid
        on conflict (queryid) do nothing
      ), counters as (
        insert into perf.statement_counters (userid, queryid, toplevel, calls, total_ms, rows, shared_blks_hit, shared_blks_read, seen_at)
        select c.userid, c.queryid, c.toplevel, c.calls, c.total_ms, c.rows, c.shared_blks_hit, c.shared_blks_read, $2
        from cur c
        on conflict (userid, queryid, toplevel) do update
          set calls = excluded.calls, total_ms = excluded.total_ms, rows = excluded.rows,
              shared_blks_hit = excluded.shared_blks_hit, shared_blks_read = excluded.shared_blks_read, seen_at = excluded.seen_at
      )
      select count(*)::integer from inserted
    $q$, v_schema)
    into v_statements
    using v_id, p_at, v_restarted, v_baseline;
  end if;

  -- api routines: pg_stat_user_functions deltas, and the top-level statements that call one
  with cur as (
    select f.funcid, n.nspname || '.' || p.proname as routine, f.calls, f.total_time as total_ms, f.self_time as self_ms
    from pg_stat_user_functions f
    join pg_proc p on p.oid = f.funcid
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'api'
  ), functions as (
    select c.routine,
           sum(case when p.calls is null or c.calls < p.calls then c.calls else c.calls - p.calls end) as calls,
           sum(greatest(case when p.calls is null or c.calls < p.calls then c.total_ms else c.total_ms - p.total_ms end, 0)) as total_ms,
           sum(greatest(case when p.calls is null or c.calls < p.calls then c.self_ms else c.self_ms - p.self_ms end, 0)) as self_ms
    from cur c
    left join perf.function_counters p on p.funcid = c.funcid
    where not v_baseline
    group by c.routine
  ), called as (
    -- each top-level statement of this snapshot and the api routines its text calls
    select d.calls, d.total_ms, d.rows, d.shared_blks_hit, d.shared_blks_read,
           array(select distinct 'api.' || m[1] from regexp_matches(t.query, '\mapi\.([a-z_][a-z0-9_]*)\s*\(', 'gi') m) as names
    from perf.statement_deltas d
    join perf.statement_texts t on t.queryid = d.queryid
    where d.snapshot_id = v_id and d.toplevel
  ), statements as (
    select c.names[1] as routine, sum(c.calls) as calls, sum(c.total_ms) as total_ms, sum(c.rows) as rows,
           sum(c.shared_blks_hit) as hit, sum(c.shared_blks_read) as read
    from called c
    where cardinality(c.names) = 1
      and exists (select from pg_proc p where p.pronamespace = 'api'::regnamespace and 'api.' || p.proname = c.names[1])
    group by c.names[1]
  ), inserted as (
    insert into perf.routine_deltas (snapshot_id, routine, calls, total_ms, self_ms, statement_calls, statement_total_ms, rows, shared_blks_hit, shared_blks_read)
    select v_id, coalesce(f.routine, s.routine),
           coalesce(f.calls, 0), coalesce(f.total_ms, 0), coalesce(f.self_ms, 0),
           coalesce(s.calls, 0), coalesce(s.total_ms, 0), coalesce(s.rows, 0), coalesce(s.hit, 0), coalesce(s.read, 0)
    from functions f
    full join statements s on s.routine = f.routine
    where coalesce(f.calls, 0) > 0 or coalesce(s.calls, 0) > 0
    returning 1
  ), counters as (
    insert into perf.function_counters (funcid, calls, total_ms, self_ms, seen_at)
    select c.funcid, c.calls, c.total_ms, c.self_ms, p_at from cur c
    on conflict (funcid) do update
      set calls = excluded.calls, total_ms = excluded.total_ms, self_ms = excluded.self_ms, seen_at = excluded.seen_at
  )
  select count(*)::integer into v_routines from inserted;

  -- sizes: tables (partitions summed) and indexes (partitions' indexes summed)
  with inserted as (
    insert into perf.relation_sizes (snapshot_id, schema_name, table_name, index_name, rows_estimate, table_bytes, index_bytes, total_bytes)
    select v_id, t.schema_name, t.table_name, '', t.rows_estimate, t.table_bytes, t.index_bytes, t.size_bytes
    from perf.table_sizes() t
    union all
    select v_id, i.schema_name, i.table_name, i.index_name, null, 0, i.size_bytes, i.size_bytes
    from perf.index_usage() i
    returning 1
  )
  select count(*)::integer into v_relations from inserted;

  -- retention
  with gone as (
    delete from perf.snapshots s where s.taken_at < p_at - v_retention returning 1
  )
  select count(*)::integer into v_pruned from gone;
  delete from perf.statement_texts t
  where not exists (select from perf.statement_deltas d where d.queryid = t.queryid);
  delete from perf.statement_counters c where c.seen_at < p_at - v_retention;
  delete from perf.function_counters c where c.seen_at < p_at - v_retention;

  return query select v_id, v_statements, v_routines, v_relations, v_pruned;
end
$$;
comment on function perf.take_snapshot(timestamptz, interval) is
  'Records a snapshot at p_at (default null: the clock once the lock on perf.snapshots is held; it must be later than the latest snapshot, QB008; tests place snapshots with it): per statement of this database what it did since the previous snapshot (perf.statement_deltas: calls, time, rows, shared buffers hit and read), '
  'per api routine (perf.routine_deltas: pg_stat_user_functions calls and times, and the top-level statements calling it with their buffers), and the size of every table and index (perf.relation_sizes); '
  'the first snapshot is a baseline (no deltas). Then deletes snapshots older than p_at - retention (p_retention, else the setting querybudget.perf_history_retention, else 14 days; QB008 if not positive). '
  'Returns snapshot_id, statements, routines, relations recorded and snapshots_pruned. The job querybudget_perf_snapshot calls it every 5 minutes (docs/jobs.md). '
  'Security definer (reads every role''s statements, writes the perf history tables); not granted to the monitoring role. Errors: QB008 as above, or an infinite p_at.';
revoke all on function perf.take_snapshot(timestamptz, interval) from public;

create or replace function perf.routine_history(p_since timestamptz default null)
returns table (
  taken_at timestamptz,
  interval_start timestamptz,
  routine text,
  calls bigint,
  mean_ms numeric,
  blocks_per_call numeric,
  rows_per_call numeric,
  function_calls bigint,
  function_mean_ms numeric)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select s.taken_at, s.previous_at, r.routine,
         r.statement_calls,
         round((r.statement_total_ms / nullif(r.statement_calls, 0))::numeric, 3),
         round((r.shared_blks_hit + r.shared_blks_read)::numeric / nullif(r.statement_calls, 0), 1),
         round(r.rows::numeric / nullif(r.statement_calls, 0), 1),
         r.calls,
         round((r.total_ms / nullif(r.calls, 0))::numeric, 3)
  from perf.snapshots s
  join perf.routine_deltas r on r.snapshot_id = s.id
  where s.taken_at > coalesce(p_since, '-infinity')
  order by s.taken_at, r.routine
$$;
comment on function perf.routine_history(timestamptz) is
  'Per snapshot after p_since (null: every retained one) and api routine that ran in its interval: taken_at, interval_start (the previous snapshot), routine, '
  'calls, mean_ms, blocks_per_call (shared buffers hit + read) and rows_per_call of the top-level statements that call it (null when none did), function_calls and function_mean_ms (pg_stat_user_functions: every call, nested ones too; 0 / null unless track_functions is on). '
  'Oldest first: the series of a latency chart. Security definer: the monitoring role reads the history through perf functions only.';
revoke all on function perf.routine_history(timestamptz) from public;

create or replace function perf.routine_changes_since(p_since timestamptz, p_min_growth real default 0.5)
returns table (
  routine text,
  source text,
  calls_before bigint,
  calls_after bigint,
  mean_ms_before numeric,
  mean_ms_after numeric,
  mean_growth numeric,
  blocks_per_call_before numeric,
  blocks_per_call_after numeric,
  blocks_growth numeric,
  changed_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_since, 'p_since', '-infinity'::timestamptz);
  perform perf.require_threshold(p_min_growth, 'p_min_growth', 0::real);
  return query
  with intervals as (
    -- one row per routine and interval, with the measures the comparison uses: the calling
    -- statements' when there are any (they carry buffers), else pg_stat_user_functions'
    select r.routine, s.taken_at, s.taken_at <= p_since as before,
           r.statement_calls > 0 as by_statements,
           case when r.statement_calls > 0 then r.statement_calls else r.calls end as calls,
           case when r.statement_calls > 0 then r.statement_total_ms else r.total_ms end as total_ms,
           case when r.statement_calls > 0 then r.shared_blks_hit + r.shared_blks_read end as blocks
    from perf.routine_deltas r
    join perf.snapshots s on s.id = r.snapshot_id
  ), windows as (
    select i.routine,
           bool_and(i.by_statements) as by_statements,
           sum(i.calls) filter (where i.before) as calls_before,
           sum(i.calls) filter (where not i.before) as calls_after,
           sum(i.total_ms) filter (where i.before) / nullif(sum(i.calls) filter (where i.before), 0) as mean_before,
           sum(i.total_ms) filter (where not i.before) / nullif(sum(i.calls) filter (where not i.before), 0) as mean_after,
           sum(i.blocks) filter (where i.before)::numeric / nullif(sum(i.calls) filter (where i.before and i.blocks is not null), 0) as blocks_before,
           sum(i.blocks) filter (where not i.before)::numeric / nullif(sum(i.calls) filter (where not i.before and i.blocks is not null), 0) as blocks_after
    from intervals i
    group by i.routine
  ), grown as (
    select w.*,
           w.mean_after / nullif(w.mean_before, 0) - 1 as mean_growth,
           w.blocks_after / nullif(w.blocks_before, 0) - 1 as blocks_growth
    from windows w
    where w.calls_before > 0 and w.calls_after > 0
  )
  select g.routine,
         case when g.by_statements then 'statements' else 'function statistics' end,
         g.calls_before::bigint, g.calls_after::bigint,
         round(g.mean_before::numeric, 3), round(g.mean_after::numeric, 3), round(g.mean_growth::numeric, 3),
         round(g.blocks_before, 1), round(g.blocks_after, 1), round(g.blocks_growth, 3),
         -- the end of the first interval after p_since whose own mean or buffers per call passed the growth
         (select min(i.taken_at) from intervals i
          where i.routine = g.routine and not i.before and i.calls > 0
            and (i.total_ms / i.calls >= g.mean_before * (1 + p_min_growth)
                 or i.blocks::numeric / i.calls >= g.blocks_before * (1 + p_min_growth)))
  from grown g
  where g.mean_growth >= p_min_growth or g.blocks_growth >= p_min_growth
  order by greatest(coalesce(g.mean_growth, 0), coalesce(g.blocks_growth, 0)) desc, g.routine;
end
$$;
comment on function perf.routine_changes_since(timestamptz, real) is
  'The api routines whose mean time or shared buffers per call grew by p_min_growth (default 0.5: +50 %) or more after p_since, comparing the snapshots'' intervals ending at or before p_since (every retained one: the baseline) with those after: '
  'routine, source (statements: the top-level statements calling it, which carry buffers; function statistics: pg_stat_user_functions, no buffers), calls_before, calls_after, mean_ms_before, mean_ms_after, mean_growth (after / before - 1), '
  'blocks_per_call_before, blocks_per_call_after, blocks_growth, changed_at (the end of the first interval after p_since whose own mean or buffers per call passed the growth: when the regression began, to the snapshot). '
  'Only routines called in both windows. Largest growth first. Security definer (the history tables). Errors: QB001 null, QB008 negative p_min_growth.';
revoke all on function perf.routine_changes_since(timestamptz, real) from public;

create or replace function perf.table_size_history(p_since timestamptz default null)
returns table (
  taken_at timestamptz,
  schema_name text,
  table_name text,
  rows_estimate bigint,
  table_bytes bigint,
  index_bytes bigint,
  total_bytes bigint)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select s.taken_at, r.schema_name, r.table_name, r.rows_estimate, r.table_bytes, r.index_bytes, r.total_bytes
  from perf.snapshots s
  join perf.relation_sizes r on r.snapshot_id = s.id
  where s.taken_at > coalesce(p_since, '-infinity')
    and r.index_name = ''
  order by s.taken_at, r.schema_name, r.table_name
$$;
comment on function perf.table_size_history(timestamptz) is
  'Per snapshot after p_since (null: every retained one) and table (partitions summed): taken_at, schema_name, table_name, rows_estimate, table_bytes, index_bytes, total_bytes. Oldest first: the series of a size chart. '
  'Security definer: the monitoring role reads the history through perf functions only.';
revoke all on function perf.table_size_history(timestamptz) from public;

create or replace function perf.table_growth_since(p_since timestamptz)
returns table (
  schema_name text,
  table_name text,
  since_at timestamptz,
  latest_at timestamptz,
  total_bytes_before bigint,
  total_bytes_after bigint,
  growth_bytes bigint,
  growth_ratio numeric,
  rows_before bigint,
  rows_after bigint,
  index_bytes_before bigint,
  index_bytes_after bigint,
  bytes_per_day bigint,
  growth text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_since, 'p_since', '-infinity'::timestamptz);
  return query
  with marks as (
    -- the snapshot at or before p_since (else the first after it), and the latest
    select coalesce((select s.id from perf.snapshots s where s.taken_at <= p_since order by s.taken_at desc limit 1),
                    (select s.id from perf.snapshots s where s.taken_at > p_since order by s.taken_at limit 1)) as first_id,
           (select s.id from perf.snapshots s order by s.taken_at desc limit 1) as last_id
  ), b as (
    select r.* from perf.relation_sizes r join marks m on r.snapshot_id = m.first_id where r.index_name = ''
  ), a as (
    select r.* from perf.relation_sizes r join marks m on r.snapshot_id = m.last_id where r.index_name = ''
  )
  select coalesce(b.schema_name, a.schema_name), coalesce(b.table_name, a.table_name),
         sb.taken_at, sa.taken_at,
         coalesce(b.total_bytes, 0), coalesce(a.total_bytes, 0),
         coalesce(a.total_bytes, 0) - coalesce(b.total_bytes, 0),
         round((coalesce(a.total_bytes, 0) - coalesce(b.total_bytes, 0))::numeric / nullif(b.total_bytes, 0), 4),
         b.rows_estimate, a.rows_estimate,
         b.index_bytes, a.index_bytes,
         ((coalesce(a.total_bytes, 0) - coalesce(b.total_bytes, 0))
           / nullif(extract(epoch from sa.taken_at - sb.taken_at) / 86400, 0))::bigint,
         pg_size_pretty(coalesce(a.total_bytes, 0) - coalesce(b.total_bytes, 0))
  from b
  full join a on a.schema_name = b.schema_name and a.table_name = b.table_name
  cross join marks m
  join perf.snapshots sb on sb.id = m.first_id
  join perf.snapshots sa on sa.id = m.last_id
  where m.first_id <> m.last_id
  order by 7 desc, 1, 2;
end
$$;
comment on function perf.table_growth_since(timestamptz) is
  'How every table (partitions summed) changed in size between the snapshot at or before p_since (else the first after it) and the latest: schema_name, table_name, since_at and latest_at (the two snapshots), '
  'total_bytes_before, total_bytes_after, growth_bytes (negative: it shrank), growth_ratio (of the size before; null for a table new since), rows_before, rows_after (estimates), index_bytes_before, index_bytes_after, bytes_per_day, growth (for people). '
  'Most growth first; no rows with fewer than two snapshots. Security definer (the history tables). Errors: QB001 null p_since.';
revoke all on function perf.table_growth_since(timestamptz) from public;

create or replace function perf.history_status()
returns table (
  snapshots bigint,
  first_at timestamptz,
  latest_at timestamptz,
  latest_age interval,
  retention interval)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select count(*), min(s.taken_at), max(s.taken_at), now() - max(s.taken_at),
         coalesce(nullif(btrim(current_setting('querybudget.perf_history_retention', true)), '')::interval, interval '14 days')
  from perf.snapshots s
$$;
comment on function perf.history_status() is
  'The history at a glance, one row: snapshots retained, first_at and latest_at (null: none yet), latest_age (now() - latest_at: more than 5 minutes and a bit means the job querybudget_perf_snapshot is not running), '
  'retention (querybudget.perf_history_retention, else 14 days: what the next snapshot prunes with unless given p_retention). Security definer (the history tables).';
revoke all on function perf.history_status() from public;

create or replace function perf.statement_history(p_queryid bigint, p_since timestamptz default null)
returns table (
  taken_at timestamptz,
  interval_start timestamptz,
  username text,
  toplevel boolean,
  calls bigint,
  mean_ms numeric,
  rows_per_call numeric,
  blocks_per_call numeric,
  shared_blks_hit bigint,
  shared_blks_read bigint)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_queryid, 'p_queryid', (-9223372036854775807 - 1)::bigint);
  return query
  select s.taken_at, s.previous_at, coalesce(r.rolname::text, d.userid::text), d.toplevel, d.calls,
         round((d.total_ms / d.calls)::numeric, 3),
         round(d.rows::numeric / d.calls, 1),
         round((d.shared_blks_hit + d.shared_blks_read)::numeric / d.calls, 1),
         d.shared_blks_hit, d.shared_blks_read
  from perf.statement_deltas d
  join perf.snapshots s on s.id = d.snapshot_id
  left join pg_roles r on r.oid = d.userid
  where d.queryid = p_queryid
    and s.taken_at > coalesce(p_since, '-infinity')
  order by s.taken_at, 3, d.toplevel desc;
end
$$;
comment on function perf.statement_history(bigint, timestamptz) is
  'One statement''s history (p_queryid: pg_stat_statements.queryid, as perf.slow_queries and perf.statement_changes_since give it), per snapshot after p_since (null: every retained one) in whose interval it ran, per role and top-level or nested: '
  'taken_at, interval_start, username, toplevel, calls, mean_ms, rows_per_call, blocks_per_call, shared_blks_hit, shared_blks_read. Oldest first. Security definer (the history tables). Errors: QB001 null p_queryid.';
revoke all on function perf.statement_history(bigint, timestamptz) from public;

create or replace function perf.statement_changes_since(p_since timestamptz, p_min_growth real default 0.5)
returns table (
  queryid bigint,
  toplevel boolean,
  username text,
  query text,
  calls_before bigint,
  calls_after bigint,
  mean_ms_before numeric,
  mean_ms_after numeric,
  mean_growth numeric,
  blocks_per_call_before numeric,
  blocks_per_call_after numeric,
  blocks_growth numeric,
  changed_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_since, 'p_since', '-infinity'::timestamptz);
  perform perf.require_threshold(p_min_growth, 'p_min_growth', 0::real);
  return query
  with intervals as (
    select d.userid, d.queryid, d.toplevel, s.taken_at, s.taken_at <= p_since as before,
           d.calls, d.total_ms, (d.shared_blks_hit + d.shared_blks_read) as blocks
    from perf.statement_deltas d
    join perf.snapshots s on s.id = d.snapshot_id
  ), windows as (
    select i.userid, i.queryid, i.toplevel,
           sum(i.calls) filter (where i.before) as calls_before,
           sum(i.calls) filter (where not i.before) as calls_after,
           sum(i.total_ms) filter (where i.before) / nullif(sum(i.calls) filter (where i.before), 0) as mean_before,
           sum(i.total_ms) filter (where not i.before) / nullif(sum(i.calls) filter (where not i.before), 0) as mean_after,
           sum(i.blocks) filter (where i.before)::numeric / nullif(sum(i.calls) filter (where i.before), 0) as blocks_before,
           sum(i.blocks) filter (where not i.before)::numeric / nullif(sum(i.calls) filter (where not i.before), 0) as blocks_after
    from intervals i
    group by i.userid, i.queryid, i.toplevel
  ), grown as (
    select w.*,
           w.mean_after / nullif(w.mean_before, 0) - 1 as mean_growth,
           w.blocks_after / nullif(w.blocks_before, 0) - 1 as blocks_growth
    from windows w
    where w.calls_before > 0 and w.calls_after > 0
  )
  select g.queryid, g.toplevel, coalesce(r.rolname::text, g.userid::text), t.query,
         g.calls_before::bigint, g.calls_after::bigint,
         round(g.mean_before::numeric, 3), round(g.mean_after::numeric, 3), round(g.mean_growth::numeric, 3),
         round(g.blocks_before, 1), round(g.blocks_after, 1), round(g.blocks_growth, 3),
         (select min(i.taken_at) from intervals i
          where (i.userid, i.queryid, i.toplevel) = (g.userid, g.queryid, g.toplevel) and not i.before
            and (i.total_ms / i.calls >= g.mean_before * (1 + p_min_growth)
                 or i.blocks::numeric / i.calls >= g.blocks_before * (1 + p_min_growth)))
  from grown g
  left join perf.statement_texts t on t.queryid = g.queryid
  left join pg_roles r on r.oid = g.userid
  where g.mean_growth >= p_min_growth or g.blocks_growth >= p_min_growth
  order by greatest(coalesce(g.mean_growth, 0), coalesce(g.blocks_growth, 0)) desc, g.queryid, g.toplevel desc;
end
$$;
comment on function perf.statement_changes_since(timestamptz, real) is
  'The statements (per queryid, top-level or nested, and role) whose mean execution time or shared buffers per call grew by p_min_growth (default 0.5: +50 %) or more after p_since, comparing the snapshots'' intervals ending at or before p_since with those after: '
  'queryid, toplevel, username, query, calls_before, calls_after, mean_ms_before, mean_ms_after, mean_growth, blocks_per_call_before, blocks_per_call_after, blocks_growth, '
  'changed_at (the end of the first interval after p_since whose own mean or buffers per call passed the growth). Only statements run in both windows. Largest growth first. '
  'Security definer (the history tables). Errors: QB001 null, QB008 negative p_min_growth.';
revoke all on function perf.statement_changes_since(timestamptz, real) from public;
