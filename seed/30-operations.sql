-- app.operations: rows rows, in time order: created_at increases with id over the 90-day
-- window (so it follows storage order, as in production). Tenant: the tenant skew (tenant 1
-- about half); collection: the tenant's collections, skewed as for documents; user: a user of
-- the tenant, or none for 5 % (system jobs).
--   type:   chunking 80 %, indexing 8 %, reindexing 4 %, embedding 8 %
--   status: completed 85 %, failed 7 %, pending 4 %, processing 4 %
--   processing_time (s, ms precision) and completed_at for completed (0.05..55 s, log-uniform)
--   and failed (0.02..8 s) only
--   metadata: {"strategy": recursive 50 % | semantic 25 % | fixed_size 15 % | markdown 10 %}
--             plus "chunk_size" (512 40 %, 1000 20 %, 256 10 %) on 70 %
insert into app.operations (tenant_id, id, collection_id, user_id, type, status, processing_time,
                            metadata, created_at, completed_at)
select r.tenant_id,
       r.i,
       ck.id,
       case when r.u_system >= 0.05 then uk.id end,
       r.type,
       r.status,
       t.processing_time,
       case when r.chunk_size is null then jsonb_build_object('strategy', r.strategy)
            else jsonb_build_object('strategy', r.strategy, 'chunk_size', r.chunk_size::integer)
       end,
       r.created_at,
       r.created_at + t.processing_time * interval '1 second'
from seed.params p
cross join (
  select g.i,
         seed.tenant(seed.u(g.i, 3001), seed.u(g.i, 3002), p.tenants, 0.5) as tenant_id,
         seed.u(g.i, 3003) as u_collection,
         seed.u(g.i, 3004) as u_user,
         seed.u(g.i, 3005) as u_system,
         seed.pick(seed.u(g.i, 3006), '{0.8,0.88,0.92}', '{chunking,indexing,reindexing,embedding}') as type,
         seed.pick(seed.u(g.i, 3007), '{0.85,0.92,0.96}', '{completed,failed,pending,processing}') as status,
         seed.u(g.i, 3008) as u_time,
         seed.pick(seed.u(g.i, 3009), '{0.5,0.75,0.9}', '{recursive,semantic,fixed_size,markdown}') as strategy,
         seed.pick(seed.u(g.i, 3010), '{0.4,0.6,0.7}', '{512,1000,256,NULL}') as chunk_size,
         seed.at((g.i - 1 + seed.u(g.i, 3011)) / p.rows) as created_at
  from seed.params p
  cross join generate_series(1, current_setting('seed.rows')::bigint) g(i)
  offset 0
) r
cross join lateral (
  select case r.status when 'completed' then floor(50 * exp(7 * r.u_time)) / 1000
                       when 'failed' then floor(20 * exp(6 * r.u_time)) / 1000
         end as processing_time
) t
join seed.collection_ranges cr on cr.tenant_id = r.tenant_id
join seed.collection_slots ck on ck.slot = cr.lo + floor(cr.n * r.u_collection ^ 3)::bigint
join seed.user_ranges ur on ur.tenant_id = r.tenant_id
join seed.user_slots uk on uk.slot = ur.lo + floor(ur.n * r.u_user)::bigint;
