--
-- keys: a DynamoDB key attribute is a non-empty S, N or B.
--  * enable_stream refuses a primary key column whose type renders as
--    anything else (boolean, json, jsonb, arrays, composites, domains over
--    them): ValidationException, SQLSTATE 42804, naming the column and type.
--  * a primary key of more than two columns is accepted: Keys hold every
--    column (only all of them name the item); KeySchema names the first as
--    HASH and the second as RANGE.
--  * an empty string or binary key value, which DynamoDB never stores, is
--    {"NULL": true} in Keys (a primary key column is NOT NULL, so NULL names
--    no other item); NewImage and OldImage keep the value itself.
--  * a key value no DynamoDB number can hold (NaN, more than 38 digits) is S
--    with the type's text, as in the images: capture never stops on it.
--
\pset format unaligned
SET client_min_messages = warning;
-- (json has no btree operator class: no primary key can hold it)
CREATE TYPE ky_pair AS (a int, b int);
CREATE DOMAIN ky_flag AS boolean;
CREATE TABLE ky_bool (k boolean PRIMARY KEY);
CREATE TABLE ky_jsonb (k jsonb PRIMARY KEY);
CREATE TABLE ky_array (k int[] PRIMARY KEY);
CREATE TABLE ky_composite (k ky_pair PRIMARY KEY);
CREATE TABLE ky_domain (a text, b int, c ky_flag, PRIMARY KEY (a, b, c));
SELECT orders_stream.enable_stream('ky_bool');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('ky_jsonb');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('ky_array');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('ky_composite');
\echo :LAST_ERROR_SQLSTATE
-- the third key column counts too, and a domain is its base type
SELECT orders_stream.enable_stream('ky_domain');
\echo :LAST_ERROR_SQLSTATE
-- nothing was enabled
SELECT count(*) AS streams FROM orders_stream.streams WHERE relid IN
	('ky_bool'::regclass, 'ky_jsonb'::regclass, 'ky_array'::regclass,
	 'ky_composite'::regclass, 'ky_domain'::regclass);
-- keys of every S, N and B kind are accepted
CREATE TABLE ky_ok (t text, n numeric, f float8, b bytea, u uuid, d date, ts timestamptz,
	e varchar, PRIMARY KEY (t, n, f, b, u, d, ts, e));
SELECT os_mask_arn(orders_stream.enable_stream('ky_ok', 'KEYS_ONLY')) AS arn;
SELECT key_columns FROM orders_stream.streams WHERE relid = 'ky_ok'::regclass;
CREATE TABLE ky_three (tenant int, order_id int, line int, v text,
	PRIMARY KEY (tenant, order_id, line));
SELECT os_mask_arn(orders_stream.enable_stream('ky_three', 'NEW_AND_OLD_IMAGES')) AS arn;
-- KeySchema: HASH and one RANGE, as DynamoDB's; Keys keep all three columns
SELECT orders_stream.describe_stream(s.stream_arn)->'StreamDescription'->'KeySchema' AS key_schema
  FROM orders_stream.readable_streams s WHERE s.relid = 'ky_three'::regclass AND s.enabled;
CREATE TABLE ky_text (k text PRIMARY KEY, v int);
CREATE TABLE ky_bytea (k bytea PRIMARY KEY, v int);
CREATE TABLE ky_pair2 (h text, r text, v int, PRIMARY KEY (h, r));
CREATE TABLE ky_num (k numeric PRIMARY KEY, v int);
CREATE TABLE ky_float (k float8 PRIMARY KEY, v int);
SELECT count(orders_stream.enable_stream(t, 'NEW_AND_OLD_IMAGES')) AS enabled
FROM unnest('{ky_text,ky_bytea,ky_pair2,ky_num,ky_float}'::regclass[]) AS t;
SELECT slot_name FROM pg_create_logical_replication_slot('keys', 'orders_stream');
INSERT INTO ky_three VALUES (1, 2, 3, 'x');
UPDATE ky_three SET v = 'y';
DELETE FROM ky_three;
INSERT INTO ky_text VALUES ('', 1), ('a', 2);
UPDATE ky_text SET v = 3 WHERE k = '';
DELETE FROM ky_text WHERE k = '';
INSERT INTO ky_bytea VALUES ('', 1), ('\x00', 2);
INSERT INTO ky_pair2 VALUES ('', 'r', 1), ('h', '', 2);
INSERT INTO ky_num VALUES ('NaN', 1), (123456789012345678901234567890123456789, 2),
	(1.50, 3), (-0.0, 4), (1e-131, 5);
INSERT INTO ky_float VALUES ('NaN', 1), ('-Infinity', 2), ('-0', 3), (1e20, 4);
SELECT os_fetch('keys');
SELECT * FROM os_check();
SELECT n, event, keys, new_image, old_image, size FROM os_last ORDER BY n;
SELECT pg_drop_replication_slot('keys');
