/*
 * 1.1 -> 1.2: the partitions of 1.1 get the row security that
 * ensure_partition gives new ones (21_ensure_partition.sql): no role but
 * their owner reads them by name.
 */
DO $$
DECLARE
	p			regclass;
BEGIN
	FOR p IN SELECT pa.partition FROM orders_stream.partitions pa LOOP
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', p);
	END LOOP;
END
$$;
