--
-- api: enable_stream, disable_stream, list_streams and describe_stream.
-- A stream captures the changes committed while it is enabled, and only
-- those; enabling again makes a new stream with a new ARN; tables without a
-- stream have no records.
--
\pset format unaligned
CREATE TABLE api_orders (id text PRIMARY KEY, qty int);
CREATE SCHEMA api_sch;
CREATE TABLE api_sch.items (sku text, store int, v text, PRIMARY KEY (sku, store));
CREATE TABLE api_plain (id int PRIMARY KEY, v text);
-- DescribeStream with the values that change from run to run masked
CREATE FUNCTION api_describe(arn text) RETURNS jsonb
LANGUAGE sql
AS $$
	SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(
		CASE WHEN d->'StreamDescription'->'Shards'->0->'SequenceNumberRange' ? 'EndingSequenceNumber'
			 THEN jsonb_set(d, '{StreamDescription,Shards,0,SequenceNumberRange,EndingSequenceNumber}', '"<SequenceNumber>"')
			 ELSE d END,
		'{StreamDescription,StreamArn}', to_jsonb(os_mask_arn(d->'StreamDescription'->>'StreamArn'))),
		'{StreamDescription,StreamLabel}', '"<label>"'),
		'{StreamDescription,CreationRequestDateTime}', '"<epoch>"'),
		'{StreamDescription,Shards,0,ShardId}', '"<ShardId>"'),
		'{StreamDescription,Shards,0,SequenceNumberRange,StartingSequenceNumber}', '"<SequenceNumber>"')
	FROM orders_stream.describe_stream(arn) AS d
$$;
-- what the masked values must be
CREATE FUNCTION api_check_description(arn text,
	OUT label_ok bool, OUT time_ok bool, OUT shard_ok bool, OUT start_ok bool)
LANGUAGE sql
AS $$
	SELECT d->>'StreamLabel' = split_part(arn, '/stream/', 2),
		abs((d->>'CreationRequestDateTime')::numeric
			- extract(epoch FROM (d->>'StreamLabel' || 'Z')::timestamptz)) < 0.001
			AND abs((d->>'CreationRequestDateTime')::numeric - extract(epoch FROM now())) < 60,
		d->'Shards'->0->>'ShardId' ~ '^shardId-\d{20}-[0-9a-f]{8}$'
			AND substr(d->'Shards'->0->>'ShardId', 9, 20)::numeric
				= floor((d->>'CreationRequestDateTime')::numeric * 1000),
		d->'Shards'->0->'SequenceNumberRange'->>'StartingSequenceNumber' ~ '^\d{30}$'
	FROM (SELECT orders_stream.describe_stream(arn) -> 'StreamDescription') AS x(d)
$$;
SELECT slot_name FROM pg_create_logical_replication_slot('api', 'orders_stream');
-- committed before the stream is enabled: no record
INSERT INTO api_orders VALUES ('before', 1);
-- a table without a stream: never a record
INSERT INTO api_plain VALUES (1, 'a');
SELECT orders_stream.enable_stream('api_orders') AS arn1 \gset
SELECT os_mask_arn(:'arn1') AS arn,
	:'arn1' ~ '^arn:aws:dynamodb:local:000000000000:table/api_orders/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$' AS arn_format,
	abs(extract(epoch FROM (split_part(:'arn1', '/stream/', 2) || 'Z')::timestamptz - now())) < 60 AS label_is_utc_now;
-- the old row in full, and the TRUNCATE guard
SELECT relreplident FROM pg_class WHERE oid = 'api_orders'::regclass;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'api_orders'::regclass;
INSERT INTO api_orders VALUES ('o1', 1);
UPDATE api_orders SET qty = 2;
INSERT INTO api_plain VALUES (2, 'b');
-- a table outside public: TableName is schema-qualified
SELECT orders_stream.enable_stream('api_sch.items', 'KEYS_ONLY') AS arn2 \gset
SELECT os_mask_arn(:'arn2') AS arn;
INSERT INTO api_sch.items VALUES ('sku1', 1, 'a');
SELECT orders_stream.disable_stream('api_orders') = :'arn1' AS disable_returns_arn;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'api_orders'::regclass;
-- committed after disable_stream: no record
INSERT INTO api_orders VALUES ('after', 3);
-- enabled again: a new stream
SELECT orders_stream.enable_stream('api_orders', 'NEW_IMAGE') AS arn3 \gset
SELECT :'arn3' <> :'arn1' AS new_arn;
INSERT INTO api_orders VALUES ('again', 4);
-- disabled and enabled in one transaction: a new stream too
BEGIN;
SELECT orders_stream.disable_stream('api_orders') = :'arn3' AS disable_returns_arn;
SELECT orders_stream.enable_stream('api_orders', 'KEYS_ONLY') AS arn4 \gset
COMMIT;
SELECT :'arn4' NOT IN (:'arn1', :'arn3') AS new_arn;
INSERT INTO api_orders VALUES ('last', 5);
-- in one transaction: only what comes after enable_stream and before
-- disable_stream is in the stream
CREATE TABLE api_tx (id int PRIMARY KEY);
BEGIN;
INSERT INTO api_tx VALUES (1);
SELECT orders_stream.enable_stream('api_tx', 'KEYS_ONLY') AS arn5 \gset
INSERT INTO api_tx VALUES (2);
UPDATE api_tx SET id = 3 WHERE id = 1;
SELECT orders_stream.disable_stream('api_tx') = :'arn5' AS disable_returns_arn;
INSERT INTO api_tx VALUES (4);
COMMIT;
SELECT os_fetch('api');
SELECT * FROM os_check();
SELECT n, event, view_type, keys, new_image, old_image,
	CASE r.rec->>'eventSourceARN' WHEN :'arn1' THEN 'arn1' WHEN :'arn2' THEN 'arn2'
		WHEN :'arn3' THEN 'arn3' WHEN :'arn4' THEN 'arn4' WHEN :'arn5' THEN 'arn5' END AS stream
