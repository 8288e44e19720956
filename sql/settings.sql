--
-- settings: a record does not depend on the settings of the session that
-- decodes it (DateStyle, TimeZone, IntervalStyle, extra_float_digits,
-- bytea_output, lc_numeric, search_path), and decoding leaves those
-- settings as they were.
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TABLE st_values (
	id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, t time, ttz timetz,
	iv interval, r real, f float8, n numeric, m money, b bytea, j jsonb, arr float8[],
	rng tstzrange, pt point, rc regclass, tsarr timestamptz[]);
SELECT os_mask_arn(orders_stream.enable_stream('st_values')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('settings', 'orders_stream');
INSERT INTO st_values VALUES (1, '2026-03-04', '2026-03-04 05:06:07.89', '2026-03-04 05:06:07.89+00',
	'05:06:07.5', '05:06:07+01', '1 day 02:03:04.5', 0.1, 0.1, 1234.5, 1234.5, '\x00ff',
	'{"f": 0.1}', '{0.1,2.5}', '[2026-03-04 05:00+00,2026-03-05 05:00+00)', '(0.1,0.2)',
	'st_values', '{2026-03-04 05:06:07+00}');
UPDATE st_values SET f = 2.5e-5, tstz = '2026-12-31 23:59:59.999999+00', iv = '-3 mons';
CREATE TABLE st_runs (run text PRIMARY KEY, data text[]);
-- the session settings of pg_regress
INSERT INTO st_runs
	SELECT 'defaults', array_agg(data ORDER BY n)
	FROM pg_logical_slot_peek_changes('settings', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n);
BEGIN;
SET LOCAL DateStyle = 'SQL, DMY';
SET LOCAL TimeZone = 'Asia/Kolkata';
SET LOCAL IntervalStyle = 'sql_standard';
SET LOCAL extra_float_digits = -15;
SET LOCAL bytea_output = 'escape';
SET LOCAL lc_numeric = 'POSIX';
SET LOCAL search_path = pg_catalog;
INSERT INTO public.st_runs
	SELECT 'sql', array_agg(data ORDER BY n)
	FROM pg_logical_slot_peek_changes('settings', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n);
-- decoding left the session's settings alone
SELECT current_setting('DateStyle') AS datestyle, current_setting('TimeZone') AS timezone,
	current_setting('IntervalStyle') AS intervalstyle,
	current_setting('extra_float_digits') AS extra_float_digits,
	current_setting('bytea_output') AS bytea_output, current_setting('lc_numeric') AS lc_numeric,
	current_setting('search_path') AS search_path;
COMMIT;
SET DateStyle = 'German';
SET TimeZone = 'America/St_Johns';
SET IntervalStyle = 'postgres_verbose';
SET extra_float_digits = 3;
SET bytea_output = 'hex';
SET lc_numeric = 'C';
SET search_path = public, pg_catalog;
INSERT INTO st_runs
	SELECT 'german', array_agg(data ORDER BY n)
	FROM pg_logical_slot_peek_changes('settings', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n);
SELECT current_setting('DateStyle') AS datestyle, current_setting('TimeZone') AS timezone,
	current_setting('IntervalStyle') AS intervalstyle,
	current_setting('extra_float_digits') AS extra_float_digits,
	current_setting('bytea_output') AS bytea_output, current_setting('lc_numeric') AS lc_numeric,
	current_setting('search_path') AS search_path;
-- the same two records, byte for byte, whatever the settings
SELECT count(*) AS runs, count(DISTINCT data) AS distinct_outputs, min(cardinality(data)) AS records
FROM st_runs;
SELECT os_fetch('settings');
SELECT ARRAY(SELECT raw FROM os_records ORDER BY n) = (SELECT data FROM st_runs WHERE run = 'defaults') AS same_as_peeked;
SELECT * FROM os_check();
SELECT n, event, image, attr, value FROM os_attributes WHERE image <> 'Keys' ORDER BY n, image, attr COLLATE "C";
RESET ALL;
SELECT pg_drop_replication_slot('settings');
