-- app.messages: rows / 2, in time order: created_at increases with id over the 90-day window.
-- A message at fraction x of the window goes to one of the conversations started by then
-- (m = 1 + floor(conversations x) of them), mostly a recent one (m - floor(m v^3)): recent
-- conversations are the busy ones, and no message is older than its conversation. Tenants
-- follow the conversations (tenant 1 about half).
--   role: user 45 %, assistant 45 %, system 3 %, tool 7 %
--   expires_at, against the clock (see 12-user-sessions.sql): 5 % in the past (between
--   created_at and the clock), 10 % in the next 30 days, the rest never
insert into app.messages (tenant_id, id, conversation_id, role, content, token_count, created_at, expires_at)
select c.tenant_id,
       r.i,
       c.id,
       r.role,
       format('%s %s: %s', r.role, r.i, md5(format('message:%s:%s', p.seed, r.i))),
       case r.role when 'user' then 5 + floor(200 * r.u_tokens ^ 2)
                   when 'assistant' then 20 + floor(1000 * r.u_tokens ^ 2)
                   when 'system' then 50 + floor(150 * r.u_tokens)
                   else 10 + floor(500 * r.u_tokens ^ 2)
       end::integer,
       r.created_at,
       case when r.u_expires < 0.05 then p.clock - (1 - r.u_when) * (1 - r.x) * interval '2016 hours'
            when r.u_expires < 0.15 then p.clock + r.u_when * interval '720 hours'
       end
from seed.params p
cross join (
  select g.i,
         x.x,
         seed.at(x.x) as created_at,
         seed.u(g.i, 4102) as u_conversation,
         seed.pick(seed.u(g.i, 4103), '{0.45,0.9,0.93}', '{user,assistant,system,tool}') as role,
         seed.u(g.i, 4104) as u_tokens,
         seed.u(g.i, 4105) as u_expires,
         seed.u(g.i, 4106) as u_when
  from seed.params p
  cross join generate_series(1, current_setting('seed.messages')::bigint) g(i)
  cross join lateral (select (g.i - 1 + seed.u(g.i, 4101)) / p.messages as x) x
  offset 0
) r
cross join lateral (select 1 + floor(p.conversations * r.x)::bigint as m) m
join app.conversations c on c.id = m.m - floor(m.m * r.u_conversation ^ 3)::bigint;
