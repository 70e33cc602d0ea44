-- Tenants, users, connectors and collections: the writes that set a tenant up (seeds 000, 001,
-- 004), and the login lookup of a user by email (seed 001). Documentation: docs/api.md
-- "Tenants, users, connectors and collections".
--
-- api.create_tenant is a listed exception to convention 12 (DESIGN.md): it takes no
-- p_tenant_id, since the tenant does not exist yet. Its row is written under the tenant policy
-- like every other row: the id is taken from the identity sequence of app.tenants first
-- (nextval: never given twice, even to concurrent callers), the transaction's tenant is set to
-- it, and the row is inserted with that id. No bypass of row level security is needed, and the
-- policy's WITH CHECK admits exactly that one row. On a Citus cluster it runs on the
-- coordinator (no argument to route it by), and the row is written on the node that holds the
-- new tenant's shard: app.enter_tenant_everywhere sets the tenant there too.
--
-- Emails are compared exactly, as the unique constraint users (tenant_id, email) compares
-- them: api.user_by_email finds the email a user was created with, byte for byte, and
-- 'Ann@x.example' and 'ann@x.example' are two users. A client that wants case-insensitive
-- logins normalises (lower-cases) emails before both calls. (Case-insensitive uniqueness in
-- the database would need a unique index on (tenant_id, lower(email)) in place of the
-- constraint: a migration, not done here.)
--
-- Unknown or other tenants' referenced ids (a collection's owner) are refused with QB009, the
-- same code for both, so it tells nothing about other tenants; the referenced row is read FOR
-- KEY SHARE by a statement of its own before the insert (Citus refuses a row lock inside
-- INSERT ... SELECT), so a concurrent delete makes the call find nothing (QB009) instead of
-- failing with a raw foreign key error.

-- create_tenant -------------------------------------------------------------------------------

create or replace function api.create_tenant(p_name text)
returns table (tenant_id bigint, name text, created_at timestamptz)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_tenant_id bigint;
begin
  perform app.require_not_blank(p_name, 'p_name');

  -- The id first, then the tenant setting (on the node of its shard too, on a Citus
  -- cluster), then the row (see the top of this file).
  v_tenant_id := nextval(pg_get_serial_sequence('app.tenants', 'tenant_id')::regclass);
  v_tenant_id := app.enter_tenant_everywhere(v_tenant_id);

  return query
  insert into app.tenants as t (tenant_id, name)
  values (v_tenant_id, p_name)
  returning t.tenant_id, t.name, t.created_at;
end
$$;
comment on function api.create_tenant(text) is
  'A new tenant named p_name (names need not be unique): one row (tenant_id, name, created_at). Takes no p_tenant_id (a listed exception to convention 12): the id comes from the identity sequence, and the row is written as that tenant under row level security. '
  'Errors: QB001 null name; QB008 blank name.';

-- create_users --------------------------------------------------------------------------------

