--
-- read_plans: every read of the streams API costs O(page), whatever the
-- stream's length and the reader's position: the plan of each read query is
-- an index range read of record_store (stream_id, sequence_key) that stops
-- at its LIMIT, in every partition, or reads no record at all.  On a
-- partition autovacuum has not analyzed: a fresh one that took a burst of
-- records, where the planner has only its size to go by and, left to
-- itself, sorts every later record of the stream for a page.
--
\pset format unaligned
SET client_min_messages = warning;

-- the plan of a query, EXPLAIN (COSTS OFF), with what varies from run to
-- run masked (partition names and aliases, OIDs, ids, keys) and each line
-- once: the partitions of record_store are many and alike
CREATE FUNCTION rp_plan(q text) RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
	line text;
	seen text[] := '{}';
BEGIN
	FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
		line := regexp_replace(line, 'records_\d{8}T\d{6}', 'records_<partition>', 'g');
		line := regexp_replace(line, '\m(r|s)_\d+\M', '\1_<n>', 'g');
		line := regexp_replace(line, '''\d+''::oid', '<oid>', 'g');
		line := regexp_replace(line, '(stream_id = )(''\d+''::bigint|\d+)', '\1<stream>', 'g');
		line := regexp_replace(line, '''\\x[0-9a-f]*''::bytea', '<key>', 'g');
		line := regexp_replace(line, '''arn:[^'']*''::text', '<arn>', 'g');
		IF line <> ALL (seen) THEN
			seen := seen || line;
			RETURN NEXT line;
		END IF;
	END LOOP;
END
$$;

-- whether a plan reads record_store only through the index condition of a
-- range from a key on (stream_id = ... AND sequence_key > ...), in order or
-- by a bitmap of it and a top-N sort: never a sequential scan, nor a read
-- of the stream from its start
CREATE FUNCTION rp_range_condition(plan text[]) RETURNS text
LANGUAGE sql
AS $$
	SELECT CASE
		WHEN EXISTS (SELECT FROM unnest(plan) l WHERE l ~ 'Seq Scan on "?records_') THEN 'NOT a range read'
		WHEN NOT EXISTS (SELECT FROM unnest(plan) l WHERE l ~ '(Index Scan using|Bitmap Index Scan on) "?records_<partition>_stream_id_sequence_key_idx') THEN 'no read of record_store'
		WHEN EXISTS (SELECT FROM unnest(plan) l WHERE l ~ '(Cond|Filter):.*sequence_key'
					   AND l !~ '(Index|Recheck) Cond: \((\(stream_id = ANY \(\$\d+\)\) AND )?\(stream_id = <stream>\) AND \(sequence_key >=? <key>\)\)$') THEN 'NOT a range read'
		WHEN plan[1] !~ '^Limit' THEN 'a range read without LIMIT'
		ELSE 'index range condition, LIMIT' END
$$;

-- the same, read in index order: every partition an Index Scan on
-- (stream_id, sequence_key), never a bitmap or a sort
CREATE FUNCTION rp_range_read(plan text[]) RETURNS text
LANGUAGE sql
AS $$
	SELECT CASE
		WHEN EXISTS (SELECT FROM unnest(plan) l
					  WHERE l ~ 'Bitmap Heap Scan on "?records_' OR l ~ '(^|->\s+)(Incremental )?Sort\s*$') THEN 'NOT a range read'
		ELSE replace(rp_range_condition(plan), 'index range condition', 'index range read') END
$$;

-- the plan of a SQL function's query as the function plans it: its
-- statement, its parameters bound to args, under its own settings
CREATE FUNCTION rp_function_plan(f regprocedure, args text) RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
	p pg_proc;
	body text := regexp_replace(pg_get_function_sqlbody(f), '^BEGIN ATOMIC\s*(.*);\s*END$', '\1');
	c text;
BEGIN
	SELECT * INTO p FROM pg_proc WHERE oid = f;
	FOR i IN 1 .. p.pronargs LOOP
		body := replace(body, p.proname || '.' || quote_ident(p.proargnames[i]), '$' || i);
	END LOOP;
	FOREACH c IN ARRAY coalesce(p.proconfig, '{}') LOOP
		PERFORM set_config(split_part(c, '=', 1), substr(c, strpos(c, '=') + 1), true);
	END LOOP;
	EXECUTE format('PREPARE rp_q(%s) AS %s',
		(SELECT string_agg(format_type(t, NULL), ', ') FROM unnest(p.proargtypes::oid[]) t), body);
	RETURN QUERY SELECT * FROM rp_plan('EXECUTE rp_q(' || args || ')');
	DEALLOCATE rp_q;
END
$$;

-- a stream of 30,000 records in partitions autovacuum leaves alone, without
-- statistics: as a fresh partition is before autovacuum's first ANALYZE
-- autovacuum off (or back to its default) for every partition
CREATE FUNCTION rp_autovacuum(setting text) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
	p regclass;
BEGIN
	FOR p IN SELECT partition FROM orders_stream.partitions LOOP
		EXECUTE format('ALTER TABLE %s %s', p, setting);
	END LOOP;
END
$$;
SELECT rp_autovacuum('SET (autovacuum_enabled = false)');
CREATE TABLE rp_orders (id int PRIMARY KEY, note text);
SELECT orders_stream.enable_stream('rp_orders', 'NEW_IMAGE') AS arn \gset
INSERT INTO rp_orders SELECT g, 'order ' || g FROM generate_series(1, 30000) g;
SELECT orders_stream.wait_for_capture() IS NOT NULL AS captured;
DELETE FROM pg_statistic s USING orders_stream.partitions p WHERE s.starelid = p.partition;
UPDATE pg_class c SET reltuples = -1, relpages = 0
  FROM orders_stream.partitions p WHERE c.oid = p.partition;
SELECT count(*) > 0 AS partitions, bool_and(c.reltuples < 0) AS none_analyzed
  FROM orders_stream.partitions p JOIN pg_class c ON c.oid = p.partition;
CREATE ROLE regress_rp_reader;
GRANT SELECT ON rp_orders TO regress_rp_reader;
SELECT stream_id AS sid FROM orders_stream.readable_streams WHERE stream_arn = :'arn' \gset
SELECT sequence_key AS mid FROM orders_stream.record_store
 WHERE stream_id = :sid ORDER BY sequence_key OFFSET 15000 LIMIT 1 \gset
SET ROLE regress_rp_reader;

-- GetRecords' page: records_from(stream, from key, limit), from a position
-- (AFTER_SEQUENCE_NUMBER: the key after it; AT_SEQUENCE_NUMBER: its key),
-- at TRIM_HORIZON (the trim key, '' when nothing was trimmed) and at LATEST
-- (a key past the last record)
SELECT rp_function_plan('orders_stream.records_from(bigint,bytea,integer)',
	format('%s, %L || ''\x00''::bytea, 1000', :sid, :'mid'));
SELECT 'after a position' AS page, rp_range_read(array(SELECT rp_function_plan('orders_stream.records_from(bigint,bytea,integer)',
	format('%s, %L || ''\x00''::bytea, 1000', :sid, :'mid')))) AS plan
UNION ALL
SELECT 'at a position', rp_range_read(array(SELECT rp_function_plan('orders_stream.records_from(bigint,bytea,integer)',
	format('%s, %L, 1000', :sid, :'mid'))))
UNION ALL
SELECT 'TRIM_HORIZON', rp_range_read(array(SELECT rp_function_plan('orders_stream.records_from(bigint,bytea,integer)',
	format('%s, %L, 1000', :sid, ''))))
UNION ALL
SELECT 'LATEST', rp_range_read(array(SELECT rp_function_plan('orders_stream.records_from(bigint,bytea,integer)',
	format('%s, %L, 1000', :sid, orders_stream.sequence_key(orders_stream.sequence_number(pg_current_wal_lsn()))))));
-- the page it reads is the one after the position, in order
SELECT count(*) AS records, min(sequence_number COLLATE "C") > orders_stream.sequence_text(:'mid') AS after,
	   bool_and(record IS NOT NULL) AS rendered
  FROM orders_stream.records_from(:sid, :'mid' || '\x00'::bytea, 1000);

-- the records view read by position, as a role reads it: ORDER BY
-- sequence_key LIMIT 1000.  The view is no security barrier (row security
-- on record_store is: 41_records_view.sql), so it is planned with the
-- query, as record_store would be: with enable_sort off (what
-- records_from() sets), a range read even without statistics; the
-- policy's conditions are an index condition (the streams the caller may
-- read) and a filter (the retention)
SET enable_sort = off;
SELECT rp_range_read(array(SELECT rp_plan(format(
	'SELECT sequence_number, record FROM orders_stream.records WHERE stream_id = %s AND sequence_key > %L ORDER BY sequence_key LIMIT 1000',
	:sid, :'mid')))) AS view_by_position;
RESET enable_sort;
-- and with the planner's defaults once the partitions have statistics,
-- which maintenance gives a partition that holds records and has none
-- (autovacuum back on: maintenance leaves a partition alone whose
-- autovacuum an administrator turned off)
RESET ROLE;
SELECT rp_autovacuum('RESET (autovacuum_enabled)');
SELECT orders_stream_internal.maintain_partitions() >= 0 AS maintained;
SELECT bool_and(c.reltuples >= 0) AS analyzed
  FROM orders_stream.partitions p JOIN pg_class c ON c.oid = p.partition
 WHERE pg_relation_size(p.partition) > 0;
SET ROLE regress_rp_reader;
-- GetRecords' page, as before; and the view, which the planner may read in
-- index order or, for a stream this short, by a bitmap of the same range
-- and a top-N sort: either way only the range after the position
SELECT rp_range_read(array(SELECT rp_function_plan('orders_stream.records_from(bigint,bytea,integer)',
	format('%s, %L || ''\x00''::bytea, 1000', :sid, :'mid')))) AS page_analyzed,
	   rp_range_condition(array(SELECT rp_plan(format(
	'SELECT sequence_number, record FROM orders_stream.records WHERE stream_id = %s AND sequence_key > %L ORDER BY sequence_key LIMIT 1000',
	:sid, :'mid')))) AS view_by_position_analyzed;

-- DescribeStream and ListStreams read the streams catalog only: no record
-- at all (GetShardIterator and GetRecords read a stream's row and its trim
-- point, which is state of its own)
SELECT rp_plan(format('SELECT r.readable, r.stream_arn, r.stream_label, r.enabled, r.view_type, r.created_at,
	   r.table_name, r.key_columns, r.shard_id, r.start_lsn, r.ending_sequence_number
  FROM orders_stream.readable_streams r WHERE r.stream_arn = %L', :'arn')) AS describe_stream;
SELECT rp_plan('SELECT r.stream_id, r.stream_arn, r.table_name, r.stream_label,
	   row_number() OVER (ORDER BY r.stream_id) AS rn
  FROM orders_stream.readable_streams r
 WHERE r.readable AND r.stream_id > 0
 ORDER BY r.stream_id LIMIT 101') AS list_streams;

RESET ROLE;
SELECT orders_stream.disable_stream('rp_orders') IS NOT NULL AS disabled;
DROP TABLE rp_orders;
DROP ROLE regress_rp_reader;
DROP FUNCTION rp_function_plan(regprocedure, text), rp_range_read(text[]), rp_range_condition(text[]), rp_plan(text), rp_autovacuum(text);
