-- Bulk document operations (seed 004, priorities 1, 5 and 6): classify, confirm and delete
-- many documents at once, purge a tenant's documents in batches, and the connector sync's
-- "which of these external ids are new" check. Documentation: docs/api.md.
--
-- Every bulk function runs a constant number of statements, whatever the number of ids
-- (1 or 10,000): the guards, then one statement (a chain of CTEs) that does the work.
--
-- Lock order. Two bulk calls over overlapping ids could deadlock if each locked its rows in
-- the order it happened to meet them (A holds 5 and waits for 9, B holds 9 and waits for 5).
-- So every bulk statement first locks its target rows in id order, in a materialized CTE
--   select ... from app.documents where ... order by id for update
-- (LockRows sits above the Sort, so rows are locked in ascending id), and only then updates
-- or deletes them: every caller takes its locks in the same order, and a caller that waits for
-- a row re-checks it (a row soft-deleted meanwhile is no longer a target).
--
-- Plans. A chunk delete joins its documents on (tenant_id, collection_id, document_id): a
-- nested loop whose inner side, the Append of the 16 chunk partitions, is pruned at run time
-- to the one partition of each document's collection. The planner, though, costs that Append
-- as if all 16 partitions were probed for every outer row, so once it expects a few hundred
-- documents it switches to a hash join over a sequential scan of EVERY chunk partition
-- (measured at the 1M tier, hard delete of 2,000 ids: 0.6 s instead of 0.15 s; and it grows
-- with the table). So the plpgsql functions read the id array through a scalar subquery,
--   id = any ((select p_document_ids)::bigint[])
-- a parameter whose length the planner cannot see (it assumes 10 elements, as it always does in
-- a language sql function, which is planned without its arguments' values): it plans primary
-- key probes and the pruned nested loop. purge_documents does the same with its batch's ids.
--
-- Ids: duplicates in an id array count once (`id = any(array)` matches each row once and
-- not_found is computed from the distinct ids); ids of another tenant and ids that do not
-- exist count as not_found. A soft-deleted document (status 'deleted') counts as not_found,
-- except for a hard delete, which removes it for good.

-- classify_documents ------------------------------------------------------------------

create or replace function api.classify_documents(p_tenant_id bigint, p_document_ids bigint[], p_classification text)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_document_ids, 'p_document_ids');
  perform app.require_not_blank(p_classification, 'p_classification');

  -- Lock the targets in id order first (see the top of this file), then update them.
  with target as materialized (
    select d.id
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any ((select p_document_ids)::bigint[])  -- planned as a handful of ids: see the top of this file
      and d.status <> 'deleted'
    order by d.id
    for update
  ), classified as (
    update app.documents d
    set classification = p_classification,
        status = 'classified',
        updated_at = now()
    from target t
    where d.tenant_id = p_tenant_id
      and d.id = t.id
    returning d.id
  )
  select jsonb_build_object(
           'updated', (select count(*) from classified),
           'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from classified))
  into v_result;
  return v_result;
end
$$;
comment on function api.classify_documents(bigint, bigint[], text) is
  'Sets classification, status = classified and updated_at on the given documents of the tenant (user_confirmed is left as it is). '
  'Returns {"updated": n, "not_found": m}; duplicate ids count once; ids of other tenants, unknown ids and soft-deleted documents are not_found. '
  'One statement after the guards whatever the number of ids; locks rows in id order. '
  'Errors: QB001 null tenant, ids or classification; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB008 blank classification.';

-- confirm_classifications (seed: bulk_confirm) --------------------------------------------

create or replace function api.confirm_classifications(p_tenant_id bigint, p_document_ids bigint[])
returns jsonb
language sql
security definer
set search_path = pg_catalog, pg_temp
as $$
  select app.require_tenant(p_tenant_id);
  select app.require_ids(p_document_ids, 'p_document_ids');

  -- Lock the targets in id order first (see the top of this file), then update them.
  with target as materialized (
    select d.id
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.id = any (p_document_ids)
      and d.status <> 'deleted'
    order by d.id
    for update
  ), confirmed as (
    update app.documents d
    set user_confirmed = true,
        user_confirmed_at = now(),
        status = 'confirmed',
        updated_at = now()
    from target t
    where d.tenant_id = p_tenant_id
      and d.id = t.id
    returning d.id
  )
  select jsonb_build_object(
           'confirmed', (select count(*) from confirmed),
           'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from confirmed));
$$;
comment on function api.confirm_classifications(bigint, bigint[]) is
  'Marks the given documents of the tenant as confirmed by the user: user_confirmed = true, user_confirmed_at = now(), status = confirmed, updated_at. '
  'Returns {"confirmed": n, "not_found": m}; duplicate ids count once; ids of other tenants, unknown ids and soft-deleted documents are not_found. '
  'One statement after the guards whatever the number of ids; locks rows in id order. '
  'Errors: QB001 null tenant or ids; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id.';

-- delete_documents ------------------------------------------------------------------------

create or replace function api.delete_documents(p_tenant_id bigint, p_document_ids bigint[], p_hard boolean default false)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_document_ids, 'p_document_ids');
  perform app.require_not_null(p_hard, 'p_hard');

  -- Both kinds of delete tombstone connector documents (connector_id, external_id given) in
  -- app.deleted_documents, so the next sync does not bring them back: the tombstone records
  -- the user's decision, and it must outlive the soft-deleted row (a later hard delete or
  -- purge). A tombstone that exists already is kept (on conflict do nothing) and not counted.
  if p_hard then
    -- Hard: the chunks go with their documents. The foreign key from chunks to documents is
    -- NO ACTION (checked at the end of the statement, not cascaded), so both deletes run in
    -- this one statement; the chunk delete joins on (tenant_id, collection_id, document_id),
    -- so each probe reaches one chunk partition through the partition key. Soft-deleted
    -- documents are targets too: hard delete is how they are removed for good.
    with target as materialized (
      select d.id, d.collection_id, d.connector_id, d.external_id
      from app.documents d
      where d.tenant_id = p_tenant_id
        and d.id = any ((select p_document_ids)::bigint[])  -- planned as a handful of ids: see the top of this file
      order by d.id
      for update
    ), chunks_deleted as (
      delete from app.chunks c
      using target t
      where c.tenant_id = p_tenant_id
        and c.collection_id = t.collection_id
        and c.document_id = t.id
    ), documents_deleted as (
      delete from app.documents d
      using target t
      where d.tenant_id = p_tenant_id
        and d.id = t.id
      returning d.id
    ), tombstones as (
      insert into app.deleted_documents (tenant_id, connector_id, external_id)
      select p_tenant_id, t.connector_id, t.external_id
      from target t
      where t.connector_id is not null
      on conflict (tenant_id, connector_id, external_id) do nothing
      returning 1
    )
    select jsonb_build_object(
             'deleted', (select count(*) from documents_deleted),
             'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from documents_deleted),
             'tombstoned', (select count(*) from tombstones))
    into v_result;
  else
    -- Soft: status = deleted; chunks stay until the document is hard-deleted or purged.
    -- A document that is soft-deleted already is not a target (not_found).
    with target as materialized (
      select d.id, d.connector_id, d.external_id
      from app.documents d
      where d.tenant_id = p_tenant_id
        and d.id = any ((select p_document_ids)::bigint[])  -- planned as a handful of ids: see the top of this file
        and d.status <> 'deleted'
      order by d.id
      for update
    ), documents_deleted as (
      update app.documents d
      set status = 'deleted',
          updated_at = now()
      from target t
      where d.tenant_id = p_tenant_id
        and d.id = t.id
      returning d.id
    ), tombstones as (
      insert into app.deleted_documents (tenant_id, connector_id, external_id)
      select p_tenant_id, t.connector_id, t.external_id
      from target t
      where t.connector_id is not null
      on conflict (tenant_id, connector_id, external_id) do nothing
      returning 1
    )
    select jsonb_build_object(
             'deleted', (select count(*) from documents_deleted),
             'not_found', (select count(distinct i) from unnest(p_document_ids) i) - (select count(*) from documents_deleted),
             'tombstoned', (select count(*) from tombstones))
    into v_result;
  end if;
  return v_result;
