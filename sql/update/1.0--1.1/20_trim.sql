/*
 * trim (issue 17): the trim point and the per-stream counts as state, so
 * that readable_streams and stream_status cost O(1) per stream.  The new
 * objects come with 19_trim_state.sql (sql/install/26_stream_state.sql);
 * here the new column, what reads the state, and its backfill.
 */
/* as 90_grants.sql does for every internal function of a new install */
REVOKE ALL ON FUNCTION orders_stream_internal.trim_streams(timestamptz),
	orders_stream_internal.recount_streams(), orders_stream_internal.lock_for_drop(regclass),
	orders_stream_internal.uncount_partition(regclass),
	orders_stream_internal.count_capture_exceptions() FROM PUBLIC;

/* 1.0 kept only the SequenceNumber; recount_streams() below sets the key */
ALTER TABLE orders_stream.stream_trim ADD COLUMN trimmed_key bytea NOT NULL DEFAULT '';

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
CREATE OR REPLACE FUNCTION orders_stream_internal.maintain_partitions()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
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
	PERFORM orders_stream_internal.trim_streams(cutoff);
	FOR p IN SELECT * FROM orders_stream.partitions WHERE upper_bound <= cutoff ORDER BY lower_bound LOOP
		BEGIN
			PERFORM orders_stream_internal.lock_for_drop(p.partition);
			PERFORM orders_stream_internal.uncount_partition(p.partition);
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
 * The state of the records stored so far: trimmed as 1.0 showed them (up to
 * the newest record older than the retention), counted after that.
 */
SELECT orders_stream_internal.recount_streams();
