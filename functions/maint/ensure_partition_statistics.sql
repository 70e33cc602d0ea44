-- Extended statistics reach only the table they are defined on, and the planner estimates a
-- partition scan from the partition's own statistics: so every statistics object of a
-- partitioned parent is repeated on each of its partitions (pg_partman makes new partitions
-- monthly, hence a function that the nightly ANALYZE job calls again).
create or replace function maint.ensure_partition_statistics()
returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  ddl text;
  created integer := 0;
begin
  for ddl in
    select format('create statistics if not exists %I.%I (%s) on %s from %I.%I',
                  pn.nspname,
                  left(part.relname || substr(s.stxname, length(parent.relname) + 1), 63),
                  (select string_agg(case k when 'd' then 'dependencies' when 'm' then 'mcv' when 'f' then 'ndistinct' end, ', ')
                   from unnest(s.stxkind) k where k in ('d', 'm', 'f')),
                  pg_get_statisticsobjdef_columns(s.oid),
                  pn.nspname, part.relname)
    from pg_statistic_ext s
    join pg_class parent on parent.oid = s.stxrelid and parent.relkind = 'p'
    join pg_namespace n on n.oid = parent.relnamespace and n.nspname = 'app'
    join pg_inherits i on i.inhparent = parent.oid
    join pg_class part on part.oid = i.inhrelid
    join pg_namespace pn on pn.oid = part.relnamespace
    where not exists (
      select from pg_statistic_ext ps
      where ps.stxrelid = part.oid
        and ps.stxkeys = s.stxkeys)
  loop
    execute ddl;
    created := created + 1;
  end loop;
  return created;
end
$$;
comment on function maint.ensure_partition_statistics() is
  'Repeats each extended statistics object of a partitioned app table on every partition that lacks it; returns how many it created. Idempotent; called after migrations and by the nightly ANALYZE job.';
