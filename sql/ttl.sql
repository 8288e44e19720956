--
-- ttl: UpdateTimeToLive / DescribeTimeToLive, their errors and privileges,
-- and the TTL worker end to end (test/orders_stream.conf makes it nap
-- 100ms): expired rows go, rows more than five years in the past and rows
-- not yet expired stay, and only the REMOVE records of its deletes carry
-- userIdentity.
--
\pset format unaligned
\set SHOW_CONTEXT never
CREATE ROLE regress_ttl_owner;
CREATE ROLE regress_ttl_other;
CREATE TABLE ttl_ts (id int PRIMARY KEY, expires_at timestamptz, note text);
CREATE INDEX ON ttl_ts (expires_at);
ALTER TABLE ttl_ts OWNER TO regress_ttl_owner;
CREATE TABLE ttl_epoch (id int PRIMARY KEY, ttl bigint);
CREATE TABLE ttl_num (id int PRIMARY KEY, ttl numeric, t2 double precision, t3 integer,
					  label text, day date, small smallint);
CREATE VIEW ttl_view AS SELECT * FROM ttl_num;
CREATE TABLE ttl_parted (id int, ttl timestamptz, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE ttl_parted_1 PARTITION OF ttl_parted FOR VALUES FROM (0) TO (100);
CREATE TABLE ttl_parted_2 PARTITION OF ttl_parted FOR VALUES FROM (100) TO (200);
CREATE INDEX ON ttl_parted (ttl);

-- disabled until enabled
SELECT orders_stream.describe_time_to_live('ttl_ts');

-- only the owner may enable, superuser or not
SET ROLE regress_ttl_other;
SELECT orders_stream.update_time_to_live('ttl_ts', 'expires_at', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.describe_time_to_live('ttl_ts');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM orders_stream.time_to_live;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_ttl_owner;
SELECT orders_stream.update_time_to_live('ttl_ts', 'expires_at', true);
SELECT orders_stream.describe_time_to_live('ttl_ts');
RESET ROLE;
GRANT SELECT ON ttl_ts TO regress_ttl_other;
SET ROLE regress_ttl_other;
SELECT orders_stream.describe_time_to_live('ttl_ts');
RESET ROLE;

-- DynamoDB's rules: enabled once, disabled by naming the current attribute
SELECT orders_stream.update_time_to_live('ttl_ts', 'expires_at', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_ts', 'note', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_ts', 'note', false);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_epoch', 'ttl', false);
\echo :LAST_ERROR_SQLSTATE

-- attribute types: timestamptz or epoch seconds; without an index, a NOTICE
SELECT orders_stream.update_time_to_live('ttl_epoch', 'ttl', true);
SELECT orders_stream.update_time_to_live('ttl_num', 'label', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_num', 'day', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_num', 'small', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_num', 'missing', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_num', 't2', true);
SELECT orders_stream.update_time_to_live('ttl_num', 't2', false);
SELECT orders_stream.update_time_to_live('ttl_num', 't3', true);
SELECT orders_stream.update_time_to_live('ttl_num', 't3', false);
SELECT orders_stream.update_time_to_live('ttl_num', 'ttl', true);
SELECT orders_stream.describe_time_to_live('ttl_num');

-- what cannot have a time to live
SELECT orders_stream.update_time_to_live('ttl_view', 'ttl', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_parted_1', 'ttl', true);
\echo :LAST_ERROR_SQLSTATE
CREATE TEMP TABLE ttl_temp (id int PRIMARY KEY, ttl timestamptz);
SELECT orders_stream.update_time_to_live('ttl_temp', 'ttl', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live(0, 'ttl', true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_ts', NULL, true);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.describe_time_to_live(0);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_time_to_live('ttl_parted', 'ttl', true);

-- the worker: streams on two of the tables, rows expired, not yet expired,
-- expired more than five years ago, and without a time
SELECT os_mask_arn(orders_stream.enable_stream('ttl_ts', 'KEYS_ONLY')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('ttl_epoch', 'KEYS_ONLY')) AS arn;
INSERT INTO ttl_ts VALUES (1, now() - interval '1 hour', 'expired'),
	(2, now() + interval '1 day', 'later'),
	(3, now() - interval '6 years', 'too old'),
	(4, NULL, 'never'),
	(5, now() + interval '1 day', 'deleted by a user');
INSERT INTO ttl_epoch VALUES (1, extract(epoch FROM now())::bigint - 10),
	(2, extract(epoch FROM now())::bigint + 86400),
	(3, extract(epoch FROM now() - interval '6 years')::bigint);
INSERT INTO ttl_num (id, ttl) VALUES (1, extract(epoch FROM now()) - 0.5),
	(2, extract(epoch FROM now()) + 86400);
INSERT INTO ttl_parted VALUES (1, now() - interval '1 minute'), (150, now() - interval '1 minute'),
	(151, now() + interval '1 day');
DELETE FROM ttl_ts WHERE id = 5;
-- a polling wait, at most 30 s
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		IF NOT EXISTS (SELECT FROM ttl_ts WHERE id = 1)
		   AND NOT EXISTS (SELECT FROM ttl_epoch WHERE id = 1)
		   AND NOT EXISTS (SELECT FROM ttl_num WHERE id = 1)
		   AND NOT EXISTS (SELECT FROM ttl_parted WHERE id IN (1, 150)) THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RAISE EXCEPTION 'the TTL worker did not delete the expired rows within 30 s';
END
$$;
SELECT id, note FROM ttl_ts ORDER BY id;
SELECT id FROM ttl_epoch ORDER BY id;
SELECT id FROM ttl_num ORDER BY id;
SELECT id FROM ttl_parted ORDER BY id;
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
-- userIdentity on the TTL's REMOVE records only
SELECT r.record->'dynamodb'->'Keys'->'id'->>'N' AS id, r.record->>'eventName' AS event,
	   r.record->'userIdentity' AS "userIdentity", s.table_name
  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
 WHERE s.table_name IN ('ttl_ts', 'ttl_epoch')
 ORDER BY s.table_name, event, id;
-- the filter pattern AWS documents for TTL deletes
SELECT r.record->'dynamodb'->'Keys'->'id'->>'N' AS id, r.record->>'eventName' AS event,
	   orders_stream.filter_matches(r.record::jsonb,
		'{"Filters": [{"Pattern": "{\"userIdentity\": {\"type\": [\"Service\"], \"principalId\": [\"dynamodb.amazonaws.com\"]}}"}]}') AS ttl_delete
  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
 WHERE s.table_name = 'ttl_ts'
 ORDER BY event, id;

-- disabled: rows stay; the setting of a dropped table goes
SELECT orders_stream.update_time_to_live('ttl_ts', 'expires_at', false);
SELECT orders_stream.describe_time_to_live('ttl_ts');
DROP TABLE ttl_epoch;
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		IF (SELECT count(*) FROM orders_stream.time_to_live) = 2 THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.1);
	END LOOP;
	RAISE EXCEPTION 'orders_stream.time_to_live did not reach 2 rows within 30 s';
END
$$;
SELECT relid::regclass, attnum FROM orders_stream.time_to_live ORDER BY 1::text;
SELECT orders_stream.disable_stream('ttl_ts') IS NOT NULL AS disabled;
DROP TABLE ttl_ts, ttl_num, ttl_parted CASCADE;
DROP ROLE regress_ttl_owner, regress_ttl_other;
