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
-- exists asks for a leaf: an image or an attribute's {"S": ...} is none
SELECT f('{"dynamodb": {"OldImage": [{"exists": false}]}}') AS t,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"exists": true}]}}}}') AS t2,
	   f('{"dynamodb": {"NewImage": {"item": [{"exists": false}]}}}') AS t3,
	   f('{"dynamodb": {"NewImage": [{"exists": true}]}}') AS f,
	   f('{"dynamodb": {"OldImage": {"item": {"S": [{"exists": true}]}}}}') AS f2;
-- anything-but
SELECT f('{"eventName": [{"anything-but": ["REMOVE"]}]}') AS t,
	   f('{"eventName": [{"anything-but": "INSERT"}]}') AS f,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"anything-but": {"prefix": "Tea"}}]}}}}') AS t2;
-- any of several filters
SELECT orders_stream.filter_matches(r, '{"Filters": [{"Pattern": "{\"eventName\": [\"REMOVE\"]}"},
											{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]}') AS t FROM rec;
-- the operators AWS added since: $or, wildcard, prefix/suffix ignoring case,
-- anything-but of prefixes, suffixes, wildcards and ignoring case
SELECT f('{"$or": [{"eventName": ["REMOVE"]}, {"dynamodb": {"NewImage": {"quantity": {"N": ["7"]}}}}]}') AS t,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"wildcard": "Coffee*s"}]}}}}') AS t2,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"prefix": {"equals-ignore-case": "COFFEE"}}]}}}}') AS t3,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"anything-but": {"prefix": ["Tea", "Coffee"]}}]}}}}') AS f,
	   f('{"dynamodb": {"NewImage": {"item": {"S": [{"anything-but": {"equals-ignore-case": ["coffee beans"]}}]}}}}') AS f2;
-- invalid criteria: refused with event-ruler's message
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
SELECT orders_stream_internal.check_filter_criteria('{"Filters": [{"Pattern": "{\"a\": [{\"prefix\": \"a\", \"suffix\": \"z\"}]}"}]}');
\echo :LAST_ERROR_SQLSTATE

--
-- conformance: test/filter_cases/cases.json, cases drawn from event-ruler's
-- tests and README, Lambda's developer guide and LocalStack's AWS-validated
-- DynamoDB filter tests, each with the outcome AWS gives (or, marked
-- aws_match, the documented extension's); and patterns AWS refuses, with
-- event-ruler's message.  Lists the cases that disagree: none.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\set cases_file :abs_srcdir '/test/filter_cases/cases.json'
\set cases `cat :cases_file`
CREATE TEMP TABLE filter_cases AS
	SELECT n, c->>'source' AS source,
		   CASE WHEN jsonb_typeof(c->'pattern') = 'string' THEN c->>'pattern'
				ELSE (c->'pattern')::text END AS pattern,
		   c->'record' AS record, (c->>'match')::boolean AS match, c->>'error' AS error
	FROM jsonb_array_elements(:'cases'::jsonb) WITH ORDINALITY AS t(c, n);
CREATE FUNCTION filter_case(pattern text, record jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	RETURN orders_stream.filter_matches(coalesce(record, '{}'), jsonb_build_object('Filters',
		jsonb_build_array(jsonb_build_object('Pattern', pattern))))::text;
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ' ' || SQLERRM;
END $$;
CREATE TEMP TABLE filter_results AS
	SELECT *, filter_case(pattern, record) AS got FROM filter_cases;
SELECT split_part(source, ':', 1) AS source, count(*) FILTER (WHERE error IS NULL) AS matches,
	   count(*) FILTER (WHERE error IS NOT NULL) AS refusals
FROM filter_results GROUP BY ROLLUP (1) ORDER BY 1;
SELECT n, source, pattern, record, match, error, got FROM filter_results
WHERE CASE WHEN error IS NULL THEN got IS DISTINCT FROM match::text
		   ELSE got NOT LIKE '22023 InvalidParameterValueException: ' || replace(error, '_', '\_') || '%' END
ORDER BY n;
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
-- the new language through the mapping: $or, and an anything-but of
-- prefixes (once accepted, then raising on the first record it saw)
SELECT orders_stream.update_event_source_mapping(:'m', filter_criteria =>
	'{"Filters": [{"Pattern": "{\"dynamodb\": {\"NewImage\": {\"$or\": [{\"item\": {\"S\": [{\"anything-but\": {\"prefix\": [\"tea\", \"coffee\"]}}]}}, {\"quantity\": {\"N\": [\"12\"]}}]}}}"}]}') ? 'FilterCriteria' AS filtered;
INSERT INTO forders VALUES ('o11', 'tea', 11), ('o12', 'tea', 12), ('o13', 'cocoa', 13), ('o14', 'coffee', 14);
SELECT orders_stream.wait_for_mapping(:'m', '60s') IS NOT NULL AS caught_up;
SELECT id FROM fseen ORDER BY id;
SELECT records_processed, errors, failures FROM orders_stream.event_source_mapping_status WHERE uuid = :'m';
-- {} removes the filters
SELECT orders_stream.update_event_source_mapping(:'m', filter_criteria => '{}') ? 'FilterCriteria' AS filtered;
\set VERBOSITY terse
SELECT orders_stream.update_event_source_mapping(:'m', filter_criteria => '{"Filters": [{"Pattern": "x"}]}');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.delete_event_source_mapping(:'m')->>'State' AS state;

--
-- No filter stalls a mapping.  Criteria that delivery cannot compile
-- (stored past validation, as by an older version that accepted them) fail
-- the batch as a function error does: retried maximum_retry_attempts times,
-- then written to the failures, and the mapping moves on.
--
ALTER SYSTEM SET orders_stream.retry_base_delay = 10;
ALTER SYSTEM SET orders_stream.retry_max_delay = 100;
SELECT pg_reload_conf();
SELECT orders_stream.create_event_source_mapping('forders', 'fsink(jsonb)', batch_size => 10,
	starting_position => 'LATEST', maximum_retry_attempts => 1,
	filter_criteria => '{"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\"]}"}]}') AS m2 \gset
UPDATE orders_stream_internal.event_source_mappings
SET filter_criteria = '{"Filters": [{"Pattern": "{\"eventName\": [{\"prefix\": \"IN\", \"suffix\": \"RT\"}]}"}]}'
WHERE uuid = :'m2';
INSERT INTO forders VALUES ('o21', 'tea', 21), ('o22', 'tea', 22);
SELECT orders_stream.wait_for_mapping(:'m2', '60s') IS NOT NULL AS caught_up;
SELECT state, invocations, records_processed, errors, retries, failures, last_error
FROM orders_stream.event_source_mapping_status WHERE uuid = :'m2';
SELECT f.condition, f.sqlstate, f.message, jsonb_array_length(f.records) AS n,
	f.payload->'requestContext'->'approximateInvokeCount' AS invoke_count
FROM orders_stream.failures f WHERE f.mapping_uuid = :'m2';
SELECT count(*) AS delivered FROM fseen WHERE id IN ('o21', 'o22');
SELECT orders_stream.delete_event_source_mapping(:'m2')->>'State' AS state;
ALTER SYSTEM RESET orders_stream.retry_base_delay;
ALTER SYSTEM RESET orders_stream.retry_max_delay;
SELECT pg_reload_conf();
