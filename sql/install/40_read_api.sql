/* ---- DynamoDB Streams read API: every function here runs as its caller ---- */

/*
 * Every stream, with what a caller may know of it: all of it for the streams
 * of tables it may read (SELECT, and no row-level security in its way), only
 * the ARN otherwise (enough to answer AccessDeniedException rather than
 * ResourceNotFoundException).  The view reads the catalog as its owner;
 * the functions in it run as the caller.  security_barrier: a caller's leaky
 * function never sees the rows or columns the view hides.
 */
CREATE VIEW orders_stream.readable_streams WITH (security_barrier) AS
SELECT s.stream_arn,
	   v.readable,
	   CASE WHEN v.readable THEN s.stream_id END AS stream_id,
	   CASE WHEN v.readable THEN s.relid END AS relid,
	   CASE WHEN v.readable THEN s.table_name END AS table_name,
	   CASE WHEN v.readable THEN s.view_type END AS view_type,
	   CASE WHEN v.readable THEN s.stream_label END AS stream_label,
	   CASE WHEN v.readable THEN s.shard_id END AS shard_id,
	   CASE WHEN v.readable THEN s.key_columns END AS key_columns,
	   CASE WHEN v.readable THEN s.start_lsn END AS start_lsn,
	   CASE WHEN v.readable THEN s.created_at END AS created_at,
	   CASE WHEN v.readable THEN s.disabled_at IS NULL END AS enabled,
	   /* the newest SequenceNumber of the stream that retention has removed, or '' */
	   CASE WHEN v.readable THEN
		   GREATEST(
			   (SELECT t.trimmed_through FROM orders_stream.stream_trim t
				 WHERE t.stream_id OPERATOR(pg_catalog.=) s.stream_id),
			   (SELECT pg_catalog.max(r.sequence_number) FROM orders_stream.records r
				 WHERE r.stream_id OPERATOR(pg_catalog.=) s.stream_id
				   AND r.captured_at OPERATOR(pg_catalog.<) (pg_catalog.now()
					   OPERATOR(pg_catalog.-) pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)),
			   '') END AS trim_point
  FROM orders_stream.streams s,
	   LATERAL (SELECT CASE WHEN pg_catalog.has_table_privilege(s.relid, 'SELECT') IS TRUE
							THEN NOT pg_catalog.row_security_active(s.relid::pg_catalog.regclass)
							ELSE false END AS readable) v;
GRANT SELECT ON orders_stream.readable_streams TO PUBLIC;

