--! Previous: sha1:a83bb0e7d5fbe13d43d9b51d5e38ff90f424e4ab
--! Hash: sha1:7d101490503e288e99a7a209e83510ad956d13a2
--! Message: messages: keyset index (tenant_id, conversation_id, created_at, id) on only the parent; comments on the new keyset indexes

set local lock_timeout = '5s';

-- ON ONLY the partitioned parent: an invalid index in the catalog, nothing is built and no
-- partition is locked. The index of each existing partition is built concurrently and
-- attached by `npm run migrate` right after the migrations (scripts/lib/migrate.ts,
-- completePartitionedIndexes: pg_partman's monthly partitions are named by the date the
-- database was made, so no committed migration can name them); partitions made later get it
-- by themselves. The parent becomes valid when the last partition's index is attached.
-- squawk-ignore require-concurrent-index-creation
create index if not exists messages_tenant_id_conversation_id_created_at_id_idx
  on only app.messages (tenant_id, conversation_id, created_at, id);

comment on index app.messages_tenant_id_conversation_id_created_at_id_idx is
  'api.conversation_messages: a conversation newest first, exact keyset cursor (created_at, id) < ($before, $before_id) as one Index Cond, read backward on each monthly partition under a Merge Append; also the cascade from conversations.';
comment on index app.conversations_tenant_id_user_id_created_at_id_idx is
  'api.user_conversations: a user''s conversations newest first, exact keyset cursor (created_at, id) < ($before, $before_id) as one Index Cond, read backward.';
comment on index app.workflows_tenant_id_status_created_at_id_idx is
  'api.workflows_by_status: newest first within a status, exact keyset cursor (created_at, id) < ($before, $before_id) as one Index Cond, read backward (seed 002 idx_workflows_status_created, with the id tie-break).';
