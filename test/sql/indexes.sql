-- Every index of DESIGN.md and docs/indexing.md is there, valid, and says what query it serves.
begin;
select plan(21);

select indexes_are('app', 'tenants', array['tenants_pkey']);
select indexes_are('app', 'users', array['users_pkey', 'users_tenant_id_email_key']);
select indexes_are('app', 'user_sessions', array['user_sessions_pkey', 'user_sessions_token_idx', 'user_sessions_expires_at_idx', 'user_sessions_tenant_id_user_id_idx']);
select indexes_are('app', 'connectors', array['connectors_pkey']);
select indexes_are('app', 'collections', array['collections_pkey']);
select indexes_are('app', 'documents', array['documents_pkey', 'documents_tenant_id_collection_id_id_key',
  'documents_tenant_id_connector_id_external_id_key', 'documents_tenant_id_status_idx']);
select indexes_are('app', 'deleted_documents', array['deleted_documents_pkey', 'deleted_documents_tenant_id_connector_id_external_id_key']);
select indexes_are('app', 'chunks', array['chunks_pkey', 'chunks_tenant_id_collection_id_document_id_chunk_index_key']);
select indexes_are('app', 'operations', array['operations_pkey', 'operations_tenant_id_collection_id_type_status_idx',
  'operations_tenant_id_user_id_status_idx', 'operations_tenant_id_collection_id_strategy_idx',
  'operations_tenant_id_type_created_at_id_pending_idx']);
select indexes_are('app', 'conversations', array['conversations_pkey', 'conversations_tenant_id_user_id_created_at_id_idx', 'conversations_expires_at_idx']);
select indexes_are('app', 'messages', array['messages_pkey', 'messages_tenant_id_conversation_id_created_at_id_idx', 'messages_expires_at_idx']);
select indexes_are('app', 'knowledge_gaps', array['knowledge_gaps_pkey', 'knowledge_gaps_tenant_id_category_status_idx']);
select indexes_are('app', 'gap_answers', array['gap_answers_pkey', 'gap_answers_tenant_id_knowledge_gap_id_idx']);
select indexes_are('app', 'agents', array['agents_pkey', 'agents_tenant_id_name_key', 'agents_tenant_id_is_active_type_idx']);
select indexes_are('app', 'workflows', array['workflows_pkey', 'workflows_tenant_id_status_created_at_id_idx']);
select indexes_are('app', 'workflow_tasks', array['workflow_tasks_pkey', 'workflow_tasks_tenant_id_workflow_id_status_idx']);

select is_empty(
  $$ select i.indexrelid::regclass::text from pg_index i join pg_class c on c.oid = i.indexrelid
     where c.relnamespace = 'app'::regnamespace and not (i.indisvalid and i.indisready) $$,
  'every app index is valid and ready (pg_index.indisvalid)');

select is_empty(
  $$ select c.relname from pg_class c
     join pg_index i on i.indexrelid = c.oid
     join pg_class t on t.oid = i.indrelid
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('i', 'I') and not t.relispartition
       and not exists (select from pg_constraint con where con.conindid = c.oid)
       and obj_description(c.oid, 'pg_class') is null $$,
  'every index that backs no constraint has a comment naming the query it serves');

select is_empty(
  $$ select c.relname from pg_class c
     join pg_index i on i.indexrelid = c.oid
     join pg_class t on t.oid = i.indrelid
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('i', 'I') and not t.relispartition
       and not exists (select from pg_constraint con where con.conindid = c.oid)
       and c.relname !~ ('^' || t.relname || '_[a-z_]+_idx$') $$,
  'index names follow <table>_<columns>_idx');

select is_empty(
  $$ select i.indexrelid::regclass::text from pg_index i
     join pg_class c on c.oid = i.indexrelid
     join pg_class t on t.oid = i.indrelid
     where c.relnamespace = 'app'::regnamespace and not t.relispartition
       and not exists (select from pg_constraint con where con.conindid = c.oid)
       and (select a.attname from pg_attribute a where a.attrelid = t.oid and a.attnum = i.indkey[0]) <> 'tenant_id'
       and c.relname not in ('user_sessions_token_idx', 'user_sessions_expires_at_idx',
                             'conversations_expires_at_idx', 'messages_expires_at_idx') $$,
  'indexes lead with tenant_id, except the listed cross-tenant ones (login by token, TTL by expiry)');

select is_empty(
  $$ select s.stxname from pg_statistic_ext s
     join pg_inherits i on i.inhparent = s.stxrelid
     where s.stxnamespace = 'app'::regnamespace
       and not exists (select from pg_statistic_ext ps where ps.stxrelid = i.inhrelid and ps.stxkeys = s.stxkeys) $$,
  'every partition carries the extended statistics of its parent');

select * from finish();
rollback;
