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

