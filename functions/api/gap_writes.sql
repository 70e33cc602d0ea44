-- Writing knowledge gaps (seed 004; issue 11, item 6): open gaps in bulk, answer one, set the
-- status of many. The readers are api.knowledge_gap_stats and api.gap_answers.
--
-- Statuses (the knowledge_gaps_status_check constraint): open, in_progress, answered, closed.
-- A new gap is open. An answer makes an open or in_progress gap answered; an answered gap stays
-- answered (one more answer), and a closed gap stays closed (closing is a person's decision,
-- which a late answer does not undo; the answer is kept). api.set_gap_status sets any of the
-- four on any gap: reopening (answered or closed -> open) is allowed.
--
-- Lock order: api.set_gap_status locks its gaps in id order before it updates them, and
-- api.answer_gap locks its one gap first: two calls over overlapping gaps take their locks in
-- the same order and cannot deadlock.

create or replace function api.open_gaps(p_tenant_id bigint, p_gaps jsonb)
returns table ("position" integer, id bigint, status text, created_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  -- categories: the values of the knowledge_gaps_category_check constraint
  perform app.require_items(p_gaps, 'p_gaps',
    '{"title": {"type": "text", "required": true, "nonblank": true},
      "category": {"type": "text", "required": true,
                   "values": ["decision", "technical", "process", "context", "relationship", "timeline"]}}');

  -- One insert in batch order (ids ascend with the position), matched back by rank.
  return query
  with inserted as (
    insert into app.knowledge_gaps as g (tenant_id, title, category, status, created_at)
    select p_tenant_id, i.title, i.category, 'open', now()
    from rows from (jsonb_to_recordset(p_gaps) as (title text, category text)) with ordinality as i (title, category, ord)
    order by i.ord
    returning g.id, g.status, g.created_at
  )
  select (row_number() over (order by n.id))::integer - 1, n.id, n.status, n.created_at
  from inserted n
  order by n.id;
end
$$;
comment on function api.open_gaps(bigint, jsonb) is
  'Opens knowledge gaps of the tenant in one insert: p_gaps is a json array of up to 10,000 {"title": non-blank text, "category": decision|technical|process|context|relationship|timeline}; each gap starts open, created_at = now(), ids ascending in batch order. '
  'Returns one row per item in batch order: (position 0-based, id, status, created_at). Not idempotent: a replay opens the gaps again (a title is not a key). '
  'Errors: QB001 null tenant or batch; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB011 a malformed batch or item (its position and field named).';

create or replace function api.answer_gap(p_tenant_id bigint, p_knowledge_gap_id bigint, p_content text)
returns table (id bigint, knowledge_gap_id bigint, status text, created_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_status text;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_knowledge_gap_id, 'p_knowledge_gap_id');
  perform app.require_not_blank(p_content, 'p_content');

  -- 1. The gap, locked (the statement that answers it reads its status after the lock, as
  -- api.set_gap_status sees it). Unknown or another tenant's: QB009, nothing written.
  select g.status
  into v_status
  from app.knowledge_gaps g
  where g.tenant_id = p_tenant_id
    and g.id = p_knowledge_gap_id
  for no key update;
  if not found then
    raise exception 'p_knowledge_gap_id: unknown knowledge gap % of tenant %', p_knowledge_gap_id, p_tenant_id using errcode = 'QB009';
  end if;

  -- 2. The answer and the gap's status in one statement: open and in_progress become answered;
  -- answered and closed stay as they are.
  return query
  with answer as (
    insert into app.gap_answers as a (tenant_id, knowledge_gap_id, content, created_at)
    values (p_tenant_id, p_knowledge_gap_id, p_content, now())
    returning a.id, a.knowledge_gap_id, a.created_at
  ), gap as (
    update app.knowledge_gaps g
    set status = 'answered'
    where g.tenant_id = p_tenant_id
      and g.id = p_knowledge_gap_id
      and g.status in ('open', 'in_progress')
    returning g.status
  )
  select n.id, n.knowledge_gap_id, coalesce((select s.status from gap s), v_status), n.created_at
  from answer n;
end
$$;
comment on function api.answer_gap(bigint, bigint, text) is
  'Answers one knowledge gap of the tenant: inserts the answer (created_at = now()) and makes an open or in_progress gap answered; an answered gap stays answered, a closed one stays closed (the answer is kept). '
  'Returns one row (id of the answer, knowledge_gap_id, status: the gap''s status after the call, created_at). Not idempotent: a replay adds the answer again. '
  'Errors: QB001 null tenant, gap or content; QB005 unknown tenant; QB008 blank content; QB009 the gap is not one of the tenant''s (unknown, or another tenant''s: not told apart). Index: knowledge_gaps_pkey (the gap, locked).';

create or replace function api.set_gap_status(p_tenant_id bigint, p_knowledge_gap_ids bigint[], p_status text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_knowledge_gap_ids, 'p_knowledge_gap_ids');
  perform app.require_not_null(p_status, 'p_status');
  -- the values of the knowledge_gaps_status_check constraint
  perform app.require_one_of(p_status, 'p_status', array['open', 'in_progress', 'answered', 'closed']);

  -- One statement: the tenant's gaps among the ids, locked in id order (LockRows above the
  -- Sort), then those not yet in p_status updated. The ids are read through a scalar subquery,
  -- which the planner takes as a handful of rows: primary key probes, whatever the array's
  -- length (functions/api/documents.sql, top).
  with target as materialized (
    select g.id, g.status
    from app.knowledge_gaps g
    where g.tenant_id = p_tenant_id
      and g.id = any ((select p_knowledge_gap_ids)::bigint[])
    order by g.id
    for no key update
  ), updated as (
    update app.knowledge_gaps g
    set status = p_status
    from target t
    where g.tenant_id = p_tenant_id
      and g.id = t.id
      and t.status <> p_status
    returning g.id
  )
  select jsonb_build_object(
           'updated', (select count(*) from updated),
           'unchanged', (select count(*) from target) - (select count(*) from updated),
           'not_found', (select count(distinct i) from unnest(p_knowledge_gap_ids) i) - (select count(*) from target))
  into v_result;
  return v_result;
end
$$;
comment on function api.set_gap_status(bigint, bigint[], text) is
  'Sets the status (open, in_progress, answered, closed) of the given knowledge gaps of the tenant; any transition is allowed (reopening too). '
  'Returns {"updated": n, "unchanged": k, "not_found": m}: updated, the gaps whose status changed; unchanged, those already in p_status; not_found, ids of other tenants and unknown ids. Duplicate ids count once. Idempotent: a replay changes nothing and reports the gaps as unchanged. '
  'One statement after the guards; locks the gaps in id order. '
  'Errors: QB001 null tenant, ids or status; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB008 unknown status; QB010 a multi-dimensional id array. Index: knowledge_gaps_pkey.';
