--
-- filter: AWS event filtering (filter_criteria of event source mappings).
-- A record is delivered iff it matches any pattern; a pattern mirrors the
-- record, with lists of matchers at its leaves.
--
SET client_min_messages = warning;
CREATE TEMP TABLE rec AS SELECT
	'{"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": "o1"}},
	  "NewImage": {"id": {"S": "o1"}, "item": {"S": "Coffee beans"}, "quantity": {"N": "7"},
				   "gift": {"BOOL": true}, "note": {"NULL": true}}}}'::jsonb AS r;
CREATE FUNCTION f(pattern text) RETURNS boolean LANGUAGE sql AS $$
	SELECT orders_stream.filter_matches(r, jsonb_build_object('Filters',
		jsonb_build_array(jsonb_build_object('Pattern', pattern)))) FROM rec
$$;
-- literals
SELECT f('{"eventName": ["INSERT"]}') AS t, f('{"eventName": ["REMOVE", "MODIFY"]}') AS f,
	   f('{"eventName": ["INSERT", "MODIFY"]}') AS t2;
SELECT f('{"dynamodb": {"NewImage": {"gift": {"BOOL": [true]}}}}') AS t,
	   f('{"dynamodb": {"NewImage": {"note": {"NULL": [true]}}}}') AS t2,
	   f('{"dynamodb": {"NewImage": {"gift": {"BOOL": [false]}}}}') AS f;
-- every field of a pattern must match
SELECT f('{"eventName": ["INSERT"], "dynamodb": {"Keys": {"id": {"S": ["o2"]}}}}') AS f;
-- prefix, suffix, equals-ignore-case
SELECT f('{"dynamodb": {"NewImage": {"item": {"S": [{"prefix": "Coffee"}]}}}}') AS t,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"suffix": "beans"}]}}}}') AS t2,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"equals-ignore-case": "COFFEE BEANS"}]}}}}') AS t3,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"prefix": "coffee"}]}}}}') AS f;
-- numeric on DynamoDB's N strings
SELECT f('{"dynamodb": {"NewImage": {"quantity": {"N": [{"numeric": [">", 5, "<=", 7]}]}}}}') AS t,
	   f('{"dynamodb": {"NewImage": {"quantity": {"N": [{"numeric": ["=", 7]}]}}}}') AS t2,
	   f('{"dynamodb": {"NewImage": {"quantity": {"N": [{"numeric": ["<", 7]}]}}}}') AS f;
-- exists
SELECT f('{"dynamodb": {"OldImage": [{"exists": false}]}}') AS t,
	   f('{"dynamodb": {"NewImage": [{"exists": true}]}}') AS t2,
	   f('{"dynamodb": {"OldImage": [{"exists": true}]}}') AS f;
-- anything-but
SELECT f('{"eventName": [{"anything-but": ["REMOVE"]}]}') AS t,
	   f('{"eventName": [{"anything-but": "INSERT"}]}') AS f,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"anything-but": {"prefix": "Tea"}}]}}}}') AS t2;
-- any of several filters
SELECT orders_stream.filter_matches(r, '{"Filters": [{"Pattern": "{\"eventName\": [\"REMOVE\"]}"},
											{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]}') AS t FROM rec;
-- invalid criteria
SELECT orders_stream_internal.check_filter_criteria('{"Filters": [{"Pattern": "{\"a\": [{\"numeric\": [\"~\", 1]}]}"}]}');
\echo :LAST_ERROR_SQLSTATE
-- a bound beyond any number is invalid, not an overflow
SELECT orders_stream_internal.check_filter_criteria('{"Filters": [{"Pattern": "{\"a\": [{\"numeric\": [\">\", 1e400]}]}"}]}');
\echo :LAST_ERROR_SQLSTATE
-- and a record's number beyond float8 matches no numeric pattern
SELECT orders_stream.filter_matches('{"a": 1e400}', '{"Filters": [{"Pattern": "{\"a\": [{\"numeric\": [\">\", 0]}]}"}]}') AS f;
SELECT orders_stream_internal.check_filter_criteria('{"Filters": [{"Pattern": "{\"a\": [{\"regex\": \"x\"}]}"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream_internal.check_filter_criteria('{"Filters": [{"Pattern": "[1, 2]"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream_internal.check_filter_criteria('{"Filter": []}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream_internal.check_filter_criteria('{"Filters": [{"Pattern": "{\"a\": {\"b\": [{\"prefix\": 1}]}}"}]}');
\echo :LAST_ERROR_SQLSTATE
-- a mapping delivers only the matching records, and moves past the others
CREATE TABLE forders (id text PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('forders', 'NEW_IMAGE') IS NOT NULL AS enabled;
CREATE TABLE fseen (id text PRIMARY KEY);
CREATE FUNCTION fsink(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
	INSERT INTO fseen SELECT r#>>'{dynamodb,Keys,id,S}' FROM jsonb_array_elements(event->'Records') r;
	SELECT NULL::jsonb
$$;
SELECT orders_stream.create_event_source_mapping('forders', 'fsink(jsonb)', batch_size => 4,
	starting_position => 'TRIM_HORIZON',
	filter_criteria => '{"Filters": [{"Pattern": "{\"dynamodb\": {\"NewImage\": {\"item\": {\"S\": [\"coffee\"]}}}}"}]}') AS m \gset
INSERT INTO forders SELECT 'o' || g, CASE WHEN g % 3 = 0 THEN 'coffee' ELSE 'tea' END, g FROM generate_series(1, 10) g;
SELECT orders_stream.wait_for_mapping(:'m', '60s') IS NOT NULL AS caught_up;
SELECT id FROM fseen ORDER BY id;
SELECT records_processed, failures FROM orders_stream.event_source_mapping_status WHERE uuid = :'m';
SELECT orders_stream.list_event_source_mappings('forders')->'FilterCriteria' AS filter_criteria;
-- {} removes the filters
SELECT orders_stream.update_event_source_mapping(:'m', filter_criteria => '{}') ? 'FilterCriteria' AS filtered;
\set VERBOSITY terse
SELECT orders_stream.update_event_source_mapping(:'m', filter_criteria => '{"Filters": [{"Pattern": "x"}]}');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.delete_event_source_mapping(:'m')->>'State' AS state;
