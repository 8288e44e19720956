-- orders_stream 1.0 -> 1.1.  This update script is built by the Makefile
-- from the files of sql/update/1.0--1.1, in name order: each change to
-- sql/install brings a fragment here that takes a 1.0 database to the same
-- state (t/096_upgrade.pl compares an updated database with a fresh one);
-- a file of sql/install that is new in 1.1 can be linked here as it is.
-- It runs in ALTER EXTENSION orders_stream UPDATE on a live database: the
-- workers of a new library wait meanwhile, and resume after its commit.

\echo Use "ALTER EXTENSION orders_stream UPDATE" to load this file. \quit

/*
 * The library's version, to compare with pg_extension.extversion: the
 * workers wait while they differ (README "Upgrading").
 */
CREATE FUNCTION orders_stream.library_version()
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_library_version'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION orders_stream.library_version() IS
	'The version of the orders_stream library this server runs; pg_extension.extversion has the installed SQL''s.';

/*
 * pg_upgrade keeps the OIDs of tables, sequences and roles, but the
 * functions of the upgraded cluster get new ones: a mapping's function_oid
 * then names no function, or another one.  At its start, before it serves
 * any lane, the delivery launcher binds each mapping whose function_name
 * names a function other than function_oid to that function again, by that
 * name (schema-qualified, as created), as resume_restored_streams() does
 * after a restore, and as AWS names a mapping's function: if its owner may
 * still execute it and it may be a target.  A mapping whose function is
 * not found by its name keeps its OID (a function renamed since).  Returns
 * the mappings bound again.
 */
CREATE FUNCTION orders_stream_internal.rebind_functions()
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT e.uuid, f.fn, c.relowner AS owner
			   FROM orders_stream_internal.event_source_mappings e
			  CROSS JOIN LATERAL (SELECT pg_catalog.to_regprocedure(e.function_name) AS fn) f
			   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.anchor
			  WHERE f.fn OPERATOR(pg_catalog.<>) e.function_oid
			  ORDER BY e.uuid FOR UPDATE OF e LOOP
		BEGIN
			PERFORM orders_stream_internal.check_function(m.owner, m.fn);
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'event source mapping % not bound to function %: %', m.uuid, m.fn, SQLERRM;
			CONTINUE;
		END;
		UPDATE orders_stream_internal.event_source_mappings e SET function_oid = m.fn
		 WHERE e.uuid OPERATOR(pg_catalog.=) m.uuid;
		RETURN NEXT m.uuid;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION orders_stream_internal.rebind_functions() FROM PUBLIC;
/*
 * trim (issue 17): the trim point and the per-stream counts as state, so
 * that readable_streams and stream_status cost O(1) per stream.  Here the
 * new column; 21_trim_state.sql (sql/install/26_stream_state.sql, linked)
 * brings the new objects and maintain_partitions, which it replaces (no
 * dependants, so dropped here rather than copied); 22_trim_views.sql the
 * views that read the state, and its backfill.
 */
/* 1.0 kept only the SequenceNumber; recount_streams() sets the key */
ALTER TABLE orders_stream.stream_trim ADD COLUMN trimmed_key bytea NOT NULL DEFAULT '';
DROP FUNCTION orders_stream_internal.maintain_partitions();
/*
 * The state that keeps the read path's cost independent of the length of
 * a stream: where retention has trimmed each stream (stream_trim,
 * 20_records.sql) and how many records and capture exceptions it holds
 * (stream_counts), kept as the records come and go (maintenance below,
 * capture in capture_buffer.c), and rebuilt from them by recount_streams().
 * New in 1.1: the update script includes this file as it is
 * (sql/update/1.0--1.1), after dropping 1.0's maintain_partitions.
 */

/*
 * What stream_status reports per stream without counting: the records after
 * the trim point (capture adds what it stores, in the same transaction;
 * trim_streams subtracts what it trims) and the rows of capture_exceptions
 * (kept by triggers on that table).  recount_streams() rebuilds both.
 */
CREATE TABLE orders_stream.stream_counts (
	stream_id	bigint PRIMARY KEY,
	records_retained bigint NOT NULL DEFAULT 0,
	capture_exceptions bigint NOT NULL DEFAULT 0
);

REVOKE ALL ON orders_stream.stream_counts FROM PUBLIC;

/*
 * Moves each stream's trim point (stream_trim) past its records that
 * expired before cutoff, oldest first, up to the first one still retained,
 * and takes them off its count (stream_counts).  It reads only the index
 * range after the trim point, so a run costs what expired since the last
 * one, not the length of the stream; the planner settings of its caller,
 * maintain_partitions, keep it on the index in a partition autovacuum has
 * not analyzed yet.  Capture times
 * follow sequence keys (capture stores in commit order, each pass at its
 * own transaction's start); a record that a clock set back made look
 * younger than an older one stays after the trim point until its partition
 * goes (maintain_partitions).
 */
