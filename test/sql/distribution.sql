-- What Citus needs of the schema to distribute it by tenant (docs/citus.md), checked on one
-- server: CI has no Citus, so these are the static half of the proof (npm run test:citus is
-- the other). Each is a reason a table or routine would be refused or not routed.
begin;
select plan(5);

select is_empty(
  $$ select c.oid::regclass::text from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
       and not exists (select from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped) $$,
  'every app table has tenant_id, its distribution column');

select is_empty(
  $$ select k.conrelid::regclass::text || ' ' || k.conname from pg_constraint k
     join pg_class c on c.oid = k.conrelid
     where c.relnamespace = 'app'::regnamespace and not c.relispartition
       and k.contype in ('p', 'u', 'x')
       and not (select a.attnum from pg_attribute a where a.attrelid = k.conrelid and a.attname = 'tenant_id') = any (k.conkey) $$,
  'every primary key, unique and exclusion constraint of an app table includes tenant_id (Citus refuses one that does not)');

select is_empty(
  $$ select k.conrelid::regclass::text || ' ' || k.conname from pg_constraint k
     join pg_class c on c.oid = k.conrelid
     where c.relnamespace = 'app'::regnamespace and not c.relispartition and k.contype = 'f'
       and not exists (
         select from unnest(k.conkey, k.confkey) as p (child, parent)
         where p.child = (select a.attnum from pg_attribute a where a.attrelid = k.conrelid and a.attname = 'tenant_id')
           and p.parent = (select a.attnum from pg_attribute a where a.attrelid = k.confrelid and a.attname = 'tenant_id')) $$,
  'every foreign key between app tables pairs tenant_id with tenant_id (colocated tables: the key holds shard by shard)');

select is_empty(
  $$ select t.tgrelid::regclass::text || ' ' || t.tgname from pg_trigger t
     join pg_class c on c.oid = t.tgrelid
     where c.relnamespace = 'app'::regnamespace and not t.tgisinternal $$,
  'no trigger on an app table (DESIGN.md convention 12: Citus does not run them on shards by default)');

select set_eq(
  $$ select distinct 'api.' || p.proname from pg_proc p
     where p.pronamespace = 'api'::regnamespace
       and not coalesce('p_tenant_id' = any (p.proargnames), false) $$,
  array['api.create_tenant', 'api.revoke_session', 'api.touch_session', 'api.validate_session'],
  'the api routines without p_tenant_id (not routed by tenant on Citus) are the listed exceptions: the tenant maker and the session-token routines');

select * from finish();
rollback;
