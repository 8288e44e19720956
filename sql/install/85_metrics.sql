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

CREATE FUNCTION orders_stream.metrics_reset_time()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'orders_stream_metrics_reset_time'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_reset_time() IS
'When the metrics started counting: the server''s start or the last reset_metrics()';

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
	   LATERAL (SELECT orders_stream.metrics_reset_time() AS stats_reset) r0,
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

/*
 * The views above in Prometheus' text exposition format (0.0.4), as the
 * endpoint's GET /metrics answers: counters (_total), gauges and the
 * request latency histogram, labelled by mapping, function, stream, table,
 * lane and operation.  Runs as its caller, through the views, so it shows
 * what the caller may see.
 */
CREATE FUNCTION orders_stream.prometheus_metrics()
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
WITH families (fam, name, kind, help) AS (VALUES
	(1, 'orders_stream_mapping_iterator_age_seconds', 'gauge', 'IteratorAge: age of the last record of the last batch processed, per lane'),
	(2, 'orders_stream_mapping_invocations_total', 'counter', 'Invocations of the mapping''s function'),
	(3, 'orders_stream_mapping_errors_total', 'counter', 'Errors: invocations that failed'),
	(4, 'orders_stream_mapping_throttles_total', 'counter', 'Throttles: times a lane waited for a delivery worker'),
	(5, 'orders_stream_mapping_destination_delivery_failures_total', 'counter', 'DestinationDeliveryFailures: batches not written to the failure destination'),
	(6, 'orders_stream_mapping_concurrent_executions', 'gauge', 'ConcurrentExecutions: lanes being served now'),
	(7, 'orders_stream_mapping_polled_events_total', 'counter', 'PolledEventCount (MetricsConfig EventCount)'),
	(8, 'orders_stream_mapping_invoked_events_total', 'counter', 'InvokedEventCount (MetricsConfig EventCount)'),
	(9, 'orders_stream_mapping_filtered_out_events_total', 'counter', 'FilteredOutEventCount (MetricsConfig EventCount)'),
	(10, 'orders_stream_mapping_failed_invoke_events_total', 'counter', 'FailedInvokeEventCount (MetricsConfig EventCount)'),
	(11, 'orders_stream_mapping_dropped_events_total', 'counter', 'DroppedEventCount (MetricsConfig EventCount)'),
	(12, 'orders_stream_mapping_on_failure_destination_delivered_events_total', 'counter', 'OnFailureDestinationDeliveredEventCount (MetricsConfig EventCount)'),
	(13, 'orders_stream_stream_returned_records_total', 'counter', 'ReturnedRecordsCount of GetRecords'),
	(14, 'orders_stream_stream_returned_bytes_total', 'counter', 'ReturnedBytes of GetRecords'),
	(15, 'orders_stream_stream_user_errors_total', 'counter', 'UserErrors: requests refused for what they asked'),
	(16, 'orders_stream_stream_system_errors_total', 'counter', 'SystemErrors: requests failed by the server'),
	(17, 'orders_stream_stream_request_latency_seconds', 'histogram', 'SuccessfulRequestLatency'),
	(18, 'orders_stream_capture_lag_bytes', 'gauge', 'WAL not yet captured'),
	(19, 'orders_stream_capture_lag_seconds', 'gauge', 'Time since capture was last up to date, while it lags'),
	(20, 'orders_stream_capture_records_stored_total', 'counter', 'Records stored by capture'),
	(21, 'orders_stream_capture_bytes_stored_total', 'counter', 'Bytes of records stored by capture'),
	(22, 'orders_stream_capture_exceptions_total', 'counter', 'Records stored incomplete (capture_exceptions)')),
