-- The planner's generic plan of a statement, on PostgreSQL 15 (EXPLAIN (GENERIC_PLAN) came in
-- 16): the statement is PREPAREd with the parameter types given (a type it cannot determine is
-- made text and the statement prepared again), plan_cache_mode = force_generic_plan makes
-- EXECUTE plan it without looking at the values, and EXPLAIN EXECUTE with NULLs of the
-- parameters' types shows that plan; nothing is executed. Partition pruning is off: with NULL
-- values the pruning done when the executor starts would remove every partition from the plan,
-- and with them the scans whose predicates and indexes an index advisor looks at (the cost
-- does not change: the planner costs all partitions of an Append whose key is a parameter).
-- Hypothetical indexes of hypopg in the session are seen, since the statement is planned anew
-- on every call. Security invoker: the caller needs the privileges the statement needs.
create or replace function perf.generic_plan(p_statement text, p_param_types text[] default '{}')
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
set enable_partition_pruning = off
set jit = off
set max_parallel_workers_per_gather = 0
as $$
declare
  v_name constant text := 'qb_generic_plan_' || pg_backend_pid();
  -- PREPARE needs a type for every position up to the highest $n the text uses
  v_types text[] := (
    select coalesce(array_agg(coalesce(p_param_types[i], 'unknown') order by i), '{}')
    from generate_series(1, greatest(coalesce(cardinality(p_param_types), 0),
                                     (select coalesce(max(m[1]::integer), 0) from regexp_matches(p_statement, '\$(\d+)', 'g') m))) i);
  v_args text;
  v_plan json;
  v_position integer;
begin
  if p_statement is null or btrim(p_statement) = '' then
    raise exception 'p_statement must not be null or blank' using errcode = 'QB001';
  end if;
  for attempt in 0 .. coalesce(cardinality(v_types), 0) + 2 loop
    begin
      execute format('prepare %I%s as %s', v_name,
                     case when cardinality(v_types) > 0 then '(' || array_to_string(v_types, ', ') || ')' else '' end, p_statement);
      exit;
    exception when indeterminate_datatype then
      -- "could not determine data type of parameter $n": text, and prepared again
      v_position := substring(sqlerrm from '\$(\d+)')::integer;
      if v_position is null or attempt > cardinality(v_types) then
        raise;
      end if;
      v_types[v_position] := 'text';
    end;
  end loop;
  select coalesce(string_agg(format('null::%s', t), ', ' order by n), '')
  into v_args
  from pg_catalog.pg_prepared_statements s, unnest(s.parameter_types::text[]) with ordinality u(t, n)
  where s.name = v_name;
  begin
    execute format('explain (verbose, format json) execute %I%s', v_name, case when v_args <> '' then '(' || v_args || ')' else '' end)
      into v_plan;
  exception when others then
    execute format('deallocate %I', v_name);
    raise;
  end;
  execute format('deallocate %I', v_name);
  return v_plan::jsonb;
end
$$;
comment on function perf.generic_plan(text, text[]) is
  'The generic plan of a statement (EXPLAIN (VERBOSE, FORMAT JSON) of a prepared statement under force_generic_plan, partition pruning off), as jsonb; p_param_types are the types of $1.. (a position left out or undeterminable is text). Nothing is executed; hypopg''s hypothetical indexes of the session are seen. Errors: QB001 null or blank statement; the statement''s own errors as PostgreSQL raises them.';
