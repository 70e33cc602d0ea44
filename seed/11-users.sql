-- app.users: seed.users rows (max(2 x tenants, rows / 200)). Users 1..tenants go one to each
-- tenant, so every tenant has a user; the rest follow the tenant skew, with tenant 1's share
-- raised so that it ends with about half of all users. Created between their tenant's
-- creation and the start of the data window.
insert into app.users (tenant_id, id, email, display_name, created_at)
select r.tenant_id,
       r.i,
       format('user%s@tenant%s.example.com', r.i, r.tenant_id),
       format('User %s', r.i),
       t.created_at + r.u_created * (p.t0 - t.created_at)
from seed.params p
cross join (
  select g.i,
         case when g.i <= p.tenants then g.i
              else seed.tenant(seed.u(g.i, 1101), seed.u(g.i, 1102), p.tenants,
                               greatest(0.5, least(1.0, (p.users / 2.0 - 1) / greatest(1, p.users - p.tenants))))
         end as tenant_id,
         seed.u(g.i, 1103) as u_created
  from seed.params p
  cross join generate_series(1, current_setting('seed.users')::bigint) g(i)
  offset 0
) r
join app.tenants t on t.tenant_id = r.tenant_id
order by r.i; -- small: the sort is cheap and keeps rows in id order whatever the join