CREATE FUNCTION orders_stream.list_streams(
	OUT "StreamArn" text, OUT "TableName" text, OUT "StreamLabel" text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.stream_arn, s.table_name, s.stream_label
	  FROM orders_stream.readable_streams s
	 WHERE s.readable
	 ORDER BY s.created_at, s.stream_id;
END;

COMMENT ON FUNCTION orders_stream.list_streams() IS
'Streams of this database whose tables you may read, enabled and disabled (DynamoDB ListStreams)';

CREATE FUNCTION orders_stream.describe_stream(stream_arn text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s orders_stream.readable_streams;
BEGIN
	SELECT * INTO s FROM orders_stream.readable_streams r
	 WHERE r.stream_arn OPERATOR(pg_catalog.=) describe_stream.stream_arn;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', stream_arn
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.list_streams() shows the stream ARNs of this database.';
	END IF;
	IF NOT s.readable THEN
		RAISE EXCEPTION 'AccessDeniedException: permission denied to read stream "%"', stream_arn
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'Reading a stream requires SELECT on its table, and bypassing its row-level security if it has any.',
				  HINT = 'Ask the table''s owner for GRANT SELECT; read a table with row-level security as its owner or a BYPASSRLS role.';
	END IF;
	RETURN jsonb_build_object('StreamDescription', jsonb_build_object(
		'StreamArn', s.stream_arn,
		'StreamLabel', s.stream_label,
		'StreamStatus', CASE WHEN s.enabled THEN 'ENABLED' ELSE 'DISABLED' END,
		'StreamViewType', s.view_type,
		'CreationRequestDateTime', extract(epoch FROM s.created_at),
		'TableName', s.table_name,
		'KeySchema', (SELECT jsonb_agg(jsonb_build_object(
							'AttributeName', k.name,
							'KeyType', CASE WHEN k.ord OPERATOR(pg_catalog.=) 1 THEN 'HASH' ELSE 'RANGE' END)
						ORDER BY k.ord)
					  FROM unnest(s.key_columns) WITH ORDINALITY AS k(name, ord)),
		'Shards', jsonb_build_array(jsonb_build_object(
			'ShardId', s.shard_id,
			'SequenceNumberRange', jsonb_build_object(
				'StartingSequenceNumber', orders_stream.sequence_number(s.start_lsn))))));
END
$$;

COMMENT ON FUNCTION orders_stream.describe_stream(text) IS
'The DescribeStream response of a stream ARN: {"StreamDescription": {...}}; raises ResourceNotFoundException or AccessDeniedException';

CREATE POLICY records_of_readable_streams ON orders_stream.records FOR SELECT
	USING (stream_id OPERATOR(pg_catalog.=) ANY (ARRAY(
			   SELECT rs.stream_id FROM orders_stream.readable_streams rs WHERE rs.readable))
		   AND captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
			   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval));

/*
 * A shard iterator is "<stream ARN>|<base64 of {s: shard, p: position,
 * i: inclusive, t: issued (ms), c: closing LSN}>".  The ARN may hold any
 * character of a table name, '|' too: the payload is what follows the last
 * '|', as base64 has none.  Every field of a presented iterator is checked;
 * a forged one is a ValidationException, or expires like a real one.
 */
CREATE FUNCTION orders_stream.get_shard_iterator(stream_arn text, shard_id text,
	shard_iterator_type text, sequence_number text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s			orders_stream.readable_streams;
	pos			text;
	inclusive	boolean := false;
BEGIN
	IF stream_arn IS NULL OR shard_id IS NULL OR shard_iterator_type IS NULL THEN
		RAISE EXCEPTION 'ValidationException: StreamArn, ShardId and ShardIteratorType are required'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass all three, e.g. get_shard_iterator(arn, shard_id, ''TRIM_HORIZON'').';
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r
	 WHERE r.stream_arn OPERATOR(pg_catalog.=) get_shard_iterator.stream_arn AND r.readable;
	IF NOT FOUND THEN
		/* raises ResourceNotFoundException or AccessDeniedException */
		PERFORM orders_stream.describe_stream(stream_arn);
	END IF;
	IF s.shard_id OPERATOR(pg_catalog.<>) get_shard_iterator.shard_id THEN
		RAISE EXCEPTION 'ResourceNotFoundException: shard "%" does not exist in stream "%"', shard_id, stream_arn
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.describe_stream(arn) lists the shards of a stream.';
	END IF;
	CASE shard_iterator_type
		WHEN 'TRIM_HORIZON' THEN
			pos := '';
		WHEN 'LATEST' THEN
			pos := orders_stream.sequence_number(pg_catalog.pg_current_wal_insert_lsn(), 0);
		WHEN 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER' THEN
			IF sequence_number IS NULL OR sequence_number OPERATOR(pg_catalog.!~) '^\d{30}$' THEN
				RAISE EXCEPTION 'ValidationException: % needs a SequenceNumber of this stream, got %',
					shard_iterator_type, COALESCE(pg_catalog.quote_literal(sequence_number), 'NULL')
					USING ERRCODE = 'invalid_parameter_value',
						  HINT = 'Pass the SequenceNumber of a record (30 digits).';
			END IF;
			pos := sequence_number;
			inclusive := shard_iterator_type OPERATOR(pg_catalog.=) 'AT_SEQUENCE_NUMBER';
			IF pos OPERATOR(pg_catalog.<) s.trim_point
			   OR (inclusive AND pos OPERATOR(pg_catalog.=) s.trim_point) THEN
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
	RETURN stream_arn OPERATOR(pg_catalog.||) '|' OPERATOR(pg_catalog.||) pg_catalog.translate(pg_catalog.encode(pg_catalog.convert_to(
		pg_catalog.jsonb_build_object('s', s.shard_id, 'p', pos, 'i', inclusive,
			't', pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.clock_timestamp()) OPERATOR(pg_catalog.*) 1000)::bigint)::text,
		'UTF8'), 'base64'), E'\n', '');
END
$$;

COMMENT ON FUNCTION orders_stream.get_shard_iterator(text, text, text, text) IS
'DynamoDB GetShardIterator: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER; valid for 15 minutes';

