-- Conversations and messages (seeds 001, 002, 003): newest first, exact keyset paging.
--
-- Order and cursor. Rows come in (created_at desc, id desc) order. now() is fixed for a whole
-- transaction, so every message of one chat turn (and every conversation of one bulk insert)
-- shares its created_at: a cursor of the timestamp alone would skip the rest of such a tie
-- group. The exact cursor is the last row's (created_at, id), passed as (p_before,
-- p_before_id); a page holds the rows strictly before it, `(created_at, id) < (before,
-- before_id)`, so every row is returned exactly once whatever the ties. p_before without
-- p_before_id is the legacy form: the rows strictly older than p_before (the id bound is the
-- smallest bigint), which skips the rest of a tie group at a page cut. The bounds are computed
-- once, for every keyset function, by app.keyset_bounds (functions/app/guards.sql).
--
-- Plans. The keyset indexes end in (created_at, id), so the row comparison is one Index Cond:
-- the scan enters the index at the cursor, reads backward already in page order (no Sort), and
-- the Limit stops it after p_limit rows, in custom and generic plans alike.
--
-- Row level security. The functions are security definer and their tables force row level
-- security: the tenant policy is a security barrier, and a condition may run before it (as an
-- index condition) only when it is leakproof. Comparisons of columns with plain values are
-- (the btree operators of bigint and timestamptz are leakproof, and so is a row comparison
-- made of them); a function of a column is not, and coalesce(...) of a parameter is not seen
-- as one, which is why the cursor bounds are a plpgsql record computed before the query.

create or replace function api.user_conversations(
  p_tenant_id bigint,
  p_user_id bigint,
  p_before timestamptz default null,
  p_limit integer default 50,
  p_before_id bigint default null)
returns setof api.user_conversations_row
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  -- plain values: a comparison with them is leakproof, so it stays an index condition under
  -- row level security (see the file header)
  v_cursor record;
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_user_id := app.require_not_null(p_user_id, 'p_user_id');
  p_limit := app.require_limit(p_limit, 'p_limit');
  p_before := app.require_cursor(p_before, 'p_before', p_before_id);
  v_cursor := app.keyset_bounds(p_before, p_before_id);

  return query
  select c.id, c.user_id, c.title, c.created_at, c.updated_at, c.expires_at
  from app.conversations c
  where c.tenant_id = p_tenant_id
    and c.user_id = p_user_id
    and (c.created_at, c.id) < (v_cursor.before, v_cursor.before_id)
    and (c.expires_at is null or c.expires_at > now())
  order by c.created_at desc, c.id desc
  limit p_limit;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.user_conversations(bigint, bigint, timestamptz, integer, bigint) is
  'A user''s live conversations (expires_at null or later than now()) newest first (created_at desc, id desc), at most p_limit (1..1000, default 50), strictly before the cursor (p_before, p_before_id), the last row''s created_at (as text) and id (p_before alone: the legacy form, rows tied on it skipped): rows (id, user_id, title, created_at, updated_at, expires_at). '
  'Errors: QB001 null tenant, user or limit; QB004 limit out of range; QB005 unknown tenant; QB006 invalid cursor (p_before not finite, p_before_id without p_before, negative p_before_id). '
  'Index: conversations_tenant_id_user_id_created_at_id_idx, backward from the cursor.';

create or replace function api.conversation_messages(
  p_tenant_id bigint,
  p_conversation_id bigint,
  p_before timestamptz default null,
  p_limit integer default 50,
  p_before_id bigint default null)
returns table (id bigint, conversation_id bigint, role text, content text, token_count integer, created_at timestamptz, expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  -- plain values: a comparison with them is leakproof, so it stays an index condition under
  -- row level security (see the file header)
  v_cursor record;
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_conversation_id := app.require_not_null(p_conversation_id, 'p_conversation_id');
  p_limit := app.require_limit(p_limit, 'p_limit');
  p_before := app.require_cursor(p_before, 'p_before', p_before_id);
  v_cursor := app.keyset_bounds(p_before, p_before_id);

  -- messages is RANGE-partitioned by month on created_at. Partition pruning does not read a
  -- row comparison, so the plain bound created_at <= before (implied by it) prunes the
  -- newer partitions when the statement starts; each remaining one is read backward on its
  -- index under a Merge Append, stopped once p_limit rows are out.
  -- Expiry is one rule: a conversation whose expires_at has passed is gone for every reader
  -- before the TTL job deletes it, whatever its messages' own expires_at. The conversation is
  -- one primary-key lookup, run once as an InitPlan: its created_at is the lower bound of the
  -- messages (none is older than its conversation: the api writes messages at now()), which
  -- prunes the partitions older than the conversation as the scan starts, and an expired or
  -- unknown conversation gives null, so no partition is entered at all.
  return query
  select m.id, m.conversation_id, m.role, m.content, m.token_count, m.created_at, m.expires_at
  from app.messages m
  where m.tenant_id = p_tenant_id
    and m.conversation_id = p_conversation_id
    and m.created_at <= v_cursor.before
    and (m.created_at, m.id) < (v_cursor.before, v_cursor.before_id)
    and (m.expires_at is null or m.expires_at > now())
    and m.created_at >= (
      select c.created_at from app.conversations c
      where c.tenant_id = p_tenant_id
        and c.id = p_conversation_id
        and (c.expires_at is null or c.expires_at > now()))
  order by m.created_at desc, m.id desc
  limit p_limit;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.conversation_messages(bigint, bigint, timestamptz, integer, bigint) is
  'A live conversation''s live messages (expires_at null or later than now(); an expired or unknown conversation has none) newest first (created_at desc, id desc), at most p_limit (1..1000, default 50), strictly before the cursor (p_before, p_before_id), the last row''s created_at (as text) and id (p_before alone: the legacy form, rows tied on it skipped): rows (id, conversation_id, role, content, token_count, created_at, expires_at). '
  'Errors: QB001 null tenant, conversation or limit; QB004 limit out of range; QB005 unknown tenant; QB006 invalid cursor (p_before not finite, p_before_id without p_before, negative p_before_id). '
  'Index: conversations_pkey, then messages_tenant_id_conversation_id_created_at_id_idx backward on the monthly partitions from the conversation''s created_at to the cursor.';
