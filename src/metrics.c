/*-------------------------------------------------------------------------
 * metrics.c
 *	  The counters AWS publishes, in shared memory, and the SQL functions
 *	  that read, feed and reset them.
 *
 * Per event source mapping, Lambda's: IteratorAge (per lane), Invocations,
 * Errors, Throttles, DestinationDeliveryFailures and the EventCount
 * metrics, fed by the delivery workers and the launcher.  Per stream,
 * DynamoDB Streams': ReturnedRecordsCount, ReturnedBytes,
 * SuccessfulRequestLatency (per operation, as a histogram), UserErrors and
 * SystemErrors, fed by the read API as its caller through
 * orders_stream.metrics_note_request(); and capture's own, fed by the
 * capture worker.
 *
 * Counters are cumulative since the server started or the last
 * orders_stream.reset_metrics(), as pg_stat_* counters are, and are not
 * transactional: work that is rolled back was still done.  Entries are
 * created on first use; when the tables are full, new mappings and streams
 * are not counted (a WARNING says so, once per process).
 *
 * Who sees what: every function that returns metrics returns the rows of
 * the streams the caller may read (security_may_read(), the rule of
 * readable_streams), and a mapping's with its stream's.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "metrics.h"
#include "security.h"

#define METRICS_MAX_MAPPINGS	1024
#define METRICS_MAX_STREAMS		1024
/* ParallelizationFactor's maximum */
#define METRICS_MAX_LANES		10
#define METRICS_UUID_LEN		(2 * UUID_LEN + 4)

/* The operations of the read API that name a stream. */
static const char *const operations[] = {"DescribeStream", "GetShardIterator", "GetRecords"};

#define METRICS_OPERATIONS		lengthof(operations)

/* SuccessfulRequestLatency's histogram: upper bounds in ms, then +Inf. */
static const int latency_bounds_ms[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

#define METRICS_BUCKETS			(lengthof(latency_bounds_ms) + 1)

typedef struct MappingMetrics
{
	char		mapping[METRICS_UUID_LEN + 1];	/* the key */
	int64		counters[METRICS_MAPPING_COUNTERS];
	int64		iterator_age_ms[METRICS_MAX_LANES]; /* -1: no batch yet */
} MappingMetrics;

typedef struct OperationMetrics
{
	int64		requests;		/* successful */
	double		latency_ms_sum;
	int64		buckets[METRICS_BUCKETS];	/* not cumulative */
	int64		user_errors;
	int64		system_errors;
} OperationMetrics;

typedef struct StreamMetrics
{
	int64		stream_id;		/* the key */
	int64		returned_records;
	int64		returned_bytes;
	OperationMetrics operations[METRICS_OPERATIONS];
	int64		records_stored;
	int64		bytes_stored;
	int64		capture_exceptions;
} StreamMetrics;

typedef struct MetricsShared
{
	LWLock	   *lock;			/* protects both tables and stats_reset */
	TimestampTz stats_reset;
} MetricsShared;

static MetricsShared *shared = NULL;
static HTAB *mapping_table = NULL;
static HTAB *stream_table = NULL;

/* In the capture worker: what it stored since the last flush. */
static HTAB *capture_pending = NULL;
/* capture stores runs of one stream's records: its entry, until the flush */
static StreamMetrics *capture_last = NULL;

static bool warned_full = false;

static Size
metrics_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(MetricsShared)),
					add_size(hash_estimate_size(METRICS_MAX_MAPPINGS, sizeof(MappingMetrics)),
							 hash_estimate_size(METRICS_MAX_STREAMS, sizeof(StreamMetrics))));
}

void
metrics_shmem_request(void)
{
	RequestAddinShmemSpace(metrics_shmem_size());
	RequestNamedLWLockTranche("orders_stream metrics", 1);
}

