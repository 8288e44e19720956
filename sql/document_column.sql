--
-- document_column: enable_stream(..., document_column => 'item') streams the
-- members of a jsonb object column as top-level attributes of NewImage and
-- OldImage, so that an item copied into Postgres as one document streams as
-- it did on AWS.  A document in DynamoDB JSON (every member a typed value:
-- {"S": ...}, {"N": "..."}, {"M": {...}} ...) keeps its types, numbers and
-- binaries canonical, sets without duplicates; any other document is plain
-- JSON, rendered as a jsonb column is.  Columns win over members of the same
-- name; a NULL document adds no attribute; a document that is no object is
-- the attribute named after the column.  SizeBytes counts each member as a
-- top-level attribute.  Keys are columns only.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE doc_t (id text PRIMARY KEY, qty int, item jsonb);
SELECT os_mask_arn(orders_stream.enable_stream('doc_t', 'NEW_AND_OLD_IMAGES',
	document_column => 'item')) AS arn;
SELECT document_column FROM orders_stream.streams WHERE relid = 'doc_t'::regclass;
SELECT slot_name FROM pg_create_logical_replication_slot('doc', 'orders_stream');
-- 1: DynamoDB JSON, every type
INSERT INTO doc_t VALUES ('a', 1, '{"name": {"S": "pen"}, "price": {"N": "01.50"},
	"tags": {"SS": ["b", "a", "b"]}, "nums": {"NS": ["1", "1.0", "2E0"]},
	"blob": {"B": "AQI="}, "bins": {"BS": ["AQ==", "AQ=="]}, "ok": {"BOOL": true},
	"none": {"NULL": true}, "empty": {"S": ""},
	"addr": {"M": {"city": {"S": "Oslo"}, "zip": {"N": "0150"}}},
	"list": {"L": [{"S": "x"}, {"N": "2"}, {"L": []}, {"M": {}}]}}');
-- 2: plain JSON
INSERT INTO doc_t VALUES ('b', 2, '{"name": "pen", "price": 1.50, "tags": ["a", "b"],
	"addr": {"city": "Oslo"}, "ok": true, "none": null}');
-- 3: one member that is no typed value makes the whole document plain
INSERT INTO doc_t VALUES ('c', 3, '{"name": {"S": "pen"}, "count": 3}');
-- 4: a lone member that looks typed is typed (the rule is per document)
INSERT INTO doc_t VALUES ('d', 4, '{"size": {"S": "small"}}');
-- 5: invalid typed values make the document plain: a number DynamoDB cannot
-- hold, an empty set, no base64, NULL false, two tags, an unknown tag
INSERT INTO doc_t VALUES ('e1', 5, '{"n": {"N": "abc"}}'), ('e2', 5, '{"s": {"SS": []}}'),
	('e3', 5, '{"b": {"B": "@@@"}}'), ('e4', 5, '{"z": {"NULL": false}}'),
	('e5', 5, '{"t": {"S": "x", "N": "1"}}'), ('e6', 5, '{"u": {"X": "1"}}');
-- 6: members named like a column are left out; a member named like the
-- document column itself is an attribute
INSERT INTO doc_t VALUES ('f', 6, '{"qty": {"N": "99"}, "id": {"S": "other"},
	"item": {"S": "self"}, "color": {"S": "red"}}');
-- 7: NULL, an empty object, an array, a string
INSERT INTO doc_t VALUES ('g1', 7, NULL), ('g2', 7, '{}'), ('g3', 7, '[1, {"S": "x"}]'),
	('g4', 7, '"text"');
SELECT os_fetch('doc');
SELECT * FROM os_check();
SELECT n, keys, new_image FROM os_last ORDER BY n;
-- the raw JSON: numbers and binaries canonical, sets deduplicated
SELECT substring(raw FROM '"price":\{[^}]*\}') AS price, substring(raw FROM '"nums":\{[^}]*\}') AS nums,
	substring(raw FROM '"tags":\{[^}]*\}') AS tags, substring(raw FROM '"bins":\{[^}]*\}') AS bins
