--
-- truncate: TRUNCATE of a table with a stream is refused (it would remove
-- items without REMOVE records), for a partitioned table and its partitions
-- as well, unless the session sets orders_stream.allow_truncate; then it
-- writes no record.  Without a stream TRUNCATE works as usual.
--
\pset format unaligned
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE TABLE tr_t (id int PRIMARY KEY, v text);
CREATE TABLE tr_plain (id int PRIMARY KEY);
CREATE TABLE tr_p (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE tr_p1 PARTITION OF tr_p FOR VALUES FROM (0) TO (100);
SELECT os_mask_arn(orders_stream.enable_stream('tr_t')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('tr_p')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('truncate', 'orders_stream');
INSERT INTO tr_t VALUES (1, 'a');
INSERT INTO tr_plain VALUES (1);
INSERT INTO tr_p VALUES (1);
TRUNCATE tr_t;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE tr_plain, tr_t;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE tr_p;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE tr_p1;
\echo :LAST_ERROR_SQLSTATE
-- nothing was truncated
SELECT (SELECT count(*) FROM tr_t) AS tr_t, (SELECT count(*) FROM tr_plain) AS tr_plain, (SELECT count(*) FROM tr_p) AS tr_p;
TRUNCATE tr_plain;
-- opting out
SET orders_stream.allow_truncate = on;
TRUNCATE tr_t;
TRUNCATE tr_p;
RESET orders_stream.allow_truncate;
SELECT (SELECT count(*) FROM tr_t) AS tr_t, (SELECT count(*) FROM tr_p) AS tr_p;
INSERT INTO tr_t VALUES (2, 'b');
-- without a stream, TRUNCATE is allowed again
SELECT os_mask_arn(orders_stream.disable_stream('tr_p')) AS arn;
INSERT INTO tr_p VALUES (2);
TRUNCATE tr_p;
-- the records: the inserts, and nothing for the TRUNCATEs
SELECT os_fetch('truncate');
SELECT * FROM os_check();
SELECT n, event, keys, arn FROM os_last ORDER BY n;
SELECT pg_drop_replication_slot('truncate');
