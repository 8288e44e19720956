--
-- errors: what enable_stream, disable_stream, describe_stream and the output
-- plugin refuse, with their SQLSTATE.  A refused call changes nothing.
--
\pset format unaligned
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE TABLE er_t (id int PRIMARY KEY, v text, tags text[]);
CREATE TABLE er_nopk (id int, v text);
CREATE TEMPORARY TABLE er_temp (id int PRIMARY KEY);
CREATE UNLOGGED TABLE er_unlogged (id int PRIMARY KEY);
CREATE VIEW er_view AS SELECT * FROM er_t;
CREATE MATERIALIZED VIEW er_matview AS SELECT 1 AS id;
CREATE SEQUENCE er_seq;
CREATE FOREIGN DATA WRAPPER er_fdw;
CREATE SERVER er_server FOREIGN DATA WRAPPER er_fdw;
CREATE FOREIGN TABLE er_foreign (id int) SERVER er_server;
-- no primary key
SELECT orders_stream.enable_stream('er_nopk');
\echo :LAST_ERROR_SQLSTATE
-- unknown view types (names are case-sensitive, as in DynamoDB)
SELECT orders_stream.enable_stream('er_t', 'NEW');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_t', 'keys_only');
\echo :LAST_ERROR_SQLSTATE
-- no table
SELECT orders_stream.enable_stream(NULL);
\echo :LAST_ERROR_SQLSTATE
-- set_columns: a missing column, a column that is not an array, NULL
SELECT orders_stream.enable_stream('er_t', 'NEW_IMAGE', '{nope}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_t', 'NEW_IMAGE', '{tags,v}');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_t', 'NEW_IMAGE', '{tags,NULL}');
\echo :LAST_ERROR_SQLSTATE
-- temporary and unlogged tables: their changes are not in the WAL
SELECT orders_stream.enable_stream('er_temp');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_unlogged');
\echo :LAST_ERROR_SQLSTATE
-- relations that are not tables
SELECT orders_stream.enable_stream('er_view');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_foreign');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_seq');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_t_pkey');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('er_matview');
\echo :LAST_ERROR_SQLSTATE
-- the refused calls changed nothing
SELECT count(*) AS streams FROM orders_stream.list_streams() WHERE "TableName" LIKE 'er\_%';
SELECT relname, relreplident FROM pg_class
WHERE relname IN ('er_t', 'er_nopk', 'er_temp', 'er_unlogged') ORDER BY relname;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgname = 'orders_stream_truncate_guard' AND tgrelid::regclass::text LIKE 'er\_%';
-- a second stream on a table (the HINT names the first one's ARN)
SELECT os_mask_arn(orders_stream.enable_stream('er_t')) AS arn;
\set VERBOSITY terse
SELECT orders_stream.enable_stream('er_t', 'KEYS_ONLY');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT os_mask_arn(orders_stream.disable_stream('er_t')) AS arn;
-- no stream to disable
SELECT orders_stream.disable_stream('er_t');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.disable_stream('er_nopk');
\echo :LAST_ERROR_SQLSTATE
-- an ARN that names no stream
SELECT orders_stream.describe_stream('arn:aws:dynamodb:local:000000000000:table/er_t/stream/2000-01-01T00:00:00.000');
\echo :LAST_ERROR_SQLSTATE
-- only the owner of a table may enable or disable its stream (more in privileges)
CREATE ROLE regress_os_intruder;
SET ROLE regress_os_intruder;
SELECT orders_stream.enable_stream('er_t');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT os_mask_arn(orders_stream.enable_stream('er_t')) AS arn;
SET ROLE regress_os_intruder;
SELECT orders_stream.disable_stream('er_t');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_os_intruder;
SELECT "TableName", count(*) AS streams, count(*) FILTER (WHERE d->'StreamDescription'->>'StreamStatus' = 'ENABLED') AS enabled
FROM orders_stream.list_streams() AS l, orders_stream.describe_stream(l."StreamArn") AS d
WHERE "TableName" LIKE 'er\_%' GROUP BY 1;
-- output plugin options: the capture worker's two booleans, and no other
SELECT slot_name FROM pg_create_logical_replication_slot('errors', 'orders_stream');
SELECT data FROM pg_logical_slot_get_changes('errors', NULL, NULL, 'foo', 'bar');
\echo :LAST_ERROR_SQLSTATE
SELECT data FROM pg_logical_slot_peek_changes('errors', NULL, NULL, 'include-xids', '0');
\echo :LAST_ERROR_SQLSTATE
SELECT data FROM pg_logical_slot_peek_changes('errors', NULL, NULL, 'close-events', 'maybe');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM pg_logical_slot_peek_changes('errors', NULL, NULL, 'close-events', 'on', 'stored-bodies', 'off');
SELECT pg_drop_replication_slot('errors');
-- SequenceNumbers: a position is a change's place in its transaction
SELECT orders_stream.sequence_number('0/16B3748', 7);
SELECT orders_stream.sequence_number('0/16B3748', -1);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.sequence_number('0/16B3748', 4294967296);
\echo :LAST_ERROR_SQLSTATE
-- orders_stream.aws_error(): an AWS exception from SQL, as the extension raises them
SELECT orders_stream.aws_error('ResourceNotFoundException', 'stream "x" does not exist', 'a hint');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.aws_error('InvalidParameterValueException', 'no "hint"');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.aws_error('NoSuchException', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.aws_error(NULL, 'x');
\echo :LAST_ERROR_SQLSTATE
-- orders_stream.may_read(): no role, no table
SELECT orders_stream.may_read(0, 'er_t'::regclass), orders_stream.may_read(current_user::regrole, 0),
       orders_stream.may_read(current_user::regrole, 0, if_dropped => true),
       orders_stream.may_read(current_user::regrole, 'er_t'::regclass);
