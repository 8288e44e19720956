--
-- noop_update: an UPDATE that leaves a row as it was writes no record
-- (DynamoDB writes none for a write that changes nothing in an item).
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE nu_t (id int PRIMARY KEY, v text, j jsonb, x numeric);
CREATE TABLE nu_keys (id int PRIMARY KEY, v text);
SELECT os_mask_arn(orders_stream.enable_stream('nu_t')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('nu_keys', 'KEYS_ONLY')) AS arn;
INSERT INTO nu_t VALUES (1, 'a', '{"k": [1, 2]}', 1.5), (2, 'b', NULL, NULL), (3, 'c', '{}', 0);
INSERT INTO nu_keys VALUES (1, 'a');
SELECT slot_name FROM pg_create_logical_replication_slot('noop_update', 'orders_stream');
UPDATE nu_t SET v = v;
UPDATE nu_t SET v = v, j = j, x = x WHERE id = 2;
UPDATE nu_t SET j = '{"k": [1, 2]}' WHERE id = 1;
UPDATE nu_t SET x = NULL WHERE id = 2;
UPDATE nu_keys SET v = 'a';
SELECT os_fetch('noop_update');
-- of three rows updated, only the one that changes has a record
UPDATE nu_t SET v = 'c' WHERE id IN (1, 2, 3);
-- changed and changed back: two records
BEGIN;
UPDATE nu_t SET x = 2 WHERE id = 3;
UPDATE nu_t SET x = 0 WHERE id = 3;
COMMIT;
-- a change in a column the view type does not show is still a MODIFY
UPDATE nu_keys SET v = 'b';
SELECT os_fetch('noop_update');
SELECT * FROM os_check();
SELECT n, event, keys, new_image->'v' AS new_v, old_image->'v' AS old_v,
	new_image->'x' AS new_x, old_image->'x' AS old_x, view_type
FROM os_last ORDER BY n;
SELECT pg_drop_replication_slot('noop_update');
