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

/* AWS event filtering, for event source mappings' filter_criteria */
CREATE FUNCTION orders_stream.filter_matches(record jsonb, filter_criteria jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_filter_matches'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION orders_stream.filter_matches(jsonb, jsonb) IS
'Whether a stream record matches any pattern of {"Filters": [{"Pattern": "..."}]}, as AWS event filtering';

CREATE FUNCTION orders_stream.check_filter_criteria(filter_criteria jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_check_filter_criteria'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

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

/*
 * No SET clause, so that the planner inlines it: readers filter every row
 * on it, and a SET clause costs a GUC save and restore per call.  Names are
 * qualified instead.
 */
CREATE FUNCTION orders_stream.retention_interval()
RETURNS interval
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval $$;

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
		EXECUTE format('CREATE TABLE orders_stream.%I PARTITION OF orders_stream.records FOR VALUES FROM (%L) TO (%L)',
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
 * Creating or dropping a partition locks orders_stream.records in ACCESS
 * EXCLUSIVE mode.  The capture worker runs this between its passes: waiting
 * there for a reader's open transaction would stop capture, and queue every
 * other reader behind the lock request, for as long as that transaction
 * lasts.  So it gives up after lock_timeout and leaves the work to the next
 * run (expired records are invisible meanwhile); and it creates partitions
 * far enough ahead (30 s, three of the worker's runs, or two intervals) that
 * the worker seldom has to create the one it stores into.
 */
CREATE FUNCTION orders_stream.maintain_partitions()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	ahead		integer := greatest(2, ceil(30 / extract(epoch FROM span))::integer);
	cutoff		timestamptz := now() - orders_stream.retention_interval();
	p			record;
	s			record;
	newest		text;
	dropped		integer := 0;
BEGIN
	BEGIN
		PERFORM orders_stream.ensure_partition(now() + span * i) FROM generate_series(0, ahead) AS i;
	EXCEPTION WHEN lock_not_available THEN
		RAISE LOG 'orders_stream.records is in use: stream partitions not created ahead this time';
	END;
	FOR p IN SELECT * FROM orders_stream.partitions WHERE upper_bound <= cutoff ORDER BY lower_bound LOOP
		BEGIN
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
		EXCEPTION
			WHEN lock_not_available THEN
				RAISE LOG 'orders_stream.records is in use: expired stream partition % not dropped this time',
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
	confirmed	pg_lsn;
	closed_at	pg_lsn;
	page_off	numeric;
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

	/*
	 * Where capture stands, read before the records (it confirms a position
	 * only once everything before it is stored and committed): see below.
	 */
	IF NOT s.enabled THEN
		SELECT sl.confirmed_flush_lsn INTO confirmed
		  FROM pg_replication_slots sl
		 WHERE sl.slot_name = (SELECT format('orders_stream_%s_%s', d.oid, e.oid)
								 FROM pg_database d, pg_extension e
								WHERE d.datname = current_database() AND e.extname = 'orders_stream');
	END IF;

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

	IF n > 0 OR s.enabled THEN
		RETURN jsonb_build_object(
			'Records', result,
			'NextShardIterator', orders_stream.encode_iterator(arn, s.shard_id, coalesce(last_seq, pos), false));
	END IF;

	/*
	 * A disabled stream, read to its end.  Changes committed before
	 * disable_stream may still be on their way to the stream: the shard is
	 * closed (NextShardIterator null) only once capture has confirmed a WAL
	 * position taken after the disable was visible.  The first empty read
	 * takes that position and carries it in the iterator ("c").  Only under
	 * READ COMMITTED is "confirmed before the records were read" also
	 * "stored before the snapshot that read them".
	 */
	closed_at := (it->>'c')::pg_lsn;
	IF closed_at IS NULL THEN
		closed_at := CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
						  ELSE pg_current_wal_insert_lsn() END;
		/* just past a page header: the last record ended at the page boundary */
		page_off := (closed_at - '0/0'::pg_lsn) % current_setting('wal_block_size')::numeric;
		IF page_off IN (24, 40) THEN
			closed_at := closed_at - page_off;
		END IF;
	END IF;
	IF confirmed >= closed_at AND current_setting('transaction_isolation') = 'read committed' THEN
		RETURN jsonb_build_object('Records', result, 'NextShardIterator', NULL);
	END IF;
	RETURN jsonb_build_object(
		'Records', result,
		'NextShardIterator',
		arn || '|' || translate(encode(convert_to(jsonb_build_object(
			's', s.shard_id, 'p', pos, 'i', false, 'c', closed_at::text,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text, 'UTF8'), 'base64'), E'\n', ''));
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
  LEFT JOIN pg_replication_slots slot
	ON slot.slot_name = (SELECT format('orders_stream_%s_%s', d.oid, e.oid)
						   FROM pg_database d, pg_extension e
						  WHERE d.datname = current_database() AND e.extname = 'orders_stream')
  CROSS JOIN orders_stream.capture_progress p
 -- only the streams of tables the caller may read
 WHERE coalesce(has_table_privilege(s.relid, 'SELECT'), false);

GRANT SELECT ON orders_stream.stream_status TO PUBLIC;

/*
 * Partitions created or attached after enable_stream need what enable_stream
 * gave the others: REPLICA IDENTITY FULL and the TRUNCATE guard.  A dropped
 * table's stream is disabled, as DynamoDB disables the stream of a deleted
 * table.
 */
CREATE FUNCTION orders_stream.streamed_root(relid oid)
RETURNS boolean
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM orders_stream.streams s
					WHERE s.relid = streamed_root.relid AND s.disabled_at IS NULL)
$$;

CREATE FUNCTION orders_stream.on_table_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cmd		record;
	root	regclass;
	part	regclass;
BEGIN
	FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
		root := pg_partition_root(cmd.objid);
		CONTINUE WHEN root IS NULL OR NOT orders_stream.streamed_root(root);
		-- each statement below fires this trigger again; the conditions end it
		FOR part IN SELECT t.relid FROM pg_partition_tree(root) t JOIN pg_class c ON c.oid = t.relid
					 WHERE c.relreplident <> 'f' LOOP
			EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', part);
		END LOOP;
		FOR part IN SELECT t.relid FROM pg_partition_tree(root) t
					 WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g
										WHERE g.tgrelid = t.relid AND g.tgname = 'orders_stream_truncate_guard') LOOP
			EXECUTE format('CREATE TRIGGER orders_stream_truncate_guard BEFORE TRUNCATE ON %s '
						   'FOR EACH STATEMENT EXECUTE FUNCTION orders_stream.truncate_guard()', part);
		END LOOP;
	END LOOP;
END
$$;

CREATE EVENT TRIGGER orders_stream_partitions ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION orders_stream.on_table_ddl();

CREATE FUNCTION orders_stream.disable_dropped_streams(relids oid[])
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE orders_stream.streams SET disabled_at = now()
	 WHERE relid = ANY (relids) AND disabled_at IS NULL
$$;

CREATE FUNCTION orders_stream.on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream.disable_dropped_streams(array_agg(objid))
	   FROM pg_event_trigger_dropped_objects()
	  WHERE object_type = 'table' AND NOT is_temporary;
END
$$;

CREATE EVENT TRIGGER orders_stream_dropped_tables ON sql_drop
	WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION orders_stream.on_sql_drop();

/* ---- Event source mappings: delivering the stream to aggregator functions ---- */

/*
 * One row per mapping: its configuration (AWS's parameters) and its delivery
 * state, which the delivery worker updates in the same transaction as the
 * function's effects.  Roles see and change only their own mappings (row
 * level security); the delivery state columns are the worker's alone.
 */
CREATE TABLE orders_stream.event_source_mappings (
	uuid		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	stream_id	bigint NOT NULL,
	event_source_arn text NOT NULL,
	function_oid oid NOT NULL,
	function_name text NOT NULL,
	owner_oid	oid NOT NULL,
	search_path text NOT NULL,
	/* the ranges of check_range(), also for direct INSERTs and UPDATEs */
	batch_size	integer NOT NULL CHECK (batch_size BETWEEN 1 AND 10000),
	maximum_batching_window_in_seconds integer NOT NULL
		CHECK (maximum_batching_window_in_seconds BETWEEN 0 AND 300),
	starting_position text NOT NULL CHECK (starting_position IN ('TRIM_HORIZON', 'LATEST')),
	bisect_batch_on_function_error boolean NOT NULL,
	maximum_retry_attempts integer NOT NULL CHECK (maximum_retry_attempts BETWEEN -1 AND 10000),
	maximum_record_age_in_seconds integer NOT NULL
		CHECK (maximum_record_age_in_seconds = -1 OR maximum_record_age_in_seconds BETWEEN 60 AND 604800),
	parallelization_factor integer NOT NULL CHECK (parallelization_factor BETWEEN 1 AND 10),
	filter_criteria jsonb,
	function_response_types text[] NOT NULL
		CHECK (function_response_types <@ ARRAY['ReportBatchItemFailures']),
	enabled		boolean NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_modified timestamptz NOT NULL DEFAULT now(),
	checkpoint	text COLLATE "C" NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz,
	bisect_stack text[] COLLATE "C" NOT NULL DEFAULT '{}',
	invocations bigint NOT NULL DEFAULT 0,
	errors		bigint NOT NULL DEFAULT 0,
	retries		bigint NOT NULL DEFAULT 0,
	failures	bigint NOT NULL DEFAULT 0,
	records_processed bigint NOT NULL DEFAULT 0,
	last_error	text,
	last_processing_result text NOT NULL DEFAULT 'No records processed',
	last_invoked_at timestamptz
);

ALTER TABLE orders_stream.event_source_mappings ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mappings ON orders_stream.event_source_mappings
	USING (pg_has_role(owner_oid, 'USAGE'))
	WITH CHECK (owner_oid = (SELECT oid FROM pg_roles WHERE rolname = current_user));
REVOKE ALL ON orders_stream.event_source_mappings FROM PUBLIC;
GRANT SELECT, DELETE ON orders_stream.event_source_mappings TO PUBLIC;
GRANT INSERT, UPDATE (function_oid, function_name, batch_size, maximum_batching_window_in_seconds,
	bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds,
	parallelization_factor, function_response_types, enabled, filter_criteria, last_modified)
	ON orders_stream.event_source_mappings TO PUBLIC;
GRANT INSERT (uuid, stream_id, event_source_arn, owner_oid, search_path, starting_position, checkpoint)
	ON orders_stream.event_source_mappings TO PUBLIC;

/* The on-failure destination: one row per batch given up on. */
CREATE TABLE orders_stream.failures (
	failure_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mapping_uuid uuid NOT NULL,
	owner_oid	oid NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	condition	text NOT NULL,
	payload		jsonb NOT NULL,
	records		jsonb NOT NULL,
	sqlstate	text,
	message		text,
	detail		text,
	hint		text,
	context		text,
	redriven_at timestamptz,
	redrive_result text
);
CREATE INDEX failures_mapping ON orders_stream.failures (mapping_uuid);

ALTER TABLE orders_stream.failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_failures ON orders_stream.failures USING (pg_has_role(owner_oid, 'USAGE'));
REVOKE ALL ON orders_stream.failures FROM PUBLIC;
GRANT SELECT, DELETE ON orders_stream.failures TO PUBLIC;
-- redrive_failures() locks the rows it replays
GRANT UPDATE (redriven_at, redrive_result) ON orders_stream.failures TO PUBLIC;

/*
 * The enabled stream of a table, or the stream of an ARN, for a mapping.
 * The caller resolves a table name with its own search_path (tbl).
 */
CREATE FUNCTION orders_stream.resolve_event_source(event_source text, tbl regclass,
	OUT stream_id bigint, OUT stream_arn text, OUT relid oid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF event_source LIKE 'arn:%' THEN
		SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
		  FROM orders_stream.streams s WHERE s.stream_arn = event_source;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', event_source
				USING ERRCODE = 'undefined_object',
					  HINT = 'orders_stream.list_streams() shows the stream ARNs of this database.';
		END IF;
		RETURN;
	END IF;
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'InvalidParameterValueException: event_source "%" is neither a table nor a stream ARN', event_source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a table with an enabled stream, or a stream ARN from orders_stream.list_streams().';
	END IF;
	SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
	  FROM orders_stream.streams s WHERE s.relid = tbl AND s.disabled_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'InvalidParameterValueException: table "%" has no enabled stream', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = format('Enable one first: SELECT orders_stream.enable_stream(%L, ''NEW_IMAGE'');', tbl::text);
	END IF;
END
$$;

/* Checks one parameter against its AWS range. */
CREATE FUNCTION orders_stream.check_range(name text, value integer, low integer, high integer,
										  also_allowed integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL OR ((value < low OR value > high) AND value IS DISTINCT FROM also_allowed) THEN
		RAISE EXCEPTION 'InvalidParameterValueException: % must be %between % and %, got %',
			name, CASE WHEN also_allowed IS NULL THEN '' ELSE also_allowed || ' or ' END,
			low, high, coalesce(value::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The ranges are AWS Lambda''s for DynamoDB event sources.';
	END IF;
END
$$;

CREATE FUNCTION orders_stream.check_function(function_name regprocedure)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p pg_proc;
BEGIN
	SELECT * INTO p FROM pg_proc WHERE oid = function_name;
	IF p.pronargs <> 1 OR p.proargtypes[0] <> 'jsonb'::regtype OR p.proretset OR p.prokind <> 'f' THEN
		RAISE EXCEPTION 'InvalidParameterValueException: function % cannot be an event source mapping target', function_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'It must take exactly one jsonb argument (the event {"Records": [...]}) and return a single value.',
				  HINT = 'Declare it as FUNCTION f(event jsonb) RETURNS jsonb (or void).';
	END IF;
	IF NOT has_function_privilege(function_name, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', function_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'The role creating a mapping must be allowed to execute its function.';
	END IF;
END
$$;

CREATE FUNCTION orders_stream.check_response_types(types text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF types IS NULL OR NOT types <@ ARRAY['ReportBatchItemFailures'] THEN
		RAISE EXCEPTION 'InvalidParameterValueException: function_response_types must be empty or {ReportBatchItemFailures}, got %', types
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'ReportBatchItemFailures is the only response type of stream event sources.';
	END IF;
END
$$;

/*
 * FilterCriteria as stored: NULL for none ({} or no filters, which is how
 * AWS removes them), otherwise checked pattern by pattern.
 */
CREATE FUNCTION orders_stream.normalize_filter_criteria(criteria jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF criteria IS NULL OR criteria = '{}'::jsonb OR criteria->'Filters' = '[]'::jsonb THEN
		RETURN NULL;
	END IF;
	PERFORM orders_stream.check_filter_criteria(criteria);
	RETURN criteria;
END
$$;

/* AWS's EventSourceMappingConfiguration of a mapping row. */
CREATE FUNCTION orders_stream.mapping_configuration(m orders_stream.event_source_mappings)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
		'UUID', m.uuid,
		'EventSourceArn', m.event_source_arn,
		'FunctionArn', format('arn:aws:lambda:%s:%s:function:%s',
							  current_setting('orders_stream.region'),
							  current_setting('orders_stream.account_id'), m.function_oid::regproc),
		'BatchSize', m.batch_size,
		'MaximumBatchingWindowInSeconds', m.maximum_batching_window_in_seconds,
		'StartingPosition', m.starting_position,
		'BisectBatchOnFunctionError', m.bisect_batch_on_function_error,
		'MaximumRetryAttempts', m.maximum_retry_attempts,
		'MaximumRecordAgeInSeconds', m.maximum_record_age_in_seconds,
		'ParallelizationFactor', m.parallelization_factor,
		'FunctionResponseTypes', to_jsonb(m.function_response_types),
		'DestinationConfig', jsonb_build_object('OnFailure',
			jsonb_build_object('Destination', 'orders_stream.failures')),
		'State', CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END,
		'StateTransitionReason', 'USER_INITIATED',
		'LastModified', extract(epoch FROM m.last_modified),
		'LastProcessingResult', m.last_processing_result)
		|| CASE WHEN m.filter_criteria IS NULL THEN '{}'::jsonb
				ELSE jsonb_build_object('FilterCriteria', m.filter_criteria) END
$$;

CREATE FUNCTION orders_stream.create_event_source_mapping(
	event_source text,
	function_name regprocedure,
	batch_size integer DEFAULT 100,
	starting_position text DEFAULT NULL,
	bisect_batch_on_function_error boolean DEFAULT false,
	maximum_retry_attempts integer DEFAULT -1,
	maximum_record_age_in_seconds integer DEFAULT -1,
	maximum_batching_window_in_seconds integer DEFAULT 0,
	function_response_types text[] DEFAULT '{}',
	enabled boolean DEFAULT true,
	parallelization_factor integer DEFAULT 1,
	filter_criteria jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	src record;
	id uuid := gen_random_uuid();
BEGIN
	IF event_source IS NULL OR function_name IS NULL THEN
		RAISE EXCEPTION 'InvalidParameterValueException: event_source and function_name are required'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass the streamed table (or its stream ARN) and the aggregator function.';
	END IF;
	src := orders_stream.resolve_event_source(event_source,
		CASE WHEN event_source LIKE 'arn:%' THEN NULL ELSE to_regclass(event_source) END);
	IF NOT coalesce(has_table_privilege(src.relid, 'SELECT'), false) THEN
		RAISE EXCEPTION 'AccessDeniedException: permission denied to read stream "%"', src.stream_arn
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A mapping reads the stream as its creator, who needs SELECT on the table.';
	END IF;
	PERFORM orders_stream.check_function(function_name);
	PERFORM orders_stream.check_range('batch_size', batch_size, 1, 10000);
	PERFORM orders_stream.check_range('maximum_batching_window_in_seconds', maximum_batching_window_in_seconds, 0, 300);
	PERFORM orders_stream.check_range('maximum_retry_attempts', maximum_retry_attempts, -1, 10000);
	PERFORM orders_stream.check_range('maximum_record_age_in_seconds', maximum_record_age_in_seconds, 60, 604800, -1);
	PERFORM orders_stream.check_range('parallelization_factor', parallelization_factor, 1, 10);
	PERFORM orders_stream.check_response_types(function_response_types);
	filter_criteria := orders_stream.normalize_filter_criteria(filter_criteria);
	IF starting_position IS NULL OR starting_position NOT IN ('TRIM_HORIZON', 'LATEST') THEN
		RAISE EXCEPTION 'InvalidParameterValueException: starting_position must be TRIM_HORIZON or LATEST, got %',
			coalesce(starting_position, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'DynamoDB event sources need a starting position, as in CDK''s startingPosition.';
	END IF;
	IF enabled IS NULL OR bisect_batch_on_function_error IS NULL THEN
		RAISE EXCEPTION 'InvalidParameterValueException: enabled and bisect_batch_on_function_error must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true or false.';
	END IF;

	INSERT INTO orders_stream.event_source_mappings
		(uuid, stream_id, event_source_arn, function_oid, function_name, owner_oid, search_path,
		 batch_size, maximum_batching_window_in_seconds, starting_position,
		 bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds,
		 parallelization_factor, function_response_types, enabled, filter_criteria, checkpoint)
	VALUES (id, src.stream_id, src.stream_arn, function_name, function_name::text,
			(SELECT oid FROM pg_roles WHERE rolname = current_user),
			current_setting('search_path'),
			batch_size, maximum_batching_window_in_seconds, starting_position,
			bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds,
			parallelization_factor, function_response_types, enabled, filter_criteria,
			CASE starting_position WHEN 'LATEST'
				THEN orders_stream.sequence_number(pg_current_wal_insert_lsn(), 0) ELSE '' END);
	PERFORM orders_stream.launch_workers();
	RETURN id;
END
$$;

COMMENT ON FUNCTION orders_stream.create_event_source_mapping(text, regprocedure, integer, text, boolean, integer, integer, integer, text[], boolean, integer, jsonb) IS
'Delivers a stream in batches to a function taking the Lambda event (jsonb), like an AWS Lambda event source mapping; returns its UUID';

CREATE FUNCTION orders_stream.mapping_for_change(mapping uuid)
RETURNS orders_stream.event_source_mappings
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings;
BEGIN
	SELECT * INTO m FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ResourceNotFoundException: event source mapping % does not exist', coalesce(mapping::text, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.list_event_source_mappings() lists the mappings you own.';
	END IF;
	RETURN m;
END
$$;

CREATE FUNCTION orders_stream.update_event_source_mapping(
	mapping uuid,
	function_name regprocedure DEFAULT NULL,
	batch_size integer DEFAULT NULL,
	bisect_batch_on_function_error boolean DEFAULT NULL,
	maximum_retry_attempts integer DEFAULT NULL,
	maximum_record_age_in_seconds integer DEFAULT NULL,
	maximum_batching_window_in_seconds integer DEFAULT NULL,
	function_response_types text[] DEFAULT NULL,
	enabled boolean DEFAULT NULL,
	parallelization_factor integer DEFAULT NULL,
	filter_criteria jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings := orders_stream.mapping_for_change(mapping);
BEGIN
	IF function_name IS NOT NULL THEN
		PERFORM orders_stream.check_function(function_name);
		m.function_oid := function_name;
		m.function_name := function_name::text;
	END IF;
	m.batch_size := coalesce(batch_size, m.batch_size);
	m.bisect_batch_on_function_error := coalesce(bisect_batch_on_function_error, m.bisect_batch_on_function_error);
	m.maximum_retry_attempts := coalesce(maximum_retry_attempts, m.maximum_retry_attempts);
	m.maximum_record_age_in_seconds := coalesce(maximum_record_age_in_seconds, m.maximum_record_age_in_seconds);
	m.maximum_batching_window_in_seconds := coalesce(maximum_batching_window_in_seconds, m.maximum_batching_window_in_seconds);
	m.function_response_types := coalesce(function_response_types, m.function_response_types);
	m.enabled := coalesce(enabled, m.enabled);
	m.parallelization_factor := coalesce(parallelization_factor, m.parallelization_factor);
	IF filter_criteria IS NOT NULL THEN
		m.filter_criteria := orders_stream.normalize_filter_criteria(filter_criteria);
	END IF;
	PERFORM orders_stream.check_range('batch_size', m.batch_size, 1, 10000);
	PERFORM orders_stream.check_range('maximum_batching_window_in_seconds', m.maximum_batching_window_in_seconds, 0, 300);
	PERFORM orders_stream.check_range('maximum_retry_attempts', m.maximum_retry_attempts, -1, 10000);
	PERFORM orders_stream.check_range('maximum_record_age_in_seconds', m.maximum_record_age_in_seconds, 60, 604800, -1);
	PERFORM orders_stream.check_range('parallelization_factor', m.parallelization_factor, 1, 10);
	PERFORM orders_stream.check_response_types(m.function_response_types);

	UPDATE orders_stream.event_source_mappings e SET
		function_oid = m.function_oid, function_name = m.function_name,
		batch_size = m.batch_size,
		bisect_batch_on_function_error = m.bisect_batch_on_function_error,
		maximum_retry_attempts = m.maximum_retry_attempts,
		maximum_record_age_in_seconds = m.maximum_record_age_in_seconds,
		maximum_batching_window_in_seconds = m.maximum_batching_window_in_seconds,
		function_response_types = m.function_response_types,
		enabled = m.enabled,
		parallelization_factor = m.parallelization_factor,
		filter_criteria = m.filter_criteria,
		last_modified = now()
	 WHERE e.uuid = mapping
	RETURNING * INTO m;
	PERFORM orders_stream.launch_workers();
	RETURN orders_stream.mapping_configuration(m);
END
$$;

CREATE FUNCTION orders_stream.delete_event_source_mapping(mapping uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings := orders_stream.mapping_for_change(mapping);
BEGIN
	DELETE FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
	RETURN orders_stream.mapping_configuration(m) || '{"State": "Deleting"}';
END
$$;

CREATE FUNCTION orders_stream.list_event_source_mappings(event_source text DEFAULT NULL,
														 function_name regprocedure DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	arn text;
BEGIN
	IF event_source IS NOT NULL THEN
		arn := (orders_stream.resolve_event_source(event_source,
			CASE WHEN event_source LIKE 'arn:%' THEN NULL ELSE to_regclass(event_source) END)).stream_arn;
	END IF;
	RETURN QUERY
		SELECT orders_stream.mapping_configuration(m)
		  FROM orders_stream.event_source_mappings m
		 WHERE (arn IS NULL OR m.event_source_arn = arn)
		   AND (list_event_source_mappings.function_name IS NULL
				OR m.function_oid = list_event_source_mappings.function_name)
		 ORDER BY m.created_at, m.uuid;
END
$$;

/* The newest SequenceNumber of a stream, for wait_for_mapping and the status view. */
CREATE FUNCTION orders_stream.stream_head(stream_id bigint)
RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(max(r.sequence_number), '') FROM orders_stream.records r
	 WHERE r.stream_id = stream_head.stream_id
$$;

/* Arrival time of the oldest record a mapping has not processed yet. */
CREATE FUNCTION orders_stream.oldest_pending(stream_id bigint, checkpoint text)
RETURNS timestamptz
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.captured_at FROM orders_stream.records r
	 WHERE r.stream_id = oldest_pending.stream_id
	   AND r.sequence_number > oldest_pending.checkpoint
	   AND r.captured_at >= now() - orders_stream.retention_interval()
	 ORDER BY r.sequence_number LIMIT 1
$$;

CREATE VIEW orders_stream.event_source_mapping_status AS
SELECT m.uuid,
	   m.function_name,
	   m.event_source_arn,
	   CASE WHEN NOT m.enabled THEN 'Disabled'
			WHEN m.next_attempt_at IS NOT NULL THEN 'Retrying'
			ELSE 'Enabled' END AS state,
	   m.checkpoint AS checkpoint_sequence_number,
	   coalesce(floor(extract(epoch FROM now() - orders_stream.oldest_pending(m.stream_id, m.checkpoint)) * 1000)::bigint, 0)
		   AS iterator_age_ms,
	   m.invocations,
	   m.records_processed,
	   m.errors,
	   m.retries,
	   m.failures,
	   m.last_error,
	   m.last_processing_result,
	   m.last_invoked_at
  FROM orders_stream.event_source_mappings m
 -- the view reads as its owner, past row-level security: filter as the caller
 WHERE pg_has_role(m.owner_oid, 'USAGE');

GRANT SELECT ON orders_stream.event_source_mapping_status TO PUBLIC;

CREATE FUNCTION orders_stream.wait_for_mapping(mapping uuid, timeout interval DEFAULT '30s')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings := orders_stream.mapping_for_change(mapping);
	target text;
	deadline timestamptz := clock_timestamp() + timeout;
BEGIN
	PERFORM orders_stream.wait_for_capture(timeout);
	target := orders_stream.stream_head(m.stream_id);
	LOOP
		SELECT * INTO m FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
		IF m.checkpoint >= target THEN
			RETURN m.checkpoint;
		END IF;
		IF NOT m.enabled THEN
			RAISE EXCEPTION 'event source mapping % is disabled', mapping
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = format('Enable it: SELECT orders_stream.update_event_source_mapping(%L, enabled => true);', mapping);
		END IF;
		IF clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'event source mapping % did not reach SequenceNumber % within %', mapping, target, timeout
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('Its checkpoint is %s; last result: %s; last error: %s.',
									  nullif(m.checkpoint, ''), m.last_processing_result, m.last_error),
					  HINT = 'See orders_stream.event_source_mapping_status and orders_stream.failures.';
		END IF;
		PERFORM pg_sleep(0.005);
	END LOOP;
END
$$;

CREATE FUNCTION orders_stream.launch_workers()
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_launch_workers'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream.redrive_failures(mapping uuid DEFAULT NULL, failure_ids bigint[] DEFAULT NULL)
RETURNS TABLE (failure_id bigint, result text)
AS 'MODULE_PATHNAME', 'orders_stream_redrive_failures'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.redrive_failures(uuid, bigint[]) IS
'Invokes the mapping function again with the records of stored failures not yet redriven successfully, and records each outcome';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA orders_stream FROM PUBLIC;
GRANT USAGE ON SCHEMA orders_stream TO PUBLIC;
GRANT EXECUTE ON FUNCTION orders_stream.enable_stream(regclass, text, name[]),
	orders_stream.disable_stream(regclass),
	orders_stream.list_streams(),
	orders_stream.describe_stream(text),
	orders_stream.sequence_number(pg_lsn, bigint),
	orders_stream.filter_matches(jsonb, jsonb),
	orders_stream.check_filter_criteria(jsonb),
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
	orders_stream.wait_for_capture(interval),
	orders_stream.resolve_event_source(text, regclass),
	orders_stream.streamed_root(oid),
	orders_stream.disable_dropped_streams(oid[]),
	orders_stream.check_range(text, integer, integer, integer, integer),
	orders_stream.check_function(regprocedure),
	orders_stream.check_response_types(text[]),
	orders_stream.normalize_filter_criteria(jsonb),
	orders_stream.mapping_configuration(orders_stream.event_source_mappings),
	orders_stream.create_event_source_mapping(text, regprocedure, integer, text, boolean, integer, integer, integer, text[], boolean, integer, jsonb),
	orders_stream.mapping_for_change(uuid),
	orders_stream.update_event_source_mapping(uuid, regprocedure, integer, boolean, integer, integer, integer, text[], boolean, integer, jsonb),
	orders_stream.delete_event_source_mapping(uuid),
	orders_stream.list_event_source_mappings(text, regprocedure),
	orders_stream.stream_head(bigint),
	orders_stream.oldest_pending(bigint, text),
	orders_stream.wait_for_mapping(uuid, interval),
	orders_stream.launch_workers(),
	orders_stream.redrive_failures(uuid, bigint[])
	TO PUBLIC;

/* Start the workers now: capture creates the slot once this transaction commits. */
SELECT orders_stream.launch_workers();
