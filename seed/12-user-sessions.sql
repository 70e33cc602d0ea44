-- app.user_sessions: rows / 10, created_at increasing with id. 30 % have expired (not yet
-- removed by the TTL job): created in the first two months of the window, expired 90..30 days
-- before the clock; 70 % are live: created in the last month of the window, expiring in the
-- next 30 days. expires_at is placed against the clock (the api compares it with now()), so
-- the same sessions are live whatever the anchor; a session lasts 24 to 36 days. The user is
-- drawn uniformly, so the tenants follow the users (tenant 1 about half). token: a uuid made
-- from md5 of seed and id.
insert into app.user_sessions (tenant_id, id, user_id, token, created_at, expires_at)
select u.tenant_id,
       r.i,
       u.id,
       md5(format('session:%s:%s', p.seed, r.i))::uuid,
       seed.at(s.y),
       p.clock - (1 - s.y) * interval '2160 hours' + interval '720 hours'
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
  -- y: the session's fraction of the window; the first 30 % of sessions fill two thirds of it
  select case when r.x < 0.3 then (r.x / 0.3) * 2 / 3 else 2.0 / 3 + ((r.x - 0.3) / 0.7) / 3 end as y
) s
join app.users u on u.id = r.user_id;
