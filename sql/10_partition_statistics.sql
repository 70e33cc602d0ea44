-- Partitions made since the last run get the extended statistics of their parent.
select maint.ensure_partition_statistics();
