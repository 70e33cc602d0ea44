-- Writing agents, workflows and their tasks (seed 002; issue 11, item 7). The readers are
-- api.agent_by_name, api.active_agents (functions/api/agents.sql), api.workflows_by_status and
-- api.workflow_tasks (functions/api/workflows.sql).
--
-- A workflow's status follows its tasks. api.set_task_status changes tasks and then sets the
-- status of every workflow whose tasks changed, from all of its tasks, by one rule:
--   1. a workflow that is cancelled stays cancelled (cancelling is the caller's decision, not a
--      consequence of its tasks; its tasks may still be updated);
--   2. else failed, when any task is failed;
--   3. else completed, when every task is completed or skipped;
--   4. else executing, when any task is running, completed or skipped (work has started);
--   5. else (every task pending) pending.
-- completed_at is now() when the workflow enters completed or failed, kept while it stays
-- there, and null again when it leaves them (a failed task retried: failed -> running makes the
-- workflow executing again). Any task transition is allowed; the rule reads only where the
-- tasks are, not how they got there.
--
-- Lock order. Two callers updating tasks of the same workflow must not both decide its status
-- from a state that misses the other's tasks, nor deadlock. So api.set_task_status first locks
-- the workflows of its tasks, in id order, in a statement of its own; only then (a new
-- statement, whose snapshot sees every task change committed before the lock was granted) it
-- locks and updates the tasks, in id order, and sets the workflows' statuses from their tasks.
-- A second caller waits for the first's workflow locks until it commits. Every workflow whose
-- tasks changed is written (its status set even when it stays the same), so under repeatable
-- read or serializable the second caller fails with 40001 (retry) instead of deciding from an
-- old snapshot.

-- agents ---------------------------------------------------------------------------------------

create or replace function api.upsert_agents(p_tenant_id bigint, p_agents jsonb)
returns table ("position" integer, id bigint, action text)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  -- types: the values of the agents_type_check constraint
  perform app.require_items(p_agents, 'p_agents',
    '{"name": {"type": "text", "required": true, "nonblank": true},
      "type": {"type": "text", "required": true, "values": ["orchestrator", "specialist", "worker"]},
      "is_active": {"type": "boolean"},
      "config": {"type": "object"}}');

  -- One statement. A name given twice in the batch is one agent: the last item wins (as if the
  -- items were applied in order), inserted at the position of the first, and every position of
  -- the name reports it (ON CONFLICT cannot touch a row twice in one statement). The agents that
  -- exist (by name, unique per tenant) are locked first, in id order, so two calls over the same
  -- names take their locks in the same order; an omitted is_active or config keeps theirs, and a
  -- new agent gets the defaults (active, {}). New agents get their ids in batch order. On
  -- conflict the row is updated with the item's values (an agent another call created after
  -- this statement's snapshot is updated too, an omitted field then taking the default).
  -- xmax = 0 on a returned row: it was inserted, not updated.
  return query
  with items as (
    select i.name, i.type, i.is_active, i.config, i.ord,
           min(i.ord) over (partition by i.name) as first_ord,
           row_number() over (partition by i.name order by i.ord desc) as from_last
    from rows from (jsonb_to_recordset(p_agents) as (name text, type text, is_active boolean, config jsonb)) with ordinality as i (name, type, is_active, config, ord)
  ), existing as materialized (
    select a.id, a.name, a.is_active, a.config
    from app.agents a
    where a.tenant_id = p_tenant_id
      and a.name = any (array(select i.name from items i where i.from_last = 1))
    order by a.id
    for no key update
  ), upserted as (
    insert into app.agents as a (tenant_id, name, type, is_active, config, created_at)
    select p_tenant_id, i.name, i.type, coalesce(i.is_active, e.is_active, true), coalesce(i.config, e.config, '{}'), now()
    from items i
    left join existing e on e.name = i.name
    where i.from_last = 1
    order by i.first_ord
    on conflict (tenant_id, name) do update
      set type = excluded.type,
          is_active = excluded.is_active,
          config = excluded.config
    returning a.id, a.name, (a.xmax = 0) as inserted
  )
  select (i.ord - 1)::integer, u.id, case when u.inserted then 'inserted' else 'updated' end
  from items i
  join upserted u on u.name = i.name
  order by i.ord;
end
$$;
comment on function api.upsert_agents(bigint, jsonb) is
  'Inserts or updates agents of the tenant by name (unique per tenant) in one statement: p_agents is a json array of up to 10,000 {"name": non-blank text, "type": orchestrator|specialist|worker, "is_active": boolean (optional), "config": json object (optional)}. '
  'A new agent gets is_active true and config {} unless given, ids ascending in batch order; an existing one gets the type, and is_active and config when given (kept otherwise). A name given twice is one agent: the last item''s values win, and both positions report it. '
  'Returns one row per item in batch order: (position 0-based, id, action: inserted or updated). Idempotent in effect: a replay updates the same agents to the same values (action updated). '
  'Errors: QB001 null tenant or batch; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB011 a malformed batch or item (its position and field named). Index: the tenant''s existing agents through agents_pkey (tenant_id, id) or agents_tenant_id_name_key, as the planner prefers; agents_tenant_id_name_key is the conflict arbiter.';