create or replace function api.create_users(p_tenant_id bigint, p_users jsonb)
returns table ("position" integer, id bigint, email text, status text)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_sequence regclass;
  v_created bigint[];
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_items(p_users, 'p_users',
    '{"email": {"type": "text", "required": true, "nonblank": true},
      "display_name": {"type": "text", "required": true, "nonblank": true}}');

  -- 1. Insert the first item of each email; an email the tenant has already is skipped by the
  -- unique constraint (a concurrent caller's too: we wait for its commit, then skip). Ids are
  -- drawn from the identity sequence in batch order first (ids follow the batch), and the rows
  -- are then inserted in email order: two callers with overlapping emails meet them in the
  -- same order, so one waits for the other instead of the two deadlocking (inserting in batch
  -- order, a batch and its reverse deadlocked: test/api/tenants.test.ts).
  v_sequence := pg_get_serial_sequence('app.users', 'id')::regclass;
  with item as (
    select i.ord, i.email, i.display_name,
           row_number() over (partition by i.email order by i.ord) as nth
    from rows from (jsonb_to_recordset(p_users) as (email text, display_name text)) with ordinality as i (email, display_name, ord)
  ), numbered as materialized (
    select f.email, f.display_name, nextval(v_sequence) as id
    from (select it.ord, it.email, it.display_name from item it where it.nth = 1 order by it.ord) f
  ), inserted as (
    insert into app.users as u (tenant_id, id, email, display_name)
    select p_tenant_id, n.id, n.email, n.display_name
    from numbered n
    order by n.email
    on conflict on constraint users_tenant_id_email_key do nothing
    returning u.id
  )
  select array_agg(ins.id) into v_created from inserted ins;

  -- 2. One row per item, in batch order, read with a new snapshot (it sees our rows and any a
  -- concurrent caller committed for the same emails): the user's id and what happened.
  return query
  select (i.ord - 1)::integer, u.id, i.email,
         case when i.nth > 1 then 'duplicate'
              when c.id is not null then 'created'
              else 'exists' end
  from (select x.ord, x.email, row_number() over (partition by x.email order by x.ord) as nth
        from rows from (jsonb_to_recordset(p_users) as (email text)) with ordinality as x (email, ord)) i
  left join app.users u on u.tenant_id = p_tenant_id and u.email = i.email
  left join unnest(v_created) as c (id) on c.id = u.id and i.nth = 1
  order by i.ord;
end
$$;
comment on function api.create_users(bigint, jsonb) is
  'Creates users of the tenant from p_users, a json array of up to 10,000 {"email", "display_name"} (both required, non-blank). Emails are unique per tenant and compared exactly. '
  'Returns one row per item, in batch order: (position: 0-based, id, email, status): created (a new user; new ids follow the batch order), exists (the tenant had this email already: its id, nothing changed), duplicate (the email came earlier in this batch: that user''s id). A replay returns every item as exists. '
  'Two statements whatever the batch size; rows are inserted in email order, so concurrent callers with overlapping emails wait for each other instead of deadlocking. Errors: QB001 null tenant or batch; QB002 empty batch; QB003 more than 10,000 items; QB005 unknown tenant; QB011 a malformed item (not an object, unknown key, missing or blank email or display_name). Index: users_tenant_id_email_key.';

-- user_by_email -------------------------------------------------------------------------------

create or replace function api.user_by_email(p_tenant_id bigint, p_email text)
returns setof api.user_by_email_row
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  p_email := app.require_not_blank(p_email, 'p_email');

  return query
  select u.id, u.email, u.display_name, u.created_at
  from app.users u
  where u.tenant_id = p_tenant_id
    and u.email = p_email;
  -- no row: the one case where the tenant may be unknown (a row found is the tenant's, which
  -- therefore exists: functions/app/guards.sql)
  if not found then
    p_tenant_id := app.require_known_tenant(p_tenant_id);
  end if;
end
$$;
comment on function api.user_by_email(bigint, text) is
  'The login lookup (seed 001): the user of the tenant with exactly this email (compared as the unique constraint compares it: case and spaces count). One row (id, email, display_name, created_at), or none. '
  'Errors: QB001 null tenant or email; QB005 unknown tenant; QB008 blank email. Index: users_tenant_id_email_key.';

-- create_connector ----------------------------------------------------------------------------

create or replace function api.create_connector(p_tenant_id bigint, p_kind text, p_name text)
returns table (id bigint, kind text, name text, created_at timestamptz)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_kind, 'p_kind');
  -- the values of the connectors_kind_check constraint
  perform app.require_one_of(p_kind, 'p_kind', array['google_drive', 'slack', 'notion', 'github', 'web']);
  perform app.require_not_blank(p_name, 'p_name');

  return query
  insert into app.connectors as c (tenant_id, kind, name)
  values (p_tenant_id, p_kind, p_name)
  returning c.id, c.kind, c.name, c.created_at;
