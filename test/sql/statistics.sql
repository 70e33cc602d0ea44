-- Statistics and chunk retrieval: the per-collection view gone, the operators' tenant overview
-- (exists, unique index, populated, refreshable concurrently, adds up to the rows), and the functions' contract (security definer, pinned
-- search_path, a comment, the documented error codes).
begin;
select plan(29);

select hasnt_materialized_view('app', 'collection_stats', 'the per-collection view is gone (migration 000012): the api reads the maintained totals');
select has_materialized_view('app', 'tenant_overview', 'app.tenant_overview exists');
select index_is_unique('app', 'tenant_overview', 'tenant_overview_tenant_id_idx',
  'the view has a unique index (what refresh ... concurrently needs)');
select has_index('app', 'tenant_overview', 'tenant_overview_tenant_id_idx', array['tenant_id'],
  'the unique index is on (tenant_id)');
select matches(obj_description('app.tenant_overview'::regclass, 'pg_class'), '^querybudget:tenant_overview:[0-9a-f]{32} ',
  'the view''s comment starts with the version of its definition');
select isnt(maint.refresh_tenant_overview(), null::interval, 'maint.refresh_tenant_overview() refreshes and returns its duration');
select ok((select relispopulated from pg_class where oid = 'app.tenant_overview'::regclass), 'the view is populated');
select is((select count(*) from app.tenant_overview), (select count(*) from app.tenants),
  'after a refresh: one row per tenant');
select is((select sum(chunks_total) from app.tenant_overview)::bigint, (select count(*) from app.chunks),
  'the chunk totals of the view add up to the chunks');
select is((select sum(operations_total) from app.tenant_overview)::bigint, (select count(*) from app.operations),
  'the operation totals of the view add up to the operations');
select is((select sum(documents_total) from app.tenant_overview)::bigint, (select count(*) from app.documents),
  'the document totals of the view add up to the documents');
select is((select sum(chunk_characters) from app.tenant_overview)::bigint, (select sum(size) from app.chunks)::bigint,
  'the chunk characters of the view add up to the chunks'' sizes');

-- every function of this family: exists, security definer, search_path pinned, commented
create temp table family (signature text primary key);
insert into family values
  ('api.collection_statistics(bigint,bigint,boolean)'),
  ('api.knowledge_gap_stats(bigint)'),
  ('api.chunks_for_documents(bigint,bigint,bigint[],integer)'),
  ('api.chunks_page(bigint,bigint,bigint,integer)'),
  ('maint.refresh_tenant_overview()');

select is((select count(*) from family where to_regprocedure(signature) is not null), 5::bigint, 'every function exists');
select is_empty($$ select signature from family f join pg_proc p on p.oid = to_regprocedure(f.signature) where not p.prosecdef $$,
  'every function is security definer');
select is_empty($$ select signature from family f join pg_proc p on p.oid = to_regprocedure(f.signature)
                   where not coalesce('search_path=pg_catalog, pg_temp' = any (p.proconfig), false) $$,
  'every function pins search_path = pg_catalog, pg_temp');
select is_empty($$ select signature from family f where obj_description(to_regprocedure(f.signature), 'pg_proc') is null $$,
  'every function has a comment (its contract)');
select is((select prolang from pg_proc where oid = 'api.chunks_for_documents(bigint,bigint,bigint[],integer)'::regprocedure),
  (select oid from pg_language where lanname = 'plpgsql'), 'chunks_for_documents is PL/pgSQL (Citus cannot plan a SQL function with parameters: docs/scaling.md)');
select is((select prolang from pg_proc where oid = 'api.knowledge_gap_stats(bigint)'::regprocedure),
  (select oid from pg_language where lanname = 'plpgsql'), 'knowledge_gap_stats is PL/pgSQL (Citus cannot plan a SQL function with parameters: docs/scaling.md)');

-- results and errors
select is(api.collection_statistics(1, 1) -> 'operations' -> 'total',
  to_jsonb((select count(*) from app.operations where tenant_id = 1 and collection_id = 1 and type = 'chunking')),
  'collection_statistics counts the chunking operations of the collection');
select is(api.collection_statistics(1, 1) - 'as_of', api.collection_statistics(1, 1, true) - 'as_of',
  'by default the numbers (totals the writers maintain plus pending deltas) equal the fresh ones');
select is((api.knowledge_gap_stats(1) ->> 'total')::bigint, (select count(*) from app.knowledge_gaps where tenant_id = 1),
  'knowledge_gap_stats counts the gaps of the tenant');
select throws_ok($$ select api.collection_statistics(1, -1) $$, 'QB009', null, 'unknown collection: QB009');
select throws_ok($$ select api.collection_statistics(999999999, 1) $$, 'QB005', null, 'unknown tenant: QB005');
select throws_ok($$ select api.knowledge_gap_stats(null) $$, 'QB001', null, 'null tenant: QB001');
select throws_ok($$ select * from api.chunks_for_documents(1, 1, '{}') $$, 'QB002', null, 'no document ids: QB002');
select throws_ok($$ select * from api.chunks_for_documents(1, 1, '{1,null}') $$, 'QB007', null, 'a null document id: QB007');
select throws_ok($$ select * from api.chunks_for_documents(1, 1, '{1}', 10001) $$, 'QB004', null, 'limit above 10000: QB004');
select throws_ok($$ select * from api.chunks_page(1, 1, -1) $$, 'QB006', null, 'negative cursor: QB006');
select throws_ok($$ select * from api.chunks_page(1, 1, null, 1001) $$, 'QB004', null, 'page size above 1000: QB004');

select * from finish();
rollback;
