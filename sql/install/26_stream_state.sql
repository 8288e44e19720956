/*
 * The state that keeps the read path's cost independent of the length of
 * a stream: where retention has trimmed each stream (stream_trim,
 * 20_records.sql) and how many records and capture exceptions it holds
 * (stream_counts), kept as the records come and go (maintenance below,
 * capture in capture_buffer.c), and rebuilt from them by recount_streams().
 * New in 1.1: the update script includes this file as it is
 * (orders_stream--1.0--1.1.sql), after dropping 1.0's maintain_partitions.
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
