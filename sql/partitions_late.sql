--
-- partitions_late: partitions created or attached after the stream of their
-- partitioned table was enabled are part of that stream like the others:
-- full OldImage on MODIFY and REMOVE (enable_stream sets REPLICA IDENTITY
-- FULL on the partitions that exist; later ones need it as well), and the
-- TRUNCATE guard.  A partition detached later has no stream any more, and
-- no TRUNCATE guard either.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE pl (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pl_eu PARTITION OF pl FOR VALUES IN ('eu');
SELECT os_mask_arn(orders_stream.enable_stream('pl')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('partitions_late', 'orders_stream');
CREATE TABLE pl_ap PARTITION OF pl FOR VALUES IN ('ap');
INSERT INTO pl VALUES (7, 'ap', 'x');
UPDATE pl SET v = 'y' WHERE id = 7;
DELETE FROM pl WHERE id = 7;
CREATE TABLE pl_sa (id int, region text, v text, PRIMARY KEY (id, region));
ALTER TABLE pl ATTACH PARTITION pl_sa FOR VALUES IN ('sa');
INSERT INTO pl VALUES (8, 'sa', 's');
UPDATE pl SET v = 't' WHERE id = 8;
DELETE FROM pl WHERE id = 8;
SELECT os_fetch('partitions_late');
SELECT * FROM os_check();
SELECT n, event, keys, new_image, old_image, arn FROM os_last ORDER BY n;
-- TRUNCATE of the new partitions is guarded like that of the others
TRUNCATE pl_ap;
TRUNCATE pl_sa;
ALTER TABLE pl DETACH PARTITION pl_eu;
INSERT INTO pl_eu VALUES (9, 'eu', 'z');
TRUNCATE pl_eu;
SELECT os_fetch('partitions_late');
SELECT pg_drop_replication_slot('partitions_late');
