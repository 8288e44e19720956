--
-- savepoints: changes rolled back (ROLLBACK TO SAVEPOINT, an exception block,
-- an aborted transaction) have no record; the records of a transaction are
-- numbered 1, 2, ... in the last 10 digits of SequenceNumber without gaps.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE sp_t (id int PRIMARY KEY, v text);
SELECT os_mask_arn(orders_stream.enable_stream('sp_t', 'NEW_IMAGE')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('savepoints', 'orders_stream');
BEGIN;
INSERT INTO sp_t VALUES (1, 'a');
SAVEPOINT s1;
INSERT INTO sp_t VALUES (2, 'b');
ROLLBACK TO SAVEPOINT s1;
INSERT INTO sp_t VALUES (3, 'c');
SAVEPOINT s2;
UPDATE sp_t SET v = 'C' WHERE id = 3;
RELEASE SAVEPOINT s2;
SAVEPOINT s3;
DELETE FROM sp_t WHERE id = 1;
ROLLBACK TO SAVEPOINT s3;
COMMIT;
-- aborted transactions
BEGIN;
INSERT INTO sp_t VALUES (4, 'd');
UPDATE sp_t SET v = 'x';
ROLLBACK;
BEGIN;
INSERT INTO sp_t VALUES (5, 'e');
INSERT INTO sp_t VALUES (5, 'e');
COMMIT;
-- an exception block is a subtransaction
DO $$
BEGIN
	INSERT INTO sp_t VALUES (6, 'f');
	BEGIN
		INSERT INTO sp_t VALUES (7, 'g');
		RAISE EXCEPTION 'undo';
	EXCEPTION WHEN OTHERS THEN
		NULL;
	END;
	INSERT INTO sp_t VALUES (8, 'h');
END
$$;
-- rolling back to an outer savepoint undoes the released inner one
BEGIN;
SAVEPOINT a;
INSERT INTO sp_t VALUES (9, 'i');
SAVEPOINT b;
INSERT INTO sp_t VALUES (10, 'j');
RELEASE SAVEPOINT b;
ROLLBACK TO SAVEPOINT a;
INSERT INTO sp_t VALUES (11, 'k');
COMMIT;
SELECT os_fetch('savepoints');
SELECT * FROM os_check();
SELECT n, event, keys, new_image, substr(r.rec->'dynamodb'->>'SequenceNumber', 21)::int AS position,
	dense_rank() OVER (ORDER BY left(r.rec->'dynamodb'->>'SequenceNumber', 20)) AS transaction
FROM os_last JOIN os_records AS r USING (n) ORDER BY n;
-- a transaction larger than logical_decoding_work_mem (spilled to disk while
-- decoded), with a rolled-back subtransaction in the middle
BEGIN;
INSERT INTO sp_t SELECT g, 'big' FROM generate_series(100, 1099) AS g;
SAVEPOINT big;
INSERT INTO sp_t SELECT g, 'undone' FROM generate_series(2000, 2499) AS g;
UPDATE sp_t SET v = 'undone' WHERE id < 100;
ROLLBACK TO SAVEPOINT big;
UPDATE sp_t SET v = 'big2' WHERE id BETWEEN 100 AND 199;
COMMIT;
SELECT os_fetch('savepoints');
SELECT * FROM os_check();
SELECT event, new_image->'v'->>'S' AS v, count(*), min((keys->'id'->>'N')::int) AS min_id,
	max((keys->'id'->>'N')::int) AS max_id, min(n) AS first, max(n) AS last
FROM os_last GROUP BY 1, 2 ORDER BY first;
SELECT pg_drop_replication_slot('savepoints');
