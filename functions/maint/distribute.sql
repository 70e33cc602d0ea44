-- Distribution on Citus (docs/scaling.md): maint.distribute() turns a migrated querybudget
-- database on a Citus coordinator (workers added) into a distributed one. `npm run distribute`
-- calls it. On a single server it is defined like every other routine but never called: it
-- refuses to run without the citus extension (QB012), so the same migrations and functions
-- serve both.
--
-- What it does, each step only where it is not done yet (a second run returns no row):
-- 1. Every table of schema app (not the partitions: they follow their parent) is distributed
--    by tenant_id, all colocated with app.tenants: a tenant's rows of every table live in
--    shards of the same shard group, on one node, so a routed call joins and writes locally
--    and the composite foreign keys (tenant_id first) hold shard by shard. No reference table:
--    a reference table is copied to every node and written on all of them, which suits shared
--    data without a tenant, and querybudget has none; app.tenants itself is distributed by its
--    key, so creating a tenant is a write on one node and moving a tenant
--    (isolate_tenant_to_new_shard, the rebalancer) moves its own row with its data. Parents
--    come before the tables that reference them (foreign keys to a table that is not
--    distributed yet are refused).
-- 2. Every routine of schema api that takes p_tenant_id is distributed by that argument,
--    colocated with app.tenants, with force_delegation: a call goes to the node that holds
--    the tenant and runs there, inside a transaction block too, so the tenant setting
--    (querybudget.tenant_id) and the row level security policies are evaluated on the node
--    that reads the rows. The other routines of api and every routine of app (the guards and
--    helpers the api calls) are propagated to the workers without a distribution argument:
--    they must exist where the delegated calls run. The documented exceptions without a
--    tenant (api.create_tenant, the session-token routines) run on the coordinator.
-- 3. auto_explain.log_analyze goes off for the database (below: why).
-- 4. querybudget_maint gets LOGIN (maint.distribute_login_roles()): the jobs that switch to
--    it (the TTL batches) and the session-token lookups it owns make Citus open connections to
--    the workers as that role, and a NOLOGIN role is refused there. It has no password: keep
--    it reachable only from the cluster's nodes (pg_hba.conf, docs/scaling.md). On a single
--    server it stays NOLOGIN.
-- What it leaves alone, with a notice: relations of app that cannot be distributed (a
-- materialized view lives on the coordinator only).
-- The NOLOGIN roles maint.distribute gives LOGIN: querybudget_maint, which the TTL batches
-- switch to and which owns the session-token lookups (app.session_tenant_id,
-- app.live_session) that run on the coordinator. test/sql/distribution.sql fails on a routine
-- that runs as a NOLOGIN role not listed here.
create or replace function maint.distribute_login_roles()
returns text[]
language sql
immutable
set search_path = pg_catalog, pg_temp
as $$
  select array['querybudget_maint']
$$;
comment on function maint.distribute_login_roles() is
  'The NOLOGIN roles maint.distribute() gives LOGIN on a Citus cluster, because routines run as them (a security definer owner, a role a job switches to) and Citus opens the connections to the workers as the current role: querybudget_maint.';
revoke all on function maint.distribute_login_roles() from public;

create or replace function maint.distribute(p_shard_count integer default null)
returns table (object text, action text)
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
  r record;
  v_anchor constant regclass := 'app.tenants';
  v_colocation integer;
