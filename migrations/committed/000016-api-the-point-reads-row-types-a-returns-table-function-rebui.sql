--! Previous: sha1:bae19d3d34e9e6824ca7d695e86ac87c74ccc0af
--! Hash: sha1:e6480cdf72e1e9020440edc94a7c1a7a2925c062
--! Message: api: the point reads' row types (a RETURNS TABLE function rebuilds its row description at every call)

-- The row types of the point reads (issue 13, "the api's own cost"). A function declared
-- RETURNS TABLE (...) describes its rows by OUT parameters, and PostgreSQL 15 rebuilds that row
-- description from the function's pg_proc row at every call (build_function_result_tupdesc,
-- then a transient record type): about 13,000 to 16,000 CPU instructions, 5% of a point read's
-- whole server-side call (callgrind: docs/operations.md, test/api-instructions.test.ts). A
-- function that returns SETOF a named row type takes its description from the type cache. The
-- columns are the ones the routines returned before, in the same order: callers see the same
-- rows. The functions themselves change in functions/api/ (applied after this migration).
--
-- Idempotent: a type that exists is left as it is (test/statistics-upgrade.test.ts replays the
-- migrations after 000011 on a database that has run them).
set local lock_timeout = '5s';
do $$
declare
  t record;
begin
  for t in
    select * from (values
      ('user_by_email_row', 'id bigint, email text, display_name text, created_at timestamptz'),
      ('agent_by_name_row', 'id bigint, name text, type text, is_active boolean, config jsonb, created_at timestamptz'),
      ('active_agents_row', 'id bigint, name text, type text, config jsonb, created_at timestamptz'),
      ('workflow_tasks_row', 'id bigint, workflow_id bigint, agent_id bigint, name text, status text, execution_order integer, created_at timestamptz'),
      ('user_conversations_row', 'id bigint, user_id bigint, title text, created_at timestamptz, updated_at timestamptz, expires_at timestamptz'),
      ('validate_session_row', 'tenant_id bigint, user_id bigint, email text, display_name text, expires_at timestamptz')
    ) v (name, columns)
  loop
    if to_regtype('api.' || t.name) is null then
      execute format('create type api.%I as (%s)', t.name, t.columns);
      execute format('comment on type api.%I is %L', t.name,
                     format('A row of api.%s.', left(t.name, -length('_row'))));
    end if;
  end loop;
end
$$;
