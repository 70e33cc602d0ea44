-- The domain schema of DESIGN.md: schemas, tables, tenant keys.
begin;
select plan(8);

select schemas_are(array['app', 'api', 'perf', 'maint', 'partman', 'graphile_migrate', 'public'],
  'only our schemas, and those of pg_partman, graphile-migrate and public');

select is(
  (select array_agg(relname::text order by relname) from pg_class
   where relnamespace = 'app'::regnamespace and relkind in ('r', 'p') and not relispartition),
  array['agents', 'chunks', 'collection_stat_deltas', 'collection_stat_totals', 'collections', 'connectors', 'conversations', 'deleted_documents',
        'documents', 'gap_answers', 'knowledge_gaps', 'messages', 'operations', 'tenants',
        'user_sessions', 'users', 'workflow_tasks', 'workflows'],
  'app has every table of the domain model, and no other');

select is_empty(
  $$ select c.relname from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p')
       and not exists (select from pg_attribute a
                       where a.attrelid = c.oid and a.attname = 'tenant_id' and a.attnotnull
                         and a.atttypid = 'bigint'::regtype) $$,
  'every app table has tenant_id bigint not null');

-- Keys are part of the contract: every primary key, unique constraint and foreign key
-- includes tenant_id, so the schema can be distributed by tenant (Citus) without changes.
-- Exceptions would be listed here with their reason; there are none.
create temp table tenant_key_exceptions (conname text primary key, reason text not null);

select is_empty(
  $$ select con.conrelid::regclass::text || ' ' || con.conname
     from pg_constraint con
     join pg_class c on c.oid = con.conrelid
     where c.relnamespace = 'app'::regnamespace and not c.relispartition
       and con.contype in ('p', 'u', 'f')
       and not exists (select from pg_attribute a
                       where a.attrelid = con.conrelid and a.attnum = any (con.conkey) and a.attname = 'tenant_id')
       and con.conname not in (select conname from tenant_key_exceptions) $$,
  'every primary key and unique constraint of app includes tenant_id');

select is_empty(
  $$ select con.conrelid::regclass::text || ' ' || con.conname
     from pg_constraint con
     join pg_class c on c.oid = con.conrelid
     where c.relnamespace = 'app'::regnamespace and not c.relispartition and con.contype = 'f'
       and not exists (select from unnest(con.conkey, con.confkey) as k(col, refcol)
                       join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.col
                       join pg_attribute r on r.attrelid = con.confrelid and r.attnum = k.refcol
                       where a.attname = 'tenant_id' and r.attname = 'tenant_id')
       and con.conname not in (select conname from tenant_key_exceptions) $$,
  'every foreign key of app matches tenant_id to tenant_id');

select is_empty(
  $$ select conname from tenant_key_exceptions
     where conname not in (select conname from pg_constraint where connamespace = 'app'::regnamespace) $$,
  'the exception list names only constraints that exist');

select is_empty(
  $$ select c.relname from pg_class c
     where c.relnamespace = 'app'::regnamespace and c.relkind in ('r', 'p') and not c.relispartition
       and obj_description(c.oid, 'pg_class') is null $$,
  'every app table has a comment stating its contract');

select is_empty(
  $$ select c.relname from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
       and not exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e') $$,
  'nothing of ours lives in public (extensions'' objects aside)');

select * from finish();
rollback;
