--! Previous: sha1:926bf4ee8d869f57f0a0cb5a4686a8093ed419f3
--! Hash: sha1:a83bb0e7d5fbe13d43d9b51d5e38ff90f424e4ab
--! Message: workflows: keyset index (tenant_id, status, created_at, id), built concurrently

--! no-transaction
create index concurrently if not exists workflows_tenant_id_status_created_at_id_idx on app.workflows (tenant_id, status, created_at, id);
