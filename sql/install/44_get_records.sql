/*
 * GetRecords' read of a page (45_streams_api.sql has the rest of the API).
 * A file of its own: the update script replaces these functions from it
 * (sql/update/1.1--1.2).
 */

/*
 * The records of a stream from a sequence key on (that key included), at
 * most "limit" of them, in order: GetRecords' read of orders_stream.records.
 * One lower bound, chosen before the query (GetRecords passes the key after
 * a position as the position's key || '\x00', the least key above it): an
 * index condition.  enable_sort off: the order comes from the index
 * (stream_id, sequence_key) of every partition, read from the key on and
 * stopped at the LIMIT, or from a sort of every later record of the
 * stream.  Which is cheaper the planner judges from the partitions'
 * statistics, and a partition not analyzed yet (maintenance analyzes one
 * within a run of its first records) has none: it may then sort, hundreds
 * of ms for a page of a large stream.  A page never wants the sort.
 * sql/read_plans.sql guards the plan.  row_security on: the records view
 * answers with an error, not records, where it is off.
 */
CREATE FUNCTION orders_stream.records_from(stream_id bigint, from_key bytea, "limit" integer DEFAULT 1000)
RETURNS SETOF orders_stream.records
LANGUAGE sql STABLE
SET enable_sort = off
SET row_security = on
BEGIN ATOMIC
	SELECT r.stream_id, r.sequence_number, r.captured_at, r.record, r.key_hash, r.sequence_key
	  FROM orders_stream.records r
	 WHERE r.stream_id OPERATOR(pg_catalog.=) records_from.stream_id
	   AND r.sequence_key OPERATOR(pg_catalog.>=) records_from.from_key
	 ORDER BY r.sequence_key
	 LIMIT records_from."limit";
END;

COMMENT ON FUNCTION orders_stream.records_from(bigint, bytea, integer) IS
'The records of orders_stream.records of one stream from a sequence key on, at most "limit", in order: an index range read';

/*
 * The records of a GetRecords page as text, comma-separated, each as the
 * records view renders it less its eventSourceARN, as records_page()
 * writes them: built as the rows come (records_page_add appends each to the
 * page, and nothing else copies it), not from an array of them.
 */
CREATE FUNCTION orders_stream_internal.records_page_add(state internal, stream_arn text, record json)
RETURNS internal
AS 'MODULE_PATHNAME', 'orders_stream_records_page_add'
LANGUAGE C;

CREATE FUNCTION orders_stream_internal.records_page_end(state internal)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_records_page_end'
LANGUAGE C;

REVOKE ALL ON FUNCTION orders_stream_internal.records_page_add(internal, text, json),
	orders_stream_internal.records_page_end(internal) FROM PUBLIC;

CREATE AGGREGATE orders_stream.records_page_agg(stream_arn text, record json) (
	SFUNC = orders_stream_internal.records_page_add,
	STYPE = internal,
	FINALFUNC = orders_stream_internal.records_page_end
);

COMMENT ON AGGREGATE orders_stream.records_page_agg(text, json) IS
'The records of orders_stream.records of one stream, in the order aggregated, as the "Records" of a GetRecords response: comma-separated, eventSourceARN cut';

/*
 * GetRecords, its response as text (what the endpoint sends) and the number
 * of records in it (what metrics count).  "GetRecords" is its jsonb.
 */
CREATE FUNCTION orders_stream.get_records_text(shard_iterator text, "limit" integer DEFAULT 1000,
	OUT response text, OUT record_count integer)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET enable_sort = off
SET plan_cache_mode = force_generic_plan
SET jit = off
SET row_security = on
AS $$
DECLARE
	parts		text[] := regexp_match(shard_iterator, '^(.+)\|([A-Za-z0-9+/=]+)$');
	arn			text := parts[1];
	n_max		integer := coalesce("limit", 1000);
	it			jsonb;
	issued		numeric;
	now_ms		numeric := floor(extract(epoch FROM clock_timestamp()) * 1000);
	s			orders_stream.readable_streams;
	m			text;
	inclusive	boolean;
	key			bytea;
	trim_key	bytea;
	records		text;
	last_seq	text;
	next		text;
