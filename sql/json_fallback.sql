--
-- json_fallback: valid json that jsonb cannot hold (\u0000 in a string, a
-- number beyond numeric's range) becomes S with the json text, instead of
-- an error that would stop capture for good; other json is M/L as usual.
-- DynamoDB nests M and L 32 levels deep: a container at depth 33 is S with
-- its JSON text, in json and jsonb alike.
--
SET client_min_messages = warning;
CREATE TABLE jf (id int PRIMARY KEY, j json);
SELECT orders_stream.enable_stream('jf', 'NEW_IMAGE') IS NOT NULL AS enabled;
SELECT slot_name FROM pg_create_logical_replication_slot('json_fallback', 'orders_stream');
INSERT INTO jf VALUES (1, '{"a":"x\u0000y"}'), (2, '{"n": 1e1000000}'), (3, '{"ok": [1, "two"]}');
SELECT data::jsonb->'dynamodb'->'NewImage'->'j' AS j,
	   data::jsonb->'dynamodb'->'SizeBytes' AS size_bytes
  FROM pg_logical_slot_get_changes('json_fallback', NULL, NULL);
-- 32 levels of L, then S; the 33rd level's text keeps its brackets in strings
INSERT INTO jf VALUES (4, (repeat('[', 33) || '"]["' || repeat(']', 33))::json);
SELECT (data::jsonb->'dynamodb'->'NewImage'->'j') #> ('{' || repeat('L,0,', 31) || 'L,0}')::text[] AS at_depth_33,
	   data::jsonb->'dynamodb'->'SizeBytes' AS size_bytes
  FROM pg_logical_slot_get_changes('json_fallback', NULL, NULL);
SELECT pg_drop_replication_slot('json_fallback');
