-- Row level security on every table and partition of schema app (docs/security.md): enabled,
-- forced, and the policy tenant_isolation (maint.ensure_row_level_security, which the hourly
-- partition maintenance calls again for the partitions pg_partman makes). Prints how many
-- changes it made: 0 when everything was in place.
select maint.ensure_row_level_security() as row_level_security_changes;

-- Partitions pg_partman makes from now on belong to their parent's owner (querybudget_owner)
-- and carry the parent's grants, not to whoever runs the maintenance (inherit_privileges;
-- pg_partman's default is false: the partition would belong to the job's role).
update partman.part_config pc
set inherit_privileges = true
where pc.parent_table like 'app.%'
  and pc.inherit_privileges is distinct from true;
