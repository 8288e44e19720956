--
-- metrics: the views of AWS's metrics (their columns, AWS's names), what
-- a delivery and the read API add to them, MetricsConfig, and who sees and
-- feeds what: a role that may not read a stream neither sees its metrics
-- nor adds to them.
--
\pset format unaligned
\set SHOW_CONTEXT never
SET client_min_messages = warning;
SELECT orders_stream.reset_metrics();
-- the views' columns
SELECT table_name, string_agg(column_name, ' ' ORDER BY ordinal_position) AS columns
  FROM information_schema.columns
 WHERE table_schema = 'orders_stream'
   AND table_name IN ('mapping_metrics', 'stream_metrics', 'stream_operation_metrics')
 GROUP BY table_name ORDER BY table_name;
CREATE TABLE mt_orders (id int PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('mt_orders', 'NEW_IMAGE') AS mt_arn \gset
CREATE TABLE mt_seen (n int);
CREATE FUNCTION mt_count(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO mt_seen SELECT jsonb_array_length(event->'Records') $$;
-- MetricsConfig as AWS shapes it
SELECT orders_stream.create_event_source_mapping('mt_orders', 'mt_count(jsonb)',
	starting_position => 'TRIM_HORIZON', metrics_config => '{"Metrics": ["ErrorCount"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mt_orders', 'mt_count(jsonb)',
	starting_position => 'TRIM_HORIZON', metrics_config => '["EventCount"]');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('mt_orders', 'mt_count(jsonb)',
	starting_position => 'TRIM_HORIZON', batch_size => 2, enabled => false,
	filter_criteria => '{"Filters": [{"Pattern": "{\"dynamodb\": {\"NewImage\": {\"item\": {\"S\": [\"a\"]}}}}"}]}',
	metrics_config => '{"Metrics": ["EventCount"]}') AS mt \gset
SELECT orders_stream.get_event_source_mapping(:'mt')->'MetricsConfig' AS metrics_config;
-- before any delivery: the mapping, with zeros
SELECT "IteratorAge", "Invocations", "Errors", "Throttles", "DestinationDeliveryFailures",
	"ConcurrentExecutions", "PolledEventCount", "InvokedEventCount", "FilteredOutEventCount"
  FROM orders_stream.mapping_metrics WHERE uuid = :'mt';
INSERT INTO mt_orders VALUES (1, 'a', 1), (2, 'b', 2), (3, 'a', 3), (4, 'a', 4), (5, 'b', 5);
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
SELECT orders_stream.update_event_source_mapping(:'mt', enabled => true)->>'State' AS state;
SELECT orders_stream.wait_for_mapping(:'mt', '60s') IS NOT NULL AS caught_up;
-- batches of 2, 2 and 1 polled; the 3 records of item a invoked
SELECT "IteratorAge" >= 0 AS age, array_length("IteratorAgeByLane", 1) AS lanes, "Invocations", "Errors",
	"PolledEventCount", "InvokedEventCount", "FilteredOutEventCount", "FailedInvokeEventCount",
	"DroppedEventCount", "OnFailureDestinationDeliveredEventCount"
  FROM orders_stream.mapping_metrics WHERE uuid = :'mt';
-- without EventCount, the event counts are not shown, as in AWS
SELECT orders_stream.update_event_source_mapping(:'mt', metrics_config => '{"Metrics": []}')->'MetricsConfig' AS metrics_config;
SELECT event_count_enabled, "PolledEventCount", "Invocations" > 0 AS invoked
  FROM orders_stream.mapping_metrics WHERE uuid = :'mt';
-- capture's counters
SELECT records_stored, bytes_stored > 0 AS bytes, capture_exceptions, capture_lag_bytes IS NOT NULL AS lag
  FROM orders_stream.stream_metrics WHERE stream_arn = :'mt_arn';
-- the read API counts its requests: served, and failed (a user error)
SELECT jsonb_array_length(orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator',
	orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', :'mt_arn',
		'ShardId', (SELECT shard_id FROM orders_stream.readable_streams WHERE stream_arn = :'mt_arn'),
		'ShardIteratorType', 'TRIM_HORIZON'))->>'ShardIterator'))->'Records') AS records;
