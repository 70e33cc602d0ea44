-- Argument guards shared by the api functions. Each raises a documented SQLSTATE
-- (docs/error-codes.md) before anything is read or changed; callers branch on the code.
-- They live in app (private): applications never call them directly.
--
-- No SET clause. A function with one runs through a GUC save and restore on every call, and
-- its search_path change makes the caller look its names up again: 8 to 12 us a guard call on
-- this machine, against 2 without (measured in a loop of 20,000 calls), more than the point
-- read the guards protect. The clause matters for security definer functions (DESIGN.md,
-- convention 3), which the guards are not: they run with their caller's rights and search_path,
-- every caller (the api functions, the maint routines) pins search_path = pg_catalog, pg_temp,
-- and the guards name nothing outside pg_catalog but schema-qualified app objects.

-- The tenant guards. A read runs as few statements as it can (docs/api.md "What a call
-- costs"): its guards are plpgsql assignments (`p_x := app.require_...(p_x, ...)`), which
-- PL/pgSQL evaluates as simple expressions, without a statement of their own (no plan cache
-- lookup, no executor start, nothing for pg_stat_statements to count), as long as the guard
-- itself runs none. So the tenant guard is cut in two:
--   app.enter_tenant: the tenant is given (QB001) and becomes the transaction's setting; no
--     statement, since it reads nothing.
--   app.require_known_tenant: the tenant exists (QB005): one statement.
-- A point read enters the tenant, runs its query, and checks the tenant only when the query
-- found no row: a row found is a row of that tenant (the query filters on it, and row level
-- security admits only it), and every app table's tenant_id reaches app.tenants through
-- foreign keys on columns that are never null (test/isolation.test.ts checks the catalog), so
-- the tenant exists. An unknown tenant gets QB005 all the same, after the argument guards.
-- The writes call app.require_tenant, both in one.
--
-- No `if exists (select ... where x = plpgsql_variable)`: Citus cannot run that form
-- ("cache lookup failed for type"); `perform ...; if not found` it can.

create or replace function app.enter_tenant(p_tenant_id bigint)
returns bigint
language plpgsql
as $$
begin
  if p_tenant_id is null then
    raise exception 'p_tenant_id must not be null' using errcode = 'QB001';
  end if;
  -- The tenant the row level security policies admit for the rest of this transaction
  -- (docs/security.md). An unknown tenant is refused later (app.require_known_tenant), and the
  -- error undoes the setting with the rest of the (sub)transaction.
  return set_config('querybudget.tenant_id', p_tenant_id::text, true)::bigint;
end
$$;
comment on function app.enter_tenant(bigint) is
  'Guard: the tenant is given (QB001); sets querybudget.tenant_id for the row level security policies. Runs no statement (a plpgsql assignment evaluates it as a simple expression). Returns the tenant id. Whether the tenant exists is app.require_known_tenant''s to check.';

-- The routines without p_tenant_id (api.create_tenant, the session-token routines: the listed
-- exceptions of DESIGN.md convention 12) cannot be routed by Citus to the node of their tenant:
-- on a cluster they run on the coordinator, and their statements on the tenant's rows run on
-- that node over connections Citus opens. set_config(..., true) sets the tenant for this
-- backend only; there the row level security policies would see no tenant. Citus records a
-- SET LOCAL made while citus.propagate_set_commands is 'local' and sends it with the BEGIN of
-- every transaction it opens on a worker in this transaction: app.enter_tenant_everywhere does
-- app.enter_tenant and, where Citus is loaded (its settings exist), the same SET LOCAL. On a
-- server without Citus it is app.enter_tenant: no statement more. (The routines that Citus
-- routes run on the tenant's node, where app.enter_tenant is enough.)
-- What it covers: a write, which Citus always runs in a transaction on the worker. A read in
-- an autocommit call goes to the worker without one, and without the SET (tried on Citus
-- 13.2): the routines that use this guard write on the tenant's rows (api.create_tenant,
-- api.touch_session, api.revoke_session) or read outside the policies.
create or replace function app.enter_tenant_everywhere(p_tenant_id bigint)
returns bigint
language plpgsql
as $$
declare
  v_propagate text;
  v_set text;
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  if current_setting('citus.propagate_set_commands', true) is not null then
    -- assignments (no statement); the SET itself is the one statement, on Citus only
    v_propagate := current_setting('citus.propagate_set_commands');
    v_set := set_config('citus.propagate_set_commands', 'local', true);
    execute format('set local querybudget.tenant_id = %L', p_tenant_id);
    v_set := set_config('citus.propagate_set_commands', v_propagate, true);
  end if;
  return p_tenant_id;
end
$$;
comment on function app.enter_tenant_everywhere(bigint) is
  'Guard of the routines that run on a Citus coordinator (no p_tenant_id to route them by): app.enter_tenant (QB001; sets querybudget.tenant_id), and where Citus is loaded the same setting as SET LOCAL under citus.propagate_set_commands = local (put back after), which Citus sends to the worker transactions of this transaction, so the row level security policies see the tenant where its rows are written. On a server without Citus no statement. Returns the tenant id.';

create or replace function app.require_known_tenant(p_tenant_id bigint)
returns bigint
language plpgsql
stable
as $$
begin
  -- app.tenants is under the row level security policies too: the tenant's own row is visible
  -- once app.enter_tenant set it
  perform from app.tenants t where t.tenant_id = p_tenant_id;
  if not found then
    raise exception 'unknown tenant %', p_tenant_id using errcode = 'QB005';
  end if;
  return p_tenant_id;
end
$$;
comment on function app.require_known_tenant(bigint) is
  'Guard: the tenant entered by app.enter_tenant exists (QB005). One statement (tenants_pkey). Returns the tenant id.';

create or replace function app.require_tenant(p_tenant_id bigint)
returns bigint
language plpgsql
as $$
begin
  p_tenant_id := app.enter_tenant(p_tenant_id);
  return app.require_known_tenant(p_tenant_id);
end
$$;
comment on function app.require_tenant(bigint) is
  'Guard: the tenant is given (QB001) and exists (QB005); sets querybudget.tenant_id for the row level security policies (app.enter_tenant, then app.require_known_tenant: one statement). Returns the tenant id.';

-- An unknown tenant wins over a bad argument: a point read checks its tenant only after its
-- query (above), so a guard about to refuse an argument first checks the tenant entered for
-- this transaction, if any, and the caller gets QB005 as when the tenant was checked first.
-- Only on the way to an error: a call that passes its guards pays nothing for it.
create or replace function app.unknown_tenant_first()
returns void
language plpgsql
stable
as $$
declare
  v_tenant_id text := current_setting('querybudget.tenant_id', true);
begin
  if v_tenant_id <> '' then
    perform app.require_known_tenant(v_tenant_id::bigint);
  end if;
end
$$;
comment on function app.unknown_tenant_first() is
  'Called by every argument guard just before it refuses an argument: QB005 when the tenant of this transaction (querybudget.tenant_id, set by app.enter_tenant) does not exist, so an unknown tenant wins over a bad argument; nothing when no tenant is set or it exists.';

create or replace function app.require_not_null(p_value anyelement, p_name text)
returns anyelement
language plpgsql
immutable
as $$
begin
  if p_value is null then
    perform app.unknown_tenant_first();
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  return p_value;
end
$$;
comment on function app.require_not_null(anyelement, text) is 'Guard: a required argument is not null (QB001). Returns the value.';

create or replace function app.require_ids(p_ids anyarray, p_name text, p_max integer default 10000)
returns anyarray
language plpgsql
immutable
as $$
begin
  if p_ids is null then
    perform app.unknown_tenant_first();
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  -- A nested array ('{{1,2},{3,4}}', what postgres.js sends for a nested JS array) is a
  -- caller's bug, not a list of ids: refused as such (array_position below would raise 0A000).
  if array_ndims(p_ids) > 1 then
    perform app.unknown_tenant_first();
    raise exception '% must be a one-dimensional array; it has % dimensions', p_name, array_ndims(p_ids) using errcode = 'QB010';
  end if;
  if cardinality(p_ids) = 0 then
    perform app.unknown_tenant_first();
    raise exception '% must not be empty', p_name using errcode = 'QB002';
  end if;
  if cardinality(p_ids) > p_max then
    perform app.unknown_tenant_first();
    raise exception '% has % elements; at most % are allowed', p_name, cardinality(p_ids), p_max using errcode = 'QB003';
  end if;
  if array_position(p_ids, null) is not null then
    perform app.unknown_tenant_first();
    raise exception '% must not contain nulls', p_name using errcode = 'QB007';
  end if;
  return p_ids;
end
$$;
comment on function app.require_ids(anyarray, text, integer) is
  'Guard: an id array is not null (QB001), one-dimensional (QB010), not empty (QB002), at most p_max long (QB003, default 10,000) and holds no null (QB007). Returns the array.';

create or replace function app.require_limit(p_limit integer, p_name text, p_min integer default 1, p_max integer default 1000)
returns integer
language plpgsql
immutable
as $$
begin
  if p_limit is null then
    perform app.unknown_tenant_first();
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  if p_limit < p_min or p_limit > p_max then
    perform app.unknown_tenant_first();
    raise exception '% is %; it must be between % and %', p_name, p_limit, p_min, p_max using errcode = 'QB004';
  end if;
  return p_limit;
end
$$;
comment on function app.require_limit(integer, text, integer, integer) is
  'Guard: a page size or limit is given (QB001) and within p_min..p_max (QB004, default 1..1000). Returns the value.';

-- Blank means blank in any script: the text holds no character that is not Unicode White_Space
-- nor Default_Ignorable_Code_Point (format characters that show as nothing), nor the blank
-- Braille cell (the space of Braille text). An explicit list, not [[:space:]], which follows the
-- collation's locale (ASCII only under C). E'' strings turn \u escapes into the characters
-- themselves whatever standard_conforming_strings says, so the pattern does not depend on the
-- caller's settings. One definition for the argument guard and the batch guard below.
--
-- Inlined into its callers' statements: a language sql function with no SET clause whose body
-- is one expression is planned as part of the query that calls it, instead of running as a
-- statement of its own per call (the batch guard calls it per item: with a SET clause, 1,000
-- items ran 2,000 nested statements, and a write api call's statement count grew with its
-- batch). So no SET clause: the operator is schema-qualified and the pattern one literal.
create or replace function app.is_blank(p_value text)
returns boolean
language sql
immutable
parallel safe
as $$
  select p_value operator(pg_catalog.!~)
    E'[^\u0009-\u000D\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8\U0001BCA0-\U0001BCA3\U0001D173-\U0001D17A\U000E0000-\U000E0FFF\u2800]'
$$;
comment on function app.is_blank(text) is
  'Whether a text is empty or made only of Unicode white space (White_Space), characters that show as nothing (Default_Ignorable_Code_Point) and the blank Braille cell U+2800; null for null.';

create or replace function app.require_not_blank(p_value text, p_name text)
returns text
language plpgsql
immutable
as $$
begin
  if p_value is null then
    perform app.unknown_tenant_first();
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  if app.is_blank(p_value) then
    perform app.unknown_tenant_first();
    raise exception '% must not be blank', p_name using errcode = 'QB008';
  end if;
  return p_value;
end
$$;
comment on function app.require_not_blank(text, text) is
  'Guard: a required text is not null (QB001) and not blank (QB008): blank is empty or made only of Unicode white space (White_Space: ASCII spaces, tabs and line breaks, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000 ...), '
  'characters that show as nothing (Default_Ignorable_Code_Point: U+00AD, U+180E, U+200B..U+200F, U+2060.., U+3164, U+FEFF, variation selectors, tags ...) and the blank Braille cell U+2800. Returns the value.';

create or replace function app.require_one_of(p_value text, p_name text, p_allowed text[])
returns text
language plpgsql
immutable
as $$
begin
  -- null passes: callers whose argument is required call app.require_not_null first
  if p_value is not null and p_value <> all (p_allowed) then
    perform app.unknown_tenant_first();
    raise exception '% % is not one of %', p_name, quote_literal(p_value), array_to_string(p_allowed, ', ')
      using errcode = 'QB008';
  end if;
  return p_value;
end
$$;
comment on function app.require_one_of(text, text, text[]) is
  'Guard: an optional text argument, when given, is one of p_allowed (QB008), e.g. the values of a status check constraint. Returns the value.';

create or replace function app.require_cursor(
  p_before timestamptz, p_name text, p_before_id bigint default null, p_id_name text default 'p_before_id')
returns timestamptz
language plpgsql
immutable
as $$
begin
  -- null means "from the newest"; infinity would make a cursor that pages nothing
  if not isfinite(p_before) then
    perform app.unknown_tenant_first();
    raise exception '% must be a finite timestamp, not %', p_name, p_before using errcode = 'QB006';
  end if;
  -- an exact cursor is the last row's (created_at, id): the id alone names no position
  if p_before_id is not null and p_before is null then
    perform app.unknown_tenant_first();
    raise exception '% is %, but % is null: an exact cursor is both the created_at and the id of the last row',
      p_id_name, p_before_id, p_name using errcode = 'QB006';
  end if;
  if p_before_id < 0 then
    perform app.unknown_tenant_first();
    raise exception '% is %; a cursor is a row id, never negative', p_id_name, p_before_id using errcode = 'QB006';
  end if;
  return p_before;
end
$$;
comment on function app.require_cursor(timestamptz, text, bigint, text) is
  'Guard: a keyset cursor is valid (QB006 otherwise): its timestamp p_before is null (start from the newest) or finite; its optional tie-breaking id p_before_id (named p_id_name in the message) is given only with p_before and is never negative. Returns p_before.';

-- The batch guard of the write api: a batch is a jsonb array of objects whose keys are the
-- column names of the rows they make (DESIGN.md, convention 11). p_fields describes them, one
-- entry per allowed key: {"<key>": {"type": "text" | "integer" | "bigint" | "number" | "boolean"
-- | "object" | "array", "required": true, "values": [...allowed texts], "min": <number>,
-- "nonblank": true}}. The whole batch is checked in one statement, before anything is read or
-- written, and the first bad item (by position, then key) refuses all of it.
create or replace function app.require_items(p_items jsonb, p_name text, p_fields jsonb, p_max integer default 10000)
returns jsonb
language plpgsql
immutable
as $$
declare
  v_bad record;
begin
  if p_items is null then
    perform app.unknown_tenant_first();
    raise exception '% must not be null', p_name using errcode = 'QB001';
  end if;
  if jsonb_typeof(p_items) <> 'array' then
    perform app.unknown_tenant_first();
    raise exception '% must be a json array of objects, not a json %', p_name, jsonb_typeof(p_items) using errcode = 'QB011';
  end if;
  if jsonb_array_length(p_items) = 0 then
    perform app.unknown_tenant_first();
    raise exception '% must not be empty', p_name using errcode = 'QB002';
  end if;
  if jsonb_array_length(p_items) > p_max then
    perform app.unknown_tenant_first();
    raise exception '% has % items; at most % are allowed', p_name, jsonb_array_length(p_items), p_max using errcode = 'QB003';
  end if;

  select i.pos - 1 as pos, p.key, p.problem
  into v_bad
  from jsonb_array_elements(p_items) with ordinality i(item, pos)
  cross join lateral (
    select null::text as key, format('must be a json object, not a json %s', jsonb_typeof(i.item)) as problem
    where jsonb_typeof(i.item) <> 'object'
    union all
    select k.key, format('is not a field of this batch (fields: %s)', (select string_agg(f, ', ' order by f) from jsonb_object_keys(p_fields) f))
    from jsonb_object_keys(case jsonb_typeof(i.item) when 'object' then i.item else '{}' end) k(key)
    where not p_fields ? k.key
    union all
    select f.key,
           case
             when v.value is null or jsonb_typeof(v.value) = 'null' then
               case when (f.spec ->> 'required')::boolean then 'is required' end
             when jsonb_typeof(v.value) <> case f.spec ->> 'type' when 'text' then 'string' when 'integer' then 'number'
                                                                  when 'bigint' then 'number' else f.spec ->> 'type' end
               or (f.spec ->> 'type' = 'integer' and not (v.num = trunc(v.num) and v.num between -2147483648 and 2147483647))
               or (f.spec ->> 'type' = 'bigint' and not (v.num = trunc(v.num) and v.num between -9223372036854775808 and 9223372036854775807))
               then format('must be %s, not %s', case f.spec ->> 'type' when 'integer' then 'an integer' when 'array' then 'an array'
                                                      when 'object' then 'an object' else 'a ' || (f.spec ->> 'type') end, v.value)
             when f.spec ? 'values' and not f.spec -> 'values' ? (v.value #>> '{}') then
               format('must be one of %s, not %s', (select string_agg(x, ', ') from jsonb_array_elements_text(f.spec -> 'values') x), v.value)
             when f.spec ? 'min' and v.num < (f.spec ->> 'min')::numeric then
               format('must be at least %s, not %s', f.spec ->> 'min', v.value)
             when (f.spec ->> 'nonblank')::boolean and app.is_blank(v.value #>> '{}') then 'must not be blank'
           end
    from jsonb_each(p_fields) f(key, spec)
    -- num: the value as a number, only when it is one (a cast of a json string would raise)
    cross join lateral (select x.value, case jsonb_typeof(x.value) when 'number' then x.value::numeric end as num
                        from (select case jsonb_typeof(i.item) when 'object' then i.item -> f.key end as value) x) v
    where jsonb_typeof(i.item) = 'object'
  ) p
  where p.problem is not null
  order by i.pos, p.key nulls first
  limit 1;

  if found then
    perform app.unknown_tenant_first();
    raise exception '%[%]%: %', p_name, v_bad.pos, coalesce('.' || v_bad.key, ''), v_bad.problem
      using errcode = 'QB011', detail = format('item %s of %s (0-based), field %s', v_bad.pos, jsonb_array_length(p_items), coalesce(v_bad.key, '(the item)'));
  end if;
  return p_items;
end
$$;
comment on function app.require_items(jsonb, text, jsonb, integer) is
  'Guard of a batch argument: not null (QB001), a json array (QB011), not empty (QB002), at most p_max items (QB003, default 10,000), and every item an object whose keys are fields of p_fields with values of their type, allowed values, minimum and non-blank text, required ones present (QB011, the message names the 0-based position and the field: p_messages[3].role). Checked in one statement; returns the batch.';

create or replace function app.keyset_bounds(p_before timestamptz, p_before_id bigint, out before timestamptz, out before_id bigint)
language plpgsql
immutable
as $$
begin
  -- no cursor: from the newest; legacy cursor (no id): strictly older than p_before
  before := coalesce(p_before, 'infinity');
  before_id := case when p_before is null then 9223372036854775807
                    else coalesce(p_before_id, -9223372036854775808) end;
end
$$;
comment on function app.keyset_bounds(timestamptz, bigint) is
  'The bounds (before, before_id) of a keyset page newest first, for `(created_at, id) < (before, before_id)`, from a cursor app.require_cursor accepted: no cursor gives (infinity, the largest bigint), p_before alone (the legacy form) (p_before, the smallest bigint), both the cursor itself. '
  'Assigned to a plpgsql record, it is evaluated as a simple expression (no statement of its own), and its fields are plain values in the query.';

-- The batch guard's companion for keys that must be unique within one batch (an external id,
-- a (document_id, chunk_index), an operation id): two items for one row disagree or repeat each
-- other, and the batch is refused rather than one of them silently winning. Run after
-- app.require_items (the items are objects with the keys' types checked). One statement.
create or replace function app.require_unique_items(p_items jsonb, p_name text, p_keys text[])
returns jsonb
language plpgsql
immutable
as $$
declare
  v_dup record;
begin
  select b.pos - 1 as pos, b.first - 1 as first, b.key
  into v_dup
  from (select e.pos, k.key, min(e.pos) over (partition by k.key) as first
        from jsonb_array_elements(p_items) with ordinality e(value, pos)
        cross join lateral (select jsonb_agg(e.value -> u.name order by u.ord) as key
                            from unnest(p_keys) with ordinality u(name, ord)) k) b
  where b.pos > b.first
  order by b.pos
  limit 1;
  if found then
    perform app.unknown_tenant_first();
    raise exception '%[%].%: % % is also the one of %[%]', p_name, v_dup.pos, p_keys[cardinality(p_keys)],
      array_to_string(p_keys, ', '), case cardinality(p_keys) when 1 then v_dup.key -> 0 else v_dup.key end, p_name, v_dup.first
      using errcode = 'QB011', detail = format('item %s of %s (0-based), field %s', v_dup.pos, jsonb_array_length(p_items), p_keys[cardinality(p_keys)]);
  end if;
  return p_items;
end
$$;
comment on function app.require_unique_items(jsonb, text, text[]) is
  'Guard of a batch argument whose items must be unique on p_keys (checked by app.require_items first): the first item (by position) repeating an earlier item''s keys refuses the batch with QB011, the message naming both 0-based positions (p_documents[2].external_id: external_id "x1" is also the one of p_documents[0]). Returns the batch.';
