--
-- import: orders_stream.import_stack() reads a CloudFormation template (the
-- seed's CDK stack as cdk synth writes it, extended with TTL, filters, a
-- table with a RANGE key, an SNS destination, a Kinesis source, AT_TIMESTAMP
-- and a type it does not know) and reports one row per resource; dry_run
-- changes nothing; importing again changes nothing; a changed property
-- updates the mapping; a new StartingPosition replaces it; a role that may
-- not enable a stream is refused as enable_stream refuses it.
--
\set SHOW_CONTEXT never
\pset format unaligned
CREATE TABLE orders (id text PRIMARY KEY, item text NOT NULL, quantity int NOT NULL,
					 expires_at timestamptz);
CREATE INDEX ON orders (expires_at);
CREATE FUNCTION import_item_totals(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT NULL::jsonb $$;
CREATE FUNCTION import_archive_lines(event jsonb) RETURNS jsonb
LANGUAGE sql AS $$ SELECT NULL::jsonb $$;

CREATE TABLE stack (name text PRIMARY KEY, template jsonb NOT NULL);
INSERT INTO stack VALUES ('seed', $json$
{"Resources": {
  "OrdersTable315BB997": {"Type": "AWS::DynamoDB::Table", "Properties": {
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST",
    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": true}},
    "UpdateReplacePolicy": "Retain", "DeletionPolicy": "Retain"},
  "LinesTable9A1C2B3D": {"Type": "AWS::DynamoDB::Table", "Properties": {
    "TableName": "order_lines",
    "AttributeDefinitions": [{"AttributeName": "order_id", "AttributeType": "S"},
                             {"AttributeName": "line", "AttributeType": "N"}],
    "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}, {"AttributeName": "line", "KeyType": "RANGE"}],
    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
    "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": true},
    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}},
  "SessionsGlobalTable": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
    "TableName": "sessions",
    "AttributeDefinitions": [{"AttributeName": "token", "AttributeType": "B"}],
    "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
    "StreamSpecification": {"StreamViewType": "KEYS_ONLY"},
    "Replicas": [{"Region": "us-east-1"}, {"Region": "eu-west-1"}]}},
  "echoLambdaServiceRoleD91FDD38": {"Type": "AWS::IAM::Role", "Properties": {}},
  "echoLambdaA460BF50": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "index.handler"}},
  "archiveLambda5C1F7E2A": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "index.handler"}},
  "DLQ581697C4": {"Type": "AWS::SQS::Queue"},
  "ClickStream0E5B2A11": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
  "Dashboard77F0A3C2": {"Type": "AWS::CloudWatch::Dashboard", "Properties": {}},
  "echoLambdaDynamoDBEventSourceDynamoStreamsOrdersTable50A1E1C6CC60BFC1": {
    "Type": "AWS::Lambda::EventSourceMapping", "Properties": {
    "BatchSize": 5, "BisectBatchOnFunctionError": true, "MaximumRetryAttempts": 10,
    "StartingPosition": "LATEST", "MaximumBatchingWindowInSeconds": 1,
    "FilterCriteria": {"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]},
    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["DLQ581697C4", "Arn"]}}},
    "EventSourceArn": {"Fn::GetAtt": ["OrdersTable315BB997", "StreamArn"]},
    "FunctionName": {"Ref": "echoLambdaA460BF50"},
    "Tags": [{"Key": "team", "Value": "shop"}]}},
  "archiveLambdaLinesMapping4D2E": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
    "StartingPosition": "TRIM_HORIZON", "ParallelizationFactor": 2, "TumblingWindowInSeconds": 60,
    "FunctionResponseTypes": ["ReportBatchItemFailures"], "MaximumRecordAgeInSeconds": 3600,
    "Enabled": false,
    "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:lines-failed"}},
    "EventSourceArn": {"Fn::GetAtt": "LinesTable9A1C2B3D.StreamArn"},
    "FunctionName": {"Fn::GetAtt": ["archiveLambda5C1F7E2A", "Arn"]}}},
  "echoLambdaKinesisMapping77AB": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
    "StartingPosition": "LATEST",
    "EventSourceArn": {"Fn::GetAtt": ["ClickStream0E5B2A11", "Arn"]},
    "FunctionName": {"Ref": "echoLambdaA460BF50"}}},
  "archiveLambdaTimestampMapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
    "StartingPosition": "AT_TIMESTAMP", "StartingPositionTimestamp": 1795777291,
    "EventSourceArn": {"Fn::GetAtt": ["OrdersTable315BB997", "StreamArn"]},
    "FunctionName": {"Ref": "archiveLambda5C1F7E2A"}}}},
 "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}}}
$json$);

-- the arguments of every call below
CREATE VIEW args AS SELECT '{"echoLambdaA460BF50": "import_item_totals(jsonb)",
							  "archiveLambda5C1F7E2A": "import_archive_lines(jsonb)"}'::jsonb AS functions,
						   '{"OrdersTable315BB997": "orders"}'::jsonb AS tables;