end
$$;
comment on function api.delete_documents(bigint, bigint[], boolean) is
  'Deletes the given documents of the tenant: soft (status = deleted, the default) or hard (p_hard: the documents and their chunks are removed; soft-deleted documents are removed too). '
  'Both tombstone connector documents in app.deleted_documents so a sync does not bring them back. '
  'Returns {"deleted": n, "not_found": m, "tombstoned": k} (k: tombstones newly written); duplicate ids count once; ids of other tenants, unknown ids, and for a soft delete documents already soft-deleted, are not_found. '
  'One statement after the guards whatever the number of ids; locks rows in id order. '
  'Errors: QB001 null tenant, ids or p_hard; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id.';

-- purge_documents (seed: delete_all_documents, batched) -----------------------------------

-- An exception to the api conventions: a procedure that COMMITs cannot be SECURITY DEFINER
-- nor carry a SET clause (PostgreSQL forbids transaction control in both), so this one runs
-- with the caller's rights and search_path. Every name in it is schema-qualified, and it
-- changes no setting itself (only app.require_tenant's transaction-local tenant setting, made
-- again in each batch's transaction); who may call it is decided by the grants (sql/), not by
-- definer rights. It must be CALLed outside a transaction block (else COMMIT raises 2D000), and as a
-- pg_cron job the CALL must be the whole command.
--
-- Each batch is set-based and committed on its own, so no lock is held for longer than one
-- batch: up to p_batch_size documents of the tenant in primary-key order (keyset: after the
-- last id of the previous batch, so deleted index entries are not walked again), locked FOR
-- UPDATE SKIP LOCKED (a row another transaction holds is passed over, not waited for), their
-- chunks (through the partition key) and the documents deleted in one statement. Rows passed
-- over are taken up at the end by batches that do wait for them.
--
-- Purge is a tenant wipe: it writes no tombstones (a later sync brings connector documents
-- back, as the seed's delete_all_documents did) and it keeps the tombstones already written
-- (documents a user deleted one by one stay deleted). Documents inserted while it runs are
-- removed if they are committed before it reaches the end.
create or replace procedure api.purge_documents(p_tenant_id bigint, p_batch_size integer default 1000, inout p_deleted bigint default 0)
language plpgsql
as $$
declare
  v_after bigint := -9223372036854775808;  -- keyset: the last id of the previous batch
  v_wait boolean := false;                 -- a batch that waits for rows others hold
  v_documents bigint;
  v_chunks bigint;
  v_last bigint;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_limit(p_batch_size, 'p_batch_size', 1, 10000);
  p_deleted := 0;
  loop
    -- require_tenant's setting (for the row level security policies) is transaction-local:
    -- set it again in each transaction.
    perform app.require_tenant(p_tenant_id);
    if not v_wait then
      with batch as materialized (
        select d.id, d.collection_id
        from app.documents d
        where d.tenant_id = p_tenant_id
          and d.id > v_after
        order by d.id
        limit p_batch_size
        for update skip locked
      ), ids as (
        -- the batch as arrays, read back through scalar subqueries: planned as a handful of rows
        select array_agg(b.id) as ids, array_agg(b.collection_id) as collection_ids from batch b
      ), chunks_deleted as (
        delete from app.chunks c
        using unnest((select i.ids from ids i), (select i.collection_ids from ids i)) as b (id, collection_id)
        where c.tenant_id = p_tenant_id
          and c.collection_id = b.collection_id
          and c.document_id = b.id
        returning 1
      ), documents_deleted as (
        delete from app.documents d
        where d.tenant_id = p_tenant_id
          and d.id = any ((select i.ids from ids i)::bigint[])
        returning d.id
      )
      select (select count(*) from documents_deleted), (select count(*) from chunks_deleted), (select max(id) from documents_deleted)
      into v_documents, v_chunks, v_last;
    else
      with batch as materialized (
        select d.id, d.collection_id
        from app.documents d
        where d.tenant_id = p_tenant_id
        order by d.id
        limit p_batch_size
        for update
      ), ids as (
        -- the batch as arrays, read back through scalar subqueries: planned as a handful of rows
        select array_agg(b.id) as ids, array_agg(b.collection_id) as collection_ids from batch b
      ), chunks_deleted as (
        delete from app.chunks c
        using unnest((select i.ids from ids i), (select i.collection_ids from ids i)) as b (id, collection_id)
        where c.tenant_id = p_tenant_id
          and c.collection_id = b.collection_id
          and c.document_id = b.id
        returning 1
      ), documents_deleted as (
        delete from app.documents d
        where d.tenant_id = p_tenant_id
          and d.id = any ((select i.ids from ids i)::bigint[])
        returning d.id
      )
      select (select count(*) from documents_deleted), (select count(*) from chunks_deleted), (select max(id) from documents_deleted)
      into v_documents, v_chunks, v_last;
    end if;

    if v_documents > 0 then
      p_deleted := p_deleted + v_documents;
      raise notice 'purge_documents: tenant %: deleted % documents and % chunks in this batch, % documents in all',
        p_tenant_id, v_documents, v_chunks, p_deleted;
      if not v_wait then
        v_after := v_last;
      end if;
      commit;
    else
      -- Past the last id: done, unless rows were passed over because others held them (or a
      -- waiting batch found them gone meanwhile). Then wait for those, from the first id on.
      exit when not exists (select from app.documents d where d.tenant_id = p_tenant_id);
      v_wait := true;
      commit;
    end if;
  end loop;
end
$$;
comment on procedure api.purge_documents(bigint, integer, bigint) is
  'Deletes all documents of the tenant and their chunks in batches of p_batch_size (1..10,000, default 1,000), committing after each batch so no lock is held longer than one batch; '
  'p_deleted (INOUT) returns how many documents it deleted, and a notice reports each batch. No tombstones are written; existing ones are kept. '
  'CALL it outside a transaction block (COMMIT inside). Security invoker without a SET clause (transaction control forbids both). '
  'Errors: QB001 null tenant or batch size; QB004 batch size out of 1..10,000; QB005 unknown tenant.';

-- new_external_ids (seed: sync deduplication) -------------------------------------------

create or replace function api.new_external_ids(p_tenant_id bigint, p_connector_id bigint, p_external_ids text[])
returns text[]
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  v_new text[];
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_connector_id, 'p_connector_id');
  perform app.require_ids(p_external_ids, 'p_external_ids');
  if not exists (select from app.connectors c where c.tenant_id = p_tenant_id and c.id = p_connector_id) then
    raise exception 'unknown connector % of tenant %', p_connector_id, p_tenant_id using errcode = 'QB009';
  end if;

  -- One statement: each distinct external id (at its first position), kept when it is neither
  -- a document of the connector nor tombstoned. Each check is a LATERAL subquery with LIMIT 1,
  -- which the planner can neither flatten nor hash: one probe of the unique index on
  -- (tenant_id, connector_id, external_id) per id, whatever it estimates. NOT EXISTS would
  -- plan as an anti-join, and the cached generic plan estimates the connector's rows from an
  -- average tenant (one row at the 1M tier): for a big tenant's connector it then compared every
  -- id with every row of the connector (1,000 ids: 0.45 s instead of 5 ms); an EXISTS subplan
  -- was hashed instead, reading the connector's whole index range on every call (the seed's
  -- load-all, in the server). Soft-deleted documents are still documents.
  select coalesce(array_agg(e.external_id order by e.ord), '{}')
  into v_new
  from (
    select u.external_id, min(u.ord) as ord
    from unnest(p_external_ids) with ordinality as u (external_id, ord)
    group by u.external_id
  ) e
  left join lateral (
    select true as found
    from app.documents d
    where d.tenant_id = p_tenant_id
      and d.connector_id = p_connector_id
      and d.external_id = e.external_id
    limit 1
  ) stored on true
  left join lateral (
    select true as found
    from app.deleted_documents t
    where t.tenant_id = p_tenant_id
      and t.connector_id = p_connector_id
      and t.external_id = e.external_id
    limit 1
  ) tombstoned on true
  where stored.found is null
    and tombstoned.found is null;
  return v_new;
end
$$;
comment on function api.new_external_ids(bigint, bigint, text[]) is
  'Connector sync deduplication: of the given external ids, those the connector has neither as a document (any status) nor as a tombstone in app.deleted_documents. '
  'Returns text[] in input order, each id once (at its first position); an empty array when none is new. One statement after the guards (two unique-index probes per distinct id). '
  'Errors: QB001 null tenant, connector or ids; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB009 the connector is not the tenant''s.';
