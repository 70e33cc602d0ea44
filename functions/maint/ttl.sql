-- TTL: rows whose expires_at has passed (user_sessions, conversations, messages) are deleted
-- by the querybudget_ttl job (sql/30_jobs.sql, docs/jobs.md).
--
-- Batched, so no run holds many row locks or makes one huge transaction: each batch takes the
-- p_batch_size oldest expired rows through the expires_at index as its window (read without a
-- lock), then for each tenant in the window locks that tenant's rows of the window, skipping
-- rows another transaction has locked, deletes them by primary key (ctid is not unique across
-- the partitions of messages), and commits. Tenant by tenant because a row lock may not span
-- tenants: on Citus each tenant's statement is routed to one shard, and Citus refuses FOR
-- UPDATE in a statement over many shards (docs/scaling.md); on one server it is one statement
-- per tenant of the window instead of one per batch. A run ends a table when a batch deletes
-- nothing (nothing expired, or all of the window is locked). A run makes at most p_max_batches batches per table;
-- whatever is left waits for the next run. A procedure that commits can have neither a SET
-- clause nor SECURITY DEFINER, so lock_timeout is set per transaction with set_config(.., true)
-- and every name is schema-qualified. A batch that waits longer than lock_timeout for a lock
-- ends that table's work for this run (a notice says so); the job runs again in 5 minutes.
--
-- The delete joins the batch to the table by primary key. Left alone, the planner hashes the
-- whole table for that join (measured: a Seq Scan of every messages partition per batch, so
-- each batch costs as much as the table); with hash and merge joins off for the transaction it
-- takes a Nested Loop of primary key Index Scans, and for messages run-time partition pruning
-- sends each row to the one partition that holds it: a batch costs what the batch is.
--
-- Row level security (docs/security.md): expired rows of every tenant are deleted, so each
-- batch runs as querybudget_maint (BYPASSRLS), switched to for that batch's transaction only
-- (set_config('role', ..., true) is SET LOCAL ROLE; COMMIT ends it). Whoever runs the job (a
-- superuser, or querybudget_owner, a member of querybudget_maint) may switch; an application
-- may not (querybudget_app is no member, and an api function is security definer, where SET
-- ROLE is refused).
--
-- Order: expired messages first, then expired conversations (their remaining messages go with
-- them, on delete cascade: these are not counted in messages_deleted), then sessions.
create or replace function maint.delete_expired_batch(p_table regclass, p_batch_size integer)
returns bigint
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  v_key text[];
  v_tenants bigint[];
  v_window bigint;
  v_cutoff timestamptz;
  v_tenant bigint;
  v_delete text;
  n bigint;
  v_deleted bigint := 0;
begin
  -- the table's primary key columns, in key order (tenant_id first)
  select array_agg(quote_ident(a.attname) order by k.ord)
  into v_key
  from pg_constraint c
  cross join unnest(c.conkey) with ordinality as k(attnum, ord)
  join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
  where c.conrelid = p_table and c.contype = 'p';

  -- The window: the p_batch_size oldest expired rows, read without a lock. Their tenants and
  -- the newest expires_at among them bound the deletes below.
  execute format(
    'select array_agg(distinct w.tenant_id order by w.tenant_id), count(*), max(w.expires_at) '
    'from (select tenant_id, expires_at from %s where expires_at < now() order by expires_at limit $1) w',
    p_table)
  into v_tenants, v_window, v_cutoff
  using p_batch_size;
  if v_window = 0 then
    return 0;
  end if;

  -- Then tenant by tenant: lock (skipping rows another transaction holds) and delete, one
  -- statement per tenant of the window, each naming its tenant (on Citus: one shard, routed).
  v_delete := format(
    'with batch as (select %1$s from %2$s where tenant_id = $2 and expires_at < now() and expires_at <= $3 '
    'order by expires_at limit $1 for update skip locked) '
    'delete from %2$s t using batch b where t.tenant_id = $2 and %3$s',
    array_to_string(v_key, ', '),
    p_table,
    (select string_agg(format('t.%1$s = b.%1$s', col), ' and ') from unnest(v_key) col));
  foreach v_tenant in array v_tenants loop
    exit when v_deleted >= p_batch_size;
    execute v_delete using p_batch_size - v_deleted, v_tenant, v_cutoff;
    get diagnostics n = row_count;
    v_deleted := v_deleted + n;
  end loop;
  return v_deleted;