-- the report, mapping UUIDs masked
CREATE FUNCTION import(template jsonb, dry_run boolean DEFAULT true)
RETURNS TABLE (logical_id text, resource_type text, action text, object text, detail text)
LANGUAGE sql AS $$
	SELECT i.logical_id, i.resource_type, i.action,
		   regexp_replace(i.object, '^[0-9a-f-]{36}$', '<uuid>'),
		   regexp_replace(i.detail, '[0-9a-f]{8}-[0-9a-f-]{27}', '<uuid>', 'g')
	  FROM args a, orders_stream.import_stack(template, a.functions, a.tables, dry_run) i
$$;
-- what is there: streams, TTL, mappings
CREATE VIEW state AS
SELECT 'stream' AS what, s.table_name || ' ' || s.view_type || CASE WHEN s.enabled THEN ' enabled' ELSE ' disabled' END AS value
  FROM orders_stream.readable_streams s
 WHERE s.relid IN (to_regclass('orders'), to_regclass('order_lines'), to_regclass('sessions'))
UNION ALL
SELECT 'ttl', c.relname || ' ' || (orders_stream.describe_time_to_live(c.oid) #>> '{TimeToLiveDescription}')
  FROM pg_class c WHERE c.relname IN ('orders', 'order_lines', 'sessions')
UNION ALL
SELECT 'mapping', (m - '{UUID,EventSourceMappingArn,EventSourceArn,LastModified,LastProcessingResult,StateTransitionReason}'::text[])::text
  FROM orders_stream.list_event_source_mappings() m WHERE m->>'FunctionArn' LIKE '%--import\_%'
UNION ALL
SELECT 'column', format('%s.%s %s%s', a.attrelid::regclass, a.attname, format_type(a.atttypid, a.atttypmod),
						CASE WHEN a.attnotnull THEN ' not null' ELSE '' END)
  FROM pg_attribute a WHERE a.attrelid IN (to_regclass('order_lines'), to_regclass('sessions')) AND a.attnum > 0
ORDER BY 1, 2;

-- dry_run (the default): the report, and nothing changes
SELECT * FROM import((SELECT template FROM stack WHERE name = 'seed'));
SELECT * FROM state;

-- the import: the same report, and the objects it names
SELECT * FROM import((SELECT template FROM stack WHERE name = 'seed'), dry_run => false);
SELECT * FROM state;
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = 'order_lines'::regclass ORDER BY 1;

-- the same template again: nothing to do
SELECT logical_id, action, object, detail FROM import((SELECT template FROM stack WHERE name = 'seed'), dry_run => false)
 WHERE resource_type IN ('AWS::DynamoDB::Table', 'AWS::Lambda::EventSourceMapping');

-- a changed property updates the mapping, as a CloudFormation update does;
-- a property removed goes back to its default.  dry_run first: nothing changes
UPDATE stack SET template = jsonb_set(template #- '{Resources,echoLambdaDynamoDBEventSourceDynamoStreamsOrdersTable50A1E1C6CC60BFC1,Properties,FilterCriteria}',
		'{Resources,echoLambdaDynamoDBEventSourceDynamoStreamsOrdersTable50A1E1C6CC60BFC1,Properties,BatchSize}', '10')
 WHERE name = 'seed';
SELECT logical_id, action, object, detail FROM import((SELECT template FROM stack WHERE name = 'seed'))
 WHERE action <> 'none' AND resource_type = 'AWS::Lambda::EventSourceMapping';
SELECT value FROM state WHERE value LIKE '%import_item_totals%';
SELECT logical_id, action, object, detail FROM import((SELECT template FROM stack WHERE name = 'seed'), dry_run => false)
 WHERE action <> 'none' AND resource_type = 'AWS::Lambda::EventSourceMapping';
SELECT value FROM state WHERE value LIKE '%import_item_totals%';

-- StartingPosition cannot be changed in place: CloudFormation replaces the mapping
UPDATE stack SET template = jsonb_set(template,
		'{Resources,echoLambdaDynamoDBEventSourceDynamoStreamsOrdersTable50A1E1C6CC60BFC1,Properties,StartingPosition}', '"TRIM_HORIZON"')
 WHERE name = 'seed';
SELECT logical_id, action, object, detail FROM import((SELECT template FROM stack WHERE name = 'seed'), dry_run => false)
 WHERE action <> 'none' AND resource_type = 'AWS::Lambda::EventSourceMapping';
SELECT count(*) AS mappings_of_item_totals FROM orders_stream.list_event_source_mappings('orders');

-- a new StreamViewType is a new stream (as in DynamoDB), and its mapping a new one;
-- disabling TTL in the template disables it
UPDATE stack SET template = jsonb_set(jsonb_set(template,
		'{Resources,OrdersTable315BB997,Properties,StreamSpecification,StreamViewType}', '"NEW_AND_OLD_IMAGES"'),
		'{Resources,OrdersTable315BB997,Properties,TimeToLiveSpecification,Enabled}', 'false')
 WHERE name = 'seed';
SELECT logical_id, action, object, detail FROM import((SELECT template FROM stack WHERE name = 'seed'), dry_run => false)
 WHERE action <> 'none' AND logical_id LIKE '%Orders%';
SELECT value FROM state WHERE value LIKE 'orders %' OR value LIKE '%import_item_totals%';

-- errors: a malformed template, a function with no entry, or none such
SELECT * FROM orders_stream.import_stack('[]', '{}');
SELECT * FROM orders_stream.import_stack('{"Resources": {"T": {"Properties": {}}}}', '{}');
SELECT * FROM orders_stream.import_stack('{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
	"KeySchema": [{"AttributeName": "id", "KeyType": "RANGE"}], "AttributeDefinitions": []}}}}', '{}');
