-- Sessions, conversations, agents and workflows (functions/api/sessions.sql, conversations.sql,
-- agents.sql, workflows.sql): each function exists once with its exact signature (argument
-- names, types, defaults) and result columns, is a plpgsql security definer with search_path
-- pinned, stable, commented, and rejects bad input with its documented code.
begin;
select plan(77);

create temp table expected (name name, args name[], arguments text, result text);
insert into expected values
  ('validate_session', '{uuid}',
   'p_session_token uuid',
   'TABLE(tenant_id bigint, user_id bigint, email text, display_name text, expires_at timestamp with time zone)'),
  ('user_conversations', '{bigint,bigint,timestamp with time zone,integer,bigint}',
   'p_tenant_id bigint, p_user_id bigint, p_before timestamp with time zone DEFAULT NULL::timestamp with time zone, p_limit integer DEFAULT 50, p_before_id bigint DEFAULT NULL::bigint',
   'TABLE(id bigint, user_id bigint, title text, created_at timestamp with time zone, updated_at timestamp with time zone, expires_at timestamp with time zone)'),
  ('conversation_messages', '{bigint,bigint,timestamp with time zone,integer,bigint}',
   'p_tenant_id bigint, p_conversation_id bigint, p_before timestamp with time zone DEFAULT NULL::timestamp with time zone, p_limit integer DEFAULT 50, p_before_id bigint DEFAULT NULL::bigint',
   'TABLE(id bigint, conversation_id bigint, role text, content text, token_count integer, created_at timestamp with time zone, expires_at timestamp with time zone)'),
  ('agent_by_name', '{bigint,text}',
   'p_tenant_id bigint, p_name text',
   'TABLE(id bigint, name text, type text, is_active boolean, config jsonb, created_at timestamp with time zone)'),
  ('active_agents', '{bigint,text}',
   'p_tenant_id bigint, p_type text DEFAULT NULL::text',
   'TABLE(id bigint, name text, type text, config jsonb, created_at timestamp with time zone)'),
  ('workflows_by_status', '{bigint,text,timestamp with time zone,integer,bigint}',
   'p_tenant_id bigint, p_status text, p_before timestamp with time zone DEFAULT NULL::timestamp with time zone, p_limit integer DEFAULT 50, p_before_id bigint DEFAULT NULL::bigint',
   'TABLE(id bigint, agent_id bigint, name text, status text, created_at timestamp with time zone, completed_at timestamp with time zone)'),
  ('workflow_tasks', '{bigint,bigint,text}',
   'p_tenant_id bigint, p_workflow_id bigint, p_status text DEFAULT NULL::text',
   'TABLE(id bigint, workflow_id bigint, agent_id bigint, name text, status text, execution_order integer, created_at timestamp with time zone)');

-- to_regprocedure: a missing function makes the checks fail, not the file stop
create temp view fn as
select e.*, to_regprocedure(format('api.%I(%s)', e.name, array_to_string(e.args, ','))) as oid from expected e;

-- The point reads of the load floor return a named row type, api.<name>_row (docs/api.md "What a
-- call costs"), the others a table: what a function returns, and its result columns in the
-- form pg_get_function_result gives a table's, whichever of the two it is.
create function pg_temp.returns(p_oid regprocedure) returns text language sql stable as $$
  select case when p.proretset then 'setof ' else '' end || p.prorettype::regtype::text
  from pg_proc p where p.oid = p_oid $$;
create function pg_temp.result_columns(p_oid regprocedure) returns text language sql stable as $$
  select case when t.typtype = 'c'
    then 'TABLE(' || (select string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' order by a.attnum)
                      from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) || ')'
    else pg_get_function_result(p_oid) end
  from pg_proc p join pg_type t on t.oid = p.prorettype where p.oid = p_oid $$;

select has_function('api', name, args, format('api.%s(%s) exists', name, array_to_string(args, ', '))) from fn order by name;
select is((select count(*)::int from pg_proc p where p.pronamespace = 'api'::regnamespace and p.proname = fn.name), 1,
          format('api.%s has no other overload', name)) from fn order by name;
select is(pg_temp.returns(oid),
          case when name in ('validate_session', 'user_conversations', 'agent_by_name', 'active_agents', 'workflow_tasks')
               then format('setof api.%s_row', name) else 'setof record' end,
          format('api.%s returns its rows', name)) from fn order by name;
select is(pg_get_function_arguments(oid), arguments, format('api.%s: argument names, types and defaults', name)) from fn order by name;
select is(pg_temp.result_columns(oid), result, format('api.%s: result columns', name)) from fn order by name;
select is_definer('api', name, args) from fn order by name;
select is((select p.proconfig from pg_proc p where p.oid = fn.oid), array['search_path=pg_catalog, pg_temp', 'row_security=on'],
          format('api.%s pins search_path = pg_catalog, pg_temp and row_security = on', name)) from fn order by name;
select function_lang_is('api', name, args, 'plpgsql') from fn order by name;
select volatility_is('api', name, args, 'stable') from fn order by name;
select ok(obj_description(oid, 'pg_proc') is not null, format('api.%s has a comment (its contract)', name)) from fn order by name;

-- bad input: one or two per function (test/reads.test.ts has the rest)
select throws_ok('select * from api.validate_session(null)', 'QB001', null, 'validate_session: null token is QB001');
select throws_ok('select * from api.user_conversations(1, 1, ''infinity'')', 'QB006', null, 'user_conversations: infinite cursor is QB006');
select throws_ok('select * from api.user_conversations(1, 1, null, 1001)', 'QB004', null, 'user_conversations: limit 1001 is QB004');
select throws_ok('select * from api.conversation_messages(-1, 1)', 'QB005', null, 'conversation_messages: unknown tenant is QB005');
select throws_ok('select * from api.agent_by_name(1, '' '')', 'QB008', null, 'agent_by_name: blank name is QB008');
select throws_ok('select * from api.active_agents(1, ''boss'')', 'QB008', null, 'active_agents: unknown type is QB008');
select throws_ok('select * from api.workflows_by_status(1, ''done'')', 'QB008', null, 'workflows_by_status: unknown status is QB008');

select * from finish();
rollback;