BEGIN
	IF shard_iterator IS NULL THEN
		m := '1 validation error detected: Value null at ''shardIterator'' failed to satisfy constraint: Member must not be null';
	ELSIF n_max < 1 OR n_max > 1000 THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 1000', n_max);
	END IF;
	IF m IS NULL THEN
		/* every field, of the right type and shape, or the iterator is invalid */
		BEGIN
			it := convert_from(decode(parts[2], 'base64'), 'UTF8')::jsonb;
			IF jsonb_typeof(it) IS DISTINCT FROM 'object'
			   OR jsonb_typeof(it->'s') IS DISTINCT FROM 'string'
			   OR jsonb_typeof(it->'p') IS DISTINCT FROM 'string' OR it->>'p' !~ '^(\d{30})?$'
			   OR jsonb_typeof(it->'t') IS DISTINCT FROM 'number'
			   OR jsonb_typeof(coalesce(it->'i', 'false')) IS DISTINCT FROM 'boolean'
			   /* "c", the closing position of iterators of earlier versions: ignored */
			   OR jsonb_typeof(coalesce(it->'c', '""')) IS DISTINCT FROM 'string' THEN
				it := NULL;
			END IF;
			issued := (it->>'t')::numeric;
			inclusive := coalesce((it->>'i')::boolean, false);
			PERFORM (it->>'c')::pg_lsn;
		EXCEPTION WHEN data_exception THEN
			it := NULL;
		END;
		IF parts IS NULL OR it IS NULL OR issued IS NULL OR issued <> trunc(issued)
		   OR issued > now_ms + 60 * 1000 THEN
			m := 'Invalid ShardIterator';
		END IF;
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'Get a shard iterator from GetShardIterator; GetRecords returns at most 1000 records per call.');
	END IF;
	IF issued < now_ms - 15 * 60 * 1000 THEN
		m := 'Iterator expired: shard iterators are valid for 15 minutes';
		PERFORM orders_stream.aws_error('ExpiredIteratorException', m,
			'Get a new one with GetShardIterator, AFTER_SEQUENCE_NUMBER the last SequenceNumber read.');
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = arn AND r.readable;
	IF NOT FOUND THEN
		PERFORM orders_stream."DescribeStream"(arn);
	END IF;
	IF s.shard_id <> it->>'s' THEN
		m := format('Requested resource not found: Shard: %s in Stream: %s not found', it->>'s', arn);
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream."DescribeStream"(arn) lists the shards of a stream.');
	END IF;

	/*
	 * Where the page starts: after the iterator's position (at it, if
	 * inclusive), and after the trim horizon.
	 */
	key := orders_stream.sequence_key(it->>'p');
	trim_key := s.trim_key;
	IF key <> '' AND (key < trim_key OR (inclusive AND key = trim_key)) THEN
		m := format('the shard iterator points before the trim horizon of stream %s', arn);
		PERFORM orders_stream.aws_error('TrimmedDataAccessException', m,
			'Records are kept for orders_stream.retention, then trimmed; start again from TRIM_HORIZON.');
	END IF;
	IF key < trim_key THEN
		key := trim_key;
		inclusive := false;
	END IF;

	/*
	 * Through the records view, as any reader: the caller has no privilege
	 * on record_store.  records_from()'s query, written out so that its
	 * plan is this function's, made once per session (force_generic_plan)
	 * under this function's settings (enable_sort off: see records_from();
	 * jit off, as a plan with a disabled node costs more than
	 * jit_above_cost), rather than planned again on every call.
	 */
	SELECT orders_stream.records_page_agg(arn, r.record), max(r.sequence_number COLLATE "C"), count(*)
	  INTO records, last_seq, record_count
	  FROM (SELECT v.record, v.sequence_number, v.sequence_key
			  FROM orders_stream.records v
			 WHERE v.stream_id = s.stream_id
			   AND v.sequence_key >= CASE WHEN inclusive THEN key ELSE key || '\x00'::bytea END
			 ORDER BY v.sequence_key
			 LIMIT n_max) r;

	/*
	 * The end of a closed shard: no NextShardIterator.  The shard's
	 * EndingSequenceNumber is stored in the transaction that stored its last
	 * records, so whoever sees it closed sees all of them: the page is the
	 * shard's last if it is short, or ends at EndingSequenceNumber.
	 */
	IF s.ending_sequence_number IS NULL
	   OR (record_count = n_max AND last_seq < s.ending_sequence_number) THEN
		next := arn || '|' || translate(encode(convert_to(jsonb_build_object(
			's', s.shard_id, 'p', coalesce(last_seq, orders_stream.sequence_text(key)),
			'i', last_seq IS NULL AND inclusive,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text, 'UTF8'), 'base64'), E'\n', '');
	END IF;
	/* written once (concat), not copied by each || */
	response := concat('{"Records":[', records, ']',
					   ',"NextShardIterator":' || to_json(next)::text, '}');
END
$$;

COMMENT ON FUNCTION orders_stream.get_records_text(text, integer) IS
'orders_stream."GetRecords" as text, and the number of records in it: for callers that send the response on (the endpoint)';
