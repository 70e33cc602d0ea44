-- app.knowledge_gaps: rows / 50. Tenant skew (tenant 1 about half), created_at increasing with
-- id over the window.
--   category: technical 30 %, process 20 %, decision 15 %, context 15 %, relationship 10 %, timeline 10 %
--   status:   open 40 %, in_progress 20 %, answered 25 %, closed 15 %
insert into app.knowledge_gaps (tenant_id, id, title, category, status, created_at)
select seed.tenant(seed.u(g.i, 5001), seed.u(g.i, 5002), p.tenants, 0.5),
       g.i,
       format('Open question %s', g.i),
       seed.pick(seed.u(g.i, 5003), '{0.3,0.5,0.65,0.8,0.9}', '{technical,process,decision,context,relationship,timeline}'),
       seed.pick(seed.u(g.i, 5004), '{0.4,0.6,0.85}', '{open,in_progress,answered,closed}'),
       seed.at((g.i - 1 + seed.u(g.i, 5005)) / p.knowledge_gaps)
from seed.params p
cross join generate_series(1, current_setting('seed.knowledge_gaps')::bigint) g(i);
