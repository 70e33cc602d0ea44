-- Partitions: chunks by HASH(collection_id) into 16; operations and messages by month
-- (pg_partman), with partitions made ahead.
begin;
select plan(9);

select is_partitioned('app', 'chunks', 'chunks is partitioned');
select partitions_are('app', 'chunks',
  array(select format('app.chunks_p%s', lpad(i::text, 2, '0')) from generate_series(0, 15) i),
  'chunks has 16 hash partitions, chunks_p00 to chunks_p15');
select is(
  (select partstrat::text || ':' || pg_get_partkeydef('app.chunks'::regclass)
   from pg_partitioned_table where partrelid = 'app.chunks'::regclass),
  'h:HASH (collection_id)', 'chunks is hashed on collection_id');

select is_partitioned('app', 'operations', 'operations is partitioned');
select is_partitioned('app', 'messages', 'messages is partitioned');

select set_eq(
  $$ select parent_table::text, partition_interval, partition_type from partman.part_config $$,
  $$ values ('app.operations', '1 mon', 'native'), ('app.messages', '1 mon', 'native') $$,
  'pg_partman manages operations and messages by month');

select ok(
  (select count(*) = 2 from pg_inherits i join pg_class c on c.oid = i.inhrelid
   where c.relname in ('operations_default', 'messages_default') and c.relnamespace = 'app'::regnamespace),
  'operations and messages have a default partition for out-of-range rows');

select ok(
  (select bool_and(
     (select count(*) from partman.show_partitions(p) s
      where (partman.show_partition_info(s.partition_schemaname || '.' || s.partition_tablename)).child_start_time
            >= date_trunc('month', now()) + interval '1 month') >= 2)
   from unnest(array['app.operations', 'app.messages']) p),
  'at least two months of partitions are made ahead for operations and messages');

select ok(
  (select bool_and((select count(*) from partman.show_partitions(p)
                    where (partman.show_partition_info(partition_schemaname || '.' || partition_tablename)).child_start_time
                          <= now() - interval '90 days') >= 1)
   from unnest(array['app.operations', 'app.messages']) p),
  'partitions reach back over the 90 days of data');

select * from finish();
rollback;
