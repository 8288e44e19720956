--
-- streams_api: the DynamoDB Streams operations as AWS's documents
-- (ListStreams, DescribeStream, GetShardIterator, GetRecords), the
-- dispatcher orders_stream.dynamodb_streams, and their errors: AWS's
-- exception in the message, the DETAIL ({"__type", "message"}) and a fixed
-- SQLSTATE.
--
\pset format unaligned
-- the SQLSTATE and the AWS exception of an error, or 'ok'
CREATE FUNCTION sa_err(q text) RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
	st text;
	det text;
	msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, det = PG_EXCEPTION_DETAIL, msg = MESSAGE_TEXT;
	RETURN st || ' ' || (det::jsonb->>'__type')
		|| CASE WHEN split_part(msg, ': ', 1) = split_part(det::jsonb->>'__type', '#', 2)
				 AND substr(msg, length(split_part(msg, ': ', 1)) + 3) = det::jsonb->>'message'
				THEN '' ELSE ' (message and DETAIL differ)' END;
END
$$;
CREATE TABLE sa_t (id int PRIMARY KEY, v text);
CREATE TABLE sa_u (id int PRIMARY KEY);
-- three streams on sa_t, the last one enabled; one on sa_u
SELECT orders_stream.enable_stream('sa_t') AS t1 \gset
INSERT INTO sa_t VALUES (1, 'a'), (2, 'b'), (3, 'c');
SELECT orders_stream.disable_stream('sa_t') IS NOT NULL AS disabled;
SELECT orders_stream.enable_stream('sa_t', 'KEYS_ONLY') AS t2 \gset
SELECT orders_stream.disable_stream('sa_t') IS NOT NULL AS disabled;
SELECT orders_stream.enable_stream('sa_t', 'NEW_IMAGE') AS t3 \gset
INSERT INTO sa_t VALUES (4, 'd');
SELECT orders_stream.enable_stream('sa_u') AS u1 \gset
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;

-- ListStreams: the TableName filter, oldest first, paged by Limit
SELECT orders_stream."ListStreams"("TableName" => 'sa_t')
	= jsonb_build_object('Streams', jsonb_build_array(
		jsonb_build_object('StreamArn', :'t1', 'TableName', 'sa_t', 'StreamLabel', split_part(:'t1', '/stream/', 2)),
		jsonb_build_object('StreamArn', :'t2', 'TableName', 'sa_t', 'StreamLabel', split_part(:'t2', '/stream/', 2)),
		jsonb_build_object('StreamArn', :'t3', 'TableName', 'sa_t', 'StreamLabel', split_part(:'t3', '/stream/', 2))))
	AS table_name_filter;
SELECT orders_stream."ListStreams"("TableName" => 'sa_t', "Limit" => 2)
	= jsonb_build_object('Streams', jsonb_build_array(
		jsonb_build_object('StreamArn', :'t1', 'TableName', 'sa_t', 'StreamLabel', split_part(:'t1', '/stream/', 2)),
		jsonb_build_object('StreamArn', :'t2', 'TableName', 'sa_t', 'StreamLabel', split_part(:'t2', '/stream/', 2))),
		'LastEvaluatedStreamArn', :'t2') AS first_page;
SELECT orders_stream."ListStreams"("TableName" => 'sa_t', "Limit" => 2, "ExclusiveStartStreamArn" => :'t2')
	= jsonb_build_object('Streams', jsonb_build_array(
		jsonb_build_object('StreamArn', :'t3', 'TableName', 'sa_t', 'StreamLabel', split_part(:'t3', '/stream/', 2))))
	AS last_page_has_no_last_evaluated;
SELECT orders_stream."ListStreams"("TableName" => 'no_such_table') AS no_streams;
-- every page of Limit 1, unfiltered, is list_streams() in order
WITH RECURSIVE pages(n, page) AS (
	SELECT 1, orders_stream."ListStreams"("Limit" => 1)
	UNION ALL
	SELECT n + 1, orders_stream."ListStreams"("Limit" => 1, "ExclusiveStartStreamArn" => page->>'LastEvaluatedStreamArn')
	  FROM pages WHERE page ? 'LastEvaluatedStreamArn')
SELECT array_agg(page->'Streams'->0->>'StreamArn' ORDER BY n)
	= (SELECT array_agg("StreamArn") FROM orders_stream.list_streams()) AS paged_equals_all,
	bool_and(jsonb_array_length(page->'Streams') = 1) AS one_per_page
FROM pages;
SELECT sa_err($$SELECT orders_stream."ListStreams"("Limit" => 0)$$) AS limit_0,
	sa_err($$SELECT orders_stream."ListStreams"("Limit" => 101)$$) AS limit_101,
	sa_err($$SELECT orders_stream."ListStreams"("ExclusiveStartStreamArn" => 'arn:aws:dynamodb:local:000000000000:table/x/stream/2000-01-01T00:00:00.000')$$) AS unknown_start,
	sa_err($$SELECT orders_stream."ListStreams"("ExclusiveStartStreamArn" => 'not an arn')$$) AS malformed_start;

