--! Previous: sha1:94d54b767900824648e2e5c7fc3d96d3bbc51f4d
--! Hash: sha1:bae19d3d34e9e6824ca7d695e86ac87c74ccc0af
--! Message: workflows: validate the tenant foreign key (added NOT VALID by 000014)

-- Its own transaction: VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE on app.workflows and
-- a ROW SHARE lock on app.tenants, so reads and writes go on while the rows are checked.
set local lock_timeout = '5s';
alter table app.workflows validate constraint workflows_tenant_id_fkey;
