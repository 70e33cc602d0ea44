-- Count maps ({key: n}, e.g. {"pending": 3, "completed": -1}): how the statistics the writers
-- maintain carry counts per strategy, per document status and per operation type and status
-- (functions/maint/collection_stat_deltas.sql). Keys whose count is 0 are left out, so two maps
-- of the same counts are equal as jsonb.

create or replace function app.sum_count_maps(p_maps jsonb[])
returns jsonb
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(jsonb_object_agg(x.key, x.n) filter (where x.n <> 0), '{}')
  from (select e.key, sum(e.value::bigint) as n
        from unnest(p_maps) m (map)
        cross join lateral jsonb_each_text(m.map) e
        group by e.key) x
$$;
comment on function app.sum_count_maps(jsonb[]) is
  'Adds count maps {key: n, ...} key by key (null maps count as empty) and drops the keys that add up to 0: how the fold, the reader and the recomputation merge strategies, documents by status and operations by type and status.';

create or replace function app.status_changes(p_from text[], p_to text[])
returns jsonb
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
  select coalesce(jsonb_object_agg(x.key, x.n) filter (where x.n <> 0), '{}')
  from (select c.key, sum(c.n) as n
        from (select f.key, -1 as n from unnest(p_from) f (key)
              union all
              select t.key, 1 from unnest(p_to) t (key)) c
        where c.key is not null
        group by c.key) x
$$;
comment on function app.status_changes(text[], text[]) is
  'The count map of rows moving from the keys p_from to the keys p_to (one element per row, e.g. the old and the new "type:status" of the operations an update changed): -1 per element of p_from, +1 per element of p_to, added per key, zeros left out. Used by the writers'' statistics deltas.';
