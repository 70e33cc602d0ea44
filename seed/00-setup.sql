-- Seeding, step 0: empty the app tables, decide every table's size from seed.rows, and create
-- the helper schema `seed` (dropped again by 90-finish.sql). Runs inside the one transaction
-- of scripts/lib/seed.ts, which has set seed.rows, seed.seed, seed.anchor and seed.clock
-- (set_config, local to that transaction). docs/seeding.md explains the ratios, the
-- distributions and the two clocks:
--   - the anchor (the data's clock) places the rows in time: the data window is the three whole
--     calendar months before the anchor's month, and a row at fraction x of the window lies at
--     the same fraction of the same monthly partition whatever the date (seed.at below). So
--     every partition holds the same rows, in the same order, on any day: plans, buffers and
--     fingerprints do not drift with the calendar (month ends, year ends and leap days included).
--   - the clock (the server's now() by default) places expiry: expires_at is set relative to it,
--     since the api compares expires_at with now(). The same rows are expired whatever the anchor.

truncate app.tenants, app.users, app.user_sessions, app.connectors, app.collections,
  app.documents, app.deleted_documents, app.chunks, app.operations, app.conversations,
  app.messages, app.knowledge_gaps, app.gap_answers, app.agents, app.workflows,
  app.workflow_tasks
  cascade;

drop schema if exists seed cascade;
create schema seed;

-- Table sizes. Each file reads its own size with current_setting('seed.<table>'), inside
-- generate_series: the planner estimates a set-returning function from a stable argument
-- (not from a column), so it knows the series is the big side of every join.
select set_config('seed.tenants', s.tenants::text, true),
       set_config('seed.users', greatest(2 * s.tenants, s.n / 200)::text, true),
       set_config('seed.user_sessions', (s.n / 10)::text, true),
       set_config('seed.collections', greatest(2 * s.tenants, s.n / 1000)::text, true),
       set_config('seed.documents', ((s.n + 9) / 10)::text, true),
       set_config('seed.deleted_documents', (s.n / 100)::text, true),
       set_config('seed.conversations', greatest(1, s.n / 50)::text, true),
       set_config('seed.messages', (s.n / 2)::text, true),
       set_config('seed.knowledge_gaps', (s.n / 50)::text, true),
       set_config('seed.gap_answers', (s.n / 100)::text, true),
       set_config('seed.workflows', (s.n / 100)::text, true)
from (select n, least(500, greatest(20, n / 5000)) as tenants
      from (select current_setting('seed.rows')::bigint as n) r) s;

-- The same figures as columns, for use inside expressions (a column costs nothing per row; a
-- current_setting() call is evaluated again on every row).
create table seed.params as
select current_setting('seed.rows')::bigint as rows,
       current_setting('seed.seed')::bigint as seed,
       current_setting('seed.anchor')::timestamptz as anchor,
       current_setting('seed.clock')::timestamptz as clock,
       -- the data window: the three calendar months before the anchor's month
       date_trunc('month', current_setting('seed.anchor')::timestamptz) - interval '3 months' as t0,
       date_trunc('month', current_setting('seed.anchor')::timestamptz) as t_end,
       current_setting('seed.tenants')::bigint as tenants,
       current_setting('seed.users')::bigint as users,
       current_setting('seed.user_sessions')::bigint as user_sessions,
       current_setting('seed.collections')::bigint as collections,
       current_setting('seed.documents')::bigint as documents,
       current_setting('seed.deleted_documents')::bigint as deleted_documents,
       current_setting('seed.conversations')::bigint as conversations,
       current_setting('seed.messages')::bigint as messages,
       current_setting('seed.knowledge_gaps')::bigint as knowledge_gaps,
       current_setting('seed.gap_answers')::bigint as gap_answers,
       current_setting('seed.workflows')::bigint as workflows;
-- one row: without statistics the planner would guess hundreds and misjudge every join
analyze seed.params;

-- seed.u(i, stream): the deterministic uniform number in [0, 1) of row i in a stream (one
-- stream per column or decision). 53 bits of hashint8extended, the hash PostgreSQL keeps stable
-- for hash partitioning. The seed is written into the body as a literal, so the function is
-- truly immutable: the planner inlines it and folds hashint8extended(stream, seed) to a constant.
-- Streams are numbered <file number><two digits> (3007: 30-operations.sql, 7th), so no two
-- decisions share one: the same stream on the same ids would correlate them (operation i and
-- document i would land in the same tenant). seed.chunk_size uses 2301.
do $do$
begin
  execute format($f$
    create function seed.u(i bigint, stream integer) returns double precision
    language sql immutable parallel safe
    as $body$
      select ((hashint8extended(i, hashint8extended(stream, %L::bigint)) >> 11) & 9007199254740991)::double precision
             / 9007199254740992::double precision
    $body$ $f$, current_setting('seed.seed')::bigint);
end
$do$;

-- seed.at(x): the instant at fraction x of the data window, in month coordinates: the window
-- is three calendar months, each a third of [0, 1), and x falls at the same fraction of its
-- month whatever the month's length (28 to 31 days). x in [-1/3, 0) lies in the month before
-- the window (the first conversation may start there). The month starts (as epoch seconds) are
-- written into the body as literals, like the seed of seed.u, so the function is immutable and
-- inlined; months are cut in the session's time zone, as pg_partman cuts its partitions.
do $do$
begin
  execute format($f$
    create function seed.at(x double precision) returns timestamptz
    language sql immutable parallel safe
    as $body$
      select to_timestamp((%1$L::double precision[])[floor(3 * x)::integer + 2]
                          + (3 * x - floor(3 * x))
                            * ((%1$L::double precision[])[floor(3 * x)::integer + 3]
                               - (%1$L::double precision[])[floor(3 * x)::integer + 2]))
    $body$ $f$,
    (select array_agg(extract(epoch from p.t_end + make_interval(months => k))::double precision order by k)
     from seed.params p cross join generate_series(-4, 0) k));
end
$do$;

-- Partitions of the window: pg_partman's monthly sets (operations, messages) get exactly the
-- months the migration would make for the anchor's month (four before it, it, two after),
-- whatever month the database was migrated in: partitions missing are made, the others
-- (empty after the truncate) dropped. Usually there is nothing to do.
do $do$
declare
  r record;
  v_months timestamptz[] := (select array_agg(p.t_end + make_interval(months => k) order by k)
                             from seed.params p cross join generate_series(-4, 2) k);
  v_changed boolean := false;
begin
  for r in
    select pc.parent_table, i.inhrelid::regclass as part, s.lo
    from partman.part_config pc
    join pg_inherits i on i.inhparent = pc.parent_table::regclass
    cross join lateral (select nullif(substring(pg_get_expr(c.relpartbound, c.oid) from $r$FROM \('([^']+)'\)$r$), '')::timestamptz as lo
                        from pg_class c where c.oid = i.inhrelid) s
    where pc.parent_table in ('app.operations', 'app.messages')
      and s.lo is not null and s.lo <> all (v_months)
  loop
    execute format('drop table %s', r.part);
    v_changed := true;
  end loop;
  for r in
    select pc.parent_table, m.month
    from partman.part_config pc cross join unnest(v_months) m(month)
    where pc.parent_table in ('app.operations', 'app.messages')
      and not exists (
        select from pg_inherits i join pg_class c on c.oid = i.inhrelid
        where i.inhparent = pc.parent_table::regclass
          and substring(pg_get_expr(c.relpartbound, c.oid) from $r$FROM \('([^']+)'\)$r$)::timestamptz = m.month)
  loop
    perform partman.create_partition_time(r.parent_table, array[r.month], p_analyze => false);
    v_changed := true;
  end loop;
  if v_changed then
    perform maint.ensure_row_level_security();
    perform maint.ensure_partition_statistics();
  end if;
end
$do$;

-- The label of the bucket u falls in: bounds are the cumulative probabilities, one fewer than
-- labels. seed.pick(u, '{0.8,0.9}', '{a,b,c}') gives a 80 %, b 10 %, c 10 %.
create function seed.pick(u double precision, bounds double precision[], labels text[]) returns text
language sql immutable parallel safe
as $$ select labels[width_bucket(u, bounds) + 1] $$;

-- The tenant of a row: tenant 1 with probability first_share, else a Zipf-like tail over
-- tenants 2..tenants (2 + floor((tenants - 1) * tail^3): tenant 2 large, the last ones tiny).
create function seed.tenant(head double precision, tail double precision, tenants bigint,
                            first_share double precision) returns bigint
language sql immutable parallel safe
as $$ select case when head < first_share then 1::bigint else 2 + floor((tenants - 1) * tail ^ 3)::bigint end $$;

-- Size of a chunk (characters), 100..2000, most of them small: 100 + 1900 u^2 (median ~575).
-- Shared by 22-documents.sql (content_size is the sum over a document's chunks) and 23-chunks.sql.
create function seed.chunk_size(chunk_id bigint) returns integer
language sql immutable parallel safe
as $$ select 100 + floor(1900 * seed.u(chunk_id, 2301) ^ 2)::integer $$;

-- "A user (collection) of tenant t": the users are numbered by (tenant_id, id) into slots, so a
-- tenant's users hold the slots lo .. lo + n - 1 of its range, and its k-th user is slot lo + k.
-- A file joins <x>_ranges on the tenant, then <x>_slots on lo + k: that order is the only one
-- the join clauses allow, whatever the planner's estimates (a (tenant, k) pair would let it join
-- the slots on the tenant alone first, multiplying rows).
create view seed.user_slots as
select row_number() over (order by tenant_id, id) - 1 as slot, tenant_id, id from app.users;
create view seed.user_ranges as
select tenant_id, min(slot) as lo, count(*) as n from seed.user_slots group by tenant_id;

create view seed.collection_slots as
select row_number() over (order by tenant_id, id) - 1 as slot, tenant_id, id from app.collections;
create view seed.collection_ranges as
select tenant_id, min(slot) as lo, count(*) as n from seed.collection_slots group by tenant_id;