\set VERBOSITY sqlstate
SELECT orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', :'mt_arn',
	'ShardId', 'shardId-nope', 'ShardIteratorType', 'TRIM_HORIZON'));
\set VERBOSITY default
SELECT "ReturnedRecordsCount", "ReturnedBytes" > 0 AS bytes, "UserErrors", "SystemErrors"
  FROM orders_stream.stream_metrics WHERE stream_arn = :'mt_arn';
SELECT operation, requests, "SuccessfulRequestLatency" >= 0 AS latency, "UserErrors",
	array_length(latency_buckets, 1) = array_length(latency_bucket_bounds_ms, 1) + 1 AS histogram,
	(SELECT sum(b) FROM unnest(latency_buckets) b) = requests AS bucketed
  FROM orders_stream.stream_operation_metrics WHERE stream_arn = :'mt_arn' ORDER BY operation;
-- the same in Prometheus' text exposition format, labelled
SELECT regexp_replace(l, '\{.*\}', '{...}') AS line,
	strpos(l, format('{mapping="%s",function="public.mt_count(jsonb)",stream="%s"}', :'mt', :'mt_arn')) > 0 AS labelled
  FROM regexp_split_to_table(orders_stream.prometheus_metrics(), E'\n') l
 WHERE strpos(l, :'mt') > 0 AND l ~ '^orders_stream_mapping_(invocations|errors|polled_events)_total';
SELECT regexp_replace(l, '\{.*\}', '{...}') AS line
  FROM regexp_split_to_table(orders_stream.prometheus_metrics(), E'\n') l
 WHERE strpos(l, :'mt_arn') > 0 AND l ~ '^orders_stream_stream_(returned_records_total|request_latency_seconds_count)'
 ORDER BY 1;
-- a role that may not read the stream: sees nothing, adds nothing
CREATE ROLE regress_mt_other;
SET ROLE regress_mt_other;
SELECT count(*) FROM orders_stream.mapping_metrics;
SELECT count(*) FROM orders_stream.stream_metrics;
SELECT count(*) FROM orders_stream.stream_operation_metrics;
SELECT count(*) FROM orders_stream.metrics_mappings();
SELECT count(*) FROM orders_stream.metrics_streams();
SELECT count(*) FILTER (WHERE l LIKE '# TYPE %') AS families, count(*) FILTER (WHERE l LIKE 'orders_stream%') AS samples
  FROM regexp_split_to_table(orders_stream.prometheus_metrics(), E'\n') l;
SELECT orders_stream.metrics_note_request(:'mt_arn', 'GetRecords', now(), 1000000, 1000000, NULL);
SELECT orders_stream.metrics_note_request(:'mt_arn', 'GetRecords', now(), 0, 0, 'XX000');
SELECT orders_stream.metrics_note_request(:'mt_arn', 'PutItem', now(), 0, 0, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.reset_metrics();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT "ReturnedRecordsCount", "SystemErrors" FROM orders_stream.stream_metrics WHERE stream_arn = :'mt_arn';
-- once it may read the table, it sees them
GRANT SELECT ON mt_orders TO regress_mt_other;
SET ROLE regress_mt_other;
SELECT count(*) AS mappings FROM orders_stream.mapping_metrics;
SELECT "ReturnedRecordsCount" FROM orders_stream.stream_metrics WHERE stream_arn = :'mt_arn';
RESET ROLE;
-- reset: back to zero, counting from now
SELECT orders_stream.reset_metrics();
SELECT orders_stream.metrics_reset_time() > now() - interval '1 minute' AS reset_now,
	(SELECT stats_reset FROM orders_stream.stream_metrics WHERE stream_arn = :'mt_arn') = orders_stream.metrics_reset_time() AS shown;
SELECT "Invocations", "ReturnedRecordsCount"
  FROM orders_stream.mapping_metrics m JOIN orders_stream.stream_metrics s ON s.stream_arn = m.event_source_arn
 WHERE m.uuid = :'mt';
SELECT orders_stream.delete_event_source_mapping(:'mt') IS NOT NULL AS deleted;
SELECT orders_stream.disable_stream('mt_orders') IS NOT NULL AS disabled;
REVOKE SELECT ON mt_orders FROM regress_mt_other;
DROP ROLE regress_mt_other;
DROP TABLE mt_orders, mt_seen;
DROP FUNCTION mt_count(jsonb);
