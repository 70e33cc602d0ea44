-- Server activity: connections against max_connections (the seeds' connection-pool questions,
-- answered from the server side), long-running queries and transactions, blocked queries.
-- Documentation: docs/monitoring.md.
--
-- Privileges: pg_stat_activity shows a role the state, query and wait of its own sessions
-- only (others' read null or '<insufficient privilege>') unless it has pg_read_all_stats. So
-- these are security definer: the monitoring role sees every session through them without
-- being granted pg_read_all_stats itself. Their owner (the role that migrates) must be a
-- superuser or a member of pg_monitor (docs/monitoring.md). Read-only; search_path pinned.

create or replace function perf.connections()
returns table (
  database text,
  application text,
  state text,
  connections integer,
  waiting_on_locks integer,
  longest_in_state interval,
  total_connections integer,
  max_connections integer,
  reserved_connections integer,
  used_percent numeric,
  level text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  with clients as (
    select coalesce(a.datname::text, '') as database,
           coalesce(nullif(a.application_name, ''), '(none)') as application,
           coalesce(a.state, 'unknown') as state,
           a.wait_event_type,
           a.state_change
    from pg_stat_activity a
    where a.backend_type = 'client backend'
  ), limits as (
    select current_setting('max_connections')::integer as max_connections,
           current_setting('superuser_reserved_connections')::integer as reserved,
           (select count(*) from clients)::integer as total
  )
  select c.database, c.application, c.state,
         count(*)::integer,
         (count(*) filter (where c.wait_event_type = 'Lock'))::integer,
         -- now() is the start of this transaction: the calling session changed state after it
         max(greatest(now() - c.state_change, interval '0')),
         l.total, l.max_connections, l.reserved,
         round(100.0 * l.total / nullif(l.max_connections - l.reserved, 0), 1),
         case when l.total >= 0.95 * (l.max_connections - l.reserved) then 'error'
              when l.total >= 0.80 * (l.max_connections - l.reserved) then 'warning'
              else 'ok' end
  from clients c
  cross join limits l
  group by c.database, c.application, c.state, l.total, l.max_connections, l.reserved
  order by c.database, c.application, c.state
$$;
comment on function perf.connections() is
  'Client connections of the whole server by database, application_name and state (active = a pool''s checked-out connection at work, idle = checked in, '
  'idle in transaction = checked out and holding a transaction open): connections, waiting_on_locks, longest_in_state; and on every row the server totals: '
  'total_connections, max_connections, reserved_connections (superuser_reserved_connections), used_percent (total of the connections ordinary roles may open), '
  'level: error at 95 % and more (seed 003''s pool exhaustion alert), warning at 80 %, else ok. Security definer: sees every session.';
revoke all on function perf.connections() from public;

create or replace function perf.long_running_queries(p_min interval default interval '1 minute')
returns table (
  pid integer,
  database text,
  username text,
  application text,
  backend_type text,
  state text,
  query_duration interval,
  transaction_duration interval,
  wait_event_type text,
  wait_event text,
  query text)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_min, 'p_min', interval '0');
  return query
  select a.pid, a.datname::text, a.usename::text, a.application_name, a.backend_type, a.state,
         now() - a.query_start, now() - a.xact_start,
         a.wait_event_type, a.wait_event,
         a.query
  from pg_stat_activity a
  where a.pid <> pg_backend_pid()
    and (
      -- a statement running for p_min or longer
      (a.state = 'active' and now() - a.query_start >= p_min)
      -- a transaction left open for p_min or longer: it holds its locks and snapshot (which
      -- keeps VACUUM from removing dead rows) while the client does something else
      or (a.state like 'idle in transaction%' and now() - a.xact_start >= p_min))
  order by coalesce(a.xact_start, a.query_start);
end
$$;
comment on function perf.long_running_queries(interval) is
  'Sessions of the whole server with a statement active for p_min or longer (default 1 minute), or a transaction idle in transaction for p_min or longer since it began: '
  'pid, database, username, application, backend_type (client backend, autovacuum worker, pg_cron worker, ...), state, query_duration, transaction_duration, wait_event_type, '
  'wait_event, query; oldest first. Not the caller''s own session. Security definer: sees every session. Errors: QB001 null p_min, QB008 negative p_min.';
revoke all on function perf.long_running_queries(interval) from public;

create or replace function perf.blocked_queries()
returns table (
  pid integer,
  database text,
  username text,
  application text,
  waiting_for text,
  waiting interval,
  query text,
  blocking_pids integer[],
  blocking_pid integer,
  blocking_state text,
  blocking_transaction_duration interval,
  blocking_query text)
language sql
stable
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select a.pid, a.datname::text, a.usename::text, a.application_name,
         w.what,
         now() - coalesce(w.since, a.state_change),
         a.query,
         b.pids,
         b.pids[1],
         blocker.state,
         now() - blocker.xact_start,
         blocker.query
  from pg_stat_activity a
  cross join lateral (select pg_blocking_pids(a.pid) as pids) b
  left join lateral (
    -- the lock it waits for (a session waits for one lock at a time)
    select l.mode || ' on ' || l.locktype
           || coalesce(' ' || l.relation::regclass::text, '')
           || coalesce(' (transaction ' || l.transactionid::text || ')', '') as what,
           l.waitstart as since
    from pg_locks l
    where l.pid = a.pid and not l.granted
    limit 1
  ) w on true
  left join pg_stat_activity blocker on blocker.pid = b.pids[1]
  where cardinality(b.pids) > 0
  order by coalesce(w.since, a.state_change)
$$;
comment on function perf.blocked_queries() is
  'Sessions waiting for a lock another session holds: pid, database, username, application, waiting_for (lock mode, lock type, relation or transaction), waiting (since the wait began), '
  'query, blocking_pids (pg_blocking_pids), and the first blocker''s state, transaction_duration and query (often idle in transaction: a client that left a transaction open). '
  'Longest waiting first. Security definer: sees every session.';
revoke all on function perf.blocked_queries() from public;
