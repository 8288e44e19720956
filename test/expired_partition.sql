-- test/expired_partition.sql: expired partitions of a chosen size, made by
-- hand, for t/005_retention.pl (trimming deletes no row) and
-- bench/retention.sh (what trimming costs).  make_old_partition(n, age)
-- makes the partition of now() - age and fills it with n records of the one
-- stream, kept out of orders_stream.partitions meanwhile; make_visible(part)
-- lists it again, so that the next maintain_partitions() drops it alone.
CREATE TABLE hidden_partitions (LIKE orders_stream.partitions);
CREATE FUNCTION make_old_partition(n int, age interval) RETURNS regclass
LANGUAGE plpgsql AS $$
DECLARE
	part regclass := orders_stream_internal.ensure_partition(now() - age);
	sid bigint := (SELECT stream_id FROM orders_stream.streams);
BEGIN
	WITH h AS (DELETE FROM orders_stream.partitions WHERE partition = part RETURNING *)
	INSERT INTO hidden_partitions SELECT * FROM h;
	INSERT INTO orders_stream.record_store
	SELECT sid, now() - age, 0, 0, orders_stream.sequence_key(lpad(g::text, 30, '0')), 'INSERT',
		   format('"ApproximateCreationDateTime":0,"Keys":{"id":{"N":"%s"}},"NewImage":{"note":{"S":"%s"}}',
				  g, repeat('x', 200)), false
	  FROM generate_series(1, n) g;
	RETURN part;
END
$$;
CREATE FUNCTION make_visible(part regclass) RETURNS void
LANGUAGE sql AS $$
	WITH h AS (DELETE FROM hidden_partitions WHERE partition = part RETURNING *)
	INSERT INTO orders_stream.partitions SELECT * FROM h;
$$;
