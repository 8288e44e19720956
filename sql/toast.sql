--
-- toast: values stored out of line (TOAST) appear in full in NewImage and
-- OldImage, including unchanged ones, which an UPDATE does not write again.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE toast_t (id int PRIMARY KEY, big text, n int, blob bytea);
-- 100 kB of text and 50 kB of bytes that do not compress
CREATE TABLE toast_src (k text PRIMARY KEY, v text);
INSERT INTO toast_src SELECT 'big', string_agg(md5(i::text), '' ORDER BY i) FROM generate_series(1, 3200) AS i;
INSERT INTO toast_src SELECT 'big2', reverse(v) FROM toast_src WHERE k = 'big';
INSERT INTO toast_src SELECT 'bigx', v || 'x' FROM toast_src WHERE k = 'big';
INSERT INTO toast_src SELECT 'blob', string_agg(md5(i::text || 'b'), '' ORDER BY i) FROM generate_series(1, 3200) AS i;
SELECT os_mask_arn(orders_stream.enable_stream('toast_t')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('toast', 'orders_stream');
INSERT INTO toast_t SELECT 1, (SELECT v FROM toast_src WHERE k = 'big'), 1,
	decode((SELECT v FROM toast_src WHERE k = 'blob'), 'hex');
SELECT length(big) AS big_length, pg_column_size(big) > 100000 AS big_out_of_line_uncompressed,
	length(blob) AS blob_length, pg_column_size(blob) > 50000 AS blob_out_of_line_uncompressed
FROM toast_t;
-- big and blob unchanged
UPDATE toast_t SET n = 2 WHERE id = 1;
-- inserted and updated in one transaction
BEGIN;
INSERT INTO toast_t SELECT 2, v, 1, NULL FROM toast_src WHERE k = 'big2';
UPDATE toast_t SET n = 2 WHERE id = 2;
COMMIT;
-- big changed, blob unchanged
UPDATE toast_t SET big = big || 'x' WHERE id = 1;
DELETE FROM toast_t WHERE id = 1;
-- changes nothing: no record
UPDATE toast_t SET n = n WHERE id = 2;
-- a new key, big unchanged: REMOVE, then INSERT with big in full
UPDATE toast_t SET id = 3 WHERE id = 2;
SELECT os_fetch('toast');
SELECT * FROM os_check();
-- which value each image holds; sizes: big 3 + 102400, blob 4 + 51200,
-- id and n 4 and 3
SELECT n, event,
	(SELECT k FROM toast_src WHERE v = new_image->'big'->>'S') AS new_big,
	(SELECT k FROM toast_src WHERE v = old_image->'big'->>'S') AS old_big,
	new_image->'n' AS new_n, old_image->'n' AS old_n,
	length(decode(new_image->'blob'->>'B', 'base64')) AS new_blob,
	length(decode(old_image->'blob'->>'B', 'base64')) AS old_blob,
	size
FROM os_last ORDER BY n;
SELECT count(*) AS blobs,
	bool_and(decode(value->>'B', 'base64') = decode((SELECT v FROM toast_src WHERE k = 'blob'), 'hex')) AS all_equal
FROM os_attributes WHERE attr = 'blob' AND value ? 'B';
SELECT n, image, value FROM os_attributes WHERE attr = 'blob' AND NOT value ? 'B' ORDER BY n, image;
SELECT pg_drop_replication_slot('toast');
