--! Previous: sha1:ff566ee5fa039d1c83d31cd682e79af1bf6ade74
--! Hash: sha1:088efaf1919fde3284c11f75f5a45837205128e1
--! Message: workflows: a foreign key to tenants (tenant_id), so every app table's tenant reaches app.tenants

-- Every app table's tenant reaches app.tenants through foreign keys on columns that are never
-- null, so a row of a tenant proves the tenant exists: the point reads check the tenant only
-- when their query finds no row (functions/app/guards.sql). app.workflows was the one gap: its
-- only foreign key, to agents, is on agent_id, which may be null.
-- NOT VALID, then VALIDATE: the first takes its lock only for the catalog change, the second
-- checks the rows under a lock that lets reads and writes go on.
alter table app.workflows drop constraint if exists workflows_tenant_id_fkey;
alter table app.workflows
  add constraint workflows_tenant_id_fkey foreign key (tenant_id) references app.tenants (tenant_id) not valid;
alter table app.workflows validate constraint workflows_tenant_id_fkey;
comment on constraint workflows_tenant_id_fkey on app.workflows is
  'The workflow''s tenant exists even when agent_id is null: with it, every app table''s tenant reaches app.tenants through non-null foreign keys (functions/app/guards.sql relies on it).';
