-- Seeding: the foreign keys, checked set-based. scripts/lib/seed.ts runs the inserts with
-- session_replication_role = replica when it may (superuser or SET granted, and no trigger of
-- our own on an app table): then the per-row foreign key triggers do not fire (40 % of the
-- time at 1M rows), and this file checks every foreign key of every app table once, with one
-- anti-join per constraint, the check ALTER TABLE ... VALIDATE CONSTRAINT makes. An orphan
-- raises foreign_key_violation (23503) and the whole seeding transaction rolls back, so the
-- guarantee is the same as with the triggers. When the triggers did fire, this file does nothing.
do $$
declare
  fk record;
  orphans bigint;
begin
  if current_setting('session_replication_role') <> 'replica' then
    return;
  end if;
  for fk in
    select con.conname,
           format('%I.%I', n.nspname, c.relname) as child,
           format('%I.%I', pn.nspname, p.relname) as parent,
           (select string_agg(format('c.%I is not null', a.attname), ' and ' order by k.i)
              from unnest(con.conkey) with ordinality k(attnum, i)
              join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum) as not_null,
           (select string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' and ' order by k.i)
              from unnest(con.conkey, con.confkey) with ordinality k(ckey, pkey, i)
              join pg_attribute ca on ca.attrelid = con.conrelid and ca.attnum = k.ckey
              join pg_attribute pa on pa.attrelid = con.confrelid and pa.attnum = k.pkey) as matches
    from pg_constraint con
    join pg_class c on c.oid = con.conrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_class p on p.oid = con.confrelid
    join pg_namespace pn on pn.oid = p.relnamespace
    where con.contype = 'f'
      and n.nspname = 'app'
      and con.conparentid = 0          -- a partitioned table's constraint, not its copies on partitions
    order by 2, 1
  loop
    -- MATCH SIMPLE: a row with a null in the key references nothing
    execute format('select count(*) from %s c where %s and not exists (select from %s p where %s)',
                   fk.child, fk.not_null, fk.parent, fk.matches)
      into orphans;
    if orphans > 0 then
      raise exception 'seed: % rows of % violate foreign key %', orphans, fk.child, fk.conname
        using errcode = 'foreign_key_violation';
    end if;
  end loop;
end
$$;