create or replace function api.set_agents_active(p_tenant_id bigint, p_agent_ids bigint[], p_is_active boolean)
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
  perform app.require_ids(p_agent_ids, 'p_agent_ids');
  perform app.require_not_null(p_is_active, 'p_is_active');

  -- One statement: the tenant's agents among the ids, locked in id order, then those not
  -- already so updated (ids through a scalar subquery: primary key probes, see
  -- functions/api/documents.sql).
  with target as materialized (
    select a.id, a.is_active
    from app.agents a
    where a.tenant_id = p_tenant_id
      and a.id = any ((select p_agent_ids)::bigint[])
    order by a.id
    for no key update
  ), updated as (
    update app.agents a
    set is_active = p_is_active
    from target t
    where a.tenant_id = p_tenant_id
      and a.id = t.id
      and t.is_active <> p_is_active
    returning a.id
  )
  select jsonb_build_object(
           'updated', (select count(*) from updated),
           'unchanged', (select count(*) from target) - (select count(*) from updated),
           'not_found', (select count(distinct i) from unnest(p_agent_ids) i) - (select count(*) from target))
  into v_result;
  return v_result;
end
$$;
comment on function api.set_agents_active(bigint, bigint[], boolean) is
  'Activates (p_is_active true) or deactivates (false) the given agents of the tenant. '
  'Returns {"updated": n, "unchanged": k, "not_found": m}: updated, the agents whose flag changed; unchanged, those already so; not_found, ids of other tenants and unknown ids. Duplicate ids count once. Idempotent: a replay reports the agents as unchanged. '
  'One statement after the guards; locks the agents in id order. '
  'Errors: QB001 null tenant, ids or flag; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB010 a multi-dimensional id array. Index: agents_pkey.';

-- workflows ------------------------------------------------------------------------------------

create or replace function api.create_workflow(p_tenant_id bigint, p_name text, p_tasks jsonb, p_agent_id bigint default null)
returns table ("position" integer, id bigint, workflow_id bigint, execution_order integer, created_at timestamptz)
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_missing record;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_blank(p_name, 'p_name');
  perform app.require_items(p_tasks, 'p_tasks',
    '{"name": {"type": "text", "required": true, "nonblank": true},
      "agent_id": {"type": "bigint"}}');

  -- 1. The agents named (the workflow's and the tasks'), each locked FOR KEY SHARE (as the
  -- foreign key checks will) in a lateral subquery, so none can be deleted before the insert:
  -- the first that is not the tenant's (unknown, or another tenant's) is QB009, nothing written.
  -- Position -1 is the workflow's own agent.
  select x.pos, x.agent_id
  into v_missing
  from (
    select -1::bigint as pos, p_agent_id as agent_id
    where p_agent_id is not null
    union all
    select i.ord - 1, i.agent_id
    from rows from (jsonb_to_recordset(p_tasks) as (agent_id bigint)) with ordinality as i (agent_id, ord)
    where i.agent_id is not null
  ) x
  left join lateral (
    select a.id from app.agents a
    where a.tenant_id = p_tenant_id
      and a.id = x.agent_id
    for key share
  ) a on true
  where a.id is null
  order by x.pos
  limit 1;
  if found then
    if v_missing.pos < 0 then
      raise exception 'p_agent_id: unknown agent % of tenant %', v_missing.agent_id, p_tenant_id using errcode = 'QB009';
    end if;
    raise exception 'p_tasks[%].agent_id: unknown agent % of tenant %', v_missing.pos, v_missing.agent_id, p_tenant_id
      using errcode = 'QB009';
  end if;

  -- 2. One statement: the workflow (pending), then its tasks (pending) in batch order, the
  -- execution_order of each its 1-based position, ids ascending in that order.
  return query
  with workflow as (
    insert into app.workflows as w (tenant_id, agent_id, name, status, created_at)
    values (p_tenant_id, p_agent_id, p_name, 'pending', now())
    returning w.id
  ), tasks as (
    insert into app.workflow_tasks as t (tenant_id, workflow_id, agent_id, name, status, execution_order, created_at)
    select p_tenant_id, w.id, i.agent_id, i.name, 'pending', i.ord::integer, now()
    from workflow w
    cross join rows from (jsonb_to_recordset(p_tasks) as (name text, agent_id bigint)) with ordinality as i (name, agent_id, ord)
    order by i.ord
    returning t.id, t.workflow_id, t.execution_order, t.created_at
  )
  select n.execution_order - 1, n.id, n.workflow_id, n.execution_order, n.created_at
  from tasks n
  order by n.execution_order;
