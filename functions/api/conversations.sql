-- Conversations and messages (seeds 001, 002, 003): newest first, keyset paging on created_at.
-- The cursor p_before is the created_at of the last row of the previous page; rows strictly
-- older are returned. Rows sharing that exact timestamp with the previous page's last row are
-- skipped (the cursor carries no id): a documented limit of the timestamp-only cursor.

create or replace function api.user_conversations(
  p_tenant_id bigint,
  p_user_id bigint,
  p_before timestamptz default null,
  p_limit integer default 50)
returns table (id bigint, user_id bigint, title text, created_at timestamptz, updated_at timestamptz, expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  -- a plain value: unlike coalesce(...), a comparison with it is leakproof, so it stays an
  -- index condition under row level security (a security barrier)
  v_before timestamptz;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_user_id, 'p_user_id');
  perform app.require_limit(p_limit, 'p_limit');
  v_before := coalesce(app.require_cursor(p_before, 'p_before'), 'infinity');

  -- The inner query is what the index serves: the first p_limit rows backwards, then it stops.
  -- The outer sort (of p_limit rows at most) only orders rows of equal created_at by id; put in
  -- the inner query, the planner may choose to sort all of the user's rows in a generic plan.
  return query
  select p.id, p.user_id, p.title, p.created_at, p.updated_at, p.expires_at
  from (
    select c.id, c.user_id, c.title, c.created_at, c.updated_at, c.expires_at
    from app.conversations c
    where c.tenant_id = p_tenant_id
      and c.user_id = p_user_id
      and c.created_at < v_before
      and (c.expires_at is null or c.expires_at > now())
    order by c.created_at desc
    limit p_limit
  ) p
  order by p.created_at desc, p.id desc;
end
$$;
comment on function api.user_conversations(bigint, bigint, timestamptz, integer) is
  'A user''s conversations newest first (created_at desc, id desc), at most p_limit (1..1000, default 50), created before p_before (null: from the newest). Next page: p_before = created_at of the last row; rows sharing that exact timestamp are skipped. Expired conversations (expires_at <= now()) are left out. Returns (id, user_id, title, created_at, updated_at, expires_at). Errors: QB001 null tenant, user or limit; QB004 limit out of range; QB005 unknown tenant; QB006 p_before not finite. Index: conversations_tenant_id_user_id_created_at_idx, backward.';

create or replace function api.conversation_messages(
  p_tenant_id bigint,
  p_conversation_id bigint,
  p_before timestamptz default null,
  p_limit integer default 50)
returns table (id bigint, conversation_id bigint, role text, content text, token_count integer, created_at timestamptz, expires_at timestamptz)
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  -- a plain value: unlike coalesce(...), a comparison with it is leakproof, so it stays an
  -- index condition under row level security (a security barrier)
  v_before timestamptz;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_conversation_id, 'p_conversation_id');
  perform app.require_limit(p_limit, 'p_limit');
  v_before := coalesce(app.require_cursor(p_before, 'p_before'), 'infinity');

  -- messages is RANGE-partitioned by month on created_at: the bound on created_at prunes the
  -- newer partitions, and each remaining one is read backwards on its index under a Merge
  -- Append, stopping once p_limit rows are out.
  return query
  select p.id, p.conversation_id, p.role, p.content, p.token_count, p.created_at, p.expires_at
  from (
    select m.id, m.conversation_id, m.role, m.content, m.token_count, m.created_at, m.expires_at
    from app.messages m
    where m.tenant_id = p_tenant_id
      and m.conversation_id = p_conversation_id
      and m.created_at < v_before
      and (m.expires_at is null or m.expires_at > now())
    order by m.created_at desc
    limit p_limit
  ) p
  order by p.created_at desc, p.id desc;
end
$$;
comment on function api.conversation_messages(bigint, bigint, timestamptz, integer) is
  'A conversation''s messages newest first (created_at desc, id desc), at most p_limit (1..1000, default 50), created before p_before (null: from the newest). Next page: p_before = created_at of the last row; rows sharing that exact timestamp are skipped. Expired messages (expires_at <= now()) are left out; an unknown conversation gives no rows. Returns (id, conversation_id, role, content, token_count, created_at, expires_at). Errors: QB001 null tenant, conversation or limit; QB004 limit out of range; QB005 unknown tenant; QB006 p_before not finite. Index: messages_tenant_id_conversation_id_created_at_idx on each monthly partition, backward under a Merge Append.';
