-- app.workflow_tasks: 2..8 per workflow (5 on average), execution_order 1..k, ids in workflow
-- order. Task status follows the workflow's: completed -> all completed; pending -> all
-- pending; executing -> completed up to a point p, running at p, pending after; failed ->
-- completed, failed at p, skipped after; cancelled -> completed before p, skipped from p.
-- Agent: one of the tenant's specialists or workers (agents 3..10), none for 10 %.
insert into app.workflow_tasks (tenant_id, id, workflow_id, agent_id, name, status, execution_order, created_at)
select w.tenant_id,
       row_number() over (order by w.id, o.o),
       w.id,
       case when seed.u(16 * w.id + o.o, 6203) >= 0.1
            then 10 * (w.tenant_id - 1) + 3 + floor(8 * seed.u(16 * w.id + o.o, 6204))::bigint
       end,
       format('%s %s', seed.pick(seed.u(16 * w.id + o.o, 6205), '{0.3,0.5,0.7,0.85}',
                                 '{Retrieve,Analyze,Summarize,Validate,Report}'), o.o),
       case w.status
         when 'completed' then 'completed'
         when 'pending' then 'pending'
         when 'executing' then case when o.o < s.p then 'completed' when o.o = s.p then 'running' else 'pending' end
         when 'failed' then case when o.o < s.p then 'completed' when o.o = s.p then 'failed' else 'skipped' end
         else case when o.o < s.p then 'completed' else 'skipped' end
       end,
       o.o,
       w.created_at + o.o * interval '1 minute'
from app.workflows w
cross join lateral (
  select 2 + floor(7 * seed.u(w.id, 6201))::integer as k,
         1 + floor((2 + floor(7 * seed.u(w.id, 6201))) * seed.u(w.id, 6202))::integer as p
) s
cross join lateral generate_series(1, s.k) o(o);