void
metrics_shmem_init(void)
{
	HASHCTL		info;
	bool		found;

	shared = ShmemInitStruct("orders_stream metrics", sizeof(MetricsShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("orders_stream metrics"))->lock;
		shared->stats_reset = GetCurrentTimestamp();
	}
	info.keysize = METRICS_UUID_LEN + 1;
	info.entrysize = sizeof(MappingMetrics);
	mapping_table = ShmemInitHash("orders_stream mapping metrics",
								  METRICS_MAX_MAPPINGS, METRICS_MAX_MAPPINGS,
								  &info, HASH_ELEM | HASH_STRINGS);
	info.keysize = sizeof(int64);
	info.entrysize = sizeof(StreamMetrics);
	stream_table = ShmemInitHash("orders_stream stream metrics",
								 METRICS_MAX_STREAMS, METRICS_MAX_STREAMS,
								 &info, HASH_ELEM | HASH_BLOBS);
}

static void
warn_full(const char *what)
{
	if (warned_full)
		return;
	warned_full = true;
	ereport(WARNING,
			(errcode(ERRCODE_OUT_OF_MEMORY),
			 errmsg("orders_stream keeps metrics of at most %d %s: new ones are not counted",
					strcmp(what, "mappings") == 0 ? METRICS_MAX_MAPPINGS : METRICS_MAX_STREAMS,
					what),
			 errhint("orders_stream.reset_metrics() forgets the metrics of mappings and streams that are gone.")));
}

/*
 * The entry of mapping, created if new; NULL if the table is full (the
 * hash table would grow into the slack of shared memory otherwise).  The
 * lock is held exclusively.
 */
static MappingMetrics *
mapping_entry(const char *mapping)
{
	char		key[METRICS_UUID_LEN + 1];
	MappingMetrics *e;
	bool		found;
	int			i;

	memset(key, 0, sizeof(key));
	strlcpy(key, mapping, sizeof(key));
	e = hash_search(mapping_table, key, HASH_FIND, &found);
	if (e != NULL)
		return e;
	if (hash_get_num_entries(mapping_table) >= METRICS_MAX_MAPPINGS)
		return NULL;
	e = hash_search(mapping_table, key, HASH_ENTER_NULL, &found);
	if (e == NULL)
		return NULL;
	memset(e->counters, 0, sizeof(e->counters));
	for (i = 0; i < METRICS_MAX_LANES; i++)
		e->iterator_age_ms[i] = -1;
	return e;
}

/* The entry of stream_id, as mapping_entry(). */
static StreamMetrics *
stream_entry(int64 stream_id)
{
	StreamMetrics *e;
	bool		found;

	e = hash_search(stream_table, &stream_id, HASH_FIND, &found);
	if (e != NULL)
		return e;
	if (hash_get_num_entries(stream_table) >= METRICS_MAX_STREAMS)
		return NULL;
	e = hash_search(stream_table, &stream_id, HASH_ENTER_NULL, &found);
	if (e != NULL)
		memset((char *) e + sizeof(int64), 0, sizeof(StreamMetrics) - sizeof(int64));
	return e;
}

void
metrics_mapping_add(const char *mapping, int lane, const MetricsMappingDelta *delta)
{
	MappingMetrics *e;
	int			i;

	if (shared == NULL)
		return;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	e = mapping_entry(mapping);
	if (e != NULL)
	{
		for (i = 0; i < METRICS_MAPPING_COUNTERS; i++)
			e->counters[i] += delta->counters[i];
		if (delta->iterator_age_ms >= 0 && lane >= 0 && lane < METRICS_MAX_LANES)
			e->iterator_age_ms[lane] = delta->iterator_age_ms;
	}
	LWLockRelease(shared->lock);
	if (e == NULL)
		warn_full("mappings");
}

void
metrics_mapping_count(const char *mapping, MetricsMappingCounter counter, int64 n)
{
	MetricsMappingDelta delta;

	memset(&delta, 0, sizeof(delta));
	delta.counters[counter] = n;
	delta.iterator_age_ms = -1;
	metrics_mapping_add(mapping, -1, &delta);
}

