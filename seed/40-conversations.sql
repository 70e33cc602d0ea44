-- app.conversations: rows / 50. Tenant skew (tenant 1 about half), a user of the tenant.
-- created_at increases with id: conversation i starts at fraction (i - 1 - u) / conversations
-- of the window (the first may start just before it), so 41-messages.sql can give every message
-- a conversation that already exists. expires_at, against the clock (see 12-user-sessions.sql):
-- 5 % in the past (expired, awaiting the TTL job; after created_at, since the window ends at
-- least (1 - x) x 84 days before the clock), 10 % in the next 90 days, the rest never.
insert into app.conversations (tenant_id, id, user_id, title, created_at, updated_at, expires_at)
select r.tenant_id,
       r.i,
       uk.id,
       format('%s %s', seed.pick(r.u_title, '{0.25,0.5,0.7,0.85}',
                                 '{Question about,Summary of,Help with,Search in,Draft of}'), r.i),
       r.created_at,
       least(p.t_end, r.created_at + r.u_updated * interval '72 hours'),
       case when r.u_expires < 0.05 then p.clock - (1 - r.u_when) * (1 - r.x) * interval '2016 hours'
            when r.u_expires < 0.15 then p.clock + r.u_when * interval '2160 hours'
       end
from seed.params p
cross join (
  select g.i,
         seed.tenant(seed.u(g.i, 4001), seed.u(g.i, 4002), p.tenants, 0.5) as tenant_id,
         seed.u(g.i, 4003) as u_user,
         seed.u(g.i, 4004) as u_title,
         seed.u(g.i, 4005) as u_updated,
         seed.u(g.i, 4006) as u_expires,
         seed.u(g.i, 4007) as u_when,
         x.x,
         seed.at(x.x) as created_at
  from seed.params p
  cross join generate_series(1, current_setting('seed.conversations')::bigint) g(i)
  cross join lateral (select (g.i - 1 - seed.u(g.i, 4008)) / p.conversations as x) x
  offset 0
) r
join seed.user_ranges ur on ur.tenant_id = r.tenant_id
join seed.user_slots uk on uk.slot = ur.lo + floor(ur.n * r.u_user)::bigint
order by r.i; -- small: the sort is cheap and keeps rows in id order whatever the join
