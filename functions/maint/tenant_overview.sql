-- The body of the job that keeps app.tenant_overview (sql/20_tenant_overview_view.sql) fresh,
-- and the hook `npm start` times: its cost follows the number of collections (it reads the
-- maintained statistics, not the rows).
create or replace function maint.refresh_tenant_overview()
returns interval
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set jit = off
as $$
declare
  started timestamptz := clock_timestamp();
  took interval;
begin
  if (select c.relispopulated from pg_class c where c.oid = 'app.tenant_overview'::regclass) then
    -- readers keep reading the old rows while the new ones are computed (needs the unique index)
    refresh materialized view concurrently app.tenant_overview;
  else
    -- concurrently is refused on a view that was never populated
    refresh materialized view app.tenant_overview;
  end if;
  took := clock_timestamp() - started;
  raise log 'maint.refresh_tenant_overview: app.tenant_overview refreshed in %', took;
  return took;
end
$$;
comment on function maint.refresh_tenant_overview() is
  'Job body of querybudget_refresh_tenant_overview: refresh materialized view concurrently app.tenant_overview (plain refresh if it was never populated); returns how long it took (also written to the server log). Reads app.collection_stat_totals and the pending deltas: cost proportional to the number of collections. Readers are not blocked. Call: select maint.refresh_tenant_overview().';
