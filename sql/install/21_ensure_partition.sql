/*
 * The partition of record_store that holds capture time ts, created if
 * missing.  Created as a table of its own, then attached: ATTACH PARTITION
 * locks record_store in SHARE UPDATE EXCLUSIVE mode only, which no reader's
 * ACCESS SHARE conflicts with (CREATE TABLE ... PARTITION OF would take
 * ACCESS EXCLUSIVE, and queue behind any open transaction that read
 * records).  Called by maintenance only, never by capture.
 */
CREATE FUNCTION orders_stream_internal.ensure_partition(ts timestamptz)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	secs		double precision := extract(epoch FROM span);
	lower_ts	timestamptz := to_timestamp(floor(extract(epoch FROM ts) / secs) * secs);
	upper_ts	timestamptz := lower_ts + span;
	name		text;
	part		regclass;
BEGIN
	SELECT p.partition INTO part FROM orders_stream.partitions p
	 WHERE p.lower_bound <= ts AND ts < p.upper_bound;
	IF FOUND THEN
		RETURN part;
	END IF;
	/*
	 * Partitions made under another partition_interval (it is set at server
	 * start) may cover part of this interval: fill only the gap around ts.
	 */
	lower_ts := greatest(lower_ts, (SELECT max(p.upper_bound) FROM orders_stream.partitions p
									 WHERE p.upper_bound <= ts));
	upper_ts := least(upper_ts, (SELECT min(p.lower_bound) FROM orders_stream.partitions p
								  WHERE p.lower_bound > ts));
	name := 'records_' || to_char(lower_ts AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS');
	BEGIN
		EXECUTE format('CREATE TABLE orders_stream.%I (LIKE orders_stream.record_store)', name);
	EXCEPTION WHEN duplicate_table THEN
		/* created meanwhile by a concurrent call (the worker's, or one by hand) */
		SELECT p.partition INTO part FROM orders_stream.partitions p
		 WHERE p.lower_bound <= ts AND ts < p.upper_bound;
		IF FOUND THEN
			RETURN part;
		END IF;
		RAISE;
	END;
	/*
	 * Whatever default privileges say: records are read through the views.
	 * And row security with no policy: read by its name, a partition would
	 * not apply record_store's policy (only a read through record_store
	 * does), so a role with SELECT on every table (pg_read_all_data) must
	 * read none of its rows.  Its owner, who stores and trims, bypasses it.
	 */
	EXECUTE format('REVOKE ALL ON orders_stream.%I FROM PUBLIC', name);
	EXECUTE format('ALTER TABLE orders_stream.%I ENABLE ROW LEVEL SECURITY', name);
	EXECUTE format('ALTER TABLE orders_stream.record_store ATTACH PARTITION orders_stream.%I FOR VALUES FROM (%L) TO (%L)',
				   name, lower_ts, upper_ts);
	part := format('orders_stream.%I', name)::regclass;
	/*
	 * A member of the extension, as record_store: pg_dump leaves the records
	 * out (a restored database has new streams, see 95_backup.sql).  Inside
	 * CREATE EXTENSION it is one already.
	 */
	IF NOT EXISTS (SELECT FROM pg_depend d
					WHERE d.classid = 'pg_class'::regclass AND d.objid = part AND d.deptype = 'e') THEN
		EXECUTE format('ALTER EXTENSION orders_stream ADD TABLE %s', part);
	END IF;
	INSERT INTO orders_stream.partitions VALUES (part, lower_ts, upper_ts);
	RETURN part;
END
$$;