FROM os_last JOIN os_records AS r USING (n) ORDER BY n;
-- ListStreams: every stream of the database, enabled or not, oldest first
SELECT "TableName",
	CASE "StreamArn" WHEN :'arn1' THEN 'arn1' WHEN :'arn2' THEN 'arn2'
		WHEN :'arn3' THEN 'arn3' WHEN :'arn4' THEN 'arn4' WHEN :'arn5' THEN 'arn5' END AS stream,
	"StreamLabel" = split_part("StreamArn", '/stream/', 2) AS label_of_arn
FROM orders_stream.list_streams() WHERE "TableName" LIKE 'api%';
-- DescribeStream, once capture has passed every disable: a disabled
-- stream's shard is closed (DISABLED, EndingSequenceNumber)
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
SELECT jsonb_pretty(api_describe(:'arn1'));
SELECT api_describe(:'arn2');
SELECT d->>'StreamStatus' AS status, d->>'StreamViewType' AS view_type
FROM unnest(ARRAY[:'arn3', :'arn4']) AS a, orders_stream.describe_stream(a) AS x, LATERAL (SELECT x->'StreamDescription') AS y(d);
SELECT a AS stream, c.* FROM (VALUES ('arn1', :'arn1'), ('arn2', :'arn2'), ('arn3', :'arn3'), ('arn4', :'arn4')) AS v(a, arn),
	api_check_description(arn) AS c;
-- a stream starts after the changes it does not have and before those it has
SELECT bool_and(d->'Shards'->0->'SequenceNumberRange'->>'StartingSequenceNumber'
		< (SELECT min(r.rec->'dynamodb'->>'SequenceNumber') FROM os_records r WHERE r.rec->>'eventSourceARN' = a)) AS start_before_records
FROM unnest(ARRAY[:'arn1', :'arn2', :'arn3', :'arn4']) AS a,
	LATERAL (SELECT orders_stream.describe_stream(a) -> 'StreamDescription') AS x(d);
-- a closed shard ends at its last record (arn5's too, though the transaction
-- that wrote them disabled it), after its start
SELECT a AS stream,
	d->'SequenceNumberRange'->>'EndingSequenceNumber'
		= (SELECT max(r.rec->'dynamodb'->>'SequenceNumber') FROM os_records r WHERE r.rec->>'eventSourceARN' = arn) AS ends_at_last_record,
	d->'SequenceNumberRange'->>'EndingSequenceNumber'
		> d->'SequenceNumberRange'->>'StartingSequenceNumber' AS ends_after_start
FROM (VALUES ('arn1', :'arn1'), ('arn3', :'arn3'), ('arn5', :'arn5')) AS v(a, arn),
	LATERAL (SELECT orders_stream.describe_stream(arn)->'StreamDescription'->'Shards'->0) AS x(d);
SELECT a AS stream, d->>'StreamStatus' AS status,
	d->'Shards'->0->'SequenceNumberRange' ? 'EndingSequenceNumber' AS closed
FROM (VALUES ('arn1', :'arn1'), ('arn2', :'arn2'), ('arn3', :'arn3'), ('arn4', :'arn4'), ('arn5', :'arn5')) AS v(a, arn),
	LATERAL (SELECT orders_stream.describe_stream(arn)->'StreamDescription') AS x(d);
-- the two streams enabled in one millisecond cannot share a label
SELECT count(DISTINCT "StreamLabel") = count(*) AS labels_distinct
FROM orders_stream.list_streams() WHERE "TableName" = 'api_orders';
SELECT pg_drop_replication_slot('api');
