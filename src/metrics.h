/*-------------------------------------------------------------------------
 * metrics.h
 *	  The counters AWS publishes for event source mappings (Lambda) and
 *	  streams (DynamoDB Streams), under AWS's names, in shared memory:
 *	  cumulative since the server started or orders_stream.reset_metrics(),
 *	  as pg_stat_* counters are.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_METRICS_H
#define ORDERS_STREAM_METRICS_H

#include "postgres.h"

/* Lambda's event source mapping counters, in the order of their columns. */
typedef enum MetricsMappingCounter
{
	METRICS_INVOCATIONS,
	METRICS_ERRORS,
	METRICS_THROTTLES,
	METRICS_DESTINATION_DELIVERY_FAILURES,
	METRICS_POLLED_EVENTS,
	METRICS_INVOKED_EVENTS,
	METRICS_FILTERED_OUT_EVENTS,
	METRICS_FAILED_INVOKE_EVENTS,
	METRICS_DROPPED_EVENTS,
	METRICS_ON_FAILURE_DELIVERED_EVENTS,
	METRICS_MAPPING_COUNTERS
} MetricsMappingCounter;

/* What one step of a lane adds to its mapping's counters. */
typedef struct MetricsMappingDelta
{
	int64		counters[METRICS_MAPPING_COUNTERS];
	int64		iterator_age_ms;	/* of the batch's last record; -1 = none */
} MetricsMappingDelta;

/* Adds delta to the counters of mapping (its UUID as text), lane lane. */
extern void metrics_mapping_add(const char *mapping, int lane,
								const MetricsMappingDelta *delta);

/* Adds n to one counter of mapping. */
extern void metrics_mapping_count(const char *mapping,
								  MetricsMappingCounter counter, int64 n);

/*
 * The capture worker stored a record of stream_id of bytes bytes
 * (exception: stored incomplete).  Kept in the worker until
 * metrics_capture_flush(), after the records' commit.
 */
extern void metrics_capture_stored(int64 stream_id, int64 bytes, bool exception);
extern void metrics_capture_flush(void);

/* The shared memory, set up from _PG_init's hooks. */
extern void metrics_shmem_request(void);
extern void metrics_shmem_init(void);

#endif							/* ORDERS_STREAM_METRICS_H */
