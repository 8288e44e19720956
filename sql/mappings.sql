--
-- mappings: the event source mapping API (create, update, delete, list) and
-- everything it refuses, with SQLSTATEs; then deliveries checked with
-- wait_for_mapping: batches of batch_size in SequenceNumber order, a poison
-- record isolated by bisection into orders_stream.failures, redrive, and the
-- status counters, with the PL/pgSQL and the C item_totals aggregators.
--
-- Every delivery below starts once all its records are captured (a mapping
-- created disabled and then enabled, or created afterwards with
-- TRIM_HORIZON), so its batches, and hence its counters, are deterministic.
--
\pset format unaligned
\set SHOW_CONTEXT never
SET client_min_messages = warning;
-- retries after 10, 20, 40, ... ms (at most 100) instead of 1 s, 2 s, ...
ALTER SYSTEM SET orders_stream.retry_base_delay = 10;
ALTER SYSTEM SET orders_stream.retry_max_delay = 100;
SELECT pg_reload_conf();
CREATE TABLE mp_orders (id text PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
CREATE TABLE mp_plain (id int PRIMARY KEY);
CREATE VIEW mp_view AS SELECT * FROM mp_orders;
SELECT os_mask_arn(orders_stream.enable_stream('mp_orders', 'NEW_AND_OLD_IMAGES')) AS arn;
SELECT "StreamArn" AS mp_arn FROM orders_stream.list_streams() WHERE "TableName" = 'mp_orders' \gset
-- the seed's aggregator, examples/item_totals.sql
CREATE TABLE item_totals (
	item  text PRIMARY KEY,
	total bigint NOT NULL
);
CREATE FUNCTION item_totals_aggregator(event jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	poison jsonb;
BEGIN
	SELECT r INTO poison
	  FROM jsonb_array_elements(event->'Records') AS r
	 WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::numeric < 0
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'order % has a negative quantity', poison#>>'{dynamodb,Keys,id,S}'
			USING HINT = 'Fix the order; then orders_stream.redrive_failures() replays it.';
	END IF;
	INSERT INTO item_totals AS t (item, total)
	SELECT item, sum(delta)
	  FROM (SELECT r#>>'{dynamodb,NewImage,item,S}' AS item,
				   (r#>>'{dynamodb,NewImage,quantity,N}')::bigint AS delta
			  FROM jsonb_array_elements(event->'Records') AS r
			 WHERE r#> '{dynamodb,NewImage}' IS NOT NULL
			   AND (r->>'eventName' = 'INSERT' OR r#> '{dynamodb,OldImage}' IS NOT NULL)
			UNION ALL
			SELECT r#>>'{dynamodb,OldImage,item,S}',
				   -(r#>>'{dynamodb,OldImage,quantity,N}')::bigint
			  FROM jsonb_array_elements(event->'Records') AS r
			 WHERE r->>'eventName' IN ('MODIFY', 'REMOVE')
			   AND r#> '{dynamodb,OldImage}' IS NOT NULL) AS d
	 GROUP BY item
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total;
	RETURN NULL;
END
$$;
-- the same in C, examples/item_totals_c.sql
CREATE FUNCTION item_totals_aggregator_c(event jsonb)
RETURNS jsonb
AS 'orders_stream_item_totals', 'item_totals_aggregator'
LANGUAGE C STRICT;
-- functions that cannot be targets
CREATE FUNCTION mp_two(event jsonb, n int) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
CREATE FUNCTION mp_int(n int) RETURNS jsonb LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
CREATE FUNCTION mp_srf(event jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT event $$;
CREATE PROCEDURE mp_proc(event jsonb) LANGUAGE sql AS $$ SELECT 1 $$;
-- a valid one that other roles may not execute
CREATE FUNCTION mp_secret(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
REVOKE EXECUTE ON FUNCTION mp_secret(jsonb) FROM PUBLIC;
-- the SQLSTATE and message of a failing statement, stream labels and UUIDs masked
CREATE FUNCTION mp_try(sql text) RETURNS text
LANGUAGE plpgsql
AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || regexp_replace(regexp_replace(SQLERRM,
		'/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}', '/stream/<label>', 'g'),
		'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g');
END
$$;
-- a mapping's configuration with the values that change from run to run masked
CREATE FUNCTION mp_conf(c jsonb) RETURNS jsonb
LANGUAGE sql
AS $$
	SELECT c - 'UUID' - 'LastModified' - 'EventSourceMappingArn'
		|| jsonb_build_object('EventSourceArn', os_mask_arn(c->>'EventSourceArn'))
$$;

--
-- create_event_source_mapping: what it refuses
--
-- no event source, no function
SELECT orders_stream.create_event_source_mapping(NULL, 'item_totals_aggregator(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', NULL, starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
-- not a table, a view, a table without a stream, an unknown stream ARN
SELECT orders_stream.create_event_source_mapping('mp_nosuch', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_view', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_plain', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('arn:aws:dynamodb:local:000000000000:table/mp_nosuch/stream/2020-01-01T00:00:00.000', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
-- functions: unknown, two arguments, an int argument, set-returning, a procedure
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_nosuch(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_two(jsonb, int)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_int(int)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_srf(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_proc(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
-- parameters out of AWS's ranges
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', batch_size => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', batch_size => 10001);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', batch_size => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_batching_window_in_seconds => 301);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_batching_window_in_seconds => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_retry_attempts => -2);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_retry_attempts => 10001);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_record_age_in_seconds => 59);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_record_age_in_seconds => 604801);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', maximum_record_age_in_seconds => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', parallelization_factor => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', parallelization_factor => 11);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', function_response_types => '{Foo}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', function_response_types => '{ReportBatchItemFailures,Foo}');
\echo :LAST_ERROR_SQLSTATE
-- the starting position is required, and one of two
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'AT_TIMESTAMP');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'latest');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST', enabled => NULL);
\echo :LAST_ERROR_SQLSTATE
-- nothing was created
SELECT count(*) FROM orders_stream.event_source_mappings;
-- a role that may not read the table, then may not execute the function
CREATE ROLE regress_mp_user;
SET ROLE regress_mp_user;
SELECT mp_try($$SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST')$$);
RESET ROLE;
GRANT SELECT ON mp_orders TO regress_mp_user;
-- a mapping invokes a function its creator owns
CREATE FUNCTION mp_user_agg(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
ALTER FUNCTION mp_user_agg(jsonb) OWNER TO regress_mp_user;
SET ROLE regress_mp_user;
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_secret(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
-- nor one it may execute: another role's (stream, function) pair is not its to take
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)', starting_position => 'LATEST');
\echo :LAST_ERROR_SQLSTATE
-- its own mapping: created disabled, the limits of the ranges are valid
SELECT orders_stream.create_event_source_mapping('mp_orders', 'mp_user_agg(jsonb)',
	starting_position => 'TRIM_HORIZON', batch_size => 10000, maximum_retry_attempts => -1,
	maximum_record_age_in_seconds => 60, maximum_batching_window_in_seconds => 300,
	parallelization_factor => 10, enabled => false) AS mu \gset
SELECT mp_conf(c) FROM orders_stream.list_event_source_mappings() AS c;
SELECT m.maximum_record_age_in_seconds, m.maximum_retry_attempts, m.checkpoint, m.search_path,
	s.owner = 'regress_mp_user'::regrole AS own
FROM orders_stream.event_source_mappings m JOIN orders_stream.event_source_mapping_status s USING (uuid);
-- the mapping's owner is a recorded dependency
RESET ROLE;
\set VERBOSITY terse
DROP ROLE regress_mp_user;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SET ROLE regress_mp_user;
-- only the extension's functions write mappings: no direct write, no lock
UPDATE orders_stream.event_source_mappings SET batch_size = 0;
\echo :LAST_ERROR_SQLSTATE
UPDATE orders_stream.event_source_mappings SET function_response_types = '{Foo}';
\echo :LAST_ERROR_SQLSTATE
UPDATE orders_stream.event_source_mappings SET maximum_record_age_in_seconds = 59;
\echo :LAST_ERROR_SQLSTATE
UPDATE orders_stream.event_source_mappings SET checkpoint = '';
\echo :LAST_ERROR_SQLSTATE
DELETE FROM orders_stream.event_source_mappings;
\echo :LAST_ERROR_SQLSTATE
BEGIN;
LOCK orders_stream.event_source_mappings IN ROW EXCLUSIVE MODE;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET ROLE;
-- other roles see nothing of it
CREATE ROLE regress_mp_other;
SET ROLE regress_mp_other;
SELECT count(*) FROM orders_stream.list_event_source_mappings();
SELECT mp_try(format('SELECT orders_stream.delete_event_source_mapping(%L)', :'mu'));
RESET ROLE;
SET ROLE regress_mp_user;
SELECT mp_conf(orders_stream.delete_event_source_mapping(:'mu'))->>'State' AS state;
RESET ROLE;

--
-- update, list, delete
--
SELECT orders_stream.create_event_source_mapping(:'mp_arn', 'item_totals_aggregator(jsonb)',
	starting_position => 'LATEST', maximum_record_age_in_seconds => -1, enabled => false) AS m1 \gset
SELECT mp_conf(c) FROM orders_stream.list_event_source_mappings('mp_orders') AS c;
SELECT (c->>'UUID')::uuid = :'m1' AS uuid_ok,
	abs((c->>'LastModified')::numeric - extract(epoch FROM now())) < 60 AS last_modified_ok,
	c->>'EventSourceMappingArn' = 'arn:aws:lambda:local:000000000000:event-source-mapping:' || :'m1' AS arn_ok
FROM orders_stream.list_event_source_mappings('mp_orders') AS c;
-- GetEventSourceMapping: the same document
SELECT orders_stream.get_event_source_mapping(:'m1') = c AS get_ok
FROM orders_stream.list_event_source_mappings('mp_orders') AS c;
SELECT orders_stream.get_event_source_mapping('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
-- ListEventSourceMappings / CreateEventSourceMapping: AWS's documents
SELECT orders_stream."ListEventSourceMappings"(:'mp_arn') = jsonb_build_object('EventSourceMappings',
	(SELECT jsonb_agg(c) FROM orders_stream.list_event_source_mappings('mp_orders') AS c)) AS list_ok;
SELECT jsonb_array_length(orders_stream."ListEventSourceMappings"(NULL, f)->'EventSourceMappings') AS n, f
FROM unnest(ARRAY['item_totals_aggregator', 'public--item_totals_aggregator', 'public.item_totals_aggregator',
	'arn:aws:lambda:local:000000000000:function:public--item_totals_aggregator', 'nope']) AS f;
-- FunctionArn's name is schema--name, each in Lambda's [a-zA-Z0-9-_]: any
-- other character (and '-') as '-' and the hex of its UTF-8 bytes; and back
SELECT n, orders_stream.lambda_function_sql_name(n) AS sql_name,
	n ~ '^[-a-zA-Z0-9_]+$' AS lambda_pattern
FROM (VALUES (orders_stream.lambda_function_name('public', 'item_totals_aggregator')),
			 (orders_stream.lambda_function_name('My Schema', 'f-ü.x')),
			 (orders_stream.lambda_function_name('a--b', '-')),
			 (orders_stream.lambda_function_name(NULL, 'dropped'))) AS v(n);
SELECT orders_stream.lambda_function_sql_name('arn:aws:lambda:local:000000000000:function:mp_c--item_totals_aggregator_c') AS from_arn,
	orders_stream.lambda_function_sql_name('mp_c.item_totals_aggregator_c') AS sql_form,
	orders_stream.lambda_function_sql_name('item_totals_aggregator') AS name_alone;
SELECT orders_stream."CreateEventSourceMapping"(jsonb_build_object('EventSourceArn', :'mp_arn',
	'FunctionName', 'arn:aws:lambda:local:000000000000:function:item_totals_aggregator_c', 'StartingPosition', 'LATEST',
	'Enabled', false, 'BatchSize', 5, 'FunctionResponseTypes', '["ReportBatchItemFailures"]'::jsonb,
	'FilterCriteria', '{"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]}'::jsonb)) AS cr \gset
SELECT mp_conf(:'cr');
SELECT orders_stream.get_event_source_mapping((:'cr'::jsonb->>'UUID')::uuid) = :'cr' AS get_ok;
-- two pages of one, in creation order, then none
SELECT orders_stream."ListEventSourceMappings"(:'mp_arn', NULL, NULL, 1) AS p1 \gset
SELECT (:'p1'::jsonb#>>'{EventSourceMappings,0,UUID}')::uuid = :'m1' AS first_ok, :'p1'::jsonb ? 'NextMarker' AS more;
SELECT l#>>'{EventSourceMappings,0,UUID}' = :'cr'::jsonb->>'UUID' AS second_ok, l ? 'NextMarker' AS more
FROM orders_stream."ListEventSourceMappings"(:'mp_arn', NULL, :'p1'::jsonb->>'NextMarker', 1) AS l;
SELECT mp_try($$SELECT orders_stream."ListEventSourceMappings"(NULL, NULL, 'garbage')$$);
SELECT mp_try($$SELECT orders_stream."ListEventSourceMappings"(NULL, NULL, NULL, 0)$$);
SELECT mp_try($$SELECT orders_stream."CreateEventSourceMapping"('{"FunctionName": "nope", "StartingPosition": "LATEST"}')$$);
-- a member of the wrong JSON type: InvalidParameterValueException
SELECT mp_try($$SELECT orders_stream."CreateEventSourceMapping"('{"FunctionName": "item_totals_aggregator", "StartingPosition": "LATEST", "BatchSize": "ten"}')$$);
SELECT mp_try($$SELECT orders_stream."CreateEventSourceMapping"('{"FunctionName": "item_totals_aggregator", "StartingPosition": "LATEST", "FunctionResponseTypes": "ReportBatchItemFailures"}')$$);
SELECT orders_stream.delete_event_source_mapping((:'cr'::jsonb->>'UUID')::uuid)->>'State' AS state;
-- one mapping per stream and function: ResourceConflictException
SELECT mp_try($$SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)',
	starting_position => 'LATEST', enabled => false)$$);
-- update changes only what it is given
SELECT mp_conf(orders_stream.update_event_source_mapping(:'m1', batch_size => 7,
	maximum_retry_attempts => 3, bisect_batch_on_function_error => true,
	maximum_record_age_in_seconds => 3600, maximum_batching_window_in_seconds => 2,
	function_response_types => '{ReportBatchItemFailures}', parallelization_factor => 2));
SELECT mp_conf(orders_stream.update_event_source_mapping(:'m1', function_name => 'item_totals_aggregator_c(jsonb)'))->>'FunctionArn' AS function_arn;
SELECT function_name, function_oid = 'item_totals_aggregator_c(jsonb)'::regprocedure AS oid_ok
FROM orders_stream.event_source_mappings WHERE uuid = :'m1';
-- invalid updates change nothing
SELECT orders_stream.update_event_source_mapping(:'m1', batch_size => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_event_source_mapping(:'m1', maximum_retry_attempts => -2);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_event_source_mapping(:'m1', maximum_record_age_in_seconds => 59);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_event_source_mapping(:'m1', function_response_types => '{Foo}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_event_source_mapping(:'m1', function_name => 'mp_two(jsonb, int)');
\echo :LAST_ERROR_SQLSTATE
SELECT batch_size, maximum_retry_attempts, maximum_record_age_in_seconds, function_response_types, function_name
FROM orders_stream.event_source_mappings WHERE uuid = :'m1';
-- unknown mappings: ResourceNotFoundException
SELECT orders_stream.update_event_source_mapping('00000000-0000-0000-0000-000000000000', batch_size => 5);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_event_source_mapping(NULL, batch_size => 5);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.delete_event_source_mapping('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.wait_for_mapping('00000000-0000-0000-0000-000000000000');
\echo :LAST_ERROR_SQLSTATE
-- list: by table, by ARN, by function; an unknown source is an error
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)',
	starting_position => 'LATEST', enabled => false) AS m2 \gset
SELECT c->>'FunctionArn' AS function_arn, c->>'State' AS state, (c->>'UUID')::uuid = :'m1' AS is_m1
FROM orders_stream.list_event_source_mappings('mp_orders') AS c;
-- an update into another mapping's (stream, function) conflicts too
SELECT mp_try(format('SELECT orders_stream.update_event_source_mapping(%L, function_name => %L)',
	:'m1', 'item_totals_aggregator(jsonb)'));
-- function_name has one form, schema-qualified, whoever made or changed the mapping
SELECT function_name FROM orders_stream.event_source_mappings WHERE uuid IN (:'m1', :'m2') ORDER BY 1;
SELECT count(*) FROM orders_stream.list_event_source_mappings(:'mp_arn');
SELECT c->>'FunctionArn' AS function_arn
FROM orders_stream.list_event_source_mappings(function_name => 'item_totals_aggregator(jsonb)') AS c;
SELECT count(*) FROM orders_stream.list_event_source_mappings('mp_orders', 'mp_secret(jsonb)');
SELECT count(*) FROM orders_stream.list_event_source_mappings('mp_plain');
\echo :LAST_ERROR_SQLSTATE
-- delete returns the configuration, State Deleting; the mapping is gone
SELECT mp_conf(orders_stream.delete_event_source_mapping(:'m1'));
SELECT mp_try(format('SELECT orders_stream.delete_event_source_mapping(%L)', :'m1'));
SELECT orders_stream.delete_event_source_mapping(:'m2')->>'State' AS state;
SELECT count(*) FROM orders_stream.list_event_source_mappings();

--
-- delivery, PL/pgSQL aggregator: batch_size 5, bisect, 2 retries
--
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator(jsonb)',
	batch_size => 5, starting_position => 'LATEST', bisect_batch_on_function_error => true,
	maximum_retry_attempts => 2, enabled => false) AS mp \gset
-- 14 records r1..r14: o01..o07, the poison p1, o08 and o09, a MODIFY and a
-- REMOVE, two items that differ only after their 150th character
INSERT INTO mp_orders VALUES ('o01', 'a', 1), ('o02', 'b', 2), ('o03', 'a', 3), ('o04', 'b', 4),
	('o05', 'c', 5), ('o06', 'a', 6), ('o07', 'b', 7);
INSERT INTO mp_orders VALUES ('p1', 'a', -1);
INSERT INTO mp_orders VALUES ('o08', 'c', 8), ('o09', 'a', 9);
BEGIN;
UPDATE mp_orders SET quantity = 10 WHERE id = 'o01';
DELETE FROM mp_orders WHERE id = 'o02';
COMMIT;
INSERT INTO mp_orders VALUES ('o10', repeat('x', 150) || '1', 100), ('o11', repeat('x', 150) || '2', 200);
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
SELECT count(*) AS records FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
WHERE s.stream_arn = :'mp_arn';
-- waiting for a disabled mapping with records to deliver
SELECT mp_try(format('SELECT orders_stream.wait_for_mapping(%L, %L)', :'mp', '5s'));
SELECT orders_stream.update_event_source_mapping(:'mp', enabled => true)->>'State' AS state;
SELECT orders_stream.wait_for_mapping(:'mp', '60s') = max(r.sequence_number) AS caught_up
FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id) WHERE s.stream_arn = :'mp_arn';
-- [r1-r5] ok; [r6-r10] fails, [r6-r8] fails, [r6-r7] ok, [r8] fails 3 times
-- (1 + 2 retries) and goes to failures; [r9-r10] ok; [r11-r14] ok
SELECT state, invocations, records_processed, errors, retries, failures, last_error,
	last_processing_result, iterator_age_ms
FROM orders_stream.event_source_mapping_status WHERE uuid = :'mp';
SELECT left(item, 5) AS item, length(item) AS length, total FROM item_totals ORDER BY item;
-- the totals are those of the orders, the poison order aside
SELECT count(*) AS mismatches FROM (
	(SELECT item, total FROM item_totals
	 EXCEPT SELECT item, sum(quantity) FROM mp_orders WHERE quantity >= 0 GROUP BY item)
	UNION ALL
	(SELECT item, sum(quantity) FROM mp_orders WHERE quantity >= 0 GROUP BY item
	 EXCEPT SELECT item, total FROM item_totals)) d;
-- one failure: the poison record alone, with the Lambda OnFailure document
SELECT f.condition, f.sqlstate, f.message, f.hint,
	jsonb_array_length(f.records) AS n,
	f.records->0->'dynamodb'->'Keys' AS keys,
	f.payload->'requestContext'->>'condition' AS ctx_condition,
	f.payload->'requestContext'->'approximateInvokeCount' AS invoke_count,
	f.payload->'requestContext'->>'functionArn' AS function_arn,
	f.payload->'responseContext' AS response_context,
	f.payload->>'version' AS version,
	f.payload->'DDBStreamBatchInfo'->'batchSize' AS batch_size,
	os_mask_arn(f.payload->'DDBStreamBatchInfo'->>'streamArn') AS stream_arn,
	f.payload->'DDBStreamBatchInfo'->>'startSequenceNumber' = f.records->0->'dynamodb'->>'SequenceNumber'
		AND f.payload->'DDBStreamBatchInfo'->>'endSequenceNumber' = f.records->0->'dynamodb'->>'SequenceNumber' AS seq_ok,
	f.payload->'DDBStreamBatchInfo'->>'shardId' = (orders_stream.describe_stream(:'mp_arn')#>>'{StreamDescription,Shards,0,ShardId}') AS shard_ok,
	f.payload->'requestContext'->>'requestId' ~ '^[0-9a-f-]{36}$' AS request_id_ok,
	f.payload->>'timestamp' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$' AS timestamp_ok,
	f.payload->'DDBStreamBatchInfo'->>'approximateArrivalOfFirstRecord' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$' AS arrival_ok,
	f.redriven_at IS NULL AS not_redriven
FROM orders_stream.failures f WHERE f.mapping_uuid = :'mp';

--
-- the C aggregator on the same stream from TRIM_HORIZON, into the
-- item_totals of the search_path current at creation: batch_size 100,
-- bisect, no retries
--
CREATE SCHEMA mp_c;
CREATE TABLE mp_c.item_totals (item text PRIMARY KEY, total bigint NOT NULL);
SET search_path = mp_c, public;
SELECT orders_stream.create_event_source_mapping('mp_orders', 'item_totals_aggregator_c(jsonb)',
	batch_size => 100, starting_position => 'TRIM_HORIZON', bisect_batch_on_function_error => true,
	maximum_retry_attempts => 0) AS mc \gset
RESET search_path;
SELECT orders_stream.wait_for_mapping(:'mc', '60s') IS NOT NULL AS caught_up;
-- [r1-r14] fails, [r1-r7] ok, [r8-r14] fails, [r8-r11] fails, [r8-r9] fails,
-- [r8] fails once and goes to failures, [r9] ok, [r10-r11] ok, [r12-r14] ok
SELECT state, invocations, records_processed, errors, retries, failures, last_error,
	last_processing_result
FROM orders_stream.event_source_mapping_status WHERE uuid = :'mc';
SELECT count(*) AS mismatches FROM (
	(SELECT item, total FROM mp_c.item_totals EXCEPT SELECT item, total FROM public.item_totals)
	UNION ALL
	(SELECT item, total FROM public.item_totals EXCEPT SELECT item, total FROM mp_c.item_totals)) d;
SELECT count(*) AS long_items FROM mp_c.item_totals WHERE length(item) = 151;
SELECT f.condition, f.sqlstate, f.message, f.records->0->'dynamodb'->'Keys' AS keys,
	f.payload->'requestContext'->'approximateInvokeCount' AS invoke_count,
	f.payload->'requestContext'->>'functionArn' AS function_arn
FROM orders_stream.failures f WHERE f.mapping_uuid = :'mc';

--
-- redrive: the C function still refuses the record; the PL/pgSQL one,
-- fixed, takes it, once
--
SELECT result FROM orders_stream.redrive_failures(:'mc');
SELECT redriven_at IS NOT NULL AS redriven, redrive_result FROM orders_stream.failures WHERE mapping_uuid = :'mc';
-- every invocation checks the target again, whatever changed the mapping
-- row: a function that cannot be a target, or one that is gone
SELECT function_oid::oid AS mc_function FROM orders_stream_internal.event_source_mappings
 WHERE uuid = :'mc' \gset
UPDATE orders_stream_internal.event_source_mappings SET function_oid = 'mp_two(jsonb, int)'::regprocedure
 WHERE uuid = :'mc';
SELECT result FROM orders_stream.redrive_failures(:'mc');
CREATE FUNCTION mp_gone(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT event $$;
UPDATE orders_stream_internal.event_source_mappings SET function_oid = 'mp_gone(jsonb)'::regprocedure
 WHERE uuid = :'mc';
DROP FUNCTION mp_gone(jsonb);
SELECT regexp_replace(result, 'OID \d+', 'OID n') AS result FROM orders_stream.redrive_failures(:'mc');
UPDATE orders_stream_internal.event_source_mappings SET function_oid = :mc_function
 WHERE uuid = :'mc';
CREATE OR REPLACE FUNCTION item_totals_aggregator(event jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
BEGIN
	INSERT INTO item_totals AS t (item, total)
	SELECT r#>>'{dynamodb,NewImage,item,S}', sum((r#>>'{dynamodb,NewImage,quantity,N}')::bigint)
	  FROM jsonb_array_elements(event->'Records') AS r
	 WHERE r->>'eventName' = 'INSERT'
	 GROUP BY 1
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total;
	RETURN NULL;
END
$$;
SELECT result FROM orders_stream.redrive_failures(:'mp');
SELECT redriven_at IS NOT NULL AS redriven, redrive_result FROM orders_stream.failures WHERE mapping_uuid = :'mp';
SELECT total FROM item_totals WHERE item = 'a';
-- a failure redriven successfully is not redriven again
SELECT count(*) FROM orders_stream.redrive_failures(:'mp');
-- by id, and of a deleted mapping
SELECT orders_stream.delete_event_source_mapping(:'mc')->>'State' AS state;
SELECT result FROM orders_stream.redrive_failures(NULL,
	(SELECT array_agg(failure_id) FROM orders_stream.failures WHERE mapping_uuid = :'mc'));

-- clean up
SELECT orders_stream.delete_event_source_mapping(:'mp')->>'State' AS state;
DELETE FROM orders_stream.failures;
DROP SCHEMA mp_c CASCADE;
REVOKE SELECT ON mp_orders FROM regress_mp_user;
DROP FUNCTION mp_user_agg(jsonb);
DROP ROLE regress_mp_user;
DROP ROLE regress_mp_other;
ALTER SYSTEM RESET orders_stream.retry_base_delay;
ALTER SYSTEM RESET orders_stream.retry_max_delay;
SELECT pg_reload_conf();
