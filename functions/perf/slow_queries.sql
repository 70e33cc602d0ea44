-- Slow statements from pg_stat_statements (seed 002's slow query log, seed 000's query monitor),
-- with seed 002's levels: warning from 100 ms, error from 500 ms. Documentation:
-- docs/monitoring.md.
--
-- pg_stat_statements is server-wide: this reads the entries of the current database only.
-- With pg_stat_statements.track = all (the server contract), statements inside functions are
-- entries of their own (toplevel = false) next to the call that ran them.
--
-- Privileges: without pg_read_all_stats a role sees '<insufficient privilege>' for the query
-- texts of other roles, so this is security definer (owner: superuser or pg_monitor). The
-- view lives in the schema the extension was created in, found in pg_extension, hence
-- plpgsql with format('%I').

create or replace function perf.slow_queries(p_warn_ms numeric default 100, p_error_ms numeric default 500)
returns table (
  queryid bigint,
  toplevel boolean,
  username text,
  query text,
  calls bigint,
  total_ms numeric,
  mean_ms numeric,
  min_ms numeric,
  max_ms numeric,
  stddev_ms numeric,
  p99_ms numeric,
  share_percent numeric,
  rows bigint,
  rows_per_call numeric,
  shared_blocks_hit bigint,
  shared_blocks_read bigint,
  blocks_per_call numeric,
  temp_blocks_written bigint,
  level text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  v_schema text;
begin
  perform perf.require_threshold(p_warn_ms, 'p_warn_ms', 0);
  perform perf.require_threshold(p_error_ms, 'p_error_ms', p_warn_ms);
  select e.extnamespace::regnamespace::text into v_schema from pg_extension e where e.extname = 'pg_stat_statements';
  if v_schema is null then
    raise notice 'perf.slow_queries: the pg_stat_statements extension is not installed in database %', current_database();
    return;
  end if;
  return query execute format($q$
    with s as (
      select s.*, r.rolname::text as username,
             -- pg_stat_statements keeps no histogram: p99 is estimated as mean + 2.326 standard
             -- deviations (the normal distribution's 99th percentile), kept within [min, max]
             least(greatest(s.mean_exec_time + 2.326 * s.stddev_exec_time, s.min_exec_time), s.max_exec_time) as p99
      from %I.pg_stat_statements(true) s
      left join pg_roles r on r.oid = s.userid
      where s.dbid = (select d.oid from pg_database d where d.datname = current_database())
        and s.calls > 0
    ), total as (
      select sum(s.total_exec_time) as ms from s where s.toplevel
    )
    select s.queryid, s.toplevel, s.username, s.query, s.calls,
           round(s.total_exec_time::numeric, 3), round(s.mean_exec_time::numeric, 3), round(s.min_exec_time::numeric, 3),
           round(s.max_exec_time::numeric, 3), round(s.stddev_exec_time::numeric, 3), round(s.p99::numeric, 3),
           round((100 * s.total_exec_time / nullif(t.ms, 0))::numeric, 2),
           s.rows, round(s.rows::numeric / s.calls, 1),
           s.shared_blks_hit, s.shared_blks_read,
           round((s.shared_blks_hit + s.shared_blks_read)::numeric / s.calls, 1),
           s.temp_blks_written,
           case when s.p99 >= $2 then 'error' else 'warning' end
    from s cross join total t
    where s.p99 >= $1
    order by s.total_exec_time desc, s.queryid
  $q$, v_schema)
  using p_warn_ms::float8, p_error_ms::float8;
end
$$;
comment on function perf.slow_queries(numeric, numeric) is
  'Statements of this database (pg_stat_statements, nested ones included: toplevel = false) whose estimated p99 execution time is p_warn_ms (default 100) or more: '
  'queryid, toplevel, username, query, calls, total_ms, mean_ms, min_ms, max_ms, stddev_ms, p99_ms (estimate: mean + 2.326 stddev, within [min, max]; no histogram is kept), '
  'share_percent (of the total execution time of the database''s top-level statements), rows, rows_per_call, shared_blocks_hit, shared_blocks_read, blocks_per_call, temp_blocks_written, '
  'level: error when p99_ms >= p_error_ms (default 500), else warning (seed 002''s thresholds). Execution time only (planning is not tracked by default). Most total time first. '
  'No rows, with a notice, when pg_stat_statements is not installed in the database. Security definer: sees every role''s statements. Errors: QB001 null threshold, QB008 negative or p_error_ms < p_warn_ms.';
revoke all on function perf.slow_queries(numeric, numeric) from public;
