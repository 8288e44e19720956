-- examples/demo.sql: the seed scenario, end to end.  Run by ./demo.sh in a
-- throwaway cluster; psql runs each statement in its own transaction.
--
-- AWS (CDK):                               orders_stream:
--   Table "orders", stream NEW_IMAGE         enable_stream('orders', 'NEW_IMAGE')
--   Lambda keeping item totals               item_totals_aggregator(event jsonb)
--   DynamoEventSource { startingPosition:    create_event_source_mapping(...,
--     LATEST, batchSize: 5,                     starting_position => 'LATEST', batch_size => 5,
--     bisectBatchOnError: true,                 bisect_batch_on_function_error => true,
--     retryAttempts: 10,                        maximum_retry_attempts => 10)
--     onFailure: SqsDlq }                     orders_stream.failures

\set ON_ERROR_STOP on

CREATE EXTENSION orders_stream;
-- the capture worker creates its replication slot once CREATE EXTENSION has
-- committed; streams can be enabled from then on
SELECT orders_stream.wait_for_slot();

\ir demo_setup.sql
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE') AS stream_arn;

SELECT orders_stream.create_event_source_mapping(
	'orders', 'item_totals_aggregator(jsonb)',
	batch_size => 5,
	starting_position => 'LATEST',
	bisect_batch_on_function_error => true,
	maximum_retry_attempts => 10) AS mapping \gset

\ir demo_orders.sql

-- One record as the aggregator receives it in event.Records
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
SELECT jsonb_pretty(record::jsonb) AS "a stream record"
  FROM orders_stream.records ORDER BY sequence_number LIMIT 1;

-- wait until the mapping has processed everything (bisect isolates the
-- poison order, which is then invoked 11 times and sent to failures)
SELECT orders_stream.wait_for_mapping(:'mapping', '120s') IS NOT NULL AS caught_up;

\echo item_totals, kept by the aggregator:
SELECT item, total FROM item_totals ORDER BY item;

\echo the same computed from orders, without the poison order:
SELECT item, sum(quantity) AS total FROM orders WHERE id <> 'order-poison' GROUP BY item ORDER BY item;

SELECT (SELECT array_agg(item || '=' || total ORDER BY item) FROM item_totals)
	 = (SELECT array_agg(item || '=' || total ORDER BY item)
		  FROM (SELECT item, sum(quantity) AS total FROM orders
				 WHERE id <> 'order-poison' GROUP BY item) s) AS totals_match;

\echo the failure destination: one row, holding only the poison order
SELECT failure_id, condition, jsonb_array_length(records) AS records,
	   records->0->'dynamodb'->'Keys'->'id'->>'S' AS order_id,
	   payload->'requestContext'->>'approximateInvokeCount' AS invocations,
	   sqlstate, message
  FROM orders_stream.failures;
SELECT jsonb_pretty(payload) AS "Lambda OnFailure document" FROM orders_stream.failures;

\echo the mapping status
\x on
SELECT state, checkpoint_sequence_number, iterator_age_ms, invocations, records_processed,
	   errors, retries, failures, last_error, last_processing_result
  FROM orders_stream.event_source_mapping_status;
\x off

\echo after a fix, redrive_failures() replays the failure: here the fix skips bad orders
CREATE FUNCTION item_totals_aggregator_fixed(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$
	SELECT item_totals_aggregator(jsonb_build_object('Records', coalesce(
		(SELECT jsonb_agg(r) FROM jsonb_array_elements(event->'Records') AS r
		  WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::int >= 0), '[]')))
$$;
SELECT orders_stream.update_event_source_mapping(:'mapping',
	function_name => 'item_totals_aggregator_fixed(jsonb)')->>'FunctionArn' AS function_arn;
SELECT * FROM orders_stream.redrive_failures(:'mapping');
SELECT failure_id, redrive_result FROM orders_stream.failures;