CREATE FUNCTION orders_stream_internal.trim_streams(cutoff timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	/* after every sequence key (12 bytes) */
	past_end	constant bytea := '\xffffffffffffffffffffffffff';
	s			record;
	kept		bytea;
	newest		bytea;
BEGIN
	/*
	 * One run at a time (a run by hand meets the worker's): each subtracts
	 * what it trims from the counts, which must happen once.  The state is
	 * read after the lock, as the last run left it.
	 */
	LOCK TABLE orders_stream.stream_trim IN SHARE ROW EXCLUSIVE MODE;
	FOR s IN SELECT st.stream_id, coalesce(t.trimmed_key, ''::bytea) AS trimmed_key
			   FROM orders_stream.streams st
			   LEFT JOIN orders_stream.stream_trim t ON t.stream_id = st.stream_id LOOP
		/* the oldest record still retained */
		SELECT r.sequence_key INTO kept FROM orders_stream.record_store r
		 WHERE r.stream_id = s.stream_id AND r.sequence_key > s.trimmed_key
		   AND r.captured_at >= cutoff
		 ORDER BY r.sequence_key LIMIT 1;
		/* the newest record before it: every one from the trim point to it expired */
		SELECT r.sequence_key INTO newest FROM orders_stream.record_store r
		 WHERE r.stream_id = s.stream_id AND r.sequence_key > s.trimmed_key
		   AND r.sequence_key < coalesce(kept, past_end) AND r.captured_at < cutoff
		 ORDER BY r.sequence_key DESC LIMIT 1;
		CONTINUE WHEN newest IS NULL;
		INSERT INTO orders_stream.stream_trim AS t VALUES (s.stream_id, orders_stream.sequence_text(newest), newest)
		ON CONFLICT (stream_id) DO UPDATE
			SET trimmed_through = excluded.trimmed_through, trimmed_key = excluded.trimmed_key;
		UPDATE orders_stream.stream_counts c
		   SET records_retained = c.records_retained - (
				SELECT count(*) FROM orders_stream.record_store r
				 WHERE r.stream_id = s.stream_id AND r.sequence_key > s.trimmed_key
				   AND r.sequence_key <= newest AND r.captured_at < cutoff)
		 WHERE c.stream_id = s.stream_id;
	END LOOP;
END
$$;

/*
 * Rebuilds stream_trim and stream_counts from the records: each stream
 * trimmed through its newest record older than the retention (or further,
 * where it already was), and counted after that.  For state that capture
 * and maintenance did not write: a database updated from 1.0, records
 * loaded into record_store directly (the benchmarks).  Reads every record:
 * O(records), once.  Capture's and maintenance's changes to the state wait
 * for it, so the counts are exact whatever runs meanwhile.
 */
CREATE FUNCTION orders_stream_internal.recount_streams()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff		timestamptz := now() - orders_stream_internal.retention_interval();
BEGIN
	LOCK TABLE orders_stream.stream_trim, orders_stream.stream_counts IN SHARE ROW EXCLUSIVE MODE;
	INSERT INTO orders_stream.stream_trim AS t
	SELECT s.stream_id, orders_stream.sequence_text(k.key), k.key
	  FROM orders_stream.streams s
	  LEFT JOIN orders_stream.stream_trim o ON o.stream_id = s.stream_id
	 CROSS JOIN LATERAL (
		SELECT greatest(o.trimmed_key, orders_stream.sequence_key(o.trimmed_through),
						(SELECT r.sequence_key FROM orders_stream.record_store r
						  WHERE r.stream_id = s.stream_id AND r.captured_at < cutoff
						  ORDER BY r.sequence_key DESC LIMIT 1),
						''::bytea) AS key) k
	ON CONFLICT (stream_id) DO UPDATE
		SET trimmed_through = excluded.trimmed_through, trimmed_key = excluded.trimmed_key;
	INSERT INTO orders_stream.stream_counts AS c
	SELECT t.stream_id,
		   (SELECT count(*) FROM orders_stream.record_store r
			 WHERE r.stream_id = t.stream_id AND r.sequence_key > t.trimmed_key),
		   (SELECT count(*) FROM orders_stream.capture_exceptions x WHERE x.stream_id = t.stream_id)
	  FROM orders_stream.stream_trim t
	ON CONFLICT (stream_id) DO UPDATE
		SET records_retained = excluded.records_retained, capture_exceptions = excluded.capture_exceptions;
END
$$;

/*
 * ACCESS EXCLUSIVE on record_store and on its partition part, for dropping
 * the partition, only if no transaction holds a lock on them: a few tries,
 * 20 ms apart, then lock_not_available.  Never a request in the lock
 * queue, where every reader coming after it would wait.
 */
CREATE FUNCTION orders_stream_internal.lock_for_drop(part regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	FOR attempt IN 1..5 LOOP
		BEGIN
			EXECUTE format('LOCK TABLE ONLY orders_stream.record_store, %s IN ACCESS EXCLUSIVE MODE NOWAIT', part);
			RETURN;
		EXCEPTION WHEN lock_not_available THEN
			IF attempt = 5 THEN
				RAISE;
			END IF;
			PERFORM pg_sleep(0.02);
		END;
	END LOOP;
END
$$;

/*
 * Creates the partitions of the next 6 hours (at least the next two
 * partitions, at most 48), moves the trim points past what expired
 * (trim_streams), and drops the partitions whose records are all older
 * than the retention.  Returns how many partitions were dropped.  The
 * capture worker runs this every 10 seconds, between its passes.
 *
 * It never waits long for a lock (lock_timeout): what it cannot do now, the
 * next run does.  Attaching a partition conflicts with no lock a reader can
 * hold (ensure_partition), so partitions stay hours ahead of capture, which
 * never creates one itself (retention.c): a failing maintenance has hours
 * of WARNINGs before capture runs out.  Dropping one takes ACCESS EXCLUSIVE
 * on record_store, which every open transaction that read records
 * conflicts with: it is only ever taken when free (NOWAIT, a few tries),
 * never queued for, since a waiting request would hold up every later
 * reader; and it is held for the drops alone, at the end of the
 * transaction.  The records are invisible from their trim already, so a
 * partition dropped a few runs late costs disk only.
 */
CREATE FUNCTION orders_stream_internal.maintain_partitions()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
SET jit = off
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	ahead		integer := least(48, greatest(2, ceil(6 * 3600 / extract(epoch FROM span))::integer));
	cutoff		timestamptz := now() - orders_stream_internal.retention_interval();
	covered		timestamptz;
	p			record;
	dropped		integer := 0;
	why			text;
BEGIN
	BEGIN
		PERFORM orders_stream_internal.ensure_partition(now() + span * i) FROM generate_series(0, ahead) AS i;
	EXCEPTION WHEN lock_not_available THEN
		/* only DDL or maintenance of record_store holds a lock that conflicts */
		covered := (SELECT max(upper_bound) FROM orders_stream.partitions);
		IF covered IS NULL OR covered < now() + span * ahead / 2 THEN
			RAISE WARNING 'orders_stream.record_store is locked: stream partitions not created ahead, capture has partitions until %',
				coalesce(covered::text, 'none');
		ELSE
			RAISE LOG 'orders_stream.record_store is locked: stream partitions not created ahead this time';
		END IF;
	END;
	DELETE FROM orders_stream.capture_exceptions WHERE created_at < cutoff;
	/*
	 * The reads of records from here on stay on the index, also in a
	 * partition autovacuum has not analyzed yet.  Set here, for them only,
	 * and jit off for the whole call: a plan with a disabled node costs more
	 * than jit_above_cost, and JIT compiling ensure_partition's catalog work
	 * kept some 20 MB in the capture worker's heap, growing each run
	 * (t/040).  Local to this call (its SET clauses end them).
	 */
	PERFORM set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
			set_config('enable_sort', 'off', true);
	BEGIN
		PERFORM orders_stream_internal.trim_streams(cutoff);
	EXCEPTION WHEN lock_not_available THEN
		/* the drops go by the trim points, which the other run is moving */
		RAISE LOG 'orders_stream: another maintenance run is trimming: trim and drops put off this time';
		RETURN dropped;
	END;
	FOR p IN SELECT * FROM orders_stream.partitions WHERE upper_bound <= cutoff ORDER BY lower_bound LOOP
		BEGIN
			PERFORM orders_stream_internal.lock_for_drop(p.partition);
			/*
			 * Its records after their stream's trim point leave the counts
			 * with it: none, unless a clock set back stopped trim_streams
			 * before them.  One index probe per stream.
			 */
			EXECUTE format('UPDATE orders_stream.stream_counts c SET records_retained = c.records_retained - x.n
							  FROM (SELECT s.stream_id,
										   (SELECT count(*) FROM %s r
											 WHERE r.stream_id = s.stream_id
											   AND r.sequence_key > coalesce(t.trimmed_key, ''''::bytea)) AS n
									  FROM orders_stream.streams s
									  LEFT JOIN orders_stream.stream_trim t ON t.stream_id = s.stream_id) x
							 WHERE c.stream_id = x.stream_id AND x.n > 0', p.partition);
			BEGIN
				EXECUTE format('ALTER EXTENSION orders_stream DROP TABLE %s', p.partition);
				EXECUTE format('DROP TABLE %s', p.partition);
				DELETE FROM orders_stream.partitions WHERE partition = p.partition;
				dropped := dropped + 1;
			EXCEPTION WHEN dependent_objects_still_exist THEN
				/*
				 * Any role may create a view on a partition, or a column of
				 * its row type, without any privilege on it: that must not
				 * keep expired records (and their disk) forever.  Empty it;
				 * the table goes at a later run, once the object is dropped.
				 */
				GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
				EXECUTE format('TRUNCATE %s', p.partition);
				RAISE WARNING 'could not drop expired stream partition %: %', p.partition, SQLERRM
					USING DETAIL = why,
						  HINT = 'Its records were removed (TRUNCATE); the empty table goes once those objects are dropped.';
			END;
		EXCEPTION
			WHEN lock_not_available THEN
				/* six runs in a row: a reader keeps a transaction open */
				IF p.upper_bound < cutoff - interval '1 minute' THEN
					RAISE WARNING 'orders_stream.record_store is in use: expired stream partition % not dropped this time, expired since %',
						p.partition, p.upper_bound + orders_stream_internal.retention_interval()
						USING HINT = 'A transaction that read orders_stream.records stays open: see pg_stat_activity.';
				ELSE
					RAISE LOG 'orders_stream.record_store is in use: expired stream partition % not dropped this time',
						p.partition;
				END IF;
				EXIT;
			WHEN OTHERS THEN
				/* e.g. a view on the partition: keep it, drop the others */
				RAISE WARNING 'could not drop expired stream partition %: %', p.partition, SQLERRM;
		END;
	END LOOP;
	RETURN dropped;
END
$$;

/*
 * Its rows per stream, kept in stream_counts (20_records.sql) by whoever
 * inserts or deletes them (capture, failover.c, maintenance, an
 * administrator), so that stream_status never counts them.
 */
CREATE FUNCTION orders_stream_internal.count_capture_exceptions()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		UPDATE orders_stream.stream_counts SET capture_exceptions = 0 WHERE capture_exceptions <> 0;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO orders_stream.stream_counts AS c (stream_id, capture_exceptions)
		SELECT n.stream_id, count(*) FROM changed n GROUP BY n.stream_id
		ON CONFLICT (stream_id) DO UPDATE SET capture_exceptions = c.capture_exceptions + excluded.capture_exceptions;
	ELSE
		UPDATE orders_stream.stream_counts c SET capture_exceptions = c.capture_exceptions - o.n
		  FROM (SELECT d.stream_id, count(*) AS n FROM changed d GROUP BY d.stream_id) o
		 WHERE c.stream_id = o.stream_id;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER count_inserted AFTER INSERT ON orders_stream.capture_exceptions
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
CREATE TRIGGER count_deleted AFTER DELETE ON orders_stream.capture_exceptions
	REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
CREATE TRIGGER count_truncated AFTER TRUNCATE ON orders_stream.capture_exceptions
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
/*
 * trim (issue 17), after 21_trim_state.sql: what reads the new state, as in
 * sql/install/40_read_api.sql (views other objects depend on: replaced, the
 * new column last), and the state of the records stored so far.
 */
/* as 90_grants.sql does for every internal function of a new install */
REVOKE ALL ON FUNCTION orders_stream_internal.trim_streams(timestamptz),
	orders_stream_internal.recount_streams(), orders_stream_internal.lock_for_drop(regclass),
	orders_stream_internal.maintain_partitions(),
	orders_stream_internal.count_capture_exceptions() FROM PUBLIC;

/*
 * Every stream, with what a caller may know of it: all of it for the streams
 * of tables it may read (orders_stream.may_read(), as the caller), only
 * the ARN otherwise (enough to answer AccessDeniedException rather than
 * ResourceNotFoundException).  The view reads the catalog as its owner;
 * the functions in it run as the caller.  security_barrier: a caller's leaky
 * function never sees the rows or columns the view hides.
 */
CREATE OR REPLACE VIEW orders_stream.readable_streams WITH (security_barrier) AS
SELECT s.stream_arn,
	   v.readable,
	   CASE WHEN v.readable THEN s.stream_id END AS stream_id,
	   CASE WHEN v.readable THEN s.relid END AS relid,
	   CASE WHEN v.readable THEN s.table_name END AS table_name,
	   CASE WHEN v.readable THEN s.view_type END AS view_type,
	   CASE WHEN v.readable THEN s.stream_label END AS stream_label,
	   CASE WHEN v.readable THEN s.shard_id END AS shard_id,
	   CASE WHEN v.readable THEN s.key_columns END AS key_columns,
	   CASE WHEN v.readable THEN s.start_lsn END AS start_lsn,
	   CASE WHEN v.readable THEN s.created_at END AS created_at,
	   CASE WHEN v.readable THEN s.disabled_at IS NULL END AS enabled,
	   /* set once capture has passed the commit of the disable: see 10_streams.sql */
	   CASE WHEN v.readable THEN s.ending_sequence_number END AS ending_sequence_number,
	   /*
	    * the newest SequenceNumber of the stream that retention has trimmed,
	    * or '': from stream_trim, which maintenance moves forward every 10
	    * seconds (20_records.sql)
	    */
	   CASE WHEN v.readable THEN COALESCE(t.trimmed_through, '') END AS trim_point,
	   /* its sequence key: the records after it, sequence_key > trim_key, are the retained ones */
	   CASE WHEN v.readable THEN COALESCE(t.trimmed_key, ''::pg_catalog.bytea) END AS trim_key
  FROM orders_stream.streams s
  LEFT JOIN orders_stream.stream_trim t ON t.stream_id OPERATOR(pg_catalog.=) s.stream_id,
	   LATERAL (SELECT orders_stream.may_read(CURRENT_USER, s.relid) AS readable) v;

/* Capture health per stream, for the streams the caller may read. */
CREATE OR REPLACE VIEW orders_stream.stream_status WITH (security_barrier) AS
SELECT s.stream_arn,
	   s.table_name,
	   s.view_type,
	   CASE WHEN s.enabled THEN 'ENABLED'
			WHEN s.ending_sequence_number IS NULL THEN 'DISABLING'
			ELSE 'DISABLED' END AS stream_status,
	   slot.slot_name,
	   slot.active AS capture_running,
	   pg_catalog.pg_wal_lsn_diff(w.lsn, slot.confirmed_flush_lsn) AS capture_lag_bytes,
	   CASE WHEN pg_catalog.pg_wal_lsn_diff(w.lsn, slot.confirmed_flush_lsn) OPERATOR(pg_catalog.<=) 0 THEN 0
			ELSE EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) COALESCE(p.updated_at, s.created_at)) END
		   AS capture_lag_seconds,
	   /* counted as stored and trimmed (stream_counts), never by reading the records */
	   COALESCE(c.records_retained, 0) AS records_retained,
	   /* the first record after the trim point: one index probe per partition */
	   (SELECT EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) r.captured_at)
		  FROM orders_stream.record_store r
		 WHERE r.stream_id OPERATOR(pg_catalog.=) s.stream_id
		   AND r.sequence_key OPERATOR(pg_catalog.>) s.trim_key
		 ORDER BY r.sequence_key LIMIT 1) AS oldest_record_age_seconds,
	   (SELECT pg_catalog.count(*) FROM orders_stream.partitions) AS partitions,
	   /* records stored incomplete (see orders_stream.max_record_size), and capture gaps */
	   COALESCE(c.capture_exceptions, 0) AS capture_exceptions
  FROM orders_stream.readable_streams s
  LEFT JOIN pg_catalog.pg_replication_slots slot
	ON slot.slot_name OPERATOR(pg_catalog.=) (SELECT orders_stream.capture_slot_name())
  CROSS JOIN orders_stream.capture_progress p
  LEFT JOIN orders_stream.stream_counts c ON c.stream_id OPERATOR(pg_catalog.=) s.stream_id
  /* a hot standby has no slot (capture runs on the primary) and no current WAL position */
  CROSS JOIN LATERAL (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
								  ELSE pg_catalog.pg_current_wal_lsn() END AS lsn) w
 WHERE s.readable;

/*
 * Trimmed as 1.0 showed the records (up to the newest one older than the
 * retention), counted after that.
 */
SELECT orders_stream_internal.recount_streams();
/*
 * 1.0 -> 1.1, the read path (issue 17): GetRecords reads an index range of
 * record_store through records_from() and writes its page as text once
 * (records_page(), get_records_text()); the endpoint calls
 * dynamodb_streams_text(); DescribeStream and ListStreams compute only the
 * columns of readable_streams they show; dynamodb_streams() is C.  New
 * functions are created (CREATE: one somebody made beforehand is an error,
 * not taken over), PUBLIC as in a fresh install; replaced ones keep their
 * privileges.  records_page() and dynamodb_streams() are in the 1.1
 * library: the server must have loaded it (a restart, as it is preloaded).
 */

CREATE OR REPLACE FUNCTION orders_stream."DescribeStream"("StreamArn" text,
	"Limit" integer DEFAULT NULL, "ExclusiveStartShardId" text DEFAULT NULL,
	"ShardFilter" jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s		record;
	m		text;
	shard	jsonb;
	shards	jsonb := '[]';
BEGIN
	IF "StreamArn" IS NULL THEN
		m := '1 validation error detected: Value null at ''streamArn'' failed to satisfy constraint: Member must not be null';
	ELSIF length("StreamArn") < 37 OR length("StreamArn") > 1024
		  OR "StreamArn" !~ '^arn:[^:]+:dynamodb:[^:]*:[^:]*:table/.+/stream/[^/]+$' THEN
		m := format('Invalid StreamArn: %s', "StreamArn");
	ELSIF "Limit" IS NOT NULL AND ("Limit" < 1 OR "Limit" > 100) THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 100', "Limit");
	ELSIF "ExclusiveStartShardId" IS NOT NULL
		  AND (length("ExclusiveStartShardId") < 28 OR length("ExclusiveStartShardId") > 65) THEN
		m := format('1 validation error detected: Value ''%s'' at ''exclusiveStartShardId'' failed to satisfy constraint: Member must have length between 28 and 65', "ExclusiveStartShardId");
	ELSIF "ShardFilter" IS NOT NULL
		  AND (jsonb_typeof("ShardFilter") IS DISTINCT FROM 'object'
			   OR "ShardFilter"->>'Type' IS DISTINCT FROM 'CHILD_SHARDS'
			   OR jsonb_typeof("ShardFilter"->'ShardId') IS DISTINCT FROM 'string') THEN
		m := 'ShardFilter needs Type CHILD_SHARDS and a ShardId';
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'A stream ARN is arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>; orders_stream.list_streams() shows them.');
	END IF;

	/* the columns it shows: no more (trim_point is state of its own) */
	SELECT r.readable, r.stream_arn, r.stream_label, r.enabled, r.view_type, r.created_at,
		   r.table_name, r.key_columns, r.shard_id, r.start_lsn, r.ending_sequence_number
	  INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = "StreamArn";
	IF NOT FOUND THEN
		m := format('Requested resource not found: Stream: %s not found', "StreamArn");
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream.list_streams() shows the stream ARNs of this database.');
	END IF;
	IF NOT s.readable THEN
		m := format('permission denied to read stream %s: reading a stream requires SELECT on its table, and bypassing its row-level security if it has any', "StreamArn");
		PERFORM orders_stream.aws_error('AccessDeniedException', m,
			'Ask the table''s owner for GRANT SELECT; read a table with row-level security as its owner or a BYPASSRLS role.');
	END IF;

	/*
	 * One shard per stream, never split, so it has no parent and no
	 * children; closed (EndingSequenceNumber) once capture has passed the
	 * commit of the disable.  Shards are listed in ShardId order, after
	 * ExclusiveStartShardId.
	 */
	shard := jsonb_build_object('ShardId', s.shard_id,
		'SequenceNumberRange', jsonb_strip_nulls(jsonb_build_object(
			'StartingSequenceNumber', orders_stream.sequence_number(s.start_lsn),
			'EndingSequenceNumber', s.ending_sequence_number)));
	IF "ShardFilter" IS NULL
	   AND ("ExclusiveStartShardId" IS NULL OR s.shard_id COLLATE "C" > "ExclusiveStartShardId") THEN
		shards := jsonb_build_array(shard);
	END IF;
	RETURN jsonb_build_object('StreamDescription', jsonb_build_object(
		'StreamArn', s.stream_arn,
		'StreamLabel', s.stream_label,
		'StreamStatus', CASE WHEN s.enabled THEN 'ENABLED'
							 WHEN s.ending_sequence_number IS NULL THEN 'DISABLING'
							 ELSE 'DISABLED' END,
		'StreamViewType', s.view_type,
		'CreationRequestDateTime', extract(epoch FROM s.created_at),
		'TableName', s.table_name,
		'KeySchema', (SELECT jsonb_agg(jsonb_build_object(
							'AttributeName', k.name,
							'KeyType', CASE WHEN k.ord = 1 THEN 'HASH' ELSE 'RANGE' END)
						ORDER BY k.ord)
					  FROM unnest(s.key_columns) WITH ORDINALITY AS k(name, ord)
					 /* DynamoDB has a HASH and at most one RANGE key; Keys hold them all */
					 WHERE k.ord <= 2),
		'Shards', shards));
END
$$;

COMMENT ON FUNCTION orders_stream."DescribeStream"(text, integer, text, jsonb) IS
'DynamoDB Streams DescribeStream: {"StreamDescription": {...}}; EndingSequenceNumber once the shard is closed';


CREATE OR REPLACE FUNCTION orders_stream."ListStreams"("TableName" text DEFAULT NULL,
	"Limit" integer DEFAULT NULL, "ExclusiveStartStreamArn" text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m		text;
	n		integer := coalesce("Limit", 100);
	after	bigint;
	page	jsonb;
	more	boolean;
BEGIN
	IF n < 1 OR n > 100 THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 100', n);
	ELSIF "TableName" IS NOT NULL AND (length("TableName") < 1 OR length("TableName") > 1024) THEN
		m := format('1 validation error detected: Value ''%s'' at ''tableName'' failed to satisfy constraint: Member must have length between 1 and 1024', "TableName");
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'ListStreams returns at most 100 streams per call: page with ExclusiveStartStreamArn.');
	END IF;
	IF "ExclusiveStartStreamArn" IS NOT NULL THEN
		SELECT r.stream_id INTO after FROM orders_stream.readable_streams r
		 WHERE r.stream_arn = "ExclusiveStartStreamArn" AND r.readable;
		IF NOT FOUND THEN
			/* ValidationException, ResourceNotFoundException or AccessDeniedException */
			PERFORM orders_stream."DescribeStream"("ExclusiveStartStreamArn");
		END IF;
	END IF;
	/*
	 * oldest first, by stream_id: created_at can be a millisecond ahead
	 * (a label must be new), so it does not order streams enabled in one
	 * millisecond; a page of n, and whether there is more
	 */
	SELECT coalesce(jsonb_agg(jsonb_build_object('StreamArn', p.stream_arn,
				'TableName', p.table_name, 'StreamLabel', p.stream_label)
				ORDER BY p.stream_id) FILTER (WHERE p.rn <= n), '[]'),
		   count(*) > n
	  INTO page, more
	  FROM (SELECT r.stream_id, r.stream_arn, r.table_name, r.stream_label,
				   row_number() OVER (ORDER BY r.stream_id) AS rn
			  FROM orders_stream.readable_streams r
			 WHERE r.readable
			   AND ("TableName" IS NULL OR r.table_name = "TableName")
			   AND (after IS NULL OR r.stream_id > after)
			 ORDER BY r.stream_id
			 LIMIT n + 1) p;
	IF more THEN
		RETURN jsonb_build_object('Streams', page,
			'LastEvaluatedStreamArn', page->(n - 1)->'StreamArn');
	END IF;
	RETURN jsonb_build_object('Streams', page);
END
$$;

COMMENT ON FUNCTION orders_stream."ListStreams"(text, integer, text) IS
'DynamoDB Streams ListStreams: {"Streams": [...], "LastEvaluatedStreamArn": ...} of the streams you may read, oldest first';


/*
 * The records of a stream from a sequence key on (that key included), at
 * most "limit" of them, in order: GetRecords' read of orders_stream.records.
 * One lower bound, chosen before the query (GetRecords passes the key after
 * a position as the position's key || '\x00', the least key above it): an
 * index condition.  No ORDER BY here: the view is ordered, and one here
 * would make the planner plan the view (a security barrier view is planned
 * on its own) for reading all of the stream's later records.  enable_sort
 * off: the view's order comes from the index (stream_id, sequence_key) of
 * every partition, read from the key on and stopped at the LIMIT, or from a
 * sort of every later record of the stream.  Which is cheaper the planner
 * judges from the partitions' statistics, and a partition that autovacuum
 * has not analyzed yet (a fresh one, with a burst of records) has none: it
 * then sorts, hundreds of ms for a page of a large stream.  A page never
 * wants the sort.  sql/read_plans.sql guards the plan.
 */
CREATE FUNCTION orders_stream.records_from(stream_id bigint, from_key bytea, "limit" integer DEFAULT 1000)
RETURNS SETOF orders_stream.records
LANGUAGE sql STABLE
SET enable_sort = off
BEGIN ATOMIC
	SELECT r.stream_id, r.sequence_number, r.captured_at, r.record, r.key_hash, r.sequence_key
	  FROM orders_stream.records r
	 WHERE r.stream_id OPERATOR(pg_catalog.=) records_from.stream_id
	   AND r.sequence_key OPERATOR(pg_catalog.>=) records_from.from_key
	   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
		   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)
	 LIMIT records_from."limit";
END;

COMMENT ON FUNCTION orders_stream.records_from(bigint, bytea, integer) IS
'The records of orders_stream.records of one stream from a sequence key on, at most "limit", in order: an index range read';

/*
 * A GetRecords response as text, written once in C: the records (as the
 * records view renders them, eventSourceARN cut) and NextShardIterator,
 * none if NULL.
 */
CREATE FUNCTION orders_stream.records_page(stream_arn text, records json[],
										   next_shard_iterator text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_records_page'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION orders_stream.records_page(text, json[], text) IS
'The GetRecords response {"Records": [...], "NextShardIterator": ...} of records of orders_stream.records, as text';

/*
 * GetRecords, its response as text (what the endpoint sends) and the number
 * of records in it (what metrics count).  "GetRecords" is its jsonb.
 */
CREATE FUNCTION orders_stream.get_records_text(shard_iterator text, "limit" integer DEFAULT 1000,
	OUT response text, OUT record_count integer)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts		text[] := regexp_match(shard_iterator, '^(.+)\|([A-Za-z0-9+/=]+)$');
	arn			text := parts[1];
	n_max		integer := coalesce("limit", 1000);
	it			jsonb;
	issued		numeric;
	now_ms		numeric := floor(extract(epoch FROM clock_timestamp()) * 1000);
	s			orders_stream.readable_streams;
	m			text;
	inclusive	boolean;
	key			bytea;
	trim_key	bytea;
	records		json[];
	last_seq	text;
	next		text;
BEGIN
	IF shard_iterator IS NULL THEN
		m := '1 validation error detected: Value null at ''shardIterator'' failed to satisfy constraint: Member must not be null';
	ELSIF n_max < 1 OR n_max > 1000 THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 1000', n_max);
	END IF;
	IF m IS NULL THEN
		/* every field, of the right type and shape, or the iterator is invalid */
		BEGIN
			it := convert_from(decode(parts[2], 'base64'), 'UTF8')::jsonb;
			IF jsonb_typeof(it) IS DISTINCT FROM 'object'
			   OR jsonb_typeof(it->'s') IS DISTINCT FROM 'string'
			   OR jsonb_typeof(it->'p') IS DISTINCT FROM 'string' OR it->>'p' !~ '^(\d{30})?$'
			   OR jsonb_typeof(it->'t') IS DISTINCT FROM 'number'
			   OR jsonb_typeof(coalesce(it->'i', 'false')) IS DISTINCT FROM 'boolean'
			   /* "c", the closing position of iterators of earlier versions: ignored */
			   OR jsonb_typeof(coalesce(it->'c', '""')) IS DISTINCT FROM 'string' THEN
				it := NULL;
			END IF;
			issued := (it->>'t')::numeric;
			inclusive := coalesce((it->>'i')::boolean, false);
			PERFORM (it->>'c')::pg_lsn;
		EXCEPTION WHEN data_exception THEN
			it := NULL;
		END;
		IF parts IS NULL OR it IS NULL OR issued IS NULL OR issued <> trunc(issued)
		   OR issued > now_ms + 60 * 1000 THEN
			m := 'Invalid ShardIterator';
		END IF;
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'Get a shard iterator from GetShardIterator; GetRecords returns at most 1000 records per call.');
	END IF;
	IF issued < now_ms - 15 * 60 * 1000 THEN
		m := 'Iterator expired: shard iterators are valid for 15 minutes';
		PERFORM orders_stream.aws_error('ExpiredIteratorException', m,
			'Get a new one with GetShardIterator, AFTER_SEQUENCE_NUMBER the last SequenceNumber read.');
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = arn AND r.readable;
	IF NOT FOUND THEN
		PERFORM orders_stream."DescribeStream"(arn);
	END IF;
	IF s.shard_id <> it->>'s' THEN
		m := format('Requested resource not found: Shard: %s in Stream: %s not found', it->>'s', arn);
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream."DescribeStream"(arn) lists the shards of a stream.');
	END IF;

	/*
	 * Where the page starts: after the iterator's position (at it, if
	 * inclusive), and after the trim horizon.
	 */
	key := orders_stream.sequence_key(it->>'p');
	trim_key := s.trim_key;
	IF key <> '' AND (key < trim_key OR (inclusive AND key = trim_key)) THEN
		m := format('the shard iterator points before the trim horizon of stream %s', arn);
		PERFORM orders_stream.aws_error('TrimmedDataAccessException', m,
			'Records are kept for orders_stream.retention, then trimmed; start again from TRIM_HORIZON.');
	END IF;
	IF key < trim_key THEN
		key := trim_key;
		inclusive := false;
	END IF;

	/*
	 * Through the records view, as any reader: the caller has no privilege
	 * on record_store.  In the view's order (records_from()).
	 */
	SELECT array_agg(r.record), max(r.sequence_number COLLATE "C"), count(*)
	  INTO records, last_seq, record_count
	  FROM orders_stream.records_from(s.stream_id,
									  CASE WHEN inclusive THEN key ELSE key || '\x00'::bytea END,
									  n_max) r;

	/*
	 * The end of a closed shard: no NextShardIterator.  The shard's
	 * EndingSequenceNumber is stored in the transaction that stored its last
	 * records, so whoever sees it closed sees all of them: the page is the
	 * shard's last if it is short, or ends at EndingSequenceNumber.
	 */
	IF s.ending_sequence_number IS NULL
	   OR (record_count = n_max AND last_seq < s.ending_sequence_number) THEN
		next := arn || '|' || translate(encode(convert_to(jsonb_build_object(
			's', s.shard_id, 'p', coalesce(last_seq, orders_stream.sequence_text(key)),
			'i', last_seq IS NULL AND inclusive,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text, 'UTF8'), 'base64'), E'\n', '');
	END IF;
	response := orders_stream.records_page(arn, records, next);
END
$$;

COMMENT ON FUNCTION orders_stream.get_records_text(text, integer) IS
'orders_stream."GetRecords" as text, and the number of records in it: for callers that send the response on (the endpoint)';

CREATE OR REPLACE FUNCTION orders_stream."GetRecords"("ShardIterator" text, "Limit" integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT (orders_stream.get_records_text("ShardIterator", "Limit")).response::pg_catalog.jsonb;
END;

COMMENT ON FUNCTION orders_stream."GetRecords"(text, integer) IS
'DynamoDB Streams GetRecords: {"Records": [...], "NextShardIterator": ...}; no NextShardIterator at the end of a closed shard';

/*
 * The single entry point of an HTTP front end: the operation of X-Amz-Target
 * (with or without its "DynamoDBStreams_20120810." prefix) and the request
 * body as it came.  Members of the wrong JSON type are a
 * SerializationException, as AWS answers them; unknown members are ignored.
 */
CREATE FUNCTION orders_stream.dynamodb_streams_text(operation text, request jsonb DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	op		text := regexp_replace(operation, '^DynamoDBStreams_20120810\.', '');
	r		jsonb := coalesce(request, '{}');
	m		text;
	member	text;
	kind	text;
	started	timestamptz := clock_timestamp();
	arn		text;
	result	text;
	n		integer := 0;
BEGIN
	IF op IS NULL OR op NOT IN ('ListStreams', 'DescribeStream', 'GetShardIterator', 'GetRecords') THEN
		m := format('Unknown operation %s', coalesce(quote_literal(operation), 'null'));
		PERFORM orders_stream.aws_error('UnknownOperationException', m,
			'The operations of DynamoDB Streams are ListStreams, DescribeStream, GetShardIterator and GetRecords.');
	END IF;
	IF jsonb_typeof(r) <> 'object' THEN
		m := 'the request body must be a JSON object';
	ELSE
		FOR member, kind IN
			SELECT k, CASE WHEN k IN ('Limit') THEN 'number'
						   WHEN k = 'ShardFilter' THEN 'object'
						   ELSE 'string' END
			  FROM jsonb_object_keys(r) AS k
			 WHERE k IN ('TableName', 'Limit', 'ExclusiveStartStreamArn', 'StreamArn',
						 'ExclusiveStartShardId', 'ShardFilter', 'ShardId',
						 'ShardIteratorType', 'SequenceNumber', 'ShardIterator')
			   AND jsonb_typeof(r->k) <> 'null'
		LOOP
			IF jsonb_typeof(r->member) <> kind
			   OR (kind = 'number' AND ((r->>member)::numeric <> trunc((r->>member)::numeric)
										OR abs((r->>member)::numeric) > 2147483647)) THEN
				m := format('%s must be %s, got %s', member,
							CASE kind WHEN 'number' THEN 'an integer' WHEN 'object' THEN 'an object' ELSE 'a string' END,
							r->member);
				EXIT;
			END IF;
		END LOOP;
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('SerializationException', m,
			'Send the request members as the DynamoDB Streams API reference types them.');
	END IF;
	IF op = 'ListStreams' THEN
		RETURN orders_stream."ListStreams"(r->>'TableName', (r->>'Limit')::integer, r->>'ExclusiveStartStreamArn')::text;
	END IF;
	/* the stream's metrics count the request, served or failed (85_metrics.sql) */
	arn := coalesce(r->>'StreamArn', substring(r->>'ShardIterator' FROM '^(.+)\|'));
	BEGIN
		CASE op
			WHEN 'DescribeStream' THEN
				result := orders_stream."DescribeStream"(r->>'StreamArn', (r->>'Limit')::integer,
					r->>'ExclusiveStartShardId', nullif(r->'ShardFilter', 'null'))::text;
			WHEN 'GetShardIterator' THEN
				result := orders_stream."GetShardIterator"(r->>'StreamArn', r->>'ShardId',
					r->>'ShardIteratorType', r->>'SequenceNumber')::text;
			ELSE
				SELECT p.response, p.record_count INTO result, n
				  FROM orders_stream.get_records_text(r->>'ShardIterator', (r->>'Limit')::integer) p;
		END CASE;
	EXCEPTION WHEN OTHERS THEN
		PERFORM orders_stream.metrics_note_request(arn, op, started, 0, 0, SQLSTATE);
		RAISE;
	END;
	PERFORM orders_stream.metrics_note_request(arn, op, started, n,
		CASE WHEN op = 'GetRecords' THEN octet_length(result) ELSE 0 END, NULL);
	RETURN result;
END
$$;

COMMENT ON FUNCTION orders_stream.dynamodb_streams_text(text, jsonb) IS
'Runs a DynamoDB Streams request: operation as in X-Amz-Target, request as its JSON body; returns the response body as text, as the endpoint sends it';

/*
 * The same, the response as jsonb, for SQL callers: a GetRecords page is
 * written as text once (records_page()) and converted here only for them,
 * without jsonb_in (record_store.c).
 */
CREATE OR REPLACE FUNCTION orders_stream.dynamodb_streams(operation text, request jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_dynamodb_streams'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.dynamodb_streams(text, jsonb) IS
'Runs a DynamoDB Streams request: operation as in X-Amz-Target, request as its JSON body; returns the response body';

