/* orders_stream--1.0.sql: DynamoDB Streams for PostgreSQL */

\echo Use "CREATE EXTENSION orders_stream" to load this file. \quit

/*
 * The streams catalog.  The output plugin reads it through the historic
 * snapshot of each change, so that a change is captured iff its table's stream
 * was enabled as of that change: hence user_catalog_table.
 */
CREATE TABLE orders_stream.streams (
	stream_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	relid		oid NOT NULL,
	table_name	text NOT NULL,
	view_type	text NOT NULL CHECK (view_type IN ('KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES')),
	stream_label text NOT NULL,
	stream_arn	text NOT NULL UNIQUE,
	shard_id	text NOT NULL,
	key_columns name[] NOT NULL,
	set_columns name[] NOT NULL DEFAULT '{}',
	start_lsn	pg_lsn NOT NULL,
	created_at	timestamptz NOT NULL,
	disabled_at timestamptz
) WITH (user_catalog_table = true);

CREATE UNIQUE INDEX streams_one_enabled_per_table
	ON orders_stream.streams (relid) WHERE disabled_at IS NULL;

REVOKE ALL ON orders_stream.streams FROM PUBLIC;

CREATE FUNCTION orders_stream.enable_stream(source regclass,
											view_type text DEFAULT 'NEW_AND_OLD_IMAGES',
											set_columns name[] DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_enable_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.enable_stream(regclass, text, name[]) IS
'Enables a DynamoDB stream on a table with a primary key; returns the stream ARN';

CREATE FUNCTION orders_stream.disable_stream(source regclass)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_disable_stream'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.disable_stream(regclass) IS
'Disables the stream of a table; its records stay readable until they age out; returns the stream ARN';

/* TRUNCATE would remove items without REMOVE records: refuse it unless the user opts out. */
CREATE FUNCTION orders_stream.truncate_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'orders_stream_truncate_guard'
LANGUAGE C;

CREATE FUNCTION orders_stream.list_streams(
	OUT "StreamArn" text, OUT "TableName" text, OUT "StreamLabel" text)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT stream_arn, table_name, stream_label
	FROM orders_stream.streams
	ORDER BY created_at, stream_id
$$;

COMMENT ON FUNCTION orders_stream.list_streams() IS
'Streams of this database, enabled and disabled (DynamoDB ListStreams)';

/* SequenceNumber of an LSN and a position: 20 + 10 digits, see output_plugin.c */
CREATE FUNCTION orders_stream.sequence_number(lsn pg_lsn, change_position bigint DEFAULT 0)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT lpad((lsn - '0/0'::pg_lsn)::text, 20, '0') || lpad(change_position::text, 10, '0')
$$;

CREATE FUNCTION orders_stream.describe_stream(stream_arn text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s orders_stream.streams;
BEGIN
	SELECT * INTO s FROM orders_stream.streams AS st WHERE st.stream_arn = describe_stream.stream_arn;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', stream_arn
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.list_streams() shows the stream ARNs of this database.';
	END IF;
	RETURN jsonb_build_object('StreamDescription', jsonb_build_object(
		'StreamArn', s.stream_arn,
		'StreamLabel', s.stream_label,
		'StreamStatus', CASE WHEN s.disabled_at IS NULL THEN 'ENABLED' ELSE 'DISABLED' END,
		'StreamViewType', s.view_type,
		'CreationRequestDateTime', extract(epoch FROM s.created_at),
		'TableName', s.table_name,
		'KeySchema', (SELECT jsonb_agg(jsonb_build_object(
							'AttributeName', k.name,
							'KeyType', CASE WHEN k.ord = 1 THEN 'HASH' ELSE 'RANGE' END)
						ORDER BY k.ord)
					  FROM unnest(s.key_columns) WITH ORDINALITY AS k(name, ord)),
		'Shards', jsonb_build_array(jsonb_build_object(
			'ShardId', s.shard_id,
			'SequenceNumberRange', jsonb_build_object(
				'StartingSequenceNumber', orders_stream.sequence_number(s.start_lsn))))));
END
$$;

COMMENT ON FUNCTION orders_stream.describe_stream(text) IS
'The DescribeStream response of a stream ARN: {"StreamDescription": {...}}';

/*
 * The retained stream.  Partitioned by capture time; the capture worker
 * creates partitions ahead and drops whole partitions once they are older
 * than orders_stream.retention.  The worker appends to the current partition
 * directly (heap multi-insert), so this layout is fixed: see capture.c.
 */
CREATE TABLE orders_stream.records (
	stream_id	bigint NOT NULL,
	sequence_number text COLLATE "C" NOT NULL,
	captured_at timestamptz NOT NULL,
	record		json NOT NULL
) PARTITION BY RANGE (captured_at);

CREATE INDEX records_stream_sequence ON orders_stream.records (stream_id, sequence_number);

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

REVOKE ALL ON orders_stream.records, orders_stream.partitions,
	orders_stream.stream_trim, orders_stream.capture_progress FROM PUBLIC;

CREATE FUNCTION orders_stream.retention_interval()
RETURNS interval
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT current_setting('orders_stream.retention')::interval $$;

/* The source table of a stream, for the row-level security of records. */
CREATE FUNCTION orders_stream.stream_relid(stream_id bigint)
RETURNS oid
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s.relid FROM orders_stream.streams s WHERE s.stream_id = stream_relid.stream_id $$;

/* Only roles that may SELECT the source table may read its stream. */
ALTER TABLE orders_stream.records ENABLE ROW LEVEL SECURITY;
CREATE POLICY records_of_readable_tables ON orders_stream.records FOR SELECT
	USING (coalesce(has_table_privilege(orders_stream.stream_relid(stream_id), 'SELECT'), false)
		   AND captured_at >= now() - orders_stream.retention_interval());
GRANT SELECT ON orders_stream.records TO PUBLIC;

CREATE FUNCTION orders_stream.ensure_partition(ts timestamptz)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	secs		double precision := extract(epoch FROM span);
	lower_ts	timestamptz := to_timestamp(floor(extract(epoch FROM ts) / secs) * secs);
	name		text := 'records_' || to_char(lower_ts AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS');
	part		regclass;
BEGIN
	SELECT p.partition INTO part FROM orders_stream.partitions p
	 WHERE p.lower_bound <= ts AND ts < p.upper_bound;
	IF FOUND THEN
		RETURN part;
	END IF;
	EXECUTE format('CREATE TABLE orders_stream.%I PARTITION OF orders_stream.records FOR VALUES FROM (%L) TO (%L)',
				   name, lower_ts, lower_ts + span);
	part := format('orders_stream.%I', name)::regclass;
	INSERT INTO orders_stream.partitions VALUES (part, lower_ts, lower_ts + span);
	RETURN part;
END
$$;

/*
 * Creates the partitions of the next intervals and drops the ones whose
 * records are all older than the retention, remembering per stream the
 * newest SequenceNumber dropped.  Returns how many partitions were dropped.
 */
CREATE FUNCTION orders_stream.maintain_partitions()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	cutoff		timestamptz := now() - orders_stream.retention_interval();
	p			record;
	s			record;
	newest		text;
	dropped		integer := 0;
BEGIN
	PERFORM orders_stream.ensure_partition(now() + span * i) FROM generate_series(0, 2) AS i;
	FOR p IN SELECT * FROM orders_stream.partitions WHERE upper_bound <= cutoff ORDER BY lower_bound LOOP
		FOR s IN SELECT stream_id FROM orders_stream.streams LOOP
			EXECUTE format('SELECT max(sequence_number) FROM %s WHERE stream_id = $1', p.partition)
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
	END LOOP;
	RETURN dropped;
END
$$;

CREATE FUNCTION orders_stream.launch_capture()
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_launch_capture'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream.wait_for_slot(timeout interval DEFAULT '30s')
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_wait_for_slot'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.wait_for_slot(interval) IS
'Waits until the capture worker has created the slot of this database (after CREATE EXTENSION); returns the slot name';

CREATE FUNCTION orders_stream.wait_for_capture(timeout interval DEFAULT '30s')
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'orders_stream_wait_for_capture'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.wait_for_capture(interval) IS
'Waits until every change committed before the call is in orders_stream.records';

/* ---- DynamoDB Streams read API ---- */

CREATE FUNCTION orders_stream.stream_for_read(arn text,
	OUT stream_id bigint, OUT relid oid, OUT shard_id text, OUT enabled boolean,
	OUT start_lsn pg_lsn)
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	SELECT s.stream_id, s.relid, s.shard_id, s.disabled_at IS NULL, s.start_lsn
	  INTO stream_id, relid, shard_id, enabled, start_lsn
	  FROM orders_stream.streams s WHERE s.stream_arn = arn;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', arn
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.list_streams() shows the stream ARNs of this database.';
	END IF;
END
$$;

CREATE FUNCTION orders_stream.trim_point(stream_id bigint)
RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT greatest(
		(SELECT t.trimmed_through FROM orders_stream.stream_trim t WHERE t.stream_id = trim_point.stream_id),
		(SELECT max(r.sequence_number) FROM orders_stream.records r
		  WHERE r.stream_id = trim_point.stream_id
			AND r.captured_at < now() - orders_stream.retention_interval()),
		'')
$$;

CREATE FUNCTION orders_stream.check_stream_readable(arn text, relid oid)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NOT coalesce(has_table_privilege(relid, 'SELECT'), false) THEN
		RAISE EXCEPTION 'AccessDeniedException: permission denied to read stream "%"', arn
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Reading a stream requires SELECT on its table.',
				  HINT = format('GRANT SELECT ON %s TO %I.', relid::regclass, current_user);
	END IF;
END
$$;

CREATE FUNCTION orders_stream.get_shard_iterator(stream_arn text, shard_id text,
	shard_iterator_type text, sequence_number text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s			record;
	pos	text;
	inclusive	boolean := false;
BEGIN
	IF stream_arn IS NULL OR shard_id IS NULL OR shard_iterator_type IS NULL THEN
		RAISE EXCEPTION 'ValidationException: StreamArn, ShardId and ShardIteratorType are required'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass all three, e.g. get_shard_iterator(arn, shard_id, ''TRIM_HORIZON'').';
	END IF;
	s := orders_stream.stream_for_read(stream_arn);
	IF s.shard_id <> get_shard_iterator.shard_id THEN
		RAISE EXCEPTION 'ResourceNotFoundException: shard "%" does not exist in stream "%"', shard_id, stream_arn
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.describe_stream(arn) lists the shards of a stream.';
	END IF;
	PERFORM orders_stream.check_stream_readable(stream_arn, s.relid);
	CASE shard_iterator_type
		WHEN 'TRIM_HORIZON' THEN
			pos := '';
		WHEN 'LATEST' THEN
			pos := orders_stream.sequence_number(pg_current_wal_insert_lsn(), 0);
		WHEN 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER' THEN
			IF sequence_number IS NULL OR sequence_number !~ '^\d{30}$' THEN
				RAISE EXCEPTION 'ValidationException: % needs a SequenceNumber of this stream, got %',
					shard_iterator_type, coalesce(quote_literal(sequence_number), 'NULL')
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Pass the SequenceNumber of a record (30 digits).';
			END IF;
			pos := sequence_number;
			inclusive := shard_iterator_type = 'AT_SEQUENCE_NUMBER';
			IF pos < orders_stream.trim_point(s.stream_id)
			   OR (inclusive AND pos = orders_stream.trim_point(s.stream_id)) THEN
				RAISE EXCEPTION 'TrimmedDataAccessException: SequenceNumber % of stream "%" is beyond the trim horizon', pos, stream_arn
					USING ERRCODE = 'object_not_in_prerequisite_state',
						  DETAIL = 'Records are kept for orders_stream.retention, then trimmed.',
						  HINT = 'Start from TRIM_HORIZON to read the oldest retained record.';
			END IF;
		ELSE
			RAISE EXCEPTION 'ValidationException: unknown ShardIteratorType "%"', shard_iterator_type
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'ShardIteratorType is one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER.';
	END CASE;
	RETURN orders_stream.encode_iterator(stream_arn, shard_id, pos, inclusive);
END
$$;

CREATE FUNCTION orders_stream.encode_iterator(stream_arn text, shard_id text, pos text, inclusive boolean)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT stream_arn || '|' || translate(encode(convert_to(jsonb_build_object(
		's', shard_id, 'p', pos, 'i', inclusive,
		't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text, 'UTF8'), 'base64'), E'\n', '')
$$;

CREATE FUNCTION orders_stream.get_records(shard_iterator text, "limit" integer DEFAULT 1000)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	sep			integer := strpos(shard_iterator, '|');
	arn			text;
	it			jsonb;
	s			record;
	pos	text;
	trimmed		text;
	result		jsonb;
	last_seq	text;
	n			integer;
BEGIN
	IF "limit" IS NULL OR "limit" < 1 OR "limit" > 1000 THEN
		RAISE EXCEPTION 'ValidationException: limit % is outside 1..1000', coalesce("limit"::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'GetRecords returns at most 1000 records per call.';
	END IF;
	BEGIN
		arn := left(shard_iterator, sep - 1);
		it := convert_from(decode(substr(shard_iterator, sep + 1), 'base64'), 'UTF8')::jsonb;
	EXCEPTION WHEN OTHERS THEN
		it := NULL;
	END;
	IF sep = 0 OR it IS NULL OR NOT (it ? 's' AND it ? 'p' AND it ? 't') THEN
		RAISE EXCEPTION 'ValidationException: invalid shard iterator'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Get one from orders_stream.get_shard_iterator().';
	END IF;
	IF (it->>'t')::bigint < floor(extract(epoch FROM clock_timestamp()) * 1000) - 15 * 60 * 1000 THEN
		RAISE EXCEPTION 'ExpiredIteratorException: the shard iterator has expired'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Shard iterators are valid for 15 minutes.',
				  HINT = 'Get a new one with orders_stream.get_shard_iterator(), from the last SequenceNumber read.';
	END IF;
	s := orders_stream.stream_for_read(arn);
	IF s.shard_id <> it->>'s' THEN
		RAISE EXCEPTION 'ResourceNotFoundException: shard "%" does not exist in stream "%"', it->>'s', arn
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM orders_stream.check_stream_readable(arn, s.relid);

	pos := it->>'p';
	trimmed := orders_stream.trim_point(s.stream_id);
	IF pos <> '' AND pos < trimmed THEN
		RAISE EXCEPTION 'TrimmedDataAccessException: the shard iterator points before the trim horizon of stream "%"', arn
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Records are kept for orders_stream.retention, then trimmed.',
				  HINT = 'Start again from TRIM_HORIZON.';
	END IF;
	pos := greatest(pos, trimmed);

	SELECT coalesce(jsonb_agg((r.record::jsonb - 'eventSourceARN') ORDER BY r.sequence_number), '[]'::jsonb),
		   max(r.sequence_number), count(*)
	  INTO result, last_seq, n
	  FROM (SELECT rr.record, rr.sequence_number
			  FROM orders_stream.records rr
			 WHERE rr.stream_id = s.stream_id
			   AND rr.captured_at >= now() - orders_stream.retention_interval()
			   AND (rr.sequence_number > pos
					OR (coalesce((it->>'i')::boolean, false) AND rr.sequence_number = pos))
			 ORDER BY rr.sequence_number
			 LIMIT "limit") r;

	RETURN jsonb_build_object(
		'Records', result,
		'NextShardIterator',
		CASE
			WHEN n = 0 AND NOT s.enabled THEN NULL	-- a closed shard, read to its end
			ELSE orders_stream.encode_iterator(arn, s.shard_id, coalesce(last_seq, pos), false)
		END);
END
$$;

CREATE VIEW orders_stream.stream_status AS
SELECT s.stream_arn,
	   s.table_name,
	   s.view_type,
	   CASE WHEN s.disabled_at IS NULL THEN 'ENABLED' ELSE 'DISABLED' END AS stream_status,
	   slot.slot_name,
	   slot.active AS capture_running,
	   pg_wal_lsn_diff(pg_current_wal_lsn(), slot.confirmed_flush_lsn) AS capture_lag_bytes,
	   CASE WHEN pg_wal_lsn_diff(pg_current_wal_lsn(), slot.confirmed_flush_lsn) <= 0 THEN 0
			ELSE extract(epoch FROM now() - coalesce(p.updated_at, s.created_at)) END AS capture_lag_seconds,
	   (SELECT count(*) FROM orders_stream.records r
		 WHERE r.stream_id = s.stream_id
		   AND r.captured_at >= now() - orders_stream.retention_interval()) AS records_retained,
	   (SELECT extract(epoch FROM now() - min(r.captured_at)) FROM orders_stream.records r
		 WHERE r.stream_id = s.stream_id
		   AND r.captured_at >= now() - orders_stream.retention_interval()) AS oldest_record_age_seconds,
	   (SELECT count(*) FROM orders_stream.partitions) AS partitions
  FROM orders_stream.streams s
  LEFT JOIN pg_replication_slots slot ON slot.slot_name = 'orders_stream_' || (SELECT oid FROM pg_database WHERE datname = current_database())
  CROSS JOIN orders_stream.capture_progress p;

GRANT SELECT ON orders_stream.stream_status TO PUBLIC;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA orders_stream FROM PUBLIC;
GRANT USAGE ON SCHEMA orders_stream TO PUBLIC;
GRANT EXECUTE ON FUNCTION orders_stream.enable_stream(regclass, text, name[]),
	orders_stream.disable_stream(regclass),
	orders_stream.list_streams(),
	orders_stream.describe_stream(text),
	orders_stream.sequence_number(pg_lsn, bigint),
	orders_stream.truncate_guard(),
	orders_stream.retention_interval(),
	orders_stream.stream_relid(bigint),
	orders_stream.stream_for_read(text),
	orders_stream.trim_point(bigint),
	orders_stream.check_stream_readable(text, oid),
	orders_stream.encode_iterator(text, text, text, boolean),
	orders_stream.get_shard_iterator(text, text, text, text),
	orders_stream.get_records(text, integer),
	orders_stream.wait_for_slot(interval),
	orders_stream.wait_for_capture(interval)
	TO PUBLIC;

/* Start the capture worker now: it creates the slot once this transaction commits. */
SELECT orders_stream.launch_capture();
