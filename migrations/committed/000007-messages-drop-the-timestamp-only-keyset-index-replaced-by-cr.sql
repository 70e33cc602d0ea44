--! Previous: sha1:56399bd6c2d3bbff07610ba8385b0ab1e9f46258
--! Hash: sha1:f79414555fac56041fb23e4f3e047ef7e6bd8e7d
--! Message: messages: drop the timestamp-only keyset index (replaced by created_at, id)

set local lock_timeout = '5s';
-- A partitioned index cannot be dropped concurrently (PostgreSQL refuses DROP INDEX
-- CONCURRENTLY on it). A plain drop only removes catalog entries and files, no scan: it holds
-- ACCESS EXCLUSIVE on app.messages and its partitions for a moment, bounded by the lock
-- timeout above. Its replacement, messages_tenant_id_conversation_id_created_at_id_idx, leads
-- with the same columns, so it also serves the cascade from conversations.
-- squawk-ignore require-concurrent-index-deletion
drop index if exists app.messages_tenant_id_conversation_id_created_at_idx;