void
metrics_capture_stored(int64 stream_id, int64 bytes, bool exception)
{
	StreamMetrics *e;
	bool		found;

	if (capture_pending == NULL)
	{
		HASHCTL		info;

		info.keysize = sizeof(int64);
		info.entrysize = sizeof(StreamMetrics);
		info.hcxt = TopMemoryContext;
		capture_pending = hash_create("orders_stream capture metrics", 64, &info,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (capture_last != NULL && capture_last->stream_id == stream_id)
		e = capture_last;
	else
	{
		e = hash_search(capture_pending, &stream_id, HASH_ENTER, &found);
		if (!found)
			memset((char *) e + sizeof(int64), 0, sizeof(StreamMetrics) - sizeof(int64));
		capture_last = e;
	}
	e->records_stored++;
	e->bytes_stored += bytes;
	if (exception)
		e->capture_exceptions++;
}

void
metrics_capture_flush(void)
{
	HASH_SEQ_STATUS seq;
	StreamMetrics *p;
	bool		full = false;

	if (capture_pending == NULL || shared == NULL)
		return;
	capture_last = NULL;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, capture_pending);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		StreamMetrics *e = stream_entry(p->stream_id);

		if (e != NULL)
		{
			e->records_stored += p->records_stored;
			e->bytes_stored += p->bytes_stored;
			e->capture_exceptions += p->capture_exceptions;
		}
		else
			full = true;
		hash_search(capture_pending, &p->stream_id, HASH_REMOVE, NULL);
	}
	LWLockRelease(shared->lock);
	if (full)
		warn_full("streams");
}

/* ---- SQL ---- */

/* A stream (or mapping) and the table of its stream, as SPI read them. */
typedef struct Visible
{
	char	   *key;
	Oid			relid;
} Visible;

/*
 * The keys (as text) of query's first column whose table, its second,
 * the current user may read.
 */
static List *
visible_keys(const char *query)
{
	List	   *keys = NIL;
	uint64		i;
	MemoryContext cxt = CurrentMemoryContext;

	SPI_connect();
	security_spi_exec_as_owner(query, 0, NULL, NULL, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

		if (!isnull && security_may_read(GetUserId(), relid, false))
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			keys = lappend(keys, SPI_getvalue(tup, SPI_tuptable->tupdesc, 1));
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	return keys;
}

static bool
key_listed(List *keys, const char *key)
{
	ListCell   *lc;

	foreach(lc, keys)
	{
		if (strcmp(lfirst(lc), key) == 0)
			return true;
	}
	return false;
}

/* A copy of the entries of table, taken under the lock. */
static void *
snapshot_table(HTAB *table, Size entrysize, int *n, TimestampTz *stats_reset)
{
	HASH_SEQ_STATUS seq;
	char	   *copy;
	void	   *e;

	LWLockAcquire(shared->lock, LW_SHARED);
	copy = palloc(Max(hash_get_num_entries(table), 1) * entrysize);
	*n = 0;
	hash_seq_init(&seq, table);
	while ((e = hash_seq_search(&seq)) != NULL)
		memcpy(copy + (*n)++ * entrysize, e, entrysize);
	if (stats_reset)
		*stats_reset = shared->stats_reset;
	LWLockRelease(shared->lock);
	return copy;
}

static void
check_shared(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders_stream metrics are not set up"),
				 errhint("Add orders_stream to shared_preload_libraries and restart the server.")));
}

