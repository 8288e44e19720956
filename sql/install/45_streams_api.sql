/*
 * ---- The DynamoDB Streams API as AWS's documents ----
 *
 * One function per operation, named as the operation (the X-Amz-Target
 * DynamoDBStreams_20120810.<Operation>), its parameters named as the members
 * of the request, returning the response document as AWS sends it (members
 * AWS leaves out are left out, never null).  orders_stream.dynamodb_streams
 * routes a request body by operation name, for an HTTP front end.
 *
 * Every error is raised by orders_stream.aws_error(), which names its AWS
 * exception three times: at the head of the message, in a fixed SQLSTATE
 * (README, "Errors"), and in the DETAIL as the JSON body AWS answers with:
 * {"__type": "<namespace>#<Exception>", "message": "..."}.
 *
 * Everything here runs as its caller: what a caller may read is decided by
 * orders_stream.readable_streams alone.
 */

CREATE FUNCTION orders_stream."DescribeStream"("StreamArn" text,
	"Limit" integer DEFAULT NULL, "ExclusiveStartShardId" text DEFAULT NULL,
	"ShardFilter" jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s		orders_stream.readable_streams;
	m		text;
	shard	jsonb;
	shards	jsonb := '[]';
BEGIN
	IF "StreamArn" IS NULL THEN
		m := '1 validation error detected: Value null at ''streamArn'' failed to satisfy constraint: Member must not be null';
	ELSIF length("StreamArn") < 37 OR length("StreamArn") > 1024
		  OR "StreamArn" !~ '^arn:[^:]+:dynamodb:[^:]*:[^:]*:table/.+/stream/[^/]+$' THEN
		m := format('Invalid StreamArn: %s', "StreamArn");
	ELSIF "Limit" IS NOT NULL AND ("Limit" < 1 OR "Limit" > 100) THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 100', "Limit");
	ELSIF "ExclusiveStartShardId" IS NOT NULL
		  AND (length("ExclusiveStartShardId") < 28 OR length("ExclusiveStartShardId") > 65) THEN
		m := format('1 validation error detected: Value ''%s'' at ''exclusiveStartShardId'' failed to satisfy constraint: Member must have length between 28 and 65', "ExclusiveStartShardId");
	ELSIF "ShardFilter" IS NOT NULL
		  AND (jsonb_typeof("ShardFilter") IS DISTINCT FROM 'object'
			   OR "ShardFilter"->>'Type' IS DISTINCT FROM 'CHILD_SHARDS'
			   OR jsonb_typeof("ShardFilter"->'ShardId') IS DISTINCT FROM 'string') THEN
		m := 'ShardFilter needs Type CHILD_SHARDS and a ShardId';
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'A stream ARN is arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>; orders_stream.list_streams() shows them.');
	END IF;

	SELECT * INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = "StreamArn";
	IF NOT FOUND THEN
		m := format('Requested resource not found: Stream: %s not found', "StreamArn");
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream.list_streams() shows the stream ARNs of this database.');
	END IF;
	IF NOT s.readable THEN
		m := format('permission denied to read stream %s: reading a stream requires SELECT on its table, and bypassing its row-level security if it has any', "StreamArn");
		PERFORM orders_stream.aws_error('AccessDeniedException', m,
			'Ask the table''s owner for GRANT SELECT; read a table with row-level security as its owner or a BYPASSRLS role.');
	END IF;

	/*
	 * One shard per stream, never split, so it has no parent and no
	 * children; closed (EndingSequenceNumber) once capture has passed the
	 * commit of the disable.  Shards are listed in ShardId order, after
	 * ExclusiveStartShardId.
	 */
	shard := jsonb_build_object('ShardId', s.shard_id,
		'SequenceNumberRange', jsonb_strip_nulls(jsonb_build_object(
			'StartingSequenceNumber', orders_stream.sequence_number(s.start_lsn),
			'EndingSequenceNumber', s.ending_sequence_number)));
	IF "ShardFilter" IS NULL
	   AND ("ExclusiveStartShardId" IS NULL OR s.shard_id COLLATE "C" > "ExclusiveStartShardId") THEN
		shards := jsonb_build_array(shard);
	END IF;
	RETURN jsonb_build_object('StreamDescription', jsonb_build_object(
		'StreamArn', s.stream_arn,
		'StreamLabel', s.stream_label,
		'StreamStatus', CASE WHEN s.enabled THEN 'ENABLED'
							 WHEN s.ending_sequence_number IS NULL THEN 'DISABLING'
							 ELSE 'DISABLED' END,
		'StreamViewType', s.view_type,
		'CreationRequestDateTime', extract(epoch FROM s.created_at),
		'TableName', s.table_name,
		'KeySchema', (SELECT jsonb_agg(jsonb_build_object(
							'AttributeName', k.name,
							'KeyType', CASE WHEN k.ord = 1 THEN 'HASH' ELSE 'RANGE' END)
						ORDER BY k.ord)
					  FROM unnest(s.key_columns) WITH ORDINALITY AS k(name, ord)
					 /* DynamoDB has a HASH and at most one RANGE key; Keys hold them all */
					 WHERE k.ord <= 2),
		'Shards', shards));
