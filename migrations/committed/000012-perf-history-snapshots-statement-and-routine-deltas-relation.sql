--! Previous: sha1:a645b72218b08a286c8c7f1af61d9b4ea61d9ba2
--! Hash: sha1:5314f757797d2cdd7fc9a6c0fcc0d24b6b01f24c
--! Message: perf history: snapshots, statement and routine deltas, relation sizes, and the counters they are computed from

-- History of the monitoring (issue 15, item 2): perf.take_snapshot() (the pg_cron job
-- querybudget_perf_snapshot, every 5 minutes) records what changed since the previous snapshot:
-- per statement (pg_stat_statements) and per api routine (pg_stat_user_functions, and the
-- top-level statements that call the routine), and the size of every table and index. Deltas
-- per interval rather than cumulative counters: the counters restart at a reset or when an
-- entry is evicted, and a regression is dated by the interval where a routine's mean grew.
-- The cumulative counters last seen are kept in two state tables (one row per statement or
-- routine) to compute the next deltas. Pruned by take_snapshot after the retention
-- (querybudget.perf_history_retention, default 14 days). Read through perf functions only:
-- the monitoring role has no privilege on these tables.

set local lock_timeout = '5s';

create table if not exists perf.snapshots (
  id bigint generated always as identity primary key,
  taken_at timestamptz not null,
  -- the interval the deltas cover: from the previous snapshot (null: the first one, a baseline)
  previous_at timestamptz,
  -- pg_stat_statements_info.stats_reset when taken (a change means every counter restarted)
  statements_reset timestamptz,
  constraint snapshots_taken_at_key unique (taken_at)
);
comment on table perf.snapshots is
  'One row per perf.take_snapshot(): taken_at, previous_at (start of the interval its deltas cover; null for a baseline), statements_reset (pg_stat_statements_info.stats_reset then). Deleting a snapshot deletes its rows in the history tables.';
comment on constraint snapshots_taken_at_key on perf.snapshots is
  'perf.take_snapshot (the latest snapshot, the retention''s delete) and the readers'' windows (perf.routine_changes_since, perf.table_growth_since): a range or max of taken_at.';

create table if not exists perf.statement_texts (
  queryid bigint primary key,
  query text not null,
  first_seen timestamptz not null
);
comment on table perf.statement_texts is
  'The normalized text of every statement perf.statement_deltas mentions (pg_stat_statements.query), by queryid, kept once. Pruned with the history when no delta refers to it.';

create table if not exists perf.statement_deltas (
  snapshot_id bigint not null references perf.snapshots (id) on delete cascade,
  userid oid not null,
  queryid bigint not null,
  toplevel boolean not null,
  calls bigint not null,
  total_ms double precision not null,
  rows bigint not null,
  shared_blks_hit bigint not null,
  shared_blks_read bigint not null,
  primary key (snapshot_id, userid, queryid, toplevel)
);
comment on table perf.statement_deltas is
  'What each statement of this database did during a snapshot''s interval (pg_stat_statements counters minus those at the previous snapshot; the counters themselves after a reset): calls, total_ms (execution), rows, shared_blks_hit, shared_blks_read. Statements that did not run in the interval have no row.';
comment on constraint statement_deltas_pkey on perf.statement_deltas is
  'perf.take_snapshot''s insert; the history readers join a snapshot''s deltas by snapshot_id.';
create index if not exists statement_deltas_queryid_idx on perf.statement_deltas (queryid);
comment on index perf.statement_deltas_queryid_idx is
  'perf.take_snapshot''s pruning of perf.statement_texts: is a text still referred to by a delta (anti-join by queryid).';

create table if not exists perf.statement_counters (
  userid oid not null,
  queryid bigint not null,
  toplevel boolean not null,
  calls bigint not null,
  total_ms double precision not null,
  rows bigint not null,
  shared_blks_hit bigint not null,
  shared_blks_read bigint not null,
  seen_at timestamptz not null,
  primary key (userid, queryid, toplevel)
);
comment on table perf.statement_counters is
  'State of perf.take_snapshot: the cumulative pg_stat_statements counters of each statement at the last snapshot that saw it (seen_at), to compute the next deltas. Rows not seen for longer than the retention are deleted.';

create table if not exists perf.routine_deltas (
  snapshot_id bigint not null references perf.snapshots (id) on delete cascade,
  routine text not null,
  -- pg_stat_user_functions (track_functions = pl or all; otherwise 0): every call, nested ones too
  calls bigint not null,
  total_ms double precision not null,
  self_ms double precision not null,
  -- the top-level statements that call this routine and no other api routine
  statement_calls bigint not null,
  statement_total_ms double precision not null,
  rows bigint not null,
  shared_blks_hit bigint not null,
  shared_blks_read bigint not null,
  primary key (snapshot_id, routine)
);
comment on table perf.routine_deltas is
  'What each api routine (schema-qualified name, overloads together) did during a snapshot''s interval: calls, total_ms and self_ms from pg_stat_user_functions (0 unless track_functions is pl or all), '
  'and statement_calls, statement_total_ms, rows, shared_blks_hit, shared_blks_read of the top-level statements that call it (and no other api routine): the buffers of its nested statements included.';
comment on constraint routine_deltas_pkey on perf.routine_deltas is
  'perf.take_snapshot''s insert; perf.routine_changes_since and perf.routine_history join a snapshot''s routines by snapshot_id.';

create table if not exists perf.function_counters (
  funcid oid primary key,
  calls bigint not null,
  total_ms double precision not null,
  self_ms double precision not null,
  seen_at timestamptz not null
);
comment on table perf.function_counters is
  'State of perf.take_snapshot: the cumulative pg_stat_user_functions counters of each api function at the last snapshot that saw it, to compute the next deltas.';

create table if not exists perf.relation_sizes (
  snapshot_id bigint not null references perf.snapshots (id) on delete cascade,
  schema_name text not null,
  table_name text not null,
  -- '' for the table itself, else the index's name
  index_name text not null default '',
  rows_estimate bigint,
  table_bytes bigint not null,
  index_bytes bigint not null,
  total_bytes bigint not null,
  primary key (snapshot_id, schema_name, table_name, index_name)
);
comment on table perf.relation_sizes is
  'Size of every table (perf.table_sizes: partitions summed; index_name = '''') and index (perf.index_usage; index_name set, its bytes in index_bytes and total_bytes) at each snapshot.';
comment on constraint relation_sizes_pkey on perf.relation_sizes is
  'perf.take_snapshot''s insert; perf.table_growth_since and perf.table_size_history read the tables of one snapshot by snapshot_id.';
