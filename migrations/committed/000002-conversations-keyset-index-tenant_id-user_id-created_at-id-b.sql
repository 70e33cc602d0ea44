--! Previous: sha1:2d2d6d848a86a196bcb6456950afe4ca5f6f89b5
--! Hash: sha1:926bf4ee8d869f57f0a0cb5a4686a8093ed419f3
--! Message: conversations: keyset index (tenant_id, user_id, created_at, id), built concurrently

--! no-transaction
create index concurrently if not exists conversations_tenant_id_user_id_created_at_id_idx on app.conversations (tenant_id, user_id, created_at, id);
