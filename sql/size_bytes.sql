--
-- size_bytes: SizeBytes is the DynamoDB item size of Keys + NewImage +
-- OldImage (those present): per attribute, its name in UTF-8 bytes plus its
-- value: S the UTF-8 bytes, N ceil(significant digits / 2) + 1 (leading and
-- trailing zeros are not significant), B the raw bytes, BOOL and NULL 1,
-- M 3 + sum(1 + name + value), L 3 + sum(1 + value).
--
\pset format unaligned
SET client_min_messages = warning;
-- the three records of the AWS documentation (DynamoDB Streams and AWS
-- Lambda tutorial): SizeBytes 26, 59 and 38
CREATE TABLE sz_aws ("Id" int PRIMARY KEY, "Message" text);
SELECT os_mask_arn(orders_stream.enable_stream('sz_aws', 'NEW_AND_OLD_IMAGES')) AS arn;
-- one table per value type, NEW_IMAGE, keyed by a one-letter text: the size
-- of the value v is SizeBytes - 7 (Keys "id" 2 + 1, NewImage "id" 2 + 1,
-- the name "v" 1)
CREATE TABLE sz_number (id text PRIMARY KEY, v numeric);
CREATE TABLE sz_string (id text PRIMARY KEY, v text);
CREATE TABLE sz_binary (id text PRIMARY KEY, v bytea);
CREATE TABLE sz_bool (id text PRIMARY KEY, v bool);
CREATE TABLE sz_json (id text PRIMARY KEY, v jsonb);
CREATE TYPE sz_pair AS (a int, bb text);
CREATE TABLE sz_composite (id text PRIMARY KEY, v sz_pair);
CREATE TABLE sz_array (id text PRIMARY KEY, v int[]);
-- attribute names count in UTF-8 bytes too
CREATE TABLE sz_names (id text PRIMARY KEY, "é" int, "€uro" int);
SELECT count(orders_stream.enable_stream(t, 'NEW_IMAGE')) AS enabled
FROM unnest('{sz_number,sz_string,sz_binary,sz_bool,sz_json,sz_composite,sz_array,sz_names}'::regclass[]) AS t;
SELECT slot_name FROM pg_create_logical_replication_slot('size_bytes', 'orders_stream');
INSERT INTO sz_aws VALUES (101, 'New item!');
UPDATE sz_aws SET "Message" = 'This item has changed' WHERE "Id" = 101;
DELETE FROM sz_aws WHERE "Id" = 101;
SELECT os_fetch('size_bytes');
SELECT n, event, keys, new_image, old_image, size FROM os_last ORDER BY n;
SELECT * FROM os_check();
INSERT INTO sz_number VALUES
	('a', 1), ('b', 12), ('c', 123), ('d', 100), ('e', 0.001), ('f', 1.50), ('g', 1001),
	('h', -12345), ('i', 12345678901234567890), ('j', 0), ('k', 10.01), ('l', 0.000123400);
SELECT os_fetch('size_bytes');
SELECT keys->'id'->>'S' AS id, new_image->'v' AS v, size, size - 7 AS value_size FROM os_last ORDER BY n;
INSERT INTO sz_string VALUES ('a', ''), ('b', 'abc'), ('c', 'é'), ('d', '€'), ('e', '😀'), ('f', repeat('x', 1000));
SELECT os_fetch('size_bytes');
SELECT keys->'id'->>'S' AS id, length(new_image->'v'->>'S') AS characters, size, size - 7 AS value_size
FROM os_last ORDER BY n;
INSERT INTO sz_binary VALUES ('a', ''), ('b', '\x00ff00'), ('c', '\xdeadbeef');
INSERT INTO sz_bool VALUES ('a', true), ('b', false), ('c', NULL);
SELECT os_fetch('size_bytes');
SELECT keys->'id'->>'S' AS id, new_image->'v' AS v, size, size - 7 AS value_size FROM os_last ORDER BY n;
-- maps and lists: 3 bytes, plus per element 1 byte, its name (maps) and value
-- (i: twelve lists, one in the other, around a number: 6 + 11 * 4)
INSERT INTO sz_json VALUES
	('a', '{}'), ('b', '[]'), ('c', '{"a": 1}'), ('d', '[1, "ab"]'),
	('e', '{"k": [true, null], "m": {"x": "yz"}}'), ('f', '"abc"'), ('g', '12.50'), ('h', 'null'),
	('i', (repeat('[', 12) || '1' || repeat(']', 12))::jsonb);
INSERT INTO sz_composite VALUES ('a', ROW(12, 'xyz')), ('b', ROW(NULL, NULL));
INSERT INTO sz_array VALUES ('a', '{}'), ('b', '{1,22,NULL}'), ('c', '{{1,2},{3,4}}');
SELECT os_fetch('size_bytes');
SELECT keys->'id'->>'S' AS id, new_image->'v' AS v, size, size - 7 AS value_size FROM os_last ORDER BY n;
INSERT INTO sz_names VALUES ('a', 1, 1);
SELECT os_fetch('size_bytes');
SELECT keys, new_image, size FROM os_last;
SELECT pg_drop_replication_slot('size_bytes');
