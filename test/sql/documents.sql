-- Bulk document operations (functions/api/documents.sql): they exist with their signatures,
-- the functions are security definer with a pinned search_path, and purge_documents is the
-- documented exception: a security-invoker procedure without a SET clause, since it commits.
begin;
select plan(27);

select has_function('api', 'classify_documents', array['bigint', 'bigint[]', 'text']);
select has_function('api', 'confirm_classifications', array['bigint', 'bigint[]']);
select has_function('api', 'delete_documents', array['bigint', 'bigint[]', 'boolean']);
select has_function('api', 'new_external_ids', array['bigint', 'bigint', 'text[]']);
select has_function('api', 'purge_documents', array['bigint', 'integer', 'bigint']);

select function_returns('api', 'classify_documents', array['bigint', 'bigint[]', 'text'], 'jsonb');
select function_returns('api', 'confirm_classifications', array['bigint', 'bigint[]'], 'jsonb');
select function_returns('api', 'delete_documents', array['bigint', 'bigint[]', 'boolean'], 'jsonb');
select function_returns('api', 'new_external_ids', array['bigint', 'bigint', 'text[]'], 'text[]');

select is_definer('api', 'classify_documents', array['bigint', 'bigint[]', 'text']);
select is_definer('api', 'confirm_classifications', array['bigint', 'bigint[]']);
select is_definer('api', 'delete_documents', array['bigint', 'bigint[]', 'boolean']);
select is_definer('api', 'new_external_ids', array['bigint', 'bigint', 'text[]']);

select is_procedure('api', 'purge_documents', array['bigint', 'integer', 'bigint'], 'purge_documents is a procedure (it commits between batches)');
select isnt_definer('api', 'purge_documents', array['bigint', 'integer', 'bigint'],
  'purge_documents is security invoker: a procedure that commits cannot be security definer');
select is(
  (select proconfig from pg_proc where oid = 'api.purge_documents(bigint, integer, bigint)'::regprocedure),
  null,
  'purge_documents has no SET clause (it would forbid COMMIT)');
select is(
  (select array_agg(p.parameter_mode::text order by p.ordinal_position)
   from information_schema.parameters p
   join pg_proc f on f.proname = 'purge_documents' and f.pronamespace = 'api'::regnamespace
    and p.specific_name = f.proname || '_' || f.oid
   where p.specific_schema = 'api'),
  array['IN', 'IN', 'INOUT'],
  'purge_documents reports its count through an INOUT parameter');

select is_empty(
  $$ select p.oid::regprocedure::text
     from pg_proc p
     where p.pronamespace = 'api'::regnamespace
       and p.proname in ('classify_documents', 'confirm_classifications', 'delete_documents', 'new_external_ids')
       and p.proconfig is distinct from array['search_path=pg_catalog, pg_temp', 'row_security=on'] $$,
  'every bulk document function pins search_path = pg_catalog, pg_temp and row_security = on');

select is_empty(
  $$ select p.oid::regprocedure::text
     from pg_proc p
     where p.pronamespace = 'api'::regnamespace
       and p.proname in ('classify_documents', 'confirm_classifications', 'delete_documents', 'new_external_ids', 'purge_documents')
       and coalesce(obj_description(p.oid, 'pg_proc'), '') = '' $$,
  'every bulk document function has its contract as a comment');

select function_lang_is('api', 'confirm_classifications', array['bigint', 'bigint[]'], 'plpgsql');
select function_lang_is('api', 'purge_documents', array['bigint', 'integer', 'bigint'], 'plpgsql');

-- a few codes (the vitest file tests them all)
select throws_ok($$ select api.classify_documents(1, array[1]::bigint[], ' ') $$, 'QB008', null,
  'a blank classification is QB008');
select throws_ok($$ select api.delete_documents(1, '{}'::bigint[]) $$, 'QB002', null, 'an empty id array is QB002');
select throws_ok($$ select api.new_external_ids(1, -1, array['x']) $$, 'QB009', null, 'an unknown connector is QB009');
select throws_ok($$ call api.purge_documents(1, 0) $$, 'QB004', null, 'a batch size of 0 is QB004');
select throws_ok($$ call api.purge_documents(1, 10) $$, '2D000', null,
  'purge_documents refuses to run inside a transaction block (it commits)');

-- a refused or rolled-back call leaves the data as it was
select isnt_empty($$ select from app.documents where tenant_id = 1 $$, 'tenant 1 still has its documents');

select * from finish();
rollback;