mappings AS (
	SELECT m.*, pg_catalog.format('mapping="%s",function="%s",stream="%s"', m.uuid,
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(m.function_name, '\', '\\'), '"', '\"'), E'\n', '\n'),
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(m.event_source_arn, '\', '\\'), '"', '\"'), E'\n', '\n')) AS labels
	  FROM orders_stream.mapping_metrics m),
streams AS (
	SELECT s.*, pg_catalog.format('stream="%s",table="%s"',
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(s.stream_arn, '\', '\\'), '"', '\"'), E'\n', '\n'),
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(s.table_name, '\', '\\'), '"', '\"'), E'\n', '\n')) AS labels
	  FROM orders_stream.stream_metrics s),
operations AS (
	SELECT o.*, st.labels OPERATOR(pg_catalog.||) pg_catalog.format(',operation="%s"', o.operation) AS labels
	  FROM orders_stream.stream_operation_metrics o
	  JOIN streams st ON st.stream_arn OPERATOR(pg_catalog.=) o.stream_arn),
samples (fam, labels, value) AS (
	SELECT 1, m.labels OPERATOR(pg_catalog.||) pg_catalog.format(',lane="%s"', a.lane OPERATOR(pg_catalog.-) 1),
		   (a.age OPERATOR(pg_catalog./) 1000.0)::float8::text
	  FROM mappings m, pg_catalog.unnest(m."IteratorAgeByLane") WITH ORDINALITY a(age, lane)
	 WHERE a.age IS NOT NULL
	UNION ALL
	SELECT v.fam, m.labels, v.value::text
	  FROM mappings m,
		   LATERAL (VALUES (2, m."Invocations"), (3, m."Errors"), (4, m."Throttles"),
						   (5, m."DestinationDeliveryFailures"), (6, m."ConcurrentExecutions"),
						   (7, m."PolledEventCount"), (8, m."InvokedEventCount"),
						   (9, m."FilteredOutEventCount"), (10, m."FailedInvokeEventCount"),
						   (11, m."DroppedEventCount"), (12, m."OnFailureDestinationDeliveredEventCount")) v(fam, value)
	 WHERE v.value IS NOT NULL
	UNION ALL
	SELECT v.fam, s.labels, v.value::text
	  FROM streams s,
		   LATERAL (VALUES (13, s."ReturnedRecordsCount"::numeric), (14, s."ReturnedBytes"),
						   (18, s.capture_lag_bytes), (19, s.capture_lag_seconds),
						   (20, s.records_stored), (21, s.bytes_stored), (22, s.capture_exceptions)) v(fam, value)
	 WHERE v.value IS NOT NULL
	UNION ALL
	SELECT v.fam, o.labels, v.value::text
	  FROM operations o,
		   LATERAL (VALUES (15, o."UserErrors"), (16, o."SystemErrors")) v(fam, value)),
histogram (labels, i, line) AS (
	SELECT o.labels, b.i, pg_catalog.format(E'orders_stream_stream_request_latency_seconds_bucket{%s,le="%s"} %s\n',
			o.labels, COALESCE((b.bound OPERATOR(pg_catalog./) 1000.0)::float8::text, '+Inf'), b.cumulative)
	  FROM operations o,
		   LATERAL (SELECT x.bound, pg_catalog.sum(x.n) OVER (ORDER BY x.i) AS cumulative, x.i
					  FROM ROWS FROM (pg_catalog.unnest(o.latency_bucket_bounds_ms),
									  pg_catalog.unnest(o.latency_buckets)) WITH ORDINALITY x(bound, n, i)) b
	UNION ALL
	SELECT o.labels, 1000, pg_catalog.format(E'orders_stream_stream_request_latency_seconds_sum{%s} %s\norders_stream_stream_request_latency_seconds_count{%s} %s\n',
			o.labels, (o.latency_ms_sum OPERATOR(pg_catalog./) 1000.0)::float8, o.labels, o.requests)
	  FROM operations o)
SELECT COALESCE(pg_catalog.string_agg(t.line, '' ORDER BY t.fam, t.labels COLLATE "C", t.i), '')
  FROM (SELECT f.fam, '' AS labels, 0::bigint AS i,
			   pg_catalog.format(E'# HELP %s %s\n# TYPE %s %s\n', f.name, f.help, f.name, f.kind) AS line
		  FROM families f
		UNION ALL
		SELECT f.fam, s.labels, 1, pg_catalog.format(E'%s{%s} %s\n', f.name, s.labels, s.value)
		  FROM samples s JOIN families f ON f.fam OPERATOR(pg_catalog.=) s.fam
		UNION ALL
		SELECT 17, h.labels, h.i, h.line FROM histogram h) t;
END;

COMMENT ON FUNCTION orders_stream.prometheus_metrics() IS
'The metrics you may see, in Prometheus'' text exposition format (the endpoint''s GET /metrics)';