end
$$;
comment on function maint.delete_expired_batch(regclass, integer) is
  'One TTL batch of maint.purge_expired: the p_batch_size oldest expired rows of p_table (expires_at < now()) are the window, read through its expires_at index without a lock; '
  'then, tenant by tenant, the window''s rows of that tenant are locked FOR UPDATE SKIP LOCKED and deleted by primary key, one statement per tenant (on Citus each is routed to the tenant''s shard: a row lock never spans tenants). '
  'Returns how many it deleted (0: nothing expired, or every expired row of the window is locked). Runs in the caller''s transaction, with the caller''s settings (role, lock_timeout, join methods).';
revoke all on function maint.delete_expired_batch(regclass, integer) from public;

create or replace procedure maint.purge_expired(
  p_batch_size integer default 5000,
  p_max_batches integer default 100,
  inout messages_deleted bigint default null,
  inout conversations_deleted bigint default null,
  inout sessions_deleted bigint default null)
language plpgsql
as $$
declare
  v_table regclass;
  v_deleted bigint;
  n bigint;
  batches integer;
  v_lock_timeout constant text := '2s';
begin
  perform app.require_limit(p_batch_size, 'p_batch_size', 1, 100000);
  perform app.require_limit(p_max_batches, 'p_max_batches', 1, 10000);

  -- messages before conversations: a conversation's delete cascades to its messages
  foreach v_table in array array['app.messages', 'app.conversations', 'app.user_sessions']::regclass[] loop
    v_deleted := 0;
    batches := 0;
    loop
      begin
        perform pg_catalog.set_config('role', 'querybudget_maint', true),  -- across tenants: see above
                pg_catalog.set_config('lock_timeout', v_lock_timeout, true),
                pg_catalog.set_config('enable_hashjoin', 'off', true),
                pg_catalog.set_config('enable_mergejoin', 'off', true);
        n := maint.delete_expired_batch(v_table, p_batch_size);
      exception when lock_not_available then
        raise notice 'maint.purge_expired: %: lock_timeout (%) reached; the rest waits for the next run', v_table, v_lock_timeout;
        n := -1;
      end;
      exit when n < 0;
      v_deleted := v_deleted + n;
      batches := batches + 1;
      commit;
      -- 0: nothing left, or every expired row of the window is held by another transaction
      exit when n = 0 or batches >= p_max_batches;
    end loop;
    case v_table
      when 'app.messages'::regclass then messages_deleted := v_deleted;
      when 'app.conversations'::regclass then conversations_deleted := v_deleted;
      else sessions_deleted := v_deleted;
    end case;
  end loop;

  raise notice 'maint.purge_expired: deleted % messages, % conversations (with their messages), % sessions',
    messages_deleted, conversations_deleted, sessions_deleted;
end
$$;
comment on procedure maint.purge_expired(integer, integer, bigint, bigint, bigint) is
  'Job body of querybudget_ttl: deletes expired rows (expires_at < now()) of app.messages, then app.conversations (their messages cascade), then app.user_sessions, in batches of p_batch_size (1..100000, default 5000; QB001/QB004) picked through the expires_at indexes with FOR UPDATE SKIP LOCKED and deleted by primary key, a COMMIT after each batch, at most p_max_batches (1..10000, default 100) batches per table per run, lock_timeout 2s per batch (a timeout ends that table''s work for this run). INOUT messages_deleted, conversations_deleted, sessions_deleted: the rows it deleted (cascaded messages not counted); also raised as a notice. Call alone, outside a transaction block: CALL maint.purge_expired();';
revoke all on procedure maint.purge_expired(integer, integer, bigint, bigint, bigint) from public;
