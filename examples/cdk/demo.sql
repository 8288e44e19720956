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

-- ten retries back off 1 s, 2 s, 4 s ... by default: shorten them for the demo
ALTER SYSTEM SET orders_stream.retry_base_delay = '20ms';
ALTER SYSTEM SET orders_stream.retry_max_delay = '200ms';
SELECT pg_reload_conf();

-- the relational table the DynamoDB items become (the import would otherwise
-- create one from the key schema, with the other attributes in a jsonb column)
CREATE TABLE orders (
	id       text PRIMARY KEY,
	item     text NOT NULL,
	quantity int NOT NULL
);
\ir ../item_totals.sql

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

-- 20 orders, a poison order the aggregator rejects, 7 more
INSERT INTO orders
SELECT 'order-' || g, (ARRAY['coffee', 'tea', 'mug'])[g % 3 + 1], g % 4 + 1
  FROM generate_series(1, 20) AS g;
INSERT INTO orders VALUES ('order-poison', 'coffee', -5);
INSERT INTO orders
SELECT 'order-' || g, (ARRAY['coffee', 'tea', 'mug'])[g % 3 + 1], g % 4 + 1
  FROM generate_series(21, 27) AS g;

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