end
$$;
comment on function api.create_workflow(bigint, text, jsonb, bigint) is
  'Creates a workflow of the tenant (pending, run by agent p_agent_id or none) with its ordered tasks in one call: p_tasks is a json array of up to 10,000 {"name": non-blank text, "agent_id": an agent of the tenant (optional)}; each task starts pending, its execution_order its 1-based position in the batch, ids ascending in batch order. '
  'Returns one row per task in batch order: (position 0-based, id of the task, workflow_id, execution_order, created_at). Not idempotent: a replay creates another workflow. '
  'Errors: QB001 null tenant or tasks; QB002 empty tasks; QB003 more than 10,000 tasks; QB005 unknown tenant; QB008 blank name; QB009 p_agent_id or a task''s agent_id is not an agent of the tenant (the message names it: p_tasks[3].agent_id); QB011 a malformed batch or item (its position and field named). Index: agents_pkey (the agents named).';

create or replace function api.set_task_status(p_tenant_id bigint, p_task_ids bigint[], p_status text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_updated bigint;
  v_found bigint;
  v_workflow_ids bigint[];
  v_workflows jsonb;
  -- the moment a workflow completes, now() read once: Citus refuses a function that is not
  -- immutable inside a CASE of an UPDATE (docs/scaling.md); a variable is a plain value
  v_now constant timestamptz := now();
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_task_ids, 'p_task_ids');
  perform app.require_not_null(p_status, 'p_status');
  -- the values of the workflow_tasks_status_check constraint
  perform app.require_one_of(p_status, 'p_status', array['pending', 'running', 'completed', 'failed', 'skipped']);

  -- 1. The workflows of the tasks, locked in id order, in a statement of their own (see the
  -- file header: the next statements' snapshot then sees every task change committed before).
  -- A task's workflow never changes, so which workflows is decided from any snapshot.
  perform w.id
  from app.workflows w
  where w.tenant_id = p_tenant_id
    and w.id in (select t.workflow_id from app.workflow_tasks t
                 where t.tenant_id = p_tenant_id
                   and t.id = any ((select p_task_ids)::bigint[]))
  order by w.id
  for no key update;

  -- 2. The tasks, locked in id order, and those not yet in p_status updated.
  with target as materialized (
    select t.id, t.workflow_id, t.status
    from app.workflow_tasks t
    where t.tenant_id = p_tenant_id
      and t.id = any ((select p_task_ids)::bigint[])
    order by t.id
    for no key update
  ), updated as (
    update app.workflow_tasks t
    set status = p_status
    from target x
    where t.tenant_id = p_tenant_id
      and t.id = x.id
      and x.status <> p_status
    returning t.workflow_id
  )
  select (select count(*) from updated),
         (select count(*) from target),
         (select array_agg(distinct u.workflow_id) from updated u)
  into v_updated, v_found, v_workflow_ids;

  -- 3. The status of every workflow whose tasks changed, from all its tasks (the rule in the
  -- file header), written even when it stays the same (see the file header); the result lists
  -- each with its status after the call.
  with tasks as (
    select t.workflow_id,
           case when bool_or(t.status = 'failed') then 'failed'
                when bool_and(t.status in ('completed', 'skipped')) then 'completed'
                when bool_or(t.status <> 'pending') then 'executing'
                else 'pending' end as derived
    from app.workflow_tasks t
    where t.tenant_id = p_tenant_id
      and t.workflow_id = any ((select v_workflow_ids)::bigint[])
    group by t.workflow_id
  ), changed as (
    update app.workflows w
    set status = case when w.status = 'cancelled' then w.status else k.derived end,
        completed_at = case when w.status = 'cancelled' then w.completed_at
                            when k.derived not in ('completed', 'failed') then null
                            when w.status = k.derived then w.completed_at
                            else v_now end
    from tasks k
    where w.tenant_id = p_tenant_id
      and w.id = k.workflow_id
    returning w.id, w.status
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'status', c.status) order by c.id), '[]')
  into v_workflows
  from changed c;

  return jsonb_build_object(
    'updated', v_updated,
    'unchanged', v_found - v_updated,
    'not_found', (select count(distinct i) from unnest(p_task_ids) i) - v_found,
    'workflows', v_workflows);
end
$$;
comment on function api.set_task_status(bigint, bigint[], text) is
  'Sets the status (pending, running, completed, failed, skipped) of the given workflow tasks of the tenant, and the status of every workflow whose tasks changed follows from all its tasks: cancelled stays cancelled; else failed when any task failed; else completed when every task is completed or skipped; else executing when any task is running, completed or skipped; else pending. completed_at is set when a workflow enters completed or failed, cleared when it leaves them. '
  'Returns {"updated": n, "unchanged": k, "not_found": m, "workflows": [{"id", "status"}, ...]}: updated, the tasks whose status changed; unchanged, those already in p_status; not_found, ids of other tenants and unknown ids (duplicates count once); workflows, those whose tasks changed, with their status after the call, by id. Idempotent: a replay changes nothing (workflows []). '
  'Three statements after the guards: the workflows locked in id order, then the tasks locked in id order and updated, then the workflows set (under repeatable read or serializable a concurrent caller on the same workflow gets 40001: retry). '
  'Errors: QB001 null tenant, ids or status; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB008 unknown status; QB010 a multi-dimensional id array. Index: workflow_tasks_pkey, workflows_pkey, workflow_tasks_tenant_id_workflow_id_status_idx.';
