--
-- key_change: an UPDATE of the primary key makes a new item, as in DynamoDB:
-- a REMOVE of the old key (with OldImage if the view type has it), then an
-- INSERT of the new key (with NewImage if the view type has it), in that
-- order within the transaction.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE kc_both (id int PRIMARY KEY, v text);
CREATE TABLE kc_keys (id int PRIMARY KEY, v text);
CREATE TABLE kc_new (id int PRIMARY KEY, v text);
CREATE TABLE kc_old (id int PRIMARY KEY, v text);
CREATE TABLE kc_composite (a text, b int, v text, PRIMARY KEY (a, b));
SELECT os_mask_arn(orders_stream.enable_stream('kc_both', 'NEW_AND_OLD_IMAGES')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('kc_keys', 'KEYS_ONLY')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('kc_new', 'NEW_IMAGE')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('kc_old', 'OLD_IMAGE')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('kc_composite')) AS arn;
INSERT INTO kc_both VALUES (1, 'a'), (10, 'm'), (20, 'n');
INSERT INTO kc_keys VALUES (1, 'a');
INSERT INTO kc_new VALUES (1, 'a');
INSERT INTO kc_old VALUES (1, 'a');
INSERT INTO kc_composite VALUES ('x', 1, 'v');
SELECT slot_name FROM pg_create_logical_replication_slot('key_change', 'orders_stream');
UPDATE kc_both SET id = 2, v = 'b' WHERE id = 1;
UPDATE kc_keys SET id = 2 WHERE id = 1;
UPDATE kc_new SET id = 2 WHERE id = 1;
UPDATE kc_old SET id = 2 WHERE id = 1;
-- one column of a composite key
UPDATE kc_composite SET b = 2;
-- two keys in one statement: REMOVE, INSERT, REMOVE, INSERT
UPDATE kc_both SET id = id + 1 WHERE id >= 10;
-- the same key: no change at all
UPDATE kc_keys SET id = id;
SELECT os_fetch('key_change');
SELECT * FROM os_check();
SELECT n, event, view_type, keys, new_image, old_image, size,
	substr(r.rec->'dynamodb'->>'SequenceNumber', 21)::int AS position
FROM os_last JOIN os_records AS r USING (n) ORDER BY n;
SELECT pg_drop_replication_slot('key_change');