SELECT * FROM orders_stream.import_stack('{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
	"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
	"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "SS"}]}}}}', '{}');
SELECT * FROM orders_stream.import_stack('{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
	"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
	"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
	"StreamSpecification": {"StreamViewType": "NEW"}}}}}', '{}');
SELECT * FROM orders_stream.import_stack((SELECT template FROM stack WHERE name = 'seed'),
	'{"archiveLambda5C1F7E2A": "import_archive_lines(jsonb)"}', (SELECT tables FROM args));
SELECT * FROM orders_stream.import_stack((SELECT template FROM stack WHERE name = 'seed'),
	'{"echoLambdaA460BF50": "no_such_function(jsonb)", "archiveLambda5C1F7E2A": "import_archive_lines(jsonb)"}', (SELECT tables FROM args));
SELECT * FROM orders_stream.import_stack((SELECT jsonb_set(template,
	'{Resources,echoLambdaDynamoDBEventSourceDynamoStreamsOrdersTable50A1E1C6CC60BFC1,Properties,BatchSize}', '"five"')
	FROM stack WHERE name = 'seed'), (SELECT functions FROM args), (SELECT tables FROM args));
SELECT * FROM orders_stream.import_stack((SELECT template #- '{Resources,echoLambdaDynamoDBEventSourceDynamoStreamsOrdersTable50A1E1C6CC60BFC1,Properties,StartingPosition}'
	FROM stack WHERE name = 'seed'), (SELECT functions FROM args), (SELECT tables FROM args));
SELECT * FROM orders_stream.import_stack('{"Resources": {}}', '{"f": 1}');
SELECT * FROM orders_stream.import_stack('{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
	"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
	"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}]}}}}', '{}', '{"T": "t (x int); DROP TABLE stack; --"}');

-- a role that does not own the table is refused, as enable_stream refuses it;
-- its dry run changes nothing either way
CREATE ROLE regress_import_other;
CREATE TABLE others_table (id text PRIMARY KEY);
GRANT SELECT ON others_table TO regress_import_other;
SET ROLE regress_import_other;
SELECT logical_id, action, object, detail FROM orders_stream.import_stack('{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
	"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
	"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
	"StreamSpecification": {"StreamViewType": "KEYS_ONLY"}}}}}', '{}', '{"T": "others_table"}');
SELECT * FROM orders_stream.import_stack('{"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {
	"KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
	"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
	"StreamSpecification": {"StreamViewType": "KEYS_ONLY"}}}}}', '{}', '{"T": "others_table"}', dry_run => false);
RESET ROLE;
SELECT count(*) AS streams_of_others_table FROM orders_stream.list_streams() WHERE "TableName" = 'others_table';

-- the tables the import created stream item's members as top-level
-- attributes (a document column); the mapped orders table has none
SELECT s.relid::regclass AS tbl, s.document_column FROM orders_stream.streams s
 WHERE s.relid IN ('orders'::regclass, 'order_lines'::regclass, 'sessions'::regclass)
   AND s.disabled_at IS NULL ORDER BY s.relid::regclass::text;
SELECT slot_name FROM pg_create_logical_replication_slot('import_doc', 'orders_stream');
INSERT INTO order_lines (order_id, line, item) VALUES ('o1', 1, '{"sku": {"S": "pen"}, "qty": {"N": "2"}}');
SELECT data::jsonb->'dynamodb'->'NewImage' AS new_image FROM pg_logical_slot_get_changes('import_doc', NULL, NULL);
SELECT pg_drop_replication_slot('import_doc');

-- clean up
SELECT orders_stream.delete_event_source_mapping(m.uuid) IS NOT NULL AS deleted
  FROM orders_stream.event_source_mappings m
 WHERE m.function_oid IN ('import_item_totals(jsonb)'::regprocedure, 'import_archive_lines(jsonb)'::regprocedure)
 ORDER BY m.created_at;
SELECT orders_stream.disable_stream(t) IS NOT NULL AS disabled
  FROM unnest(ARRAY['orders', 'order_lines', 'sessions']::regclass[]) t;
DROP TABLE others_table;
DROP ROLE regress_import_other;
DROP VIEW state;
DROP FUNCTION import(jsonb, boolean);
DROP VIEW args;
DROP TABLE stack, orders, order_lines, sessions;
DROP FUNCTION import_item_totals(jsonb), import_archive_lines(jsonb);
