/* ---- Metrics: AWS's counters, under AWS's names (src/metrics.c) ---- */

/*
 * The counters in shared memory, cumulative since the server started or
 * reset_metrics().  Each returns the rows of the streams the caller may read
 * (may_read(), as readable_streams) and of the mappings of those streams,
 * and nothing else, so PUBLIC may call them: the views below are theirs.
 */
CREATE FUNCTION orders_stream.metrics_mappings(
	OUT mapping_uuid uuid, OUT iterator_age_ms bigint[],
	OUT invocations bigint, OUT errors bigint, OUT throttles bigint,
	OUT destination_delivery_failures bigint,
	OUT polled_event_count bigint, OUT invoked_event_count bigint,
	OUT filtered_out_event_count bigint, OUT failed_invoke_event_count bigint,
	OUT dropped_event_count bigint, OUT on_failure_destination_delivered_event_count bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'orders_stream_metrics_mappings'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_mappings() IS
'Lambda''s event source mapping metrics of the mappings of the streams you may read, from shared memory';

CREATE FUNCTION orders_stream.metrics_streams(
	OUT stream_id bigint, OUT operation text, OUT requests bigint,
	OUT latency_ms_sum double precision, OUT latency_bucket_bounds_ms bigint[],
	OUT latency_buckets bigint[], OUT user_errors bigint, OUT system_errors bigint,
	OUT returned_records bigint, OUT returned_bytes bigint,
	OUT records_stored bigint, OUT bytes_stored bigint, OUT capture_exceptions bigint,
	OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'orders_stream_metrics_streams'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_streams() IS
'DynamoDB Streams'' metrics and capture''s of the streams you may read, a row per operation, from shared memory';

/*
 * The read API counts its requests as its caller: a stream the caller may
 * not read is not counted (see src/metrics.c).
 */
CREATE FUNCTION orders_stream.metrics_note_request(stream_arn text, operation text,
												   started timestamptz, records bigint,
												   bytes bigint, sqlstate text)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_metrics_note_request'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_note_request(text, text, timestamptz, bigint, bigint, text) IS
'Counts a DynamoDB Streams request on a stream you may read: served (sqlstate NULL) or failed';

/* As pg_stat_reset(): not PUBLIC. */
CREATE FUNCTION orders_stream.reset_metrics()
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_reset_metrics'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION orders_stream.reset_metrics() FROM PUBLIC;

COMMENT ON FUNCTION orders_stream.reset_metrics() IS
'Sets every metric back to zero';

/*
 * Per mapping, as Lambda publishes them for an event source mapping:
 * IteratorAge (ms: the age of the last record of the last batch processed,
 * the largest over the lanes, and per lane in IteratorAgeByLane),
 * ConcurrentExecutions (lanes being served now), and the event counts only
 * with MetricsConfig {"Metrics": ["EventCount"]}, as in AWS.  A mapping is
 * shown to whoever may read its stream.
 */
CREATE VIEW orders_stream.mapping_metrics WITH (security_barrier) AS
SELECT m.uuid,
	   m.function_name,
	   m.event_source_arn,
	   (SELECT pg_catalog.max(a)
		  FROM pg_catalog.unnest(x.iterator_age_ms[0:m.parallelization_factor OPERATOR(pg_catalog.-) 1]) a) AS "IteratorAge",
	   x.iterator_age_ms[0:m.parallelization_factor OPERATOR(pg_catalog.-) 1] AS "IteratorAgeByLane",
	   COALESCE(x.invocations, 0) AS "Invocations",
	   COALESCE(x.errors, 0) AS "Errors",
	   COALESCE(x.throttles, 0) AS "Throttles",
	   COALESCE(x.destination_delivery_failures, 0) AS "DestinationDeliveryFailures",
	   (SELECT pg_catalog.count(*) FROM orders_stream.delivery_workers() w
		 WHERE w.mapping_uuid OPERATOR(pg_catalog.=) m.uuid) AS "ConcurrentExecutions",
	   e.counts AS event_count_enabled,
	   CASE WHEN e.counts THEN COALESCE(x.polled_event_count, 0) END AS "PolledEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.invoked_event_count, 0) END AS "InvokedEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.filtered_out_event_count, 0) END AS "FilteredOutEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.failed_invoke_event_count, 0) END AS "FailedInvokeEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.dropped_event_count, 0) END AS "DroppedEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.on_failure_destination_delivered_event_count, 0) END
		   AS "OnFailureDestinationDeliveredEventCount"
  FROM orders_stream_internal.event_source_mappings m
  JOIN orders_stream.readable_streams s ON s.stream_id OPERATOR(pg_catalog.=) m.stream_id
  LEFT JOIN orders_stream.metrics_mappings() x ON x.mapping_uuid OPERATOR(pg_catalog.=) m.uuid,
	   LATERAL (SELECT COALESCE(m.metrics_config OPERATOR(pg_catalog.->) 'Metrics'
					   OPERATOR(pg_catalog.?) 'EventCount', false) AS counts) e
 WHERE s.readable;