END
$$;

COMMENT ON FUNCTION orders_stream."DescribeStream"(text, integer, text, jsonb) IS
'DynamoDB Streams DescribeStream: {"StreamDescription": {...}}; EndingSequenceNumber once the shard is closed';

CREATE FUNCTION orders_stream."ListStreams"("TableName" text DEFAULT NULL,
	"Limit" integer DEFAULT NULL, "ExclusiveStartStreamArn" text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m		text;
	n		integer := coalesce("Limit", 100);
	after	orders_stream.readable_streams;
	page	jsonb;
	more	boolean;
BEGIN
	IF n < 1 OR n > 100 THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 100', n);
	ELSIF "TableName" IS NOT NULL AND (length("TableName") < 1 OR length("TableName") > 1024) THEN
		m := format('1 validation error detected: Value ''%s'' at ''tableName'' failed to satisfy constraint: Member must have length between 1 and 1024', "TableName");
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'ListStreams returns at most 100 streams per call: page with ExclusiveStartStreamArn.');
	END IF;
	IF "ExclusiveStartStreamArn" IS NOT NULL THEN
		SELECT * INTO after FROM orders_stream.readable_streams r
		 WHERE r.stream_arn = "ExclusiveStartStreamArn" AND r.readable;
		IF NOT FOUND THEN
			/* ValidationException, ResourceNotFoundException or AccessDeniedException */
			PERFORM orders_stream."DescribeStream"("ExclusiveStartStreamArn");
		END IF;
	END IF;
	/*
	 * oldest first, by stream_id: created_at can be a millisecond ahead
	 * (a label must be new), so it does not order streams enabled in one
	 * millisecond; a page of n, and whether there is more
	 */
	SELECT coalesce(jsonb_agg(jsonb_build_object('StreamArn', p.stream_arn,
				'TableName', p.table_name, 'StreamLabel', p.stream_label)
				ORDER BY p.stream_id) FILTER (WHERE p.rn <= n), '[]'),
		   count(*) > n
	  INTO page, more
	  FROM (SELECT r.*, row_number() OVER (ORDER BY r.stream_id) AS rn
			  FROM orders_stream.readable_streams r
			 WHERE r.readable
			   AND ("TableName" IS NULL OR r.table_name = "TableName")
			   AND (after.stream_id IS NULL
					OR r.stream_id > after.stream_id)
			 ORDER BY r.stream_id
			 LIMIT n + 1) p;
	IF more THEN
		RETURN jsonb_build_object('Streams', page,
			'LastEvaluatedStreamArn', page->(n - 1)->'StreamArn');
	END IF;
	RETURN jsonb_build_object('Streams', page);
END
$$;

COMMENT ON FUNCTION orders_stream."ListStreams"(text, integer, text) IS
'DynamoDB Streams ListStreams: {"Streams": [...], "LastEvaluatedStreamArn": ...} of the streams you may read, oldest first';

/*
 * A shard iterator is "<stream ARN>|<base64 of {s: shard, p: position,
 * i: inclusive, t: issued (ms)}>".  The ARN may hold any character of a
 * table name, '|' too: the payload is what follows the last '|', as base64
 * has none.  Every field of a presented iterator is checked; a forged one is
 * a ValidationException, or expires like a real one.
 */
