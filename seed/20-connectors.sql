-- app.connectors: 3 per tenant, ids 3 (t - 1) + 1 .. 3 t, of three different kinds (the kind
-- rotates with the tenant). 22-documents.sql and 24-deleted-documents.sql rely on this layout.
insert into app.connectors (tenant_id, id, kind, name, created_at)
select t.tenant_id,
       3 * (t.tenant_id - 1) + j.j,
       k.kind,
       format('%s %s', initcap(replace(k.kind, '_', ' ')), j.j),
       t.created_at + seed.u(3 * (t.tenant_id - 1) + j.j, 2001) * (p.t0 - t.created_at)
from seed.params p
cross join app.tenants t
cross join generate_series(1, 3) j(j)
cross join lateral (
  select (array['google_drive', 'slack', 'notion', 'github', 'web'])[1 + (t.tenant_id + 2 * j.j) % 5] as kind
) k;
