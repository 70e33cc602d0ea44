--! Previous: sha1:d57075066089ef38914e05318cae7a21b86f9500
--! Hash: sha1:56399bd6c2d3bbff07610ba8385b0ab1e9f46258
--! Message: workflows: drop the timestamp-only keyset index (replaced by created_at, id)

--! no-transaction
drop index concurrently if exists app.workflows_tenant_id_status_created_at_idx;
