-- What the perf functions share: their argument guard (as functions/app/guards.sql is the
-- api's; perf keeps its own so the monitoring role needs nothing of app), and the leaf
-- relations a partitioned table's counters and sizes are summed over.
create or replace function perf.require_threshold(
  p_value anycompatible, p_name text, p_min anycompatible, p_max anycompatible default null)
returns anycompatible
language plpgsql
immutable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  if p_value is null then
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  if p_value < p_min or p_value > p_max then
    raise exception '% is %; it must be % or more%', p_name, p_value, p_min,
      case when p_max is null then '' else format(' and %s or less', p_max) end
      using errcode = 'QB008';
  end if;
  return p_value;
end
$$;
comment on function perf.require_threshold(anycompatible, text, anycompatible, anycompatible) is
  'Guard of the perf functions: a threshold is given (QB001) and within p_min..p_max (p_max null: no upper bound; QB008). Returns the value.';
revoke all on function perf.require_threshold(anycompatible, text, anycompatible, anycompatible) from public;

create or replace function perf.leaf_relations(p_relation oid)
returns setof oid
language sql
stable
rows 16
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  -- the partitions (or partition indexes) that hold the data of a partitioned table (or index);
  -- a plain table or index is its own leaf (pg_partition_tree gives no row for it)
  select p.relid from pg_partition_tree(p_relation) p where p.isleaf
  union all
  select c.oid from pg_class c where c.oid = p_relation and c.relkind not in ('p', 'I')
$$;
comment on function perf.leaf_relations(oid) is
  'The leaf relations holding the data of a relation: the leaf partitions of a partitioned table or index, else the relation itself. The perf functions sum counters and sizes over them.';
revoke all on function perf.leaf_relations(oid) from public;

create or replace function perf.in_scope(p_table oid)
returns boolean
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  -- docs/monitoring.md "Scope": every schema but the system, TOAST and temporary ones, and no
  -- relation that belongs to an extension (pg_partman's and pg_cron's tables are theirs to index)
  select n.nspname not in ('pg_catalog', 'information_schema')
         and n.nspname !~ '^pg_(toast|temp_)'
         and not exists (select from pg_depend d
                         where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.oid = p_table
$$;
comment on function perf.in_scope(oid) is
  'Whether the perf functions report on a table: outside the system, TOAST and temporary schemas, and not an extension''s (docs/monitoring.md "Scope").';
revoke all on function perf.in_scope(oid) from public;
