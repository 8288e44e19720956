/*-------------------------------------------------------------------------
 * delivery_internal.h
 *	  What the parts of delivery share: a mapping as loaded, a batch, the
 *	  outcome of a step, and the functions of each part.
 *
 *	  delivery_pool.c     the delivery worker's loop
 *	  delivery_mapping.c  the mapping row: load it, save a step's outcome
 *	  delivery_batch.c    fetching and filtering a batch, its event
 *	  delivery_invoke.c   invoking a function as its owner
 *	  delivery_failure.c  failures: the OnFailure document, errors
 *	  delivery_lane.c     one step of a mapping
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_DELIVERY_INTERNAL_H
#define ORDERS_STREAM_DELIVERY_INTERNAL_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "utils/timestamp.h"

#include "delivery.h"

/* How long a freshly launched worker waits for CREATE EXTENSION to commit. */
#define EXTENSION_WAIT_MS	10000
/* With maximum_record_age_in_seconds = -1, give up this long before trimming. */
#define AGE_MARGIN_SECS		60

typedef struct Mapping
{
	char	   *uuid;
	TransactionId xmin;			/* of the row loaded: changed = changed since */
	int64		stream_id;
	char	   *stream_arn;
	char	   *shard_id;
	Oid			relid;
	DeliveryTarget target;
	char	   *function_name;
	int			batch_size;
	int			window_secs;
	bool		bisect;
	int			max_retries;
	int			max_age_secs;
	bool		report_item_failures;
	char	   *checkpoint;
	int			attempts;
	TimestampTz next_attempt_at;	/* 0 = not waiting for a retry */
	List	   *bisect_stack;	/* of char *: ends of pending halves, top last */
	List	   *filters;		/* parsed FilterCriteria patterns, or NIL */
	bool		stale;			/* changed or deleted since loaded */
} Mapping;

typedef struct Batch
{
	int			n;
	bool		full;			/* cut by batch_size or max_batch_size_bytes */
	char	  **seqs;
	TimestampTz *arrivals;
	char	  **records;		/* JSON text */
} Batch;

/* Outcome of one delivery step, written to the mapping row. */
typedef struct Outcome
{
	char	   *checkpoint;
	int			attempts;
	TimestampTz next_attempt_at;	/* 0 = none */
	List	   *bisect_stack;
	int			invocations;
	int			errors;
	int			retries;
	int			failures;
	int			processed;
	char	   *last_error;
	const char *result;
} Outcome;

/*
 * An invocation a previous worker did not finish (see workers.h): the next
 * step of its mapping fails it instead of invoking.
 */
typedef struct KilledInvocation
{
	char	   *mapping;
	char	   *checkpoint;
	char	   *batch_end;
	bool		timed_out;
	int			timeout_ms;
} KilledInvocation;

static inline int64
ms_between(TimestampTz from, TimestampTz to)
{
	return (to - from) / 1000;
}

static inline char *
spi_text(HeapTuple tup, int col)
{
	return SPI_getvalue(tup, SPI_tuptable->tupdesc, col);
}

static inline Datum
spi_datum(HeapTuple tup, int col, bool *isnull)
{
	return SPI_getbinval(tup, SPI_tuptable->tupdesc, col, isnull);
}

/* delivery_mapping.c */
extern Mapping *load_mapping(const char *uuid);
extern void save_outcome(Mapping *m, Outcome *o);
extern void note_internal_error(const char *uuid, const char *message);
extern List *enabled_mappings(MemoryContext cxt);

/* delivery_batch.c */
extern Batch *fetch_batch(Mapping *m, const char *until);
extern Batch *filter_batch(Mapping *m, Batch *b);
extern Jsonb *build_event(void *arg);

/* delivery_invoke.c */
extern void delivery_invoke_in_worker(void);

/* delivery_failure.c */
extern char *describe_error(ErrorData *e);
extern char *function_display_name(Mapping *m);
extern void write_failure(Mapping *m, Batch *b, int from, int to,
						  const char *condition, int invoke_count,
						  ErrorData *e);
extern ErrorData *killed_error(Mapping *m, const KilledInvocation *killed);

/* delivery_lane.c */
extern bool deliver_one_guarded(const char *uuid,
								const KilledInvocation *killed,
								TimestampTz *due);

#endif							/* ORDERS_STREAM_DELIVERY_INTERNAL_H */
