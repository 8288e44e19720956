/*
 * Maintenance of record_store's partitions, one run every 10 seconds from
 * the capture worker (retention.c).  A file of its own: the update script
 * replaces the function from it (sql/update/1.1--1.2).
 *
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
	 * A partition that holds records but was never analyzed is planned from
	 * default estimates, with which a read of the records view by position
	 * sorts every later record rather than walk the index: it gets
	 * statistics here, not when autovacuum comes to it.  Two a run at most
	 * (an ANALYZE samples 30,000 rows at most); never one that autovacuum
	 * or an administrator is analyzing (NOWAIT), nor one whose autovacuum
	 * an administrator turned off.
	 */
	FOR p IN SELECT pa.partition FROM orders_stream.partitions pa
			   JOIN pg_class c ON c.oid = pa.partition
			  WHERE c.reltuples < 0 AND pa.upper_bound > cutoff
				AND NOT coalesce('autovacuum_enabled=false' = ANY (c.reloptions), false)
				AND pg_relation_size(pa.partition) > 0
			  ORDER BY pa.lower_bound DESC LIMIT 2 LOOP
		BEGIN
			EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE NOWAIT', p.partition);
			EXECUTE format('ANALYZE %s', p.partition);
		EXCEPTION WHEN lock_not_available THEN
			NULL;
		END;
	END LOOP;
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
