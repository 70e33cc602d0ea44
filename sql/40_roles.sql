-- The roles of querybudget (docs/security.md). Roles are cluster-wide: this file runs on every
-- migrate of every database of the server (test copies too), so it only creates what is
-- missing, checks what exists, and writes nothing when nothing differs. On a server where a
-- DBA made the roles beforehand (docs/security.md "Running on an existing server"), it needs
-- no privilege at all.
--
--   querybudget_owner    owns schemas app and api, every table and every api function: the
--                        api functions (security definer) run as it, and since it is neither
--                        superuser nor BYPASSRLS and every table FORCEs row level security,
--                        they see one tenant only. LOGIN, so migrations can connect as it.
--   querybudget_app      what applications log in as: EXECUTE on the api functions, nothing
--                        else (sql/50_grants.sql); timeouts below.
--   querybudget_monitor  monitoring: EXECUTE on the perf functions, nothing else.
--   querybudget_maint    NOLOGIN, BYPASSRLS: the cross-tenant work (the TTL job's deletes, the
--                        statistics' fold, rebuild and drift, the refresh of app.tenant_overview,
--                        the session token lookup). Nothing logs in as it; it owns the security
--                        definer functions that need it, and maint.purge_expired switches to it
--                        per batch (SET LOCAL ROLE).
do $$
declare
  r record;
  missing text[];
begin
  for r in
    select v.name, v.options
    from (values
      ('querybudget_owner', 'login nosuperuser nocreatedb nocreaterole noreplication nobypassrls'),
      ('querybudget_app', 'login nosuperuser nocreatedb nocreaterole noreplication nobypassrls'),
      ('querybudget_monitor', 'login nosuperuser nocreatedb nocreaterole noreplication nobypassrls'),
      ('querybudget_maint', 'nologin nosuperuser nocreatedb nocreaterole noreplication bypassrls')
    ) as v (name, options)
    where not exists (select from pg_catalog.pg_roles a where a.rolname = v.name)
  loop
    begin
      execute format('create role %I %s', r.name, r.options);
    exception
      when duplicate_object then
        null;  -- another migrate of another database made it meanwhile
      when insufficient_privilege then
        missing := missing || r.name::text;
    end;
  end loop;
  if missing is not null then
    raise exception 'roles % do not exist and % may not create them', missing, current_user
      using errcode = '42501',
            hint = 'Create them once as a superuser (docs/security.md "Running on an existing server"), then migrate again.';
  end if;

  -- Roles that existed already: refuse attributes that would defeat the design.
  for r in
    select a.rolname, a.rolsuper, a.rolbypassrls
    from pg_catalog.pg_roles a
    where a.rolname in ('querybudget_owner', 'querybudget_app', 'querybudget_monitor')
      and (a.rolsuper or a.rolbypassrls)
  loop
    raise exception 'role % is superuser or bypassrls: row level security would not hold for it', r.rolname
      using errcode = '42501', hint = 'alter role ' || r.rolname || ' nosuperuser nobypassrls;';
  end loop;
  if not exists (select from pg_catalog.pg_roles a where a.rolname = 'querybudget_maint' and (a.rolbypassrls or a.rolsuper)) then
    raise exception 'role querybudget_maint must have bypassrls (the TTL job and the statistics jobs work across tenants)'
      using errcode = '42501', hint = 'alter role querybudget_maint bypassrls; (as a superuser)';
  end if;
end
$$;

-- querybudget_owner may become querybudget_maint (SET ROLE; BYPASSRLS is not inherited
-- through membership, so the owner's own queries, and the api functions, stay under the
-- policies): when migrations and pg_cron jobs run as querybudget_owner, the TTL job switches
-- to querybudget_maint per batch, and migrations can hand objects to it.
do $$
begin
  if not pg_catalog.pg_has_role('querybudget_owner', 'querybudget_maint', 'member') then
    grant querybudget_maint to querybudget_owner;
  end if;
end
$$;

-- Timeouts of the application role (docs/security.md "Timeouts"). Role-wide (every database),
-- read at login. An application may still change them in its session (SET is not a privilege).
--   statement_timeout 5s                     50 times the 100 ms budget of an api call: only a
--                                            runaway statement reaches it (57014)
--   lock_timeout 2s                          a bulk call waits at most 2 s for a row another
--                                            transaction holds (55P03); bulk calls lock in id
--                                            order and purge batches last well under a second
--   idle_in_transaction_session_timeout 15s  a connection that opens a transaction and forgets
--                                            it loses it after 15 s, and its locks with it
--   jit off                                  (not a timeout) the api's statements are point reads
--                                            and small batches: compiling one costs more than it
--                                            runs, and the seeds ask for it (docs/operations.md "Pooling")
-- and of the monitoring role:
--   statement_timeout 30s                    perf reports read catalogs and statistics views
do $$
declare
  r record;
begin
  for r in
    select v.role, v.setting, v.value
    from (values
      ('querybudget_app', 'statement_timeout', '5s'),
      ('querybudget_app', 'lock_timeout', '2s'),
      ('querybudget_app', 'idle_in_transaction_session_timeout', '15s'),
      ('querybudget_app', 'jit', 'off'),
      ('querybudget_monitor', 'statement_timeout', '30s')
    ) as v (role, setting, value)
    where not exists (
      select
      from pg_catalog.pg_db_role_setting s
      join pg_catalog.pg_roles a on a.oid = s.setrole
      where a.rolname = v.role
        and s.setdatabase = 0
        and v.setting || '=' || v.value = any (s.setconfig))
  loop
    begin
      execute format('alter role %I set %I = %L', r.role, r.setting, r.value);
    exception when insufficient_privilege then
      raise exception 'role % should have % = % and % may not set it', r.role, r.setting, r.value, current_user
        using errcode = '42501',
              hint = format('As a superuser: alter role %I set %I = %L; then migrate again (docs/security.md).', r.role, r.setting, r.value);
    end;
  end loop;
end
$$;
