--! Previous: sha1:7d101490503e288e99a7a209e83510ad956d13a2
--! Hash: sha1:d57075066089ef38914e05318cae7a21b86f9500
--! Message: conversations: drop the timestamp-only keyset index (replaced by created_at, id)

--! no-transaction
drop index concurrently if exists app.conversations_tenant_id_user_id_created_at_idx;