-- DescribeStream: ENABLED and open, DISABLED and closed at its last record
SELECT d->>'StreamStatus' AS status, d->>'TableName' AS table_name, d->>'StreamViewType' AS view_type,
	d->'KeySchema' AS key_schema, d->'Shards'->0->'SequenceNumberRange' ? 'EndingSequenceNumber' AS closed,
	d ? 'LastEvaluatedShardId' AS more_shards
FROM unnest(ARRAY[:'t1', :'t2', :'t3']) WITH ORDINALITY AS a(arn, n),
	LATERAL (SELECT orders_stream."DescribeStream"(arn)->'StreamDescription') AS x(d)
ORDER BY n;
SELECT orders_stream."DescribeStream"(:'t1')->'StreamDescription'->'Shards'->0->'SequenceNumberRange'->>'EndingSequenceNumber'
	= (SELECT max(sequence_number) FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
		WHERE s.stream_arn = :'t1') AS ends_at_last_record;
-- Limit, ExclusiveStartShardId, ShardFilter: one shard, never split
SELECT orders_stream."DescribeStream"(:'t3', "Limit" => 1)->'StreamDescription'->'Shards' = orders_stream.describe_stream(:'t3')->'StreamDescription'->'Shards' AS limit_1,
	jsonb_array_length(orders_stream."DescribeStream"(:'t3')->'StreamDescription'->'Shards') AS shards,
	orders_stream."DescribeStream"(:'t3', "ExclusiveStartShardId" => orders_stream.describe_stream(:'t3')->'StreamDescription'->'Shards'->0->>'ShardId')->'StreamDescription'->'Shards' AS after_the_shard,
	orders_stream."DescribeStream"(:'t3', "ShardFilter" => jsonb_build_object('Type', 'CHILD_SHARDS',
		'ShardId', orders_stream.describe_stream(:'t3')->'StreamDescription'->'Shards'->0->>'ShardId'))->'StreamDescription'->'Shards' AS children;
SELECT sa_err($$SELECT orders_stream."DescribeStream"('arn:aws:dynamodb:local:000000000000:table/x/stream/2000-01-01T00:00:00.000')$$) AS unknown,
	sa_err($$SELECT orders_stream."DescribeStream"('sa_t')$$) AS malformed,
	sa_err($$SELECT orders_stream."DescribeStream"(NULL)$$) AS null_arn,
	sa_err(format('SELECT orders_stream."DescribeStream"(%L, "Limit" => 0)', :'t3')) AS limit_0,
	sa_err(format('SELECT orders_stream."DescribeStream"(%L, "ShardFilter" => %L)', :'t3', '{"Type": "PARENT"}')) AS bad_filter;

-- GetShardIterator and GetRecords
SELECT orders_stream.describe_stream(:'t1')->'StreamDescription'->'Shards'->0->>'ShardId' AS shard1 \gset
SELECT orders_stream.describe_stream(:'t3')->'StreamDescription'->'Shards'->0->>'ShardId' AS shard3 \gset
SELECT jsonb_object_keys(orders_stream."GetShardIterator"(:'t1', :'shard1', 'TRIM_HORIZON')) AS member;
-- a closed shard read to its end: no NextShardIterator; an open one: one
SELECT r - 'Records' AS rest, jsonb_array_length(r->'Records') AS records
FROM orders_stream."GetRecords"(orders_stream."GetShardIterator"(:'t1', :'shard1', 'TRIM_HORIZON')->>'ShardIterator') AS r;
SELECT jsonb_array_length(r->'Records') AS records, r->'NextShardIterator' IS NOT NULL AS has_next
FROM orders_stream."GetRecords"(orders_stream."GetShardIterator"(:'t1', :'shard1', 'TRIM_HORIZON')->>'ShardIterator', 2) AS r;
SELECT jsonb_array_length(r->'Records') AS records, r->'NextShardIterator' IS NOT NULL AS has_next
FROM orders_stream."GetRecords"(orders_stream."GetShardIterator"(:'t3', :'shard3', 'TRIM_HORIZON')->>'ShardIterator') AS r;
-- a SequenceNumber with or without its leading zeros, up to 40 digits
SELECT r.record->'dynamodb'->>'SequenceNumber' AS seq2 FROM orders_stream.records r
 JOIN orders_stream.streams s USING (stream_id) WHERE s.stream_arn = :'t1'
 ORDER BY r.sequence_number OFFSET 1 LIMIT 1 \gset
SELECT v AS form,
	(SELECT array_agg(e->'dynamodb'->'Keys'->'id'->>'N' ORDER BY ord) FROM jsonb_array_elements(
		orders_stream."GetRecords"(orders_stream."GetShardIterator"(:'t1', :'shard1', t, s)->>'ShardIterator')->'Records')
		WITH ORDINALITY AS x(e, ord)) AS ids
