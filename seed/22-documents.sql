-- app.documents: ceil(rows / 10) rows, each cut into 10 chunks by 23-chunks.sql. The tenant
-- follows the tenant skew (tenant 1 about half); the collection is one of the tenant's,
-- skewed too (the tenant's k-th collection, k = floor(n u^3)): its first collections are big,
-- the rest a long tail, some empty. A third come from one of the tenant's 3 connectors
-- (external_id 'ext-<id>', unique per connector); the rest have neither. created_at
-- increases with id over the 90-day window; content_size is the sum of the document's chunk
-- sizes (seed.chunk_size).
insert into app.documents (tenant_id, id, collection_id, connector_id, external_id, title, status,
                           classification, user_confirmed, user_confirmed_at, content_size,
                           created_at, updated_at)
select r.tenant_id,
       r.i,
       ck.id,
       case when r.u_connector < 1.0 / 3 then 3 * (r.tenant_id - 1) + 1 + floor(3 * r.u_which)::bigint end,
       case when r.u_connector < 1.0 / 3 then format('ext-%s', r.i) end,
       format('%s %s', seed.pick(r.u_title, '{0.2,0.35,0.5,0.65,0.8,0.9}',
                                 '{Report,Meeting notes,Specification,Policy,Contract,Guide,Proposal}'), r.i),
       r.status,
       case when r.status in ('classified', 'confirmed')
            then seed.pick(r.u_class, '{0.3,0.5,0.65,0.8,0.9}', '{report,meeting_notes,specification,policy,contract,other}')
       end,
       r.status = 'confirmed',
       case when r.status = 'confirmed' then least(p.t_end, r.created_at + r.u_later * interval '168 hours') end,
       (select sum(seed.chunk_size((r.i - 1) * 10 + k))::integer
        from generate_series(1, least(10, p.rows - (r.i - 1) * 10)) k),
       r.created_at,
       least(p.t_end, r.created_at + r.u_later * interval '336 hours')
from seed.params p
cross join (
  select g.i,
         seed.tenant(seed.u(g.i, 2201), seed.u(g.i, 2202), p.tenants, 0.5) as tenant_id,
         seed.u(g.i, 2203) as u_collection,
         seed.u(g.i, 2204) as u_connector,
         seed.u(g.i, 2205) as u_which,
         seed.u(g.i, 2206) as u_title,
         seed.pick(seed.u(g.i, 2207), '{0.45,0.7,0.8,0.85,0.9}', '{confirmed,classified,pending,processing,failed,deleted}') as status,
         seed.u(g.i, 2208) as u_class,
         seed.u(g.i, 2209) as u_later,
         seed.at((g.i - 1 + seed.u(g.i, 2210)) / p.documents) as created_at
  from seed.params p
  cross join generate_series(1, current_setting('seed.documents')::bigint) g(i)
  offset 0
) r
join seed.collection_ranges cr on cr.tenant_id = r.tenant_id
join seed.collection_slots ck on ck.slot = cr.lo + floor(cr.n * r.u_collection ^ 3)::bigint;
