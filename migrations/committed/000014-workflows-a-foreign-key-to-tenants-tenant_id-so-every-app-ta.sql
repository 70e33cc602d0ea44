--! Previous: sha1:ff566ee5fa039d1c83d31cd682e79af1bf6ade74
--! Hash: sha1:94d54b767900824648e2e5c7fc3d96d3bbc51f4d
--! Message: workflows: a foreign key to tenants (tenant_id), so every app table's tenant reaches app.tenants

-- Every app table's tenant reaches app.tenants through foreign keys on columns that are never
-- null, so a row of a tenant proves the tenant exists: the point reads check the tenant only
-- when their query finds no row (functions/app/guards.sql). app.workflows was the one gap: its
-- only foreign key, to agents, is on agent_id, which may be null.
-- NOT VALID here (its lock only for the catalog change, waited for at most 5 s), VALIDATE in
-- the next migration, its own transaction (the rows checked under a lock that lets reads and
-- writes go on).
set local lock_timeout = '5s';
alter table app.workflows drop constraint if exists workflows_tenant_id_fkey;
alter table app.workflows
  add constraint workflows_tenant_id_fkey foreign key (tenant_id) references app.tenants (tenant_id) not valid;
comment on constraint workflows_tenant_id_fkey on app.workflows is
  'The workflow''s tenant exists even when agent_id is null: with it, every app table''s tenant reaches app.tenants through non-null foreign keys (functions/app/guards.sql relies on it).';