static Datum
int8_array(const int64 *values, int n, bool skip_negative)
{
	Datum	   *d = palloc(n * sizeof(Datum));
	bool	   *nulls = palloc(n * sizeof(bool));
	int			dims[1] = {n};
	int			lbs[1] = {0};
	int			i;

	for (i = 0; i < n; i++)
	{
		d[i] = Int64GetDatum(values[i]);
		nulls[i] = skip_negative && values[i] < 0;
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, INT8OID,
											  sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(orders_stream_metrics_mappings);

/*
 * orders_stream.metrics_mappings(): a row per mapping of a stream the
 * caller may read, its IteratorAge per lane (indexed from 0, NULL before
 * the lane's first batch) and its counters.
 */
Datum
orders_stream_metrics_mappings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *keys;
	MappingMetrics *entries;
	int			n;
	int			i;
	int			j;

	check_shared();
	InitMaterializedSRF(fcinfo, 0);
	keys = visible_keys("SELECT m.uuid::text, s.relid"
						"  FROM orders_stream_internal.event_source_mappings m"
						"  JOIN orders_stream.streams s ON s.stream_id OPERATOR(pg_catalog.=) m.stream_id");
	entries = snapshot_table(mapping_table, sizeof(MappingMetrics), &n, NULL);
	for (i = 0; i < n; i++)
	{
		Datum		values[2 + METRICS_MAPPING_COUNTERS];
		bool		nulls[2 + METRICS_MAPPING_COUNTERS];

		if (!key_listed(keys, entries[i].mapping))
			continue;
		memset(nulls, 0, sizeof(nulls));
		values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(entries[i].mapping));
		values[1] = int8_array(entries[i].iterator_age_ms, METRICS_MAX_LANES, true);
		for (j = 0; j < METRICS_MAPPING_COUNTERS; j++)
			values[2 + j] = Int64GetDatum(entries[i].counters[j]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(orders_stream_metrics_streams);

/*
 * orders_stream.metrics_streams(): a row per operation of each stream the
 * caller may read: the stream's own counters, and the operation's
 * requests, latency (sum, and the histogram's buckets, not cumulative, of
 * upper bounds latency_bounds_ms then +Inf) and errors.  Capture's
 * counters are on the row of every operation (the views take them once).
 */
Datum
orders_stream_metrics_streams(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *keys;
	StreamMetrics *entries;
	TimestampTz stats_reset;
	int			n;
	int			i;
	int			op;
	int64		bounds[lengthof(latency_bounds_ms)];

	check_shared();
	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; i < lengthof(latency_bounds_ms); i++)
		bounds[i] = latency_bounds_ms[i];
	keys = visible_keys("SELECT s.stream_id::text, s.relid FROM orders_stream.streams s");
	entries = snapshot_table(stream_table, sizeof(StreamMetrics), &n, &stats_reset);
	for (i = 0; i < n; i++)
	{
		StreamMetrics *e = &entries[i];
		char		key[32];

		snprintf(key, sizeof(key), INT64_FORMAT, e->stream_id);
		if (!key_listed(keys, key))
			continue;
		for (op = 0; op < METRICS_OPERATIONS; op++)
		{
			OperationMetrics *o = &e->operations[op];
			Datum		values[14];
			bool		nulls[14];

			memset(nulls, 0, sizeof(nulls));
			values[0] = Int64GetDatum(e->stream_id);
			values[1] = CStringGetTextDatum(operations[op]);
			values[2] = Int64GetDatum(o->requests);
			values[3] = Float8GetDatum(o->latency_ms_sum);
			values[4] = int8_array(bounds, lengthof(bounds), false);
			values[5] = int8_array(o->buckets, METRICS_BUCKETS, false);
			values[6] = Int64GetDatum(o->user_errors);
			values[7] = Int64GetDatum(o->system_errors);
			values[8] = Int64GetDatum(e->returned_records);
			values[9] = Int64GetDatum(e->returned_bytes);
			values[10] = Int64GetDatum(e->records_stored);
			values[11] = Int64GetDatum(e->bytes_stored);
			values[12] = Int64GetDatum(e->capture_exceptions);
			values[13] = TimestampTzGetDatum(stats_reset);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(orders_stream_metrics_note_request);

/*
 * orders_stream.metrics_note_request(stream_arn, operation, started,
 * records, bytes, sqlstate): the read API, as its caller, counts a request
 * it served (sqlstate NULL) or failed.  Callable by anyone, so it counts
 * only for a stream the caller may read (others are ignored, exactly as
 * streams that do not exist, so that it tells nothing), and a latency no
 * longer than the caller's statement has run.  SQLSTATE classes of the
 * server's own trouble (53, 57, 58, XX) are SystemErrors; the rest are
 * UserErrors, as AWS tells its 5xx from its 4xx.
 */
Datum
orders_stream_metrics_note_request(PG_FUNCTION_ARGS)
{
	char	   *op_name;
	int			op;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz started;
	int64		records;
	int64		bytes;
	int64		stream_id = 0;
	bool		readable = false;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	StreamMetrics *e;

	check_shared();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_VOID();
	op_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	for (op = 0; op < METRICS_OPERATIONS; op++)
		if (strcmp(operations[op], op_name) == 0)
			break;
	if (op == METRICS_OPERATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown DynamoDB Streams operation \"%s\"", op_name),
				 errhint("Metrics are kept for DescribeStream, GetShardIterator and GetRecords.")));
	started = Max(PG_GETARG_TIMESTAMPTZ(2), GetCurrentStatementStartTimestamp());
	records = PG_ARGISNULL(3) ? 0 : Max(PG_GETARG_INT64(3), 0);
	bytes = PG_ARGISNULL(4) ? 0 : Max(PG_GETARG_INT64(4), 0);

	args[0] = PG_GETARG_DATUM(0);
	SPI_connect();
	security_spi_exec_as_owner("SELECT s.stream_id, s.relid FROM orders_stream.streams s"
							   " WHERE s.stream_arn OPERATOR(pg_catalog.=) $1",
							   1, argtypes, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[0];

		stream_id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		readable = security_may_read(GetUserId(),
									 DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)),
									 false);
	}
	SPI_finish();
	if (!readable)
		PG_RETURN_VOID();

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	e = stream_entry(stream_id);
	if (e != NULL)
	{
		OperationMetrics *o = &e->operations[op];

		if (PG_ARGISNULL(5))
		{
			double		ms = Max(now - started, 0) / 1000.0;
			int			b = 0;

			while (b < lengthof(latency_bounds_ms) && ms > latency_bounds_ms[b])
				b++;
			o->requests++;
			o->latency_ms_sum += ms;
			o->buckets[b]++;
			e->returned_records += records;
			e->returned_bytes += bytes;
		}
		else
		{
			char	   *sqlstate = text_to_cstring(PG_GETARG_TEXT_PP(5));

			if (strncmp(sqlstate, "53", 2) == 0 || strncmp(sqlstate, "57", 2) == 0 ||
				strncmp(sqlstate, "58", 2) == 0 || strncmp(sqlstate, "XX", 2) == 0)
				o->system_errors++;
			else
				o->user_errors++;
		}
	}
	LWLockRelease(shared->lock);
	if (e == NULL)
		warn_full("streams");
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(orders_stream_metrics_reset_time);

/* orders_stream.metrics_reset_time(): since when the counters count. */
Datum
orders_stream_metrics_reset_time(PG_FUNCTION_ARGS)
{
	TimestampTz stats_reset;

	check_shared();
	LWLockAcquire(shared->lock, LW_SHARED);
	stats_reset = shared->stats_reset;
	LWLockRelease(shared->lock);
	PG_RETURN_TIMESTAMPTZ(stats_reset);
}

PG_FUNCTION_INFO_V1(orders_stream_reset_metrics);

/* orders_stream.reset_metrics(): every counter back to zero, as pg_stat_reset(). */
Datum
orders_stream_reset_metrics(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	MappingMetrics *m;
	StreamMetrics *s;

	check_shared();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, mapping_table);
	while ((m = hash_seq_search(&seq)) != NULL)
		hash_search(mapping_table, m->mapping, HASH_REMOVE, NULL);
	hash_seq_init(&seq, stream_table);
	while ((s = hash_seq_search(&seq)) != NULL)
		hash_search(stream_table, &s->stream_id, HASH_REMOVE, NULL);
	shared->stats_reset = GetCurrentTimestamp();
	LWLockRelease(shared->lock);
	PG_RETURN_VOID();
}