end
$$;
comment on function api.create_connector(bigint, text, text) is
  'A new connector of the tenant (seed 004): one row (id, kind, name, created_at). p_kind: google_drive, slack, notion, github or web; names need not be unique. '
  'Errors: QB001 null tenant, kind or name; QB005 unknown tenant; QB008 unknown kind or blank name.';

-- create_collection ---------------------------------------------------------------------------

create or replace function api.create_collection(p_tenant_id bigint, p_owner_id bigint, p_name text)
returns table (id bigint, owner_id bigint, name text, status text, created_at timestamptz)
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_not_null(p_owner_id, 'p_owner_id');
  perform app.require_not_blank(p_name, 'p_name');

  -- The owner, held FOR KEY SHARE by a statement of its own (see the top of this file), then
  -- the collection.
  perform u.id
  from app.users u
  where u.tenant_id = p_tenant_id
    and u.id = p_owner_id
  for key share;
  if not found then
    raise exception 'unknown owner %: no user % of tenant %', p_owner_id, p_owner_id, p_tenant_id using errcode = 'QB009';
  end if;

  return query
  insert into app.collections as c (tenant_id, owner_id, name)
  values (p_tenant_id, p_owner_id, p_name)
  returning c.id, c.owner_id, c.name, c.status, c.created_at;
end
$$;
comment on function api.create_collection(bigint, bigint, text) is
  'A new collection of the tenant (seed 000), owned by one of its users, status active: one row (id, owner_id, name, status, created_at). Names need not be unique. '
  'Errors: QB001 null tenant, owner or name; QB005 unknown tenant; QB008 blank name; QB009 the owner is not a user of the tenant. Index: users_pkey (the owner, held FOR KEY SHARE by a statement of its own), then one insert.';

-- set_collection_status -----------------------------------------------------------------------

create or replace function api.set_collection_status(p_tenant_id bigint, p_collection_ids bigint[], p_status text)
returns jsonb
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set row_security = on
as $$
declare
  v_result jsonb;
begin
  perform app.require_tenant(p_tenant_id);
  perform app.require_ids(p_collection_ids, 'p_collection_ids');
  perform app.require_not_null(p_status, 'p_status');
  -- the values of the collections_status_check constraint
  perform app.require_one_of(p_status, 'p_status', array['active', 'processing', 'archived']);

  -- Lock the targets in id order first (as the bulk document routines do, functions/api/
  -- documents.sql: two callers over overlapping ids cannot deadlock), then write only the rows
  -- whose status changes: one already in p_status is counted as unchanged and not rewritten.
  with target as materialized (
    select c.id, c.status
    from app.collections c
    where c.tenant_id = p_tenant_id
      and c.id = any ((select p_collection_ids)::bigint[])  -- planned as a handful of ids (documents.sql)
    order by c.id
    for update
  ), changed as (
    update app.collections c
    set status = p_status
    from target t
    where c.tenant_id = p_tenant_id
      and c.id = t.id
      and t.status <> p_status
    returning c.id
  )
  select jsonb_build_object(
           'updated', (select count(*) from changed),
           'unchanged', (select count(*) from target t where t.status = p_status),
           'not_found', (select count(distinct i) from unnest(p_collection_ids) i) - (select count(*) from target))
  into v_result;
  return v_result;
end
$$;
comment on function api.set_collection_status(bigint, bigint[], text) is
  'Sets the status (active, processing, archived) of the given collections of the tenant. Returns {"updated": n, "unchanged": k, "not_found": m}: unchanged ones had that status already (not rewritten; a replay is all unchanged); duplicate ids count once; ids of other tenants and unknown ids are not_found. '
  'One statement after the guards whatever the number of ids; locks rows in id order. '
  'Errors: QB001 null tenant, ids or status; QB002 empty ids; QB003 more than 10,000 ids; QB005 unknown tenant; QB007 null id; QB008 unknown status; QB010 a multi-dimensional id array. Index: collections_pkey.';
