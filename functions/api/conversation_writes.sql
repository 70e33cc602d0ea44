-- Writing conversations and messages (seeds 001, 002, 003; issue 11, item 5): start a
-- conversation, add a chat turn's messages (the user's question, the tool calls and citations,
-- the answer) in one call. Seed 003's "bulk insert citations instead of one-by-one"
-- (db.add_all, then one flush) is the before side: scripts/lib/before/writes.ts.
--
-- The contract the readers rely on (functions/api/conversations.sql):
-- - A message is never older than its conversation: api.conversation_messages bounds the
--   messages below by the conversation's created_at, which prunes the older monthly partitions
--   of app.messages. now() is the start of the transaction, and a transaction that started
--   before the conversation's own committed could otherwise write messages dated before it. So
--   the messages of a call are dated greatest(now(), the conversation's created_at, its
--   updated_at), and the conversation's updated_at becomes that time: the messages of one
--   conversation are dated in the order their calls commit (the conversation's row is locked
--   by each call), never backwards, and a chat turn shares one created_at.
-- - Ids ascend in batch order (one insert, its rows sorted by their position), so the exact
--   keyset (created_at desc, id desc) of api.conversation_messages pages a turn back in
--   reverse batch order, every message once.
-- - Expiry is one rule: a message expires with its conversation (messages.expires_at = the
--   conversation's expires_at), so maint.purge_expired removes both, and an expired
--   conversation takes no more messages (QB009, as an unknown one: it is gone for every reader).
--
-- Plans. start_conversation: one primary key probe of app.users (the user must be the
-- tenant's), one insert. add_messages: one primary key probe of app.conversations (locked FOR
-- NO KEY UPDATE: concurrent turns of one conversation take turns, and the foreign key checks
-- of the messages, which take KEY SHARE, are not blocked), then one statement that inserts the
-- batch into the current month's partition and updates the conversation. Per message, only
-- PostgreSQL's own foreign key check runs (a primary key probe of app.conversations).

create or replace function api.start_conversation(
  p_tenant_id bigint,
  p_user_id bigint,
  p_title text,
  p_ttl interval default null)
returns table (id bigint, created_at timestamptz, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_user_id, 'p_user_id');
  perform app.require_not_blank(p_title, 'p_title');
  -- The TTL: null never expires; else 1 minute .. 180 days. The upper bound is the retention of
  -- app.messages' monthly partitions (6 months by default, sql/30_jobs.sql), after which a
  -- conversation's messages are dropped with their partition whatever it says. The interval is
  -- compared first (no timestamp arithmetic can overflow), then the time it gives, since a
  -- mixed interval ('1 mon -29 days') compares as 30-day months but adds calendar months.
  if p_ttl is not null and (p_ttl < interval '1 minute' or p_ttl > interval '180 days'
                            or now() + p_ttl < now() + interval '1 minute') then
    raise exception 'p_ttl is %; it must be between 1 minute and 180 days (or null: never expires)', p_ttl
      using errcode = 'QB008';
  end if;

  -- The user, locked FOR KEY SHARE (as the foreign key check would) so that it cannot be
  -- deleted between this check and the insert: an unknown user, or another tenant's, is QB009.
  perform u.id
  from app.users u
  where u.tenant_id = p_tenant_id
    and u.id = p_user_id
  for key share;
  if not found then
    raise exception 'p_user_id: unknown user % of tenant %', p_user_id, p_tenant_id using errcode = 'QB009';
  end if;

  return query
  insert into app.conversations as c (tenant_id, user_id, title, created_at, updated_at, expires_at)
  values (p_tenant_id, p_user_id, p_title, now(), now(), now() + p_ttl)
  returning c.id, c.created_at, c.expires_at;
end
$$;
comment on function api.start_conversation(bigint, bigint, text, interval) is
  'Starts a conversation of a user of the tenant: created_at = updated_at = now(), expires_at = now() + p_ttl (p_ttl null, the default: never expires; else between 1 minute and 180 days, the retention of the messages'' partitions). '
  'Returns one row (id, created_at, expires_at). Not idempotent: each call makes a conversation. '
  'Errors: QB001 null tenant or user; QB005 unknown tenant; QB008 blank title, p_ttl out of range; QB009 the user is not one of the tenant''s (unknown, or another tenant''s: not told apart). Index: users_pkey.';

create or replace function api.add_messages(p_tenant_id bigint, p_conversation_id bigint, p_messages jsonb)
returns table ("position" integer, id bigint, created_at timestamptz, expires_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_at timestamptz;
  v_expires_at timestamptz;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_conversation_id, 'p_conversation_id');
  -- roles: the values of the messages_role_check constraint
  perform app.require_items(p_messages, 'p_messages',
    '{"role": {"type": "text", "required": true, "values": ["user", "assistant", "system", "tool"]},
      "content": {"type": "text", "required": true},
      "token_count": {"type": "integer", "min": 0}}');

  -- 1. The conversation, live, locked for the rest of the transaction (FOR NO KEY UPDATE: its
  -- updated_at changes below; the messages' foreign key checks take KEY SHARE, which this lock
  -- does not block). Unknown, another tenant's or expired: QB009, nothing written.
  select greatest(now(), c.created_at, c.updated_at), c.expires_at
  into v_at, v_expires_at
  from app.conversations c
  where c.tenant_id = p_tenant_id
    and c.id = p_conversation_id
    and (c.expires_at is null or c.expires_at > now())
  for no key update;
  if not found then
    raise exception 'p_conversation_id: unknown or expired conversation % of tenant %', p_conversation_id, p_tenant_id using errcode = 'QB009';
  end if;

  -- 2. One statement: the batch inserted in its order (ids ascend with the position), the
  -- conversation's updated_at moved to the turn's time. RETURNING gives no position, so the
  -- rows are matched back by rank: the k-th smallest new id is the item at position k - 1.
  return query
  with inserted as (
    insert into app.messages as m (tenant_id, conversation_id, role, content, token_count, created_at, expires_at)
    select p_tenant_id, p_conversation_id, i.role, i.content, coalesce(i.token_count, 0), v_at, v_expires_at
    from rows from (jsonb_to_recordset(p_messages) as (role text, content text, token_count integer)) with ordinality as i (role, content, token_count, ord)
    order by i.ord
    returning m.id, m.created_at, m.expires_at
  ), touched as (
    update app.conversations c
    set updated_at = v_at
    where c.tenant_id = p_tenant_id
      and c.id = p_conversation_id
  )
  select (row_number() over (order by n.id))::integer - 1, n.id, n.created_at, n.expires_at
  from inserted n
  order by n.id;
end
$$;
comment on function api.add_messages(bigint, bigint, jsonb) is
  'Adds messages to a live conversation of the tenant in one call (a chat turn with its tool and citation messages): p_messages is a json array of up to 10,000 {"role": user|assistant|system|tool, "content": text, "token_count": integer >= 0 (default 0)}. '
  'Every message of the call has created_at = greatest(now(), the conversation''s created_at and updated_at) (never older than its conversation; dated in commit order), expires_at = the conversation''s expires_at, ids ascending in batch order; the conversation''s updated_at becomes that time. '
  'Returns one row per item in batch order: (position 0-based, id, created_at, expires_at). Not idempotent: a replay adds the messages again. '
  'Errors: QB001 null tenant, conversation or batch; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB009 the conversation is unknown, another tenant''s or expired (nothing written); QB011 a malformed batch or item (its position and field named). '
  'Index: conversations_pkey (the conversation, locked FOR NO KEY UPDATE), then one insert into the current month''s partition of app.messages.';
