--
-- ddl: ALTER TABLE during the life of a stream.  Each record shows the
-- table as it was at that change: added columns (with their default for
-- rows written before), dropped and renamed columns, a renamed key column,
-- a changed column type, a changed primary key, and DDL and DML in one
-- transaction.  Rewriting the table writes no record.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE ddl_t (id int PRIMARY KEY, a text, b int);
SELECT os_mask_arn(orders_stream.enable_stream('ddl_t')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('ddl', 'orders_stream');
INSERT INTO ddl_t VALUES (1, 'x', 1);
ALTER TABLE ddl_t ADD COLUMN c text DEFAULT 'dflt';
UPDATE ddl_t SET b = 2 WHERE id = 1;
INSERT INTO ddl_t VALUES (2, 'y', 2, 'z');
ALTER TABLE ddl_t DROP COLUMN a;
UPDATE ddl_t SET b = 3 WHERE id = 1;
ALTER TABLE ddl_t RENAME COLUMN b TO qty;
UPDATE ddl_t SET qty = 4 WHERE id = 2;
ALTER TABLE ddl_t RENAME COLUMN id TO order_id;
DELETE FROM ddl_t WHERE order_id = 1;
-- rewrites the table
ALTER TABLE ddl_t ALTER COLUMN qty TYPE numeric;
UPDATE ddl_t SET qty = 4.5 WHERE order_id = 2;
ALTER TABLE ddl_t ADD COLUMN d int;
INSERT INTO ddl_t (order_id, qty, c, d) VALUES (3, 1, 'w', 7);
BEGIN;
ALTER TABLE ddl_t ADD COLUMN e text;
INSERT INTO ddl_t (order_id, qty, c, e) VALUES (4, 1, 'v', 'e');
COMMIT;
-- Keys follow the primary key
ALTER TABLE ddl_t DROP CONSTRAINT ddl_t_pkey, ADD PRIMARY KEY (order_id, c);
UPDATE ddl_t SET d = 8 WHERE order_id = 3;
SELECT os_fetch('ddl');
SELECT * FROM os_check();
SELECT n, event, keys, new_image, old_image FROM os_last ORDER BY n;
-- the raw JSON names columns as they were at each change, and never a dropped one
SELECT n, raw ~ 'pg.dropped' AS names_dropped_column FROM os_records WHERE n IN (4, 5) ORDER BY n;
SELECT pg_drop_replication_slot('ddl');
