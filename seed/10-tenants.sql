-- app.tenants: seed.tenants rows (20..500). Tenant 1 is the big customer that holds about half
-- of every table; tenants 2.. are a long tail. Created during the year before the data window,
-- oldest first.
insert into app.tenants (tenant_id, name, created_at)
select g.i,
       format('Tenant %s', g.i),
       p.t0 - ((p.tenants - g.i + seed.u(g.i, 1001)) / p.tenants) * interval '8760 hours'
from seed.params p
cross join generate_series(1, current_setting('seed.tenants')::bigint) g(i);
