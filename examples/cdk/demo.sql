-- examples/cdk/demo.sql: the seed scenario on what import_stack() makes of
-- the CDK app's template (psql variable :template, see import.sh).  As
-- examples/demo.sql, but the stream and the mapping come from the template:
--
--   cdk: OrdersTable (stream NEW_IMAGE)        -> table orders, its stream
--        echoLambda                            -> item_totals_aggregator(jsonb)
--        DynamoEventSource { batchSize: 5, ... } -> the mapping, same settings
--        onFailure: SqsDlq                     -> orders_stream.failures

\set ON_ERROR_STOP on

CREATE EXTENSION IF NOT EXISTS orders_stream;
SELECT orders_stream.wait_for_slot() IS NOT NULL AS capture_slot_ready;

-- the relational table the DynamoDB items become (the import would otherwise
-- create one from the key schema, with the other attributes in a jsonb column)
\ir ../demo_setup.sql

\echo what the import would do (dry_run, the default):
SELECT logical_id, resource_type, action, detail
  FROM orders_stream.import_stack(:'template',
	   functions => '{"echoLambdaA460BF50": "item_totals_aggregator(jsonb)"}',
	   tables => '{"OrdersTable315BB997": "orders"}');

\echo the import:
SELECT logical_id, action, object
  FROM orders_stream.import_stack(:'template',
	   functions => '{"echoLambdaA460BF50": "item_totals_aggregator(jsonb)"}',
	   tables => '{"OrdersTable315BB997": "orders"}',
	   dry_run => false);
SELECT m.uuid AS mapping FROM orders_stream.event_source_mappings m
 WHERE m.function_oid = 'item_totals_aggregator(jsonb)'::regprocedure \gset

\ir ../demo_orders.sql

SELECT orders_stream.wait_for_mapping(:'mapping', '120s') IS NOT NULL AS caught_up;

\echo item_totals, kept by the aggregator:
SELECT item, total FROM item_totals ORDER BY item;
SELECT (SELECT array_agg(item || '=' || total ORDER BY item) FROM item_totals)
	 = (SELECT array_agg(item || '=' || total ORDER BY item)
		  FROM (SELECT item, sum(quantity) AS total FROM orders
				 WHERE id <> 'order-poison' GROUP BY item) s) AS totals_match;

\echo the failure destination (the SQS DLQ of the stack): the poison order alone, after bisection
SELECT condition, jsonb_array_length(records) AS records,
	   records->0->'dynamodb'->'Keys'->'id'->>'S' AS order_id,
	   payload->'requestContext'->>'approximateInvokeCount' AS invocations
  FROM orders_stream.failures;

\echo importing the same template again changes nothing:
SELECT logical_id, action
  FROM orders_stream.import_stack(:'template',
	   functions => '{"echoLambdaA460BF50": "item_totals_aggregator(jsonb)"}',
	   tables => '{"OrdersTable315BB997": "orders"}',
	   dry_run => false)
 WHERE resource_type IN ('AWS::DynamoDB::Table', 'AWS::Lambda::EventSourceMapping');
