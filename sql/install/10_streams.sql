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

