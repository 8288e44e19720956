--
-- privileges: only the owner of a table may enable or disable its stream,
-- and any owner may, superuser or not; the streams catalog itself stays
-- closed to other roles.
--
\pset format unaligned
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE regress_os_owner;
CREATE ROLE regress_os_other;
CREATE TABLE pv_mine (id int PRIMARY KEY, v text);
ALTER TABLE pv_mine OWNER TO regress_os_owner;
CREATE TABLE pv_admin (id int PRIMARY KEY);
SET ROLE regress_os_other;
SELECT orders_stream.enable_stream('pv_mine');
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.enable_stream('pv_admin');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_os_owner;
SELECT os_mask_arn(orders_stream.enable_stream('pv_mine', 'KEYS_ONLY')) AS arn;
SELECT "TableName", os_mask_arn("StreamArn") AS arn FROM orders_stream.list_streams() WHERE "TableName" LIKE 'pv\_%';
-- the catalog is written by the extension's functions only
SELECT count(*) FROM orders_stream.streams;
\echo :LAST_ERROR_SQLSTATE
UPDATE orders_stream.streams SET view_type = 'NEW_IMAGE';
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_os_other;
SELECT orders_stream.disable_stream('pv_mine');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_os_owner;
SELECT os_mask_arn(orders_stream.disable_stream('pv_mine')) AS arn;
RESET ROLE;
-- DISABLING until capture has passed the disable, then DISABLED
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
SELECT d->'StreamDescription'->>'StreamStatus' AS status, d->'StreamDescription'->>'StreamViewType' AS view_type
FROM orders_stream.list_streams() AS l, orders_stream.describe_stream(l."StreamArn") AS d
WHERE l."TableName" = 'pv_mine';
DROP TABLE pv_mine;
DROP ROLE regress_os_owner;
DROP ROLE regress_os_other;
