-- The body of the job that keeps app.collection_stats (sql/20_collection_stats_view.sql) fresh.
create or replace function maint.refresh_collection_stats()
returns interval
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
  started timestamptz := clock_timestamp();
  took interval;
begin
  if (select c.relispopulated from pg_class c where c.oid = 'app.collection_stats'::regclass) then
    -- readers keep reading the old rows while the new ones are computed (needs the unique index)
    refresh materialized view concurrently app.collection_stats;
  else
    -- concurrently is refused on a view that was never populated
    refresh materialized view app.collection_stats;
  end if;
  took := clock_timestamp() - started;
  raise log 'maint.refresh_collection_stats: app.collection_stats refreshed in %', took;
  return took;
end
$$;
comment on function maint.refresh_collection_stats() is
  'Job body: refresh materialized view concurrently app.collection_stats (plain refresh if it was never populated); returns how long it took (also written to the server log). Readers are not blocked. Call: select maint.refresh_collection_stats().';
