/*
 * The retained stream, stored compactly: per record only what varies from
 * record to record (record_store.c), under a 12-byte sequence key that sorts
 * as its SequenceNumber.  The view orders_stream.records (40_read_api.sql)
 * and the read API add back the rest of each DynamoDB record.  Partitioned
 * by capture time; the capture worker creates partitions ahead and drops
 * whole partitions once they are older than orders_stream.retention.  The
 * worker appends to the current partition directly (heap multi-insert), so
 * this layout is fixed: see capture.c.
 */
CREATE TABLE orders_stream.record_store (
	stream_id	bigint NOT NULL,
	captured_at timestamptz NOT NULL,
	/* hash_bytes() of the text of dynamodb.Keys: a delivery lane's share */
	key_hash	integer NOT NULL,
	size_bytes	integer NOT NULL,	/* dynamodb.SizeBytes */
	sequence_key bytea NOT NULL,	/* orders_stream.sequence_key(SequenceNumber) */
	event_name	text NOT NULL,
	/* the members of "dynamodb" before SequenceNumber, as JSON text */
	body		text NOT NULL,
	/* a REMOVE by the TTL worker: the record carries AWS's userIdentity */
	ttl_delete	boolean NOT NULL
) PARTITION BY RANGE (captured_at);

CREATE INDEX record_store_stream_sequence ON orders_stream.record_store (stream_id, sequence_key);

/* The sequence key of a SequenceNumber ('' for ''), and back. */
CREATE FUNCTION orders_stream.sequence_key(sequence_number text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'orders_stream_sequence_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION orders_stream.sequence_text(sequence_key bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_sequence_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/*
 * The DynamoDB record of a row of record_store, given its stream's ARN and
 * view type.  Callable by anyone (the records view and the read API run as
 * their caller), so it refuses what is no stored record's and its result is
 * checked to be JSON.
 */
CREATE FUNCTION orders_stream.record_json(stream_arn text, view_type text,
										  sequence_key bytea, event_name text,
										  body text, size_bytes integer,
										  ttl_delete boolean)
RETURNS json
AS 'MODULE_PATHNAME', 'orders_stream_record_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/* The same without the check of its result, for delivery, which reads record_store itself. */
CREATE FUNCTION orders_stream_internal.stored_record_json(stream_arn text, view_type text,
														  sequence_key bytea, event_name text,
														  body text, size_bytes integer,
														  ttl_delete boolean)
RETURNS json
AS 'MODULE_PATHNAME', 'orders_stream_stored_record_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE orders_stream.partitions (
	partition	regclass PRIMARY KEY,
	lower_bound timestamptz NOT NULL,
	upper_bound timestamptz NOT NULL
);

/* Newest SequenceNumber of each stream dropped by retention. */
CREATE TABLE orders_stream.stream_trim (
	stream_id	bigint PRIMARY KEY,
	trimmed_through text COLLATE "C" NOT NULL
);

/* The capture worker's high-water mark, written with the records it stores. */
CREATE TABLE orders_stream.capture_progress (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	sequence_number text COLLATE "C" NOT NULL DEFAULT '',
	lsn			pg_lsn NOT NULL DEFAULT '0/0',
	updated_at	timestamptz
);
INSERT INTO orders_stream.capture_progress DEFAULT VALUES;

REVOKE ALL ON orders_stream.record_store, orders_stream.partitions,
	orders_stream.stream_trim, orders_stream.capture_progress FROM PUBLIC;

/*
 * Only roles that may read the source table may read its stream, and
 * nobody reads records older than the retention.  The policy's subquery
 * runs with the caller's privileges: readable_streams (40_read_api.sql)
 * decides, as the caller.  The view does not exist yet: the policy is
 * created there, and so is the view orders_stream.records, which applies
 * the same rule.
 */
ALTER TABLE orders_stream.record_store ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON orders_stream.record_store TO PUBLIC;

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
		EXECUTE format('CREATE TABLE orders_stream.%I PARTITION OF orders_stream.record_store FOR VALUES FROM (%L) TO (%L)',
					   name, lower_ts, upper_ts);
	EXCEPTION WHEN duplicate_table THEN
		/* created meanwhile by a concurrent call (the worker's, or one by hand) */
		SELECT p.partition INTO part FROM orders_stream.partitions p
		 WHERE p.lower_bound <= ts AND ts < p.upper_bound;
		IF FOUND THEN
			RETURN part;
		END IF;
		RAISE;
	END;
	part := format('orders_stream.%I', name)::regclass;
	INSERT INTO orders_stream.partitions VALUES (part, lower_ts, upper_ts);
	RETURN part;
END
$$;

/*
 * Creates the partitions of the next intervals and drops the ones whose
 * records are all older than the retention, remembering per stream the
 * newest SequenceNumber dropped.  Returns how many partitions were dropped.
 *
 * Creating or dropping a partition locks orders_stream.record_store in ACCESS
 * EXCLUSIVE mode.  The capture worker runs this between its passes: waiting
 * there for a reader's open transaction would stop capture, and queue every
 * other reader behind the lock request, for as long as that transaction
 * lasts.  So it gives up after lock_timeout and leaves the work to the next
 * run (expired records are invisible meanwhile); and it creates partitions
 * far enough ahead (30 s, three of the worker's runs, or two intervals) that
 * the worker seldom has to create the one it stores into.
 */
CREATE FUNCTION orders_stream_internal.maintain_partitions()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	ahead		integer := greatest(2, ceil(30 / extract(epoch FROM span))::integer);
	cutoff		timestamptz := now() - orders_stream_internal.retention_interval();
	p			record;
	s			record;
	newest		text;
	dropped		integer := 0;
BEGIN
	BEGIN
		PERFORM orders_stream_internal.ensure_partition(now() + span * i) FROM generate_series(0, ahead) AS i;
	EXCEPTION WHEN lock_not_available THEN
		RAISE LOG 'orders_stream.record_store is in use: stream partitions not created ahead this time';
	END;
	DELETE FROM orders_stream.capture_exceptions WHERE created_at < cutoff;
	FOR p IN SELECT * FROM orders_stream.partitions WHERE upper_bound <= cutoff ORDER BY lower_bound LOOP
		BEGIN
			FOR s IN SELECT stream_id FROM orders_stream.streams LOOP
				EXECUTE format('SELECT orders_stream.sequence_text(sequence_key) FROM %s '
							   'WHERE stream_id OPERATOR(pg_catalog.=) $1 ORDER BY sequence_key DESC LIMIT 1',
							   p.partition)
					INTO newest USING s.stream_id;
				IF newest IS NOT NULL THEN
					INSERT INTO orders_stream.stream_trim AS t VALUES (s.stream_id, newest)
					ON CONFLICT (stream_id) DO UPDATE
						SET trimmed_through = greatest(t.trimmed_through, excluded.trimmed_through);
				END IF;
			END LOOP;
			EXECUTE format('DROP TABLE %s', p.partition);
			DELETE FROM orders_stream.partitions WHERE partition = p.partition;
			dropped := dropped + 1;
		EXCEPTION
			WHEN lock_not_available THEN
				RAISE LOG 'orders_stream.record_store is in use: expired stream partition % not dropped this time',
					p.partition;
				EXIT;
			WHEN OTHERS THEN
				/* e.g. a view on the partition: keep it, drop the others */
				RAISE WARNING 'could not drop expired stream partition %: %', p.partition, SQLERRM;
		END;
	END LOOP;
	RETURN dropped;
END
$$;

