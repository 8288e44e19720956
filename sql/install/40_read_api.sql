/* ---- DynamoDB Streams read API: every function here runs as its caller ---- */

/*
 * Every stream, with what a caller may know of it: all of it for the streams
 * of tables it may read (orders_stream.may_read(), as the caller), only
 * the ARN otherwise (enough to answer AccessDeniedException rather than
 * ResourceNotFoundException).  The view reads the catalog as its owner;
 * the functions in it run as the caller.  security_barrier: a caller's leaky
 * function never sees the rows or columns the view hides.
 */
CREATE VIEW orders_stream.readable_streams WITH (security_barrier) AS
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
GRANT SELECT ON orders_stream.readable_streams TO PUBLIC;


/* Capture health per stream, for the streams the caller may read. */
CREATE VIEW orders_stream.stream_status WITH (security_barrier) AS
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

GRANT SELECT ON orders_stream.stream_status TO PUBLIC;
