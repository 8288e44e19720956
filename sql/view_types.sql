--
-- view_types: what a record holds for each StreamViewType and eventName.
--   KEYS_ONLY           Keys
--   NEW_IMAGE           Keys, NewImage (not on REMOVE)
--   OLD_IMAGE           Keys, OldImage (not on INSERT)
--   NEW_AND_OLD_IMAGES  Keys, NewImage and OldImage where they exist
-- Keys are all the primary key columns.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE vt_keys (id int PRIMARY KEY, name text, qty int);
CREATE TABLE vt_new (id int PRIMARY KEY, name text, qty int);
CREATE TABLE vt_old (id int PRIMARY KEY, name text, qty int);
CREATE TABLE vt_both (id int PRIMARY KEY, name text, qty int);
CREATE TABLE vt_composite (region text, id int, note text, PRIMARY KEY (region, id));
SELECT os_mask_arn(orders_stream.enable_stream('vt_keys', 'KEYS_ONLY')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('vt_new', 'NEW_IMAGE')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('vt_old', 'OLD_IMAGE')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('vt_both', 'NEW_AND_OLD_IMAGES')) AS arn;
-- the default view type is NEW_AND_OLD_IMAGES
SELECT os_mask_arn(orders_stream.enable_stream('vt_composite')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('view_types', 'orders_stream');
INSERT INTO vt_keys VALUES (1, 'apple', 3);
UPDATE vt_keys SET qty = 4 WHERE id = 1;
DELETE FROM vt_keys WHERE id = 1;
INSERT INTO vt_new VALUES (1, 'apple', 3);
UPDATE vt_new SET qty = 4 WHERE id = 1;
DELETE FROM vt_new WHERE id = 1;
INSERT INTO vt_old VALUES (1, 'apple', 3);
UPDATE vt_old SET qty = 4 WHERE id = 1;
DELETE FROM vt_old WHERE id = 1;
INSERT INTO vt_both VALUES (1, 'apple', 3);
UPDATE vt_both SET qty = 4 WHERE id = 1;
DELETE FROM vt_both WHERE id = 1;
INSERT INTO vt_composite VALUES ('eu', 7, NULL);
UPDATE vt_composite SET note = 'x';
DELETE FROM vt_composite;
SELECT os_fetch('view_types');
SELECT * FROM os_check();
-- SizeBytes: Keys {id: 1} is 2 + 2; an image (1, 'apple', 3) is 4 + 9 + 5;
-- on vt_composite Keys are 4 + 8 and an image 12 + 5 (NULL counts 1 byte)
SELECT n, event, view_type, keys, new_image, old_image, size, arn FROM os_last ORDER BY n;
-- each record names the stream of its table
SELECT count(*) AS records, count(l."StreamArn") AS with_table_stream
FROM os_records r
LEFT JOIN orders_stream.list_streams() l
	ON l."StreamArn" = r.rec->>'eventSourceARN'
	AND l."TableName" = split_part(r.rec->>'eventSourceARN', '/', 2);
-- a whole record, as a Lambda handler finds it in event.Records[i]
SELECT jsonb_pretty(record) FROM os_last WHERE n = 11;
-- the text itself: compact JSON, attributes in column order, numbers
-- (ApproximateCreationDateTime, SizeBytes) unquoted
SELECT n, regexp_replace(regexp_replace(regexp_replace(regexp_replace(raw,
		'"eventID":"[0-9a-f]{32}"', '"eventID":"<eventID>"'),
		'"ApproximateCreationDateTime":\d+,', '"ApproximateCreationDateTime":<epoch>,'),
		'"SequenceNumber":"\d{30}"', '"SequenceNumber":"<SequenceNumber>"'),
		'/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}"', '/stream/<label>"') AS raw
FROM os_records WHERE n IN (1, 11, 13) ORDER BY n;
SELECT pg_drop_replication_slot('view_types');
