--
-- sets: the array columns named in enable_stream's set_columns become
-- DynamoDB sets: SS (strings and anything else rendered as S), NS (numbers),
-- BS (bytea).  A set holds distinct members (numbers are canonical, so equal
-- values are equal members: see numbers.sql for NS members that are no number)
-- and no NULL; an empty set is no attribute at all; a NULL array is NULL.
-- A set's size is the sum of its members' sizes.  Other arrays stay L.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE sets_t (id int PRIMARY KEY, tags text[], nums int[], decs numeric[],
	blobs bytea[], uids uuid[], floats float8[], plain text[]);
SELECT os_mask_arn(orders_stream.enable_stream('sets_t', 'NEW_AND_OLD_IMAGES',
	'{tags,nums,decs,blobs,uids,floats}')) AS arn;
SELECT set_columns FROM orders_stream.streams WHERE relid = 'sets_t'::regclass;
SELECT slot_name FROM pg_create_logical_replication_slot('sets', 'orders_stream');
INSERT INTO sets_t VALUES (1, '{b,a,b,NULL,c}', '{3,1,3}', '{1.0,1.00,1,2.5}',
	'{"\\x01","\\x0102","\\x01"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
	'{0.5,0.50,0,-0}', '{b,a,b}');
INSERT INTO sets_t VALUES (2, '{}', '{NULL,NULL}', NULL, '{}', NULL, NULL, '{}');
INSERT INTO sets_t (id, tags) VALUES (3, '{{a,b},{a,c}}');
UPDATE sets_t SET tags = '{z}' WHERE id = 1;
UPDATE sets_t SET tags = '{x,x}' WHERE id = 2;
SELECT os_fetch('sets');
SELECT * FROM os_check();
SELECT n, event, image, attr, value FROM os_attributes WHERE image <> 'Keys' ORDER BY n, image, attr COLLATE "C";
-- sizes: a set counts the sum of its members (no 3-byte overhead):
-- row 1 NewImage is id 4, tags 4 + 3, nums 4 + 4, decs 4 + 4, blobs 5 + 3,
-- uids 4 + 36, floats 6 + 3, plain 5 + 9
SELECT n, event, size FROM os_last ORDER BY n;
-- the raw JSON of a set: members without type tags
SELECT substring(raw FROM '"tags":\{[^}]*\}') AS tags, substring(raw FROM '"blobs":\{[^}]*\}') AS blobs
FROM os_records WHERE n = 1;
SELECT pg_drop_replication_slot('sets');
-- a set column whose type changes into one a set cannot hold (not an array,
-- or boolean[]) renders as any other column of that type from then on
CREATE TABLE sets_c (id int PRIMARY KEY, tags text[], flags text[]);
SELECT os_mask_arn(orders_stream.enable_stream('sets_c', 'NEW_IMAGE', '{tags,flags}')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('sets_change', 'orders_stream');
INSERT INTO sets_c VALUES (1, '{a}', '{true}');
ALTER TABLE sets_c ALTER COLUMN tags TYPE int USING 42;
ALTER TABLE sets_c ALTER COLUMN flags TYPE boolean[] USING flags::boolean[];
INSERT INTO sets_c VALUES (2, 7, '{true,false,true}');
SELECT data::jsonb->'dynamodb'->'NewImage' AS new_image
  FROM pg_logical_slot_get_changes('sets_change', NULL, NULL);
SELECT pg_drop_replication_slot('sets_change');
-- at enable_stream, set_columns must be arrays of what renders as S, N or B
CREATE TABLE sets_bad (id int PRIMARY KEY, flags boolean[], docs jsonb[], n int);
SELECT orders_stream.enable_stream('sets_bad', 'NEW_IMAGE', '{flags}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('sets_bad', 'NEW_IMAGE', '{docs}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('sets_bad', 'NEW_IMAGE', '{n}');
\echo :LAST_ERROR_SQLSTATE
