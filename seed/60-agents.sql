-- app.agents: 10 per tenant, ids 10 (t - 1) + 1 .. 10 t (61-workflows.sql and
-- 62-workflow-tasks.sql rely on this layout): 2 orchestrators, 4 specialists, 4 workers, with
-- the same 10 names in every tenant (unique per tenant). About 70 % active.
insert into app.agents (tenant_id, id, name, type, is_active, config, created_at)
select t.tenant_id,
       a.id,
       (array['orchestrator', 'planner', 'researcher', 'retriever', 'summarizer', 'classifier',
              'reviewer', 'writer', 'translator', 'extractor'])[j.j],
       case when j.j <= 2 then 'orchestrator' when j.j <= 6 then 'specialist' else 'worker' end,
       seed.u(a.id, 6001) < 0.7,
       jsonb_build_object('model', seed.pick(seed.u(a.id, 6002), '{0.5,0.8}', '{gpt-4o-mini,gpt-4o,claude-3-haiku}'),
                          'temperature', floor(10 * seed.u(a.id, 6003)) / 10),
       t.created_at + seed.u(a.id, 6004) * (p.t0 - t.created_at)
from seed.params p
cross join app.tenants t
cross join generate_series(1, 10) j(j)
cross join lateral (select 10 * (t.tenant_id - 1) + j.j as id) a;
