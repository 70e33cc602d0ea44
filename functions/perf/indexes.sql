-- Index monitoring (seed 001's index analysis and unused-index monitoring, seed 002's index
-- usage): usage per index, unused, duplicate and redundant, invalid indexes, and foreign keys
-- without a supporting index. Documentation: docs/monitoring.md.
--
-- Scope: every schema except the system ones, and no relation that belongs to an extension
-- (pg_partman's and pg_cron's tables are theirs to index). An index on a partitioned table is
-- reported once, as the partitioned index, with the counters and sizes of its partitions'
-- indexes summed (pg_stat_user_indexes has rows for the partitions' indexes only).
--
-- Privileges: these read the catalog, pg_relation_size and the cumulative statistics
-- functions, which every role may use, so they are security invoker; the monitoring role needs
-- EXECUTE and USAGE on schema perf, nothing else. search_path is pinned all the same.
--
-- Every perf function runs with jit = off: these are small catalog queries, but the planner
-- expects 1,000 rows from each pg_partition_tree call, the estimate crosses jit_above_cost,
-- and compiling took 0.6 s of a 0.6 s call (the work itself: under 30 ms).

create or replace function perf.index_usage()
returns table (
  schema_name text,
  table_name text,
  index_name text,
  partitions integer,
  scans bigint,
  tuples_read bigint,
  tuples_fetched bigint,
  size_bytes bigint,
  size text,
  is_unique boolean,
  is_primary boolean,
  constraint_name text,
  is_valid boolean,
  definition text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select n.nspname::text,
         t.relname::text,
         ic.relname::text,
         case when ic.relkind = 'I' then count(leaf.oid)::integer else 1 end,
         coalesce(sum(pg_stat_get_numscans(leaf.oid)), 0)::bigint,
         coalesce(sum(pg_stat_get_tuples_returned(leaf.oid)), 0)::bigint,
         coalesce(sum(pg_stat_get_tuples_fetched(leaf.oid)), 0)::bigint,
         coalesce(sum(pg_relation_size(leaf.oid)), 0)::bigint,
         pg_size_pretty(coalesce(sum(pg_relation_size(leaf.oid)), 0)::bigint),
         i.indisunique,
         i.indisprimary,
         (select con.conname::text from pg_constraint con where con.conindid = i.indexrelid and con.conrelid = i.indrelid
           and con.contype in ('p', 'u', 'x') limit 1),
         i.indisvalid,
         pg_get_indexdef(i.indexrelid)
  from pg_index i
  join pg_class ic on ic.oid = i.indexrelid
  join pg_class t on t.oid = i.indrelid
  join pg_namespace n on n.oid = t.relnamespace
  -- the leaf indexes whose counters and sizes make up this one
  left join lateral perf.leaf_relations(i.indexrelid) leaf (oid) on true
  where not ic.relispartition
    and perf.in_scope(t.oid)
  group by n.nspname, t.relname, ic.relname, ic.relkind, i.indexrelid, i.indrelid, i.indisunique, i.indisprimary, i.indisvalid
  order by 1, 2, 3
$$;
comment on function perf.index_usage() is
  'Usage of every index outside the system schemas and extensions (seed 002 index_usage): schema_name, table_name, index_name, partitions (leaf partitions summed; 1 for a plain index), '
  'scans (idx_scan), tuples_read (index entries returned), tuples_fetched (live rows fetched by simple index scans), size_bytes and size, is_unique, is_primary, '
  'constraint_name (the primary key, unique or exclusion constraint it backs, else null), is_valid, definition. Counters are cumulative since the last pg_stat_reset() of the database. '
  'An index on a partitioned table is one row with its partitions'' indexes summed. Call: select * from perf.index_usage();';
revoke all on function perf.index_usage() from public;

-- Statistics age: when the counters began, as far as PostgreSQL knows. PostgreSQL 15 keeps
-- the counters across a clean restart and loses them in a crash; it records a reset
-- (pg_stat_database.stats_reset) but not the creation of a database.
create or replace function perf.statistics_age()
returns table (stats_reset timestamptz, stats_age interval, stats_age_exact boolean, server_started timestamptz)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select d.stats_reset,
         now() - coalesce(d.stats_reset, pg_postmaster_start_time()),
         d.stats_reset is not null,
         pg_postmaster_start_time()
  from pg_stat_database d
  where d.datname = current_database()
$$;
comment on function perf.statistics_age() is
  'How old the cumulative statistics (scans, tuples, seq scans) of this database are: stats_reset (the last pg_stat_reset(), null if never), '
  'stats_age = now() - stats_reset, or the server''s uptime when never reset (then stats_age_exact is false: the counters go back to the database''s creation '
  'or the last crash, whichever is later, which PostgreSQL does not record), server_started. Reset the counters (select pg_stat_reset()) to begin a known observation window.';
revoke all on function perf.statistics_age() from public;

create or replace function perf.unused_indexes(p_max_scans bigint default 0)
returns table (
  schema_name text,
  table_name text,
  index_name text,
  scans bigint,
  size_bytes bigint,
  size text,
  table_rows bigint,
  table_writes bigint,
  supports_foreign_key boolean,
  stats_reset timestamptz,
  stats_age interval,
  stats_age_exact boolean,
  drop_statement text)
language plpgsql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
begin
  perform perf.require_threshold(p_max_scans, 'p_max_scans', 0);
  return query
  select u.schema_name, u.table_name, u.index_name, u.scans, u.size_bytes, u.size,
         (select coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint from pg_class c
          where c.oid in (select perf.leaf_relations(t.oid))),
         -- rows written to the table (all partitions) since the counters began: what the index costs
         (select coalesce(sum(pg_stat_get_tuples_inserted(leaf.oid) + pg_stat_get_tuples_updated(leaf.oid)
                              + pg_stat_get_tuples_deleted(leaf.oid)), 0)::bigint
          from perf.leaf_relations(t.oid) leaf (oid)),
         -- the only index whose leading columns are those of a foreign key of the table (and
         -- not partial): dropping it makes deletes in the referenced table scan this one
         i.indpred is null
         and exists (select from pg_constraint con
                     where con.conrelid = t.oid and con.contype = 'f' and con.conparentid = 0
                       and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] @> con.conkey
                       and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] <@ con.conkey
                       and not exists (select from pg_index o
                                       where o.indrelid = t.oid and o.indexrelid <> i.indexrelid and o.indisvalid and o.indpred is null
                                         and (string_to_array(o.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] @> con.conkey
                                         and (string_to_array(o.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] <@ con.conkey)),
         s.stats_reset, s.stats_age, s.stats_age_exact,
         format('drop index %s%I.%I;', case when t.relkind = 'p' then '' else 'concurrently ' end, u.schema_name, u.index_name)
  from perf.index_usage() u
  join pg_namespace n on n.nspname = u.schema_name
  join pg_class t on t.relnamespace = n.oid and t.relname = u.table_name
  join pg_class ic on ic.relnamespace = n.oid and ic.relname = u.index_name
  join pg_index i on i.indexrelid = ic.oid
  cross join perf.statistics_age() s
  where not u.is_unique
    and u.constraint_name is null
    and u.is_valid
    and u.scans <= p_max_scans
  order by u.size_bytes desc, u.schema_name, u.index_name;
end
$$;
comment on function perf.unused_indexes(bigint) is
  'Indexes scanned at most p_max_scans times (default 0) since the counters began, that are not unique and back no constraint (those enforce something even when never scanned), and are valid '
  '(invalid ones: perf.invalid_indexes). Per index: scans, size, table_rows (estimate: on a small table the planner rightly reads the table whole and the index waits for the table to grow), '
  'table_writes (rows inserted, updated and deleted in the table meanwhile: each one also wrote this index), '
  'supports_foreign_key (it is the only non-partial index leading with a foreign key''s columns: deletes in the referenced table need it even if nothing else scans it), the age of the statistics '
  '(stats_reset, stats_age, stats_age_exact: see perf.statistics_age) and a drop statement. Largest first. Errors: QB001 null p_max_scans, QB008 negative p_max_scans.';
revoke all on function perf.unused_indexes(bigint) from public;

create or replace function perf.duplicate_indexes()
returns table (
  schema_name text,
  table_name text,
  index_name text,
  kind text,
  covered_by text,
  index_columns text,
  covering_columns text,
  size_bytes bigint,
  size text,
  drop_statement text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  with idx as (
    select i.indexrelid, i.indrelid, ic.relam, i.indnkeyatts, t.relkind as table_kind,
           n.nspname::text as schema_name, t.relname::text as table_name, ic.relname::text as index_name,
           -- int2vector and oidvector as 1-based arrays; indclass, indcollation, indoption cover the key columns
           (string_to_array(i.indkey::text, ' ')::int2[])[1:i.indnkeyatts] as keys,
           string_to_array(i.indkey::text, ' ')::int2[] as all_columns,
           (string_to_array(i.indkey::text, ' ')::int2[])[i.indnkeyatts + 1:i.indnatts] as include_columns,
           string_to_array(i.indclass::text, ' ')::oid[] as opclasses,
           string_to_array(i.indcollation::text, ' ')::oid[] as collations,
           string_to_array(i.indoption::text, ' ')::int2[] as options,
           pg_get_expr(i.indexprs, i.indrelid) as exprs,
           pg_get_expr(i.indpred, i.indrelid) as pred,
           i.indisunique,
           con.conname::text as constraint_name,
           -- which of two equal indexes to keep: a constraint's, then a unique one, then the older
           (con.conname is not null, i.indisunique, -i.indexrelid::bigint) as keep_rank
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = i.indrelid and con.contype in ('p', 'u', 'x')
    where not ic.relispartition
      and i.indisvalid
      and perf.in_scope(t.oid)
  ), pairs as (
    select a.*, b.index_name as b_name, b.keys as b_keys, b.all_columns as b_all_columns,
           case when a.keys = b.keys then 'duplicate' else 'redundant' end as pair_kind,
           b.keep_rank as b_keep_rank
    from idx a
    join idx b on b.indrelid = a.indrelid and b.indexrelid <> a.indexrelid
      and b.relam = a.relam
      and b.exprs is not distinct from a.exprs
      and b.pred is not distinct from a.pred
    where
      -- what a's index-only scans read must be in b too
      a.include_columns <@ b.all_columns
      and (
        -- equal keys, same operator classes, collations and orderings: keep the better one
        (a.keys = b.keys and a.opclasses = b.opclasses and a.collations = b.collations and a.options = b.options
         and a.keep_rank < b.keep_rank)
        or
        -- a's keys a leading prefix of b's (b-tree only: there the prefix serves the same searches);
        -- a unique index or a constraint's enforces something and is never redundant
        (a.relam = (select am.oid from pg_am am where am.amname = 'btree')
         and a.indnkeyatts < b.indnkeyatts
         and b.keys[1:a.indnkeyatts] = a.keys
         and b.opclasses[1:a.indnkeyatts] = a.opclasses
         and b.collations[1:a.indnkeyatts] = a.collations
         and b.options[1:a.indnkeyatts] = a.options
         and not a.indisunique and a.constraint_name is null)
      )
  ), picked as (
    -- one row per index to drop: a duplicate before a redundancy, then the best keeper
    select distinct on (p.indexrelid) p.*
    from pairs p
    order by p.indexrelid, (p.pair_kind = 'duplicate') desc, p.b_keep_rank desc, p.b_name
  )
  select p.schema_name, p.table_name, p.index_name, p.pair_kind, p.b_name,
         (select string_agg(coalesce(a.attname::text, 'expr'), ', ' order by k.ord)
          from unnest(p.keys) with ordinality k (attnum, ord)
          left join pg_attribute a on a.attrelid = p.indrelid and a.attnum = k.attnum and k.attnum > 0),
         (select string_agg(coalesce(a.attname::text, 'expr'), ', ' order by k.ord)
          from unnest(p.b_keys) with ordinality k (attnum, ord)
          left join pg_attribute a on a.attrelid = p.indrelid and a.attnum = k.attnum and k.attnum > 0),
         u.size_bytes, u.size,
         case when p.constraint_name is not null
              then format('alter table %I.%I drop constraint %I;', p.schema_name, p.table_name, p.constraint_name)
              else format('drop index %s%I.%I;', case when p.table_kind = 'p' then '' else 'concurrently ' end, p.schema_name, p.index_name)
         end
  from picked p
  join perf.index_usage() u on u.schema_name = p.schema_name and u.index_name = p.index_name
  order by p.schema_name, p.table_name, p.index_name
$$;
comment on function perf.duplicate_indexes() is
  'Indexes another index of the same table makes unnecessary: same access method, same expressions and same predicate (partial indexes), and either '
  'kind = duplicate (equal key columns, operator classes, collations and orderings; of two, the one kept backs a constraint, else is unique, else is the older) or '
  'kind = redundant (a b-tree whose key columns are a leading prefix of the other''s; never a unique or constraint index, which enforce something). '
  'In both, the INCLUDE columns of the dropped one are in the other. One row per index to drop: covered_by (the one to keep), index_columns, covering_columns, size, drop_statement.';
revoke all on function perf.duplicate_indexes() from public;

create or replace function perf.missing_fk_indexes()
returns table (
  schema_name text,
  table_name text,
  constraint_name text,
  columns text[],
  referenced_table text,
  on_delete text,
  table_rows bigint,
  table_size text,
  create_statement text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select n.nspname::text,
         t.relname::text,
         con.conname::text,
         cols.names,
         con.confrelid::regclass::text,
         case con.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                              when 'n' then 'set null' when 'd' then 'set default' end,
         greatest(coalesce((select sum(greatest(c.reltuples, 0)) from pg_class c
                            where c.oid in (select perf.leaf_relations(t.oid))), 0), 0)::bigint,
         pg_size_pretty((select sum(pg_table_size(l)) from perf.leaf_relations(t.oid) l)::bigint),
         format('create index %s%I on %I.%I (%s);',
                case when t.relkind = 'p' then '' else 'concurrently ' end,
                left(t.relname || '_' || array_to_string(cols.names, '_') || '_idx', 63),
                n.nspname, t.relname,
                (select string_agg(quote_ident(x), ', ' order by o) from unnest(cols.names) with ordinality u (x, o)))
  from pg_constraint con
  join pg_class t on t.oid = con.conrelid
  join pg_namespace n on n.oid = t.relnamespace
  cross join lateral (
    select array_agg(a.attname::text order by k.ord) as names
    from unnest(con.conkey) with ordinality k (attnum, ord)
    join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum
  ) cols
  where con.contype = 'f'
    and con.conparentid = 0          -- partitions inherit their parent's foreign key: reported once, on the parent
    and perf.in_scope(t.oid)
    and not exists (
      -- a valid, non-partial b-tree whose leading columns are the key's columns, in any order
      select from pg_index i
      join pg_class ic on ic.oid = i.indexrelid
      where i.indrelid = con.conrelid
        and i.indisvalid
        and i.indpred is null
        and ic.relam = (select am.oid from pg_am am where am.amname = 'btree')
        and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] @> con.conkey
        and (string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)] <@ con.conkey)
  order by 1, 2, 3
$$;
comment on function perf.missing_fk_indexes() is
  'Foreign keys whose referencing table has no valid, non-partial b-tree index leading with the key''s columns (in any order): every delete or key update in the referenced table '
  'then scans the referencing table to check it (or to cascade). Per key: the table, constraint_name, columns, referenced_table, on_delete action, table_rows (estimate), table_size, '
  'and a create index statement (concurrently, except on a partitioned table, where it cannot be). A partial index does not count: the check looks for every row.';
revoke all on function perf.missing_fk_indexes() from public;

create or replace function perf.invalid_indexes()
returns table (
  schema_name text,
  table_name text,
  index_name text,
  size_bytes bigint,
  reason text,
  definition text,
  fix text)
language sql
stable
set search_path = pg_catalog, pg_temp
set jit = off
as $$
  select n.nspname::text,
         t.relname::text,
         ic.relname::text,
         (select sum(pg_relation_size(l)) from perf.leaf_relations(ic.oid) l)::bigint,
         case
           when ic.relkind = 'I' then 'partitioned index not attached on every partition (create the missing partition index and attach it)'
           when not i.indisready then 'never finished building: a create index concurrently that failed or is still running'
           else 'invalid: a create index concurrently or reindex concurrently that failed or is still running'
         end,
         pg_get_indexdef(i.indexrelid),
         case
           when ic.relkind = 'I' then format('-- create the index on the partitions that lack it, then: alter index %I.%I attach partition ...;', n.nspname, ic.relname)
           else format('drop index concurrently %I.%I; %s;', n.nspname, ic.relname,
                       regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX ', 'CREATE \1INDEX CONCURRENTLY '))
         end
  from pg_index i
  join pg_class ic on ic.oid = i.indexrelid
  join pg_class t on t.oid = i.indrelid
  join pg_namespace n on n.oid = t.relnamespace
  where (not i.indisvalid or not i.indisready)
    and perf.in_scope(t.oid)
  order by 1, 2, 3
$$;
comment on function perf.invalid_indexes() is
  'Indexes the planner does not use but every write still maintains (or soon will): invalid or not ready after a failed or running create/reindex concurrently, and partitioned indexes '
  'missing on some partition. Per index: size_bytes, reason, definition, fix (drop and build again concurrently; for a partitioned index, build and attach the missing partition index). '
  'An index being built concurrently right now is listed too: check perf.long_running_queries before dropping.';
revoke all on function perf.invalid_indexes() from public;