FROM os_records WHERE n = 1;
-- MODIFY and REMOVE: both images expanded
UPDATE doc_t SET item = item || '{"color": {"S": "blue"}}' WHERE id = 'f';
UPDATE doc_t SET item = '{"name": "pencil"}' WHERE id = 'b';
DELETE FROM doc_t WHERE id = 'd';
SELECT os_fetch('doc');
SELECT n, event, keys, old_image, new_image FROM os_last ORDER BY n;
-- an UPDATE that changes no attribute is no record, as in DynamoDB: the same
-- row, NULL and {}, DynamoDB JSON and its plain equivalent with a member a
-- column hides; then one that does
UPDATE doc_t SET item = item WHERE id = 'a';
UPDATE doc_t SET item = '{}' WHERE id = 'g1';
UPDATE doc_t SET item = '{"qty": 1, "item": "self", "color": "blue"}' WHERE id = 'f';
UPDATE doc_t SET item = '{"color": "green"}' WHERE id = 'f';
SELECT os_fetch('doc');
SELECT n, event, old_image, new_image FROM os_last ORDER BY n;
SELECT pg_drop_replication_slot('doc');

-- SizeBytes: each member counts as a top-level attribute, typed or plain:
-- Keys id 2 + 1, NewImage id 2 + 1, name 4 + 3, n 1 + 2 (two digits),
-- m 1 + 3 + 1 + 1 + 1 (a map of k: "v") = 23
CREATE TABLE doc_size (id text PRIMARY KEY, item jsonb);
SELECT os_mask_arn(orders_stream.enable_stream('doc_size', 'NEW_IMAGE',
	document_column => 'item')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('doc_size', 'orders_stream');
INSERT INTO doc_size VALUES ('a', '{"name": {"S": "pen"}, "n": {"N": "12"}, "m": {"M": {"k": {"S": "v"}}}}'),
	('b', '{"name": "pen", "n": 12, "m": {"k": "v"}}');
SELECT os_fetch('doc_size');
SELECT n, size, new_image FROM os_last ORDER BY n;
SELECT pg_drop_replication_slot('doc_size');

-- KEYS_ONLY: the Keys, which are columns
CREATE TABLE doc_keys (pk text, sk numeric, item jsonb, PRIMARY KEY (pk, sk));
SELECT os_mask_arn(orders_stream.enable_stream('doc_keys', 'KEYS_ONLY',
	document_column => 'item')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('doc_keys', 'orders_stream');
INSERT INTO doc_keys VALUES ('p', 1, '{"pk": {"S": "q"}, "x": {"S": "y"}}');
SELECT os_fetch('doc_keys');
SELECT n, event, keys, new_image, size FROM os_last ORDER BY n;
SELECT pg_drop_replication_slot('doc_keys');

-- a column whose type changes from jsonb is a plain attribute from then on
CREATE TABLE doc_alter (id int PRIMARY KEY, item jsonb);
SELECT os_mask_arn(orders_stream.enable_stream('doc_alter', 'NEW_IMAGE',
	document_column => 'item')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('doc_alter', 'orders_stream');
INSERT INTO doc_alter VALUES (1, '{"a": {"S": "b"}}');
ALTER TABLE doc_alter ALTER COLUMN item TYPE text;
INSERT INTO doc_alter VALUES (2, '{"a": {"S": "b"}}');
SELECT data::jsonb->'dynamodb'->'NewImage' AS new_image
  FROM pg_logical_slot_get_changes('doc_alter', NULL, NULL);
SELECT pg_drop_replication_slot('doc_alter');

-- at enable_stream: the column exists and is jsonb (or a domain over it)
CREATE DOMAIN doc_domain AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');
CREATE TABLE doc_bad (id int PRIMARY KEY, t text, j json, d doc_domain);
SELECT orders_stream.enable_stream('doc_bad', 'NEW_IMAGE', document_column => 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('doc_bad', 'NEW_IMAGE', document_column => 't');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('doc_bad', 'NEW_IMAGE', document_column => 'j');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('doc_bad', 'NEW_IMAGE', '{}', 'd') IS NOT NULL AS enabled;
SELECT document_column FROM orders_stream.streams WHERE relid = 'doc_bad'::regclass;
SELECT orders_stream.disable_stream('doc_bad') IS NOT NULL AS disabled;
DROP TABLE doc_t, doc_size, doc_keys, doc_alter, doc_bad;
DROP DOMAIN doc_domain;
