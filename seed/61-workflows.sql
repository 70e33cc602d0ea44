-- app.workflows: rows / 100. Tenant skew (tenant 1 about half); run by one of the tenant's two
-- orchestrator agents (none for 5 %). created_at increases with id over the window.
--   status: completed 65 %, failed 10 %, cancelled 5 %, executing 8 %, pending 12 %
--   completed_at for completed, failed and cancelled: up to 2 hours after created_at
insert into app.workflows (tenant_id, id, agent_id, name, status, created_at, completed_at)
select r.tenant_id,
       r.i,
       case when r.u_agent >= 0.05 then 10 * (r.tenant_id - 1) + 1 + floor(2 * r.u_which)::bigint end,
       format('%s %s', seed.pick(r.u_name, '{0.3,0.55,0.75,0.9}',
                                 '{Research,Summarize,Classify,Sync,Review}'), r.i),
       r.status,
       r.created_at,
       case when r.status in ('completed', 'failed', 'cancelled')
            then least(p.t_end, r.created_at + r.u_took * interval '2 hours')
       end
from seed.params p
cross join (
  select g.i,
         seed.tenant(seed.u(g.i, 6101), seed.u(g.i, 6102), p.tenants, 0.5) as tenant_id,
         seed.u(g.i, 6103) as u_agent,
         seed.u(g.i, 6104) as u_which,
         seed.u(g.i, 6105) as u_name,
         seed.pick(seed.u(g.i, 6106), '{0.65,0.75,0.8,0.88}', '{completed,failed,cancelled,executing,pending}') as status,
         seed.u(g.i, 6107) as u_took,
         seed.at((g.i - 1 + seed.u(g.i, 6108)) / p.workflows) as created_at
  from seed.params p
  cross join generate_series(1, current_setting('seed.workflows')::bigint) g(i)
  offset 0
) r;