GRANT SELECT ON orders_stream.mapping_metrics TO PUBLIC;

/*
 * Per stream, as DynamoDB Streams publishes them (ReturnedRecordsCount and
 * ReturnedBytes of GetRecords, UserErrors and SystemErrors of every
 * operation), and capture's own: its lag (as stream_status), the records
 * and bytes stored and capture exceptions since stats_reset, and their
 * rates over that time.
 */
CREATE VIEW orders_stream.stream_metrics WITH (security_barrier) AS
SELECT st.stream_arn,
	   st.table_name,
	   COALESCE(x.returned_records, 0) AS "ReturnedRecordsCount",
	   COALESCE(x.returned_bytes, 0) AS "ReturnedBytes",
	   COALESCE(x.user_errors, 0) AS "UserErrors",
	   COALESCE(x.system_errors, 0) AS "SystemErrors",
	   st.capture_lag_bytes,
	   st.capture_lag_seconds,
	   COALESCE(x.records_stored, 0) AS records_stored,
	   COALESCE(x.bytes_stored, 0) AS bytes_stored,
	   (COALESCE(x.records_stored, 0) OPERATOR(pg_catalog./) r.seconds)::double precision AS records_stored_per_second,
	   (COALESCE(x.bytes_stored, 0) OPERATOR(pg_catalog./) r.seconds)::double precision AS bytes_stored_per_second,
	   COALESCE(x.capture_exceptions, 0) AS capture_exceptions,
	   r.stats_reset
  FROM orders_stream.stream_status st
  JOIN orders_stream.readable_streams s ON s.stream_arn OPERATOR(pg_catalog.=) st.stream_arn
  LEFT JOIN (SELECT y.stream_id,
					pg_catalog.min(y.returned_records) AS returned_records,
					pg_catalog.min(y.returned_bytes) AS returned_bytes,
					pg_catalog.sum(y.user_errors)::bigint AS user_errors,
					pg_catalog.sum(y.system_errors)::bigint AS system_errors,
					pg_catalog.min(y.records_stored) AS records_stored,
					pg_catalog.min(y.bytes_stored) AS bytes_stored,
					pg_catalog.min(y.capture_exceptions) AS capture_exceptions
			   FROM orders_stream.metrics_streams() y GROUP BY y.stream_id) x
	ON x.stream_id OPERATOR(pg_catalog.=) s.stream_id,
	   LATERAL (SELECT COALESCE((SELECT pg_catalog.min(z.stats_reset) FROM orders_stream.metrics_streams() z),
								pg_catalog.pg_postmaster_start_time()) AS stats_reset) r0,
	   LATERAL (SELECT r0.stats_reset,
					   GREATEST(EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) r0.stats_reset), 1) AS seconds) r
 WHERE s.readable;

GRANT SELECT ON orders_stream.stream_metrics TO PUBLIC;

/*
 * Per stream and operation: SuccessfulRequestLatency (ms, the mean; the sum
 * and a histogram for percentiles) and the errors of each operation.
 */
CREATE VIEW orders_stream.stream_operation_metrics WITH (security_barrier) AS
SELECT s.stream_arn,
	   s.table_name,
	   y.operation,
	   y.requests,
	   CASE WHEN y.requests OPERATOR(pg_catalog.>) 0
			THEN y.latency_ms_sum OPERATOR(pg_catalog./) y.requests END AS "SuccessfulRequestLatency",
	   y.latency_ms_sum,
	   y.latency_bucket_bounds_ms,
	   y.latency_buckets,
	   y.user_errors AS "UserErrors",
	   y.system_errors AS "SystemErrors"
  FROM orders_stream.metrics_streams() y
  JOIN orders_stream.readable_streams s ON s.stream_id OPERATOR(pg_catalog.=) y.stream_id
 WHERE s.readable;

GRANT SELECT ON orders_stream.stream_operation_metrics TO PUBLIC;
