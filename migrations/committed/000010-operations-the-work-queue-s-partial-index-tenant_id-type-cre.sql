--! Previous: sha1:23eda95b703546e964cb085606219dec812c4384
--! Hash: sha1:4cd954e2bd7109964adfb04d483f677960e982f0
--! Message: operations: the work queue's partial index (tenant_id, type, created_at, id) where status = pending, on only the parent

set local lock_timeout = '5s';

-- The work queue of api.claim_operations: a tenant's pending operations of one type, oldest
-- first. Partial: only pending rows (4 % of the table in the seed, fewer in a drained queue),
-- so each monthly partition's index stays small whatever the history kept, and an operation
-- leaves it when it is claimed. (created_at, id) is the claim order, so a Limit stops the
-- Merge Append of the partitions' index scans after p_limit rows, with no Sort.
-- ON ONLY the partitioned parent (docs/operations.md, "Adding an index to a partitioned
-- table"): nothing is built here; `npm run migrate` builds each partition's index concurrently
-- and attaches it (completePartitionedIndexes), and partitions made later get it by themselves.
-- squawk-ignore require-concurrent-index-creation
create index if not exists operations_tenant_id_type_created_at_id_pending_idx
  on only app.operations (tenant_id, type, created_at, id) where status = 'pending';

comment on index app.operations_tenant_id_type_created_at_id_pending_idx is
  'api.claim_operations: a tenant''s pending operations of one type, oldest first (created_at, id), read under a Merge Append of the monthly partitions and stopped at p_limit; partial on status = pending, the predicate of the claim, word for word.';
