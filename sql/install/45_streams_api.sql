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
	s		record;
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

	/* the columns it shows: no more (trim_point is state of its own) */
	SELECT r.readable, r.stream_arn, r.stream_label, r.enabled, r.view_type, r.created_at,
		   r.table_name, r.key_columns, r.shard_id, r.start_lsn, r.ending_sequence_number
	  INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = "StreamArn";
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
	after	bigint;
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
		SELECT r.stream_id INTO after FROM orders_stream.readable_streams r
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
	  FROM (SELECT r.stream_id, r.stream_arn, r.table_name, r.stream_label,
				   row_number() OVER (ORDER BY r.stream_id) AS rn
			  FROM orders_stream.readable_streams r
			 WHERE r.readable
			   AND ("TableName" IS NULL OR r.table_name = "TableName")
			   AND (after IS NULL OR r.stream_id > after)
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

/*
 * A GetRecords response as text, written once in C: the records (as the
 * records view renders them, eventSourceARN cut) and NextShardIterator,
 * none if NULL.  1.1's GetRecords used it; 1.2's appends the records as
 * they are read (records_page_agg(), 44_get_records.sql).
 */
CREATE FUNCTION orders_stream.records_page(stream_arn text, records json[],
										   next_shard_iterator text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_records_page'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION orders_stream.records_page(text, json[], text) IS
'The GetRecords response {"Records": [...], "NextShardIterator": ...} of records of orders_stream.records, as text';

CREATE FUNCTION orders_stream."GetRecords"("ShardIterator" text, "Limit" integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT (orders_stream.get_records_text("ShardIterator", "Limit")).response::pg_catalog.jsonb;
END;

COMMENT ON FUNCTION orders_stream."GetRecords"(text, integer) IS
'DynamoDB Streams GetRecords: {"Records": [...], "NextShardIterator": ...}; no NextShardIterator at the end of a closed shard';

/*
 * The single entry point of an HTTP front end: the operation of X-Amz-Target
 * (with or without its "DynamoDBStreams_20120810." prefix) and the request
 * body as it came.  Members of the wrong JSON type are a
 * SerializationException, as AWS answers them; unknown members are ignored.
 */
CREATE FUNCTION orders_stream.dynamodb_streams_text(operation text, request jsonb DEFAULT '{}')
RETURNS text
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
	result	text;
	n		integer := 0;
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
		RETURN orders_stream."ListStreams"(r->>'TableName', (r->>'Limit')::integer, r->>'ExclusiveStartStreamArn')::text;
	END IF;
	/* the stream's metrics count the request, served or failed (85_metrics.sql) */
	arn := coalesce(r->>'StreamArn', substring(r->>'ShardIterator' FROM '^(.+)\|'));
	BEGIN
		CASE op
			WHEN 'DescribeStream' THEN
				result := orders_stream."DescribeStream"(r->>'StreamArn', (r->>'Limit')::integer,
					r->>'ExclusiveStartShardId', nullif(r->'ShardFilter', 'null'))::text;
			WHEN 'GetShardIterator' THEN
				result := orders_stream."GetShardIterator"(r->>'StreamArn', r->>'ShardId',
					r->>'ShardIteratorType', r->>'SequenceNumber')::text;
			ELSE
				SELECT p.response, p.record_count INTO result, n
				  FROM orders_stream.get_records_text(r->>'ShardIterator', (r->>'Limit')::integer) p;
		END CASE;
	EXCEPTION WHEN OTHERS THEN
		PERFORM orders_stream.metrics_note_request(arn, op, started, 0, 0, SQLSTATE);
		RAISE;
	END;
	PERFORM orders_stream.metrics_note_request(arn, op, started, n,
		CASE WHEN op = 'GetRecords' THEN octet_length(result) ELSE 0 END, NULL);
	RETURN result;
END
$$;

COMMENT ON FUNCTION orders_stream.dynamodb_streams_text(text, jsonb) IS
'Runs a DynamoDB Streams request: operation as in X-Amz-Target, request as its JSON body; returns the response body as text, as the endpoint sends it';

/*
 * The same, the response as jsonb, for SQL callers: a GetRecords page is
 * written as text once (get_records_text(), records_page_agg()) and
 * converted here only for them, without jsonb_in (record_store.c).
 */
CREATE FUNCTION orders_stream.dynamodb_streams(operation text, request jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_dynamodb_streams'
LANGUAGE C VOLATILE;

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
