-- app.gap_answers: rows / 100, each to a gap that is not open (in_progress, answered or
-- closed), drawn uniformly, so some gaps have several answers and most none. created_at
-- between the gap's creation and the anchor.
insert into app.gap_answers (tenant_id, id, knowledge_gap_id, content, created_at)
select e.tenant_id,
       r.j,
       e.id,
       format('Answer %s: %s', r.j, md5(format('answer:%s:%s', p.seed, r.j))),
       e.created_at + r.u_at * (p.t_end - e.created_at)
from seed.params p
cross join (
  select g.j,
         1 + floor(seed.u(g.j, 5101) * (select count(*) from app.knowledge_gaps where status <> 'open'))::bigint as rn,
         seed.u(g.j, 5102) as u_at
  from generate_series(1, current_setting('seed.gap_answers')::bigint) g(j)
  offset 0
) r
join (
  select tenant_id, id, created_at, row_number() over (order by id) as rn
  from app.knowledge_gaps
  where status <> 'open'
) e on e.rn = r.rn;
