--
-- ddl: ALTER TABLE during the life of a stream.  Each record shows the
-- table as it was at that change: added columns (with their default for
-- rows written before), dropped and renamed columns, a changed column type,
-- and DDL and DML in one transaction.  Rewriting the table writes no record.
-- A stream's key schema never changes (as DynamoDB's): renaming a key column
-- and changing the primary key are refused while the stream is enabled, and
-- so are SET UNLOGGED (no WAL, nothing to capture) and inheritance children
-- (their rows are not the table's changes); the statement rolls back.
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
-- refused: the key schema, unlogged, inheritance
ALTER TABLE ddl_t RENAME COLUMN id TO order_id;
ALTER TABLE ddl_t DROP CONSTRAINT ddl_t_pkey, ADD PRIMARY KEY (id, c);
ALTER TABLE ddl_t DROP CONSTRAINT ddl_t_pkey;
ALTER TABLE ddl_t SET UNLOGGED;
CREATE TABLE ddl_child () INHERITS (ddl_t);
CREATE TABLE ddl_other (id int NOT NULL, qty int, c text);
ALTER TABLE ddl_other INHERIT ddl_t;
-- allowed: the same key again, under another constraint name
ALTER TABLE ddl_t DROP CONSTRAINT ddl_t_pkey, ADD CONSTRAINT ddl_t_key PRIMARY KEY (id);
DELETE FROM ddl_t WHERE id = 1;
-- rewrites the table
ALTER TABLE ddl_t ALTER COLUMN qty TYPE numeric;
UPDATE ddl_t SET qty = 4.5 WHERE id = 2;
ALTER TABLE ddl_t ADD COLUMN d int;
INSERT INTO ddl_t (id, qty, c, d) VALUES (3, 1, 'w', 7);
BEGIN;
ALTER TABLE ddl_t ADD COLUMN e text;
INSERT INTO ddl_t (id, qty, c, e) VALUES (4, 1, 'v', 'e');
COMMIT;
UPDATE ddl_t SET d = 8 WHERE id = 3;
SELECT os_fetch('ddl');
SELECT * FROM os_check();
SELECT n, event, keys, new_image, old_image FROM os_last ORDER BY n;
-- the raw JSON names columns as they were at each change, and never a dropped one
SELECT n, raw ~ 'pg.dropped' AS names_dropped_column FROM os_records WHERE n IN (4, 5) ORDER BY n;
SELECT pg_drop_replication_slot('ddl');
-- once the stream is disabled, the key schema may change
SELECT os_mask_arn(orders_stream.disable_stream('ddl_t')) AS arn;
ALTER TABLE ddl_t RENAME COLUMN id TO order_id;
DROP TABLE ddl_other;