begin
  if not exists (select from pg_extension e where e.extname = 'citus') then
    raise exception 'maint.distribute: the citus extension is not installed in database %', current_database()
      using errcode = 'QB012',
            hint = 'Run it on a Citus coordinator with workers added (docs/scaling.md).';
  end if;
  if p_shard_count is not null and (p_shard_count < 1 or p_shard_count > 64000) then
    raise exception 'p_shard_count must be from 1 to 64000; it is %', p_shard_count using errcode = 'QB004';
  end if;
  -- One transaction distributes tables and then routines: Citus refuses a function command
  -- after a parallel operation on a distributed table in the same transaction, so every shard
  -- command of this transaction goes over one connection per node.
  perform set_config('citus.multi_shard_modify_mode', 'sequential', true);

  -- 1. Tables: the anchor (app.tenants) first (tables without a foreign key, such as the
  --    statistics tables, name it as their colocation), then parents before children.
  for r in
    with recursive tables as (
      select c.oid
      from pg_class c
      where c.relnamespace = 'app'::regnamespace
        and c.relkind in ('r', 'p')
        and not c.relispartition
    ), fk as (
      select distinct k.conrelid as child, k.confrelid as parent
      from pg_constraint k
      where k.contype = 'f'
        and k.conparentid = 0
        and k.conrelid <> k.confrelid
        and k.conrelid in (select t.oid from tables t)
        and k.confrelid in (select t.oid from tables t)
    ), depth (rel, d) as (
      select t.oid, 0 from tables t
      union all
      select fk.child, depth.d + 1 from depth join fk on fk.parent = depth.rel
    )
    select depth.rel::regclass as rel, max(depth.d) as d,
           p.logicalrelid is not null as distributed,
           p.partmethod, p.colocationid,
           case when p.partkey is not null then column_to_column_name(p.logicalrelid, p.partkey) end as column_name
    from depth
    left join pg_dist_partition p on p.logicalrelid = depth.rel
    group by depth.rel, p.logicalrelid, p.partmethod, p.colocationid, p.partkey
    order by depth.rel = v_anchor desc, max(depth.d), depth.rel::regclass::text
  loop
    if r.distributed then
      v_colocation := (select p.colocationid from pg_dist_partition p where p.logicalrelid = v_anchor);
      if r.partmethod <> 'h' or r.column_name is distinct from 'tenant_id' or r.colocationid <> v_colocation then
        raise exception 'maint.distribute: % is distributed already, but not by tenant_id in app.tenants'' colocation group (method %, column %, group % instead of %)',
          r.rel, r.partmethod, r.column_name, r.colocationid, v_colocation
          using errcode = 'QB012',
                hint = 'undistribute_table() it, then run maint.distribute() again (docs/scaling.md).';
      end if;
      continue;
    end if;
    if r.rel = v_anchor then
      if p_shard_count is null then
        perform create_distributed_table(r.rel, 'tenant_id', colocate_with => 'none');
      else
        perform create_distributed_table(r.rel, 'tenant_id', colocate_with => 'none', shard_count => p_shard_count);
      end if;
    else
      perform create_distributed_table(r.rel, 'tenant_id', colocate_with => v_anchor::text);
    end if;
    object := r.rel::text;
    action := 'distributed by tenant_id, colocated with app.tenants';
    return next;
  end loop;

  for r in
    select c.oid::regclass as rel, c.relkind
    from pg_class c
    where c.relnamespace = 'app'::regnamespace
      and c.relkind in ('m', 'v', 'f')
  loop
    raise notice 'maint.distribute: % (relkind %) is not distributed: it lives on the coordinator only, and a routed call cannot read it', r.rel, r.relkind;
  end loop;

  -- 2. Routines. pg_dist_object says what is distributed already and by which argument.
  v_colocation := (select p.colocationid from pg_dist_partition p where p.logicalrelid = v_anchor);
  for r in
    select p.oid::regprocedure as routine,
           n.nspname = 'api' and a.position is not null as routed,
           a.position,
           o.objid is not null as distributed,
           o.distribution_argument_index,
           o.colocationid,
           o.force_delegation
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    left join lateral (
      select k.ord - 1 as position
      from unnest(p.proargnames) with ordinality as k (name, ord)
      where k.name = 'p_tenant_id'
        and coalesce(p.proargmodes[k.ord], 'i') in ('i', 'b')
      limit 1
    ) a on true
    left join pg_dist_object o
      on o.classid = 'pg_proc'::regclass and o.objid = p.oid and o.objsubid = 0
    where n.nspname in ('api', 'app')
      and p.prokind in ('f', 'p')
    order by n.nspname desc, p.oid::regprocedure::text
  loop
    if r.routed then
      continue when r.distributed
                and r.distribution_argument_index is not distinct from r.position
                and r.colocationid is not distinct from v_colocation
                and r.force_delegation is true;
      perform create_distributed_function(r.routine, 'p_tenant_id'::text,
                                          colocate_with => v_anchor::text, force_delegation => true);
      object := r.routine::text;
      action := 'distributed by p_tenant_id, colocated with app.tenants, force_delegation';
    else
      continue when r.distributed;
      perform create_distributed_function(r.routine);
      object := r.routine::text;
      action := 'propagated to the workers (no distribution argument: runs where it is called)';
    end if;
    return next;
  end loop;

  -- 3. auto_explain.log_analyze off for the database (every node: Citus propagates ALTER
  --    DATABASE ... SET). With it on, auto_explain instruments every statement, Citus takes
  --    that for EXPLAIN ANALYZE and wraps each task, the delegated calls too, in
  --    worker_save_query_explain_analyze(): the call is then no longer the delegated call at the
  --    top of the worker's session, so its own statements are refused ("cannot execute a
  --    distributed query from a query on a shard") or run over a connection of their own,
  --    where the tenant setting of the call is not set (every row hidden: QB005 unknown
  --    tenant). perf.auto_explain_settings() recommends off on Citus for the same reason.
  if exists (select from pg_db_role_setting s
             cross join lateral unnest(s.setconfig) c (entry)
             where s.setdatabase = (select d.oid from pg_database d where d.datname = current_database())
               and s.setrole = 0
               and c.entry = 'auto_explain.log_analyze=on') then
    execute format('alter database %I set auto_explain.log_analyze = off', current_database());
    object := 'database ' || current_database();
    action := 'auto_explain.log_analyze = off (Citus runs instrumented calls outside their delegation)';
    return next;
  end if;

  -- 4. The roles the routines run as must be able to log in to the workers
  --    (maint.distribute_login_roles(); test/sql/distribution.sql checks the list).
  for r in
    select a.rolname
    from pg_roles a
    where a.rolname = any (maint.distribute_login_roles())
      and not a.rolcanlogin
    order by a.rolname
  loop
    execute format('alter role %I login', r.rolname);
    object := 'role ' || r.rolname;
    action := 'LOGIN (Citus connects to the workers as the role a routine runs as)';
    return next;
  end loop;
end
$$;
comment on function maint.distribute(integer) is
  'On a Citus coordinator with workers added: distributes every app table by tenant_id colocated with app.tenants (parents first; p_shard_count, default citus.shard_count, sets the shard count of the group when it is made), every api routine with p_tenant_id by that argument (colocated, force_delegation), propagates the other api and app routines to the workers, sets auto_explain.log_analyze = off for the database and gives querybudget_maint LOGIN. '
  'Only what is not done yet: returns one row (object, action) per change, none when everything is in place. Errors: QB012 without the citus extension or for a table distributed another way; QB004 p_shard_count outside 1..64000. docs/scaling.md.';
revoke all on function maint.distribute(integer) from public;
