-- Row level security on every table of schema app (docs/security.md "Row level security"):
-- enabled and FORCED (so the owner, querybudget_owner, as which every api function runs, is
-- subject to it too), with one policy, tenant_isolation: a row is visible and writable only
-- when its tenant_id is the tenant of the transaction, the setting querybudget.tenant_id that
-- app.require_tenant sets (transaction-local). Without the setting no row is visible.
--
-- Partitions too: a query through the parent applies the parent's policy and ignores the
-- partitions' own, but a partition named directly (app.chunks_p03) applies its own, so each
-- partition gets the same. pg_partman makes partitions monthly, hence a function: sql/45 calls
-- it on every migrate, maint.run_partition_maintenance after making partitions.
--
-- Idempotent: the policy's comment names the definition it was made from and what it
-- deparses to; a policy that differs (an older definition, or one changed by hand) is made
-- again, and any other policy on an app table is dropped (permissive policies are OR-ed: any
-- other one would widen what a tenant sees). What is in place is left alone.
create or replace function maint.ensure_row_level_security()
returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  -- The tenant of the transaction. nullif: once a transaction-local setting ends, the setting
  -- reads '' (not null) for the rest of the session, and ''::bigint would raise. The bare
  -- expression, not a scalar subquery: Citus refuses to distribute a table whose policy holds
  -- a subquery (docs/scaling.md). It is stable, so with the query's own tenant_id = $1 it is a
  -- one-time filter, and alone it is an index condition evaluated once per scan; only a
  -- sequential scan with no tenant condition evaluates it per row (docs/security.md).
  tenant constant text := $t$nullif(pg_catalog.current_setting('querybudget.tenant_id', true), '')::bigint$t$;
  about constant text :=
    ' A row is visible and writable only to the tenant of the transaction (querybudget.tenant_id, set by app.require_tenant). docs/security.md';
  r record;
  changed integer := 0;
begin
  for r in
    select c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity,
           exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) as has_tenant,
           coalesce(split_part(obj_description(p.oid, 'pg_policy'), ' ', 1) = maint.policy_version(tenant, p.oid), false)
             and not exists (select from pg_policy o where o.polrelid = c.oid and o.polname <> 'tenant_isolation') as policy_ok
    from pg_class c
    left join pg_policy p on p.polrelid = c.oid and p.polname = 'tenant_isolation'
    where c.relnamespace = 'app'::regnamespace
      and c.relkind in ('r', 'p')
    order by c.relname
  loop
    if not r.has_tenant then
      raise exception 'app.% has no tenant_id column: every app table needs one for its row level security policy', r.relname
        using errcode = 'QB008';
    end if;
    if not r.relrowsecurity then
      execute format('alter table app.%I enable row level security', r.relname);
      changed := changed + 1;
    end if;
    if not r.relforcerowsecurity then
      execute format('alter table app.%I force row level security', r.relname);
      changed := changed + 1;
    end if;
    if not r.policy_ok then
      execute coalesce((select string_agg(format('drop policy %I on app.%I', o.polname, r.relname), '; ')
                        from pg_policy o where o.polrelid = r.oid), 'select');
      execute format('create policy tenant_isolation on app.%I as permissive for all to public using (tenant_id = %s) with check (tenant_id = %s)',
                     r.relname, tenant, tenant);
      execute (select format('comment on policy tenant_isolation on app.%I is %L', r.relname, maint.policy_version(tenant, p.oid) || about)
               from pg_policy p where p.polrelid = r.oid and p.polname = 'tenant_isolation');
      changed := changed + 1;
    end if;
  end loop;
  return changed;
end
$$;
comment on function maint.ensure_row_level_security() is
  'Enables and forces row level security on every table and partition of schema app and gives each the policy tenant_isolation (tenant_id = the setting querybudget.tenant_id; no row visible without it), dropping any other policy. Returns how many changes it made (0 when all is in place). Called by sql/45_row_level_security.sql on every migrate and by maint.run_partition_maintenance for new partitions. Raises QB008 for an app table without tenant_id.';
revoke all on function maint.ensure_row_level_security() from public;

create or replace function maint.policy_version(p_definition text, p_policy oid)
returns text
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
  -- the definition it was made from, and what the policy is now (command, permissive, roles,
  -- both expressions as the server deparses them)
  select 'querybudget:tenant_isolation:' || md5(p_definition) || ':'
         || md5(concat_ws('|', p.polcmd, p.polpermissive, p.polroles::text,
                          pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)))
  from pg_policy p
  where p.oid = p_policy
$$;
comment on function maint.policy_version(text, oid) is
  'The version word maint.ensure_row_level_security writes first in a tenant_isolation policy''s comment: md5 of the definition text and md5 of the policy as it is now (command, permissive, roles, deparsed expressions). Null for an unknown policy.';
revoke all on function maint.policy_version(text, oid) from public;
