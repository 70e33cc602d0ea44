-- app.collections: seed.collections rows (max(2 x tenants, rows / 1000)). Collections
-- 1..tenants go one to each tenant, so every tenant has one; the rest follow the tenant skew,
-- tenant 1's share raised so that it ends with about half. The owner is a user of the same
-- tenant. 85 % active, 5 % processing, 10 % archived. Created between the tenant's creation and
-- the start of the data window.
insert into app.collections (tenant_id, id, owner_id, name, status, created_at)
select r.tenant_id,
       r.i,
       uk.id,
       format('%s %s', seed.pick(r.u_name, '{0.2,0.4,0.55,0.7,0.8,0.9}',
                                 '{Engineering,Support,Sales,Legal,Research,Marketing,Finance}'), r.i),
       seed.pick(r.u_status, '{0.85,0.9}', '{active,processing,archived}'),
       t.created_at + r.u_created * (p.t0 - t.created_at)
from seed.params p
cross join (
  select g.i,
         case when g.i <= p.tenants then g.i
              else seed.tenant(seed.u(g.i, 2101), seed.u(g.i, 2102), p.tenants,
                               greatest(0.5, least(1.0, (p.collections / 2.0 - 1) / greatest(1, p.collections - p.tenants))))
         end as tenant_id,
         seed.u(g.i, 2103) as u_owner,
         seed.u(g.i, 2104) as u_name,
         seed.u(g.i, 2105) as u_status,
         seed.u(g.i, 2106) as u_created
  from seed.params p
  cross join generate_series(1, current_setting('seed.collections')::bigint) g(i)
  offset 0
) r
join app.tenants t on t.tenant_id = r.tenant_id
join seed.user_ranges ur on ur.tenant_id = r.tenant_id
join seed.user_slots uk on uk.slot = ur.lo + floor(ur.n * r.u_owner)::bigint
order by r.i; -- small: the sort is cheap and keeps rows in id order whatever the join