CREATE FUNCTION orders_stream.get_records(shard_iterator text, "limit" integer DEFAULT 1000)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts		text[] := regexp_match(shard_iterator, '^(.+)\|([A-Za-z0-9+/=]+)$');
	arn			text := parts[1];
	it			jsonb;
	issued		numeric;
	now_ms		numeric := floor(extract(epoch FROM clock_timestamp()) * 1000);
	s			orders_stream.readable_streams;
	pos			text;
	inclusive	boolean;
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
	/* every field, of the right type and shape, or the iterator is invalid */
	BEGIN
		it := convert_from(decode(parts[2], 'base64'), 'UTF8')::jsonb;
		IF jsonb_typeof(it) IS DISTINCT FROM 'object'
		   OR jsonb_typeof(it->'s') IS DISTINCT FROM 'string'
		   OR jsonb_typeof(it->'p') IS DISTINCT FROM 'string' OR it->>'p' !~ '^(\d{30})?$'
		   OR jsonb_typeof(it->'t') IS DISTINCT FROM 'number'
		   OR jsonb_typeof(coalesce(it->'i', 'false')) IS DISTINCT FROM 'boolean'
		   OR jsonb_typeof(coalesce(it->'c', '""')) IS DISTINCT FROM 'string' THEN
			it := NULL;
		END IF;
		issued := (it->>'t')::numeric;
		closed_at := (it->>'c')::pg_lsn;
		inclusive := coalesce((it->>'i')::boolean, false);
	EXCEPTION WHEN data_exception THEN
		it := NULL;
	END;
	IF parts IS NULL OR it IS NULL OR issued IS NULL OR issued <> trunc(issued)
	   OR issued > now_ms + 60 * 1000 THEN
		RAISE EXCEPTION 'ValidationException: invalid shard iterator'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Get one from orders_stream.get_shard_iterator().';
	END IF;
	IF issued < now_ms - 15 * 60 * 1000 THEN
		RAISE EXCEPTION 'ExpiredIteratorException: the shard iterator has expired'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Shard iterators are valid for 15 minutes.',
				  HINT = 'Get a new one with orders_stream.get_shard_iterator(), from the last SequenceNumber read.';
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = arn AND r.readable;
	IF NOT FOUND THEN
		PERFORM orders_stream.describe_stream(arn);
	END IF;
	IF s.shard_id <> it->>'s' THEN
		RAISE EXCEPTION 'ResourceNotFoundException: shard "%" does not exist in stream "%"', it->>'s', arn
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.describe_stream(arn) lists the shards of a stream.';
	END IF;

	pos := it->>'p';
	IF pos <> '' AND pos < s.trim_point THEN
		RAISE EXCEPTION 'TrimmedDataAccessException: the shard iterator points before the trim horizon of stream "%"', arn
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = 'Records are kept for orders_stream.retention, then trimmed.',
				  HINT = 'Start again from TRIM_HORIZON.';
	END IF;
	pos := greatest(pos, s.trim_point);

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
			   AND rr.captured_at >= now() - current_setting('orders_stream.retention')::interval
			   AND (rr.sequence_number > pos OR (inclusive AND rr.sequence_number = pos))
			 ORDER BY rr.sequence_number
			 LIMIT "limit") r;

	IF n = 0 AND NOT s.enabled THEN
		/*
		 * A disabled stream, read to its end.  Changes committed before
		 * disable_stream may still be on their way to the stream: the shard
		 * is closed (NextShardIterator null) only once capture has confirmed
		 * a WAL position taken after the disable was visible.  The first
		 * empty read takes that position and carries it in the iterator
		 * ("c").  Only under READ COMMITTED is "confirmed before the records
		 * were read" also "stored before the snapshot that read them".
		 */
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
	ELSE
		closed_at := NULL;
	END IF;
	RETURN jsonb_build_object(
		'Records', result,
		'NextShardIterator',
		arn || '|' || translate(encode(convert_to(jsonb_strip_nulls(jsonb_build_object(
			's', s.shard_id, 'p', coalesce(last_seq, pos), 'i', false, 'c', closed_at::text,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint))::text, 'UTF8'), 'base64'), E'\n', ''));
END
$$;

COMMENT ON FUNCTION orders_stream.get_records(text, integer) IS
'DynamoDB GetRecords: {"Records": [...], "NextShardIterator": ...}; NextShardIterator is null at the end of a closed shard';

/* Capture health per stream, for the streams the caller may read. */
CREATE VIEW orders_stream.stream_status WITH (security_barrier) AS
SELECT s.stream_arn,
	   s.table_name,
	   s.view_type,
	   CASE WHEN s.enabled THEN 'ENABLED' ELSE 'DISABLED' END AS stream_status,
	   slot.slot_name,
	   slot.active AS capture_running,
	   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), slot.confirmed_flush_lsn) AS capture_lag_bytes,
	   CASE WHEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), slot.confirmed_flush_lsn) OPERATOR(pg_catalog.<=) 0 THEN 0
			ELSE EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) COALESCE(p.updated_at, s.created_at)) END
		   AS capture_lag_seconds,
	   (SELECT pg_catalog.count(*) FROM orders_stream.records r
		 WHERE r.stream_id OPERATOR(pg_catalog.=) s.stream_id
		   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
			   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)) AS records_retained,
	   (SELECT EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.min(r.captured_at))
		  FROM orders_stream.records r
		 WHERE r.stream_id OPERATOR(pg_catalog.=) s.stream_id
		   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
			   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)) AS oldest_record_age_seconds,
	   (SELECT pg_catalog.count(*) FROM orders_stream.partitions) AS partitions,
	   /* records stored incomplete (see orders_stream.max_record_size) */
	   (SELECT pg_catalog.count(*) FROM orders_stream.capture_exceptions x
		 WHERE x.stream_id OPERATOR(pg_catalog.=) s.stream_id) AS capture_exceptions
  FROM orders_stream.readable_streams s
  LEFT JOIN pg_catalog.pg_replication_slots slot
	ON slot.slot_name OPERATOR(pg_catalog.=) (
		SELECT pg_catalog.format('orders_stream_%s_%s', d.oid, e.oid)
		  FROM pg_catalog.pg_database d, pg_catalog.pg_extension e
		 WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database()
		   AND e.extname OPERATOR(pg_catalog.=) 'orders_stream')
  CROSS JOIN orders_stream.capture_progress p
 WHERE s.readable;

GRANT SELECT ON orders_stream.stream_status TO PUBLIC;
