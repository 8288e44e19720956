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

