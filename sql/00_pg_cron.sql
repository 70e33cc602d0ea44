-- pg_cron can live in one database only, the one named by cron.database_name; elsewhere
-- (test copies, a shadow database) jobs are simply not registered.
do $$
begin
  if current_database() = current_setting('cron.database_name', true) then
    create extension if not exists pg_cron;
  end if;
end
$$;