FROM (VALUES ('30 digits', 'AT_SEQUENCE_NUMBER', :'seq2'),
			 ('no leading zeros', 'AT_SEQUENCE_NUMBER', ltrim(:'seq2', '0')),
			 ('40 digits', 'AT_SEQUENCE_NUMBER', '0000000000' || :'seq2'),
			 ('after, as numeric', 'AFTER_SEQUENCE_NUMBER', (:'seq2'::numeric)::text)) AS f(v, t, s)
ORDER BY 1;
SELECT sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L, %L)', :'t1', :'shard1', 'AT_SEQUENCE_NUMBER', '0' || '0000000000' || :'seq2')) AS digits_41,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L, %L)', :'t1', :'shard1', 'AT_SEQUENCE_NUMBER', '1' || :'seq2')) AS significant_31,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L, %L)', :'t1', :'shard1', 'AT_SEQUENCE_NUMBER', '12a')) AS not_digits,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L)', :'t1', :'shard1', 'AT_SEQUENCE_NUMBER')) AS missing,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L)', :'t1', :'shard1', 'OLDEST')) AS bad_type,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L)', :'t1', :'shard3', 'LATEST')) AS other_shard,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L)', 'arn:aws:dynamodb', :'shard1', 'LATEST')) AS malformed_arn;
-- below the shard's StartingSequenceNumber, where nothing was trimmed: never in the shard
SELECT sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L, %L)', :'t1', :'shard1', 'AT_SEQUENCE_NUMBER', '1')) AS at_below_start,
	sa_err(format('SELECT orders_stream."GetShardIterator"(%L, %L, %L, %L)', :'t1', :'shard1', 'AFTER_SEQUENCE_NUMBER', '1')) AS after_below_start,
	orders_stream."GetShardIterator"(:'t1', :'shard1', 'AT_SEQUENCE_NUMBER',
		orders_stream.describe_stream(:'t1')#>>'{StreamDescription,Shards,0,SequenceNumberRange,StartingSequenceNumber}') ? 'ShardIterator' AS at_start;
SELECT sa_err($$SELECT orders_stream."GetRecords"('garbage')$$) AS bad_iterator,
	sa_err($$SELECT orders_stream."GetRecords"(NULL)$$) AS null_iterator,
	sa_err(format('SELECT orders_stream."GetRecords"(%L, 0)', orders_stream."GetShardIterator"(:'t1', :'shard1', 'LATEST')->>'ShardIterator')) AS limit_0,
	sa_err(format('SELECT orders_stream."GetRecords"(%L, 1001)', orders_stream."GetShardIterator"(:'t1', :'shard1', 'LATEST')->>'ShardIterator')) AS limit_1001;

-- the dispatcher: the operations' answers, with or without the X-Amz-Target prefix
SELECT orders_stream.dynamodb_streams('ListStreams', '{"TableName": "sa_t", "Limit": 2}')
	= orders_stream."ListStreams"('sa_t', 2) AS list_streams,
	orders_stream.dynamodb_streams('DynamoDBStreams_20120810.DescribeStream', jsonb_build_object('StreamArn', :'t1'))
	= orders_stream."DescribeStream"(:'t1') AS describe_stream,
	orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator',
		orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', :'t1',
			'ShardId', :'shard1', 'ShardIteratorType', 'TRIM_HORIZON'))->>'ShardIterator', 'Limit', 1000))
	= orders_stream."GetRecords"(orders_stream."GetShardIterator"(:'t1', :'shard1', 'TRIM_HORIZON')->>'ShardIterator') AS get_records,
	orders_stream.dynamodb_streams('ListStreams', NULL) = orders_stream."ListStreams"() AS null_body,
	orders_stream.dynamodb_streams('ListStreams', '{"TableName": null, "Unknown": 1}') = orders_stream."ListStreams"() AS null_and_unknown_members;
SELECT sa_err($$SELECT orders_stream.dynamodb_streams('PutItem', '{}')$$) AS unknown_operation,
	sa_err($$SELECT orders_stream.dynamodb_streams(NULL, '{}')$$) AS null_operation,
	sa_err($$SELECT orders_stream.dynamodb_streams('ListStreams', '[]')$$) AS not_an_object,
	sa_err($$SELECT orders_stream.dynamodb_streams('ListStreams', '{"Limit": "5"}')$$) AS limit_as_string,
	sa_err($$SELECT orders_stream.dynamodb_streams('ListStreams', '{"Limit": 1.5}')$$) AS limit_fraction,
	sa_err($$SELECT orders_stream.dynamodb_streams('DescribeStream', '{"StreamArn": 5}')$$) AS arn_as_number,
	sa_err($$SELECT orders_stream.dynamodb_streams('DescribeStream', '{}')$$) AS missing_arn;
-- what an error looks like in full
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT orders_stream.dynamodb_streams('DescribeStream', '{"StreamArn": "arn:aws:dynamodb:local:000000000000:table/x/stream/2000-01-01T00:00:00.000"}');
SELECT orders_stream.dynamodb_streams('GetShards', '{}');
