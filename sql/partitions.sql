--
-- partitions: the changes of every partition, at any depth, belong to the
-- stream of the partitioned table (whose name the ARN carries); a row moving
-- to another partition changes its key: REMOVE, then INSERT.  A partition
-- cannot have a stream of its own; only an empty one can be detached (and
-- then leaves the stream).
-- (Partitions created or attached later: partitions_late.)
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE pt (id int, region text, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu');
CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us') PARTITION BY RANGE (id);
CREATE TABLE pt_us_low PARTITION OF pt_us FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE pt_us_high PARTITION OF pt_us FOR VALUES FROM (100) TO (MAXVALUE);
SELECT os_mask_arn(orders_stream.enable_stream('pt')) AS arn;
SELECT jsonb_build_object('TableName', d->'TableName', 'KeySchema', d->'KeySchema') AS description
FROM orders_stream.list_streams() AS l,
	LATERAL (SELECT orders_stream.describe_stream(l."StreamArn") -> 'StreamDescription') AS x(d)
WHERE l."TableName" = 'pt';
-- a partition, at any depth, cannot have its own stream
SELECT orders_stream.enable_stream('pt_eu');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('pt_us_low', 'KEYS_ONLY');
\echo :LAST_ERROR_SQLSTATE
SELECT slot_name FROM pg_create_logical_replication_slot('partitions', 'orders_stream');
INSERT INTO pt VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (150, 'us', 'c');
-- straight into a partition
INSERT INTO pt_eu VALUES (3, 'eu', 'd');
UPDATE pt SET v = 'e' WHERE id = 1;
-- to another partition
UPDATE pt SET region = 'eu' WHERE id = 2;
-- a new key in the same partition
UPDATE pt SET id = 200 WHERE id = 150;
-- to another partition of the sub-partitioned partition
UPDATE pt SET id = 50 WHERE id = 200;
DELETE FROM pt WHERE id = 3;
-- a partition with rows stays: its items would vanish without REMOVE records
ALTER TABLE pt DETACH PARTITION pt_eu;
\echo :LAST_ERROR_SQLSTATE
-- emptied, it is detached: a table of its own, without a stream
DELETE FROM pt WHERE id = 1 AND region = 'eu';
DELETE FROM pt WHERE id = 2 AND region = 'eu';
ALTER TABLE pt DETACH PARTITION pt_eu;
INSERT INTO pt_eu VALUES (9, 'eu', 'z');
SELECT os_fetch('partitions');
SELECT * FROM os_check();
SELECT n, event, keys, new_image, old_image FROM os_last ORDER BY n;
-- every record is in the partitioned table's stream
SELECT count(*) AS records, count(DISTINCT arn) AS arns, min(arn) AS arn FROM os_last;
SELECT pg_drop_replication_slot('partitions');
