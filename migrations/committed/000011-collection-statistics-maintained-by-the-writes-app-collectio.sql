--! Previous: sha1:4cd954e2bd7109964adfb04d483f677960e982f0
--! Hash: sha1:a645b72218b08a286c8c7f1af61d9b4ea61d9ba2
--! Message: collection statistics maintained by the writes: app.collection_stat_deltas and app.collection_stat_totals

-- Collection statistics maintained by the writes (issue 12, item 1): every api routine that
-- changes what api.collection_statistics reports (chunks; chunking operations) appends one
-- delta row per collection it touched, in the statement that makes the change; a maint job
-- folds the deltas into one row of totals per collection; the reader adds the totals and the
-- collection's pending deltas (it reads its writes). Append-only: writers into one collection
-- never update a shared row, so they never queue behind each other's row lock.
-- Both tables are keyed by tenant_id first (colocatable with every app table under Citus).
-- No foreign key to app.collections: its check would take a KEY SHARE lock on the collection's
-- row in every write (one hot row, multixacts), which is what the design avoids; collections
-- are never deleted.

set local lock_timeout = '5s';

create table if not exists app.collection_stat_deltas (
  tenant_id bigint not null,
  collection_id bigint not null,
  id bigint generated always as identity,
  -- chunking operations: changes of the counts (negative when rows leave a status or the table)
  chunking_total bigint not null default 0,
  chunking_completed bigint not null default 0,
  chunking_failed bigint not null default 0,
  chunking_processing bigint not null default 0,
  -- completed chunking operations: change of sum(processing_time::numeric) and count(processing_time)
  chunking_time_sum numeric not null default 0,
  chunking_time_count bigint not null default 0,
  -- created_at bounds of the chunking operations inserted, and of those deleted (null: none)
  chunking_first_at timestamptz,
  chunking_last_at timestamptz,
  chunking_deleted_first_at timestamptz,
  chunking_deleted_last_at timestamptz,
  -- {strategy: change of the count of chunking operations with that metadata->>'strategy'}
  chunking_strategies jsonb not null default '{}',
  -- chunks: changes of count, sum(size) and count(distinct document_id); size bounds of the
  -- chunks inserted and of those deleted (null: none)
  chunks_total bigint not null default 0,
  chunk_size_sum bigint not null default 0,
  chunk_documents bigint not null default 0,
  chunk_min_size integer,
  chunk_max_size integer,
  chunk_deleted_min_size integer,
  chunk_deleted_max_size integer,
  primary key (tenant_id, collection_id, id)
);
comment on table app.collection_stat_deltas is
  'Changes of a collection''s statistics not yet folded into app.collection_stat_totals: one row per collection per writing statement (api.replace_chunks, api.delete_documents hard, api.purge_documents_batch, api.enqueue/claim/finish/cancel_operations, retention), in the writer''s transaction; append-only, deleted by maint.fold_collection_stat_deltas(). '
  'Counts and sums are differences; *_min/*_max/*_first/*_last bound the rows inserted, *_deleted_* those deleted (a delete at a bound makes the bound be recomputed). '
  'chunk_documents is exact because every chunk delete removes all chunks of its documents. Read by api.collection_statistics.';
comment on constraint collection_stat_deltas_pkey on app.collection_stat_deltas is
  'api.collection_statistics: a collection''s pending deltas, a range scan of (tenant_id, collection_id); id orders them.';
alter table app.collection_stat_deltas set (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
  autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);

create table if not exists app.collection_stat_totals (
  tenant_id bigint not null,
  collection_id bigint not null,
  chunking_total bigint not null default 0,
  chunking_completed bigint not null default 0,
  chunking_failed bigint not null default 0,
  chunking_processing bigint not null default 0,
  chunking_time_sum numeric not null default 0,
  chunking_time_count bigint not null default 0,
  chunking_first_at timestamptz,
  chunking_last_at timestamptz,
  chunking_strategies jsonb not null default '{}',
  chunks_total bigint not null default 0,
  chunk_size_sum bigint not null default 0,
  chunk_documents bigint not null default 0,
  chunk_min_size integer,
  chunk_max_size integer,
  folded_at timestamptz not null default now(),
  primary key (tenant_id, collection_id)
);
comment on table app.collection_stat_totals is
  'A collection''s statistics as of its last fold (folded_at): what api.collection_statistics reports, as counts, exact sums and bounds, with app.collection_stat_deltas added on read. '
  'No row: all zeros. Written by maint.fold_collection_stat_deltas() and maint.rebuild_collection_stat_totals() only.';
comment on constraint collection_stat_totals_pkey on app.collection_stat_totals is
  'api.collection_statistics and the fold: one row per collection.';