CREATE FUNCTION orders_stream."GetShardIterator"("StreamArn" text, "ShardId" text,
	"ShardIteratorType" text, "SequenceNumber" text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s			orders_stream.readable_streams;
	m			text;
	hint		text;
	pos			text;
	inclusive	boolean := false;
BEGIN
	IF "ShardId" IS NULL OR "ShardIteratorType" IS NULL THEN
		m := format('1 validation error detected: Value null at ''%s'' failed to satisfy constraint: Member must not be null',
					CASE WHEN "ShardId" IS NULL THEN 'shardId' ELSE 'shardIteratorType' END);
		hint := 'Pass StreamArn, ShardId and ShardIteratorType, e.g. ("StreamArn" => arn, "ShardId" => shard, "ShardIteratorType" => ''TRIM_HORIZON'').';
	ELSIF "ShardIteratorType" NOT IN ('TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER') THEN
		m := format('1 validation error detected: Value ''%s'' at ''shardIteratorType'' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, LATEST, TRIM_HORIZON]', "ShardIteratorType");
		hint := 'ShardIteratorType is one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER.';
	ELSIF "ShardIteratorType" IN ('AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER')
		  AND ("SequenceNumber" IS NULL OR "SequenceNumber" !~ '^\d{1,40}$') THEN
		m := format('%s needs the SequenceNumber of a record, got %s', "ShardIteratorType",
					coalesce(quote_literal("SequenceNumber"), 'null'));
		hint := 'Pass the SequenceNumber of a record: digits, with or without leading zeros.';
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m, hint);
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r
	 WHERE r.stream_arn = "StreamArn" AND r.readable;
	IF NOT FOUND THEN
		/* ValidationException, ResourceNotFoundException or AccessDeniedException */
		PERFORM orders_stream."DescribeStream"("StreamArn");
	END IF;
	IF s.shard_id <> "ShardId" THEN
		m := format('Requested resource not found: Shard: %s in Stream: %s not found', "ShardId", "StreamArn");
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream."DescribeStream"(arn) lists the shards of a stream.');
	END IF;
	CASE "ShardIteratorType"
		WHEN 'TRIM_HORIZON' THEN
			pos := '';
		WHEN 'LATEST' THEN
			/* on a hot standby, after what it has replayed (README "Replicas") */
			pos := orders_stream.sequence_number(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
													  ELSE pg_current_wal_insert_lsn() END, 0);
		ELSE
			/* the 30 digits of a SequenceNumber, whatever leading zeros it lost or gained */
			pos := ltrim("SequenceNumber", '0');
			IF length(pos) > 30 THEN
				m := format('Invalid SequenceNumber %s for shard %s of stream %s', "SequenceNumber", "ShardId", "StreamArn");
				PERFORM orders_stream.aws_error('ValidationException', m,
					'A SequenceNumber of orders_stream has at most 30 significant digits.');
			END IF;
			pos := lpad(pos, 30, '0');
			inclusive := "ShardIteratorType" = 'AT_SEQUENCE_NUMBER';
			IF pos < s.trim_point OR (inclusive AND pos = s.trim_point) THEN
				m := format('SequenceNumber %s of stream %s is beyond the trim horizon', "SequenceNumber", "StreamArn");
				PERFORM orders_stream.aws_error('TrimmedDataAccessException', m,
					'Records are kept for orders_stream.retention, then trimmed; start from TRIM_HORIZON to read the oldest retained record.');
			END IF;
			/* never in the shard, rather than trimmed from it */
			IF pos < orders_stream.sequence_number(s.start_lsn) THEN
				m := format('Invalid SequenceNumber %s for shard %s of stream %s', "SequenceNumber", "ShardId", "StreamArn");
				PERFORM orders_stream.aws_error('ValidationException', m,
					'The shard starts at its StartingSequenceNumber (orders_stream."DescribeStream"); start from TRIM_HORIZON to read its oldest record.');
			END IF;
	END CASE;
	RETURN jsonb_build_object('ShardIterator',
		s.stream_arn || '|' || translate(encode(convert_to(
			jsonb_build_object('s', s.shard_id, 'p', pos, 'i', inclusive,
				't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text,
			'UTF8'), 'base64'), E'\n', ''));
END
$$;

COMMENT ON FUNCTION orders_stream."GetShardIterator"(text, text, text, text) IS
'DynamoDB Streams GetShardIterator: {"ShardIterator": ...}, valid for 15 minutes';

CREATE FUNCTION orders_stream."GetRecords"("ShardIterator" text, "Limit" integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts		text[] := regexp_match("ShardIterator", '^(.+)\|([A-Za-z0-9+/=]+)$');
	arn			text := parts[1];
	n_max		integer := coalesce("Limit", 1000);
	it			jsonb;
	issued		numeric;
	now_ms		numeric := floor(extract(epoch FROM clock_timestamp()) * 1000);
	s			orders_stream.readable_streams;
	m			text;
	pos			text;
	inclusive	boolean;
	key			bytea;
	result		jsonb;
	last_seq	text;
	n			integer;
BEGIN
	IF "ShardIterator" IS NULL THEN
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

	pos := it->>'p';
	IF pos <> '' AND (pos < s.trim_point OR (inclusive AND pos = s.trim_point)) THEN
		m := format('the shard iterator points before the trim horizon of stream %s', arn);
		PERFORM orders_stream.aws_error('TrimmedDataAccessException', m,
			'Records are kept for orders_stream.retention, then trimmed; start again from TRIM_HORIZON.');
	END IF;
	IF pos < s.trim_point THEN
		pos := s.trim_point;
		inclusive := false;
	END IF;

	key := orders_stream.sequence_key(pos);
	/*
	 * Through the records view, as any reader: the caller has no privilege
	 * on record_store.  In the view's order (stream, then sequence key),
	 * with no ORDER BY here: one would make the planner plan the view for
	 * reading all of the stream's later records, and sort them, rather than
	 * walk the index and stop at the LIMIT.
	 */
	SELECT coalesce(jsonb_agg((r.record::jsonb - 'eventSourceARN') ORDER BY r.sequence_key), '[]'::jsonb),
		   orders_stream.sequence_text((array_agg(r.sequence_key ORDER BY r.sequence_key DESC))[1]), count(*)
	  INTO result, last_seq, n
	  FROM (SELECT rr.sequence_key, rr.record
			  FROM orders_stream.records rr
			 WHERE rr.stream_id = s.stream_id
			   AND rr.captured_at >= now() - current_setting('orders_stream.retention')::interval
			   AND (rr.sequence_key > key OR (inclusive AND rr.sequence_key = key))
			 LIMIT n_max) r;

	/*
	 * The end of a closed shard: no NextShardIterator.  The shard's
	 * EndingSequenceNumber is stored in the transaction that stored its last
	 * records, so whoever sees it closed sees all of them: the page is the
	 * shard's last if it is short, or ends at EndingSequenceNumber.
	 */
	IF s.ending_sequence_number IS NOT NULL
	   AND (n < n_max OR last_seq >= s.ending_sequence_number) THEN
		RETURN jsonb_build_object('Records', result);
	END IF;
	RETURN jsonb_build_object(
		'Records', result,
		'NextShardIterator',
		arn || '|' || translate(encode(convert_to(jsonb_build_object(
			's', s.shard_id, 'p', coalesce(last_seq, pos), 'i', last_seq IS NULL AND inclusive,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text, 'UTF8'), 'base64'), E'\n', ''));
END
$$;

COMMENT ON FUNCTION orders_stream."GetRecords"(text, integer) IS
'DynamoDB Streams GetRecords: {"Records": [...], "NextShardIterator": ...}; no NextShardIterator at the end of a closed shard';

/*
 * The single entry point of an HTTP front end: the operation of X-Amz-Target
 * (with or without its "DynamoDBStreams_20120810." prefix) and the request
 * body as it came.  Members of the wrong JSON type are a
 * SerializationException, as AWS answers them; unknown members are ignored.
 */
CREATE FUNCTION orders_stream.dynamodb_streams(operation text, request jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	op		text := regexp_replace(operation, '^DynamoDBStreams_20120810\.', '');
	r		jsonb := coalesce(request, '{}');
	m		text;
	member	text;
	kind	text;
	started	timestamptz := clock_timestamp();
	arn		text;
	result	jsonb;
BEGIN
	IF op IS NULL OR op NOT IN ('ListStreams', 'DescribeStream', 'GetShardIterator', 'GetRecords') THEN
		m := format('Unknown operation %s', coalesce(quote_literal(operation), 'null'));
		PERFORM orders_stream.aws_error('UnknownOperationException', m,
			'The operations of DynamoDB Streams are ListStreams, DescribeStream, GetShardIterator and GetRecords.');
	END IF;
	IF jsonb_typeof(r) <> 'object' THEN
		m := 'the request body must be a JSON object';
	ELSE
		FOR member, kind IN
			SELECT k, CASE WHEN k IN ('Limit') THEN 'number'
						   WHEN k = 'ShardFilter' THEN 'object'
						   ELSE 'string' END
			  FROM jsonb_object_keys(r) AS k
			 WHERE k IN ('TableName', 'Limit', 'ExclusiveStartStreamArn', 'StreamArn',
						 'ExclusiveStartShardId', 'ShardFilter', 'ShardId',
						 'ShardIteratorType', 'SequenceNumber', 'ShardIterator')
			   AND jsonb_typeof(r->k) <> 'null'
		LOOP
			IF jsonb_typeof(r->member) <> kind
			   OR (kind = 'number' AND ((r->>member)::numeric <> trunc((r->>member)::numeric)
										OR abs((r->>member)::numeric) > 2147483647)) THEN
				m := format('%s must be %s, got %s', member,
							CASE kind WHEN 'number' THEN 'an integer' WHEN 'object' THEN 'an object' ELSE 'a string' END,
							r->member);
				EXIT;
			END IF;
		END LOOP;
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('SerializationException', m,
			'Send the request members as the DynamoDB Streams API reference types them.');
	END IF;
	IF op = 'ListStreams' THEN
		RETURN orders_stream."ListStreams"(r->>'TableName', (r->>'Limit')::integer, r->>'ExclusiveStartStreamArn');
	END IF;
	/* the stream's metrics count the request, served or failed (85_metrics.sql) */
	arn := coalesce(r->>'StreamArn', substring(r->>'ShardIterator' FROM '^(.+)\|'));
	BEGIN
		CASE op
			WHEN 'DescribeStream' THEN
				result := orders_stream."DescribeStream"(r->>'StreamArn', (r->>'Limit')::integer,
					r->>'ExclusiveStartShardId', nullif(r->'ShardFilter', 'null'));
			WHEN 'GetShardIterator' THEN
				result := orders_stream."GetShardIterator"(r->>'StreamArn', r->>'ShardId',
					r->>'ShardIteratorType', r->>'SequenceNumber');
			ELSE
				result := orders_stream."GetRecords"(r->>'ShardIterator', (r->>'Limit')::integer);
		END CASE;
	EXCEPTION WHEN OTHERS THEN
		PERFORM orders_stream.metrics_note_request(arn, op, started, 0, 0, SQLSTATE);
		RAISE;
	END;
	PERFORM orders_stream.metrics_note_request(arn, op, started,
		jsonb_array_length(coalesce(result->'Records', '[]')),
		CASE WHEN op = 'GetRecords' THEN octet_length((result->'Records')::text) ELSE 0 END, NULL);
	RETURN result;
END
$$;

COMMENT ON FUNCTION orders_stream.dynamodb_streams(text, jsonb) IS
'Runs a DynamoDB Streams request: operation as in X-Amz-Target, request as its JSON body; returns the response body';

/* ---- The SQL-friendly forms, thin wrappers of the operations ---- */

CREATE FUNCTION orders_stream.list_streams(
	OUT "StreamArn" text, OUT "TableName" text, OUT "StreamLabel" text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.stream_arn, s.table_name, s.stream_label
	  FROM orders_stream.readable_streams s
	 WHERE s.readable
	 ORDER BY s.stream_id;
END;

COMMENT ON FUNCTION orders_stream.list_streams() IS
'Streams of this database whose tables you may read, enabled and disabled, as rows, oldest first (every page of ListStreams)';

CREATE FUNCTION orders_stream.describe_stream(stream_arn text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT orders_stream."DescribeStream"(stream_arn);
END;

COMMENT ON FUNCTION orders_stream.describe_stream(text) IS
'orders_stream."DescribeStream"(stream_arn): {"StreamDescription": {...}}';

CREATE FUNCTION orders_stream.get_shard_iterator(stream_arn text, shard_id text,
	shard_iterator_type text, sequence_number text DEFAULT NULL)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT orders_stream."GetShardIterator"(stream_arn, shard_id, shard_iterator_type,
											sequence_number) OPERATOR(pg_catalog.->>) 'ShardIterator';
END;

COMMENT ON FUNCTION orders_stream.get_shard_iterator(text, text, text, text) IS
'The ShardIterator of orders_stream."GetShardIterator": TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER; valid for 15 minutes';

CREATE FUNCTION orders_stream.get_records(shard_iterator text, "limit" integer DEFAULT 1000)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT orders_stream."GetRecords"(shard_iterator, "limit");
END;

COMMENT ON FUNCTION orders_stream.get_records(text, integer) IS
'orders_stream."GetRecords": {"Records": [...], "NextShardIterator": ...}; no NextShardIterator at the end of a closed shard';
