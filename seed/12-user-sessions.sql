-- app.user_sessions: rows / 10. A session lasts 30 days. 30 % have expired (created 90..30
-- days before the anchor, not yet removed by the TTL job), 70 % are live (created in the last
-- 30 days); created_at increases with id. The user is drawn uniformly, so the tenants follow
-- the users (tenant 1 about half). token: a uuid made from md5 of seed and id.
insert into app.user_sessions (tenant_id, id, user_id, token, created_at, expires_at)
select u.tenant_id,
       r.i,
       u.id,
       md5(format('session:%s:%s', p.seed, r.i))::uuid,
       s.created_at,
       s.created_at + interval '720 hours'
from seed.params p
cross join (
  -- x: the position of the session in time, increasing with id, in [0, 1)
  select g.i,
         1 + floor(p.users * seed.u(g.i, 1201))::bigint as user_id,
         (g.i - 1 + seed.u(g.i, 1202)) / p.user_sessions as x
  from seed.params p
  cross join generate_series(1, current_setting('seed.user_sessions')::bigint) g(i)
  offset 0
) r
cross join lateral (
  select case when r.x < 0.3 then p.anchor - interval '2160 hours' + (r.x / 0.3) * interval '1440 hours'
              else p.anchor - interval '720 hours' + ((r.x - 0.3) / 0.7) * interval '720 hours'
         end as created_at
) s
join app.users u on u.id = r.user_id;
