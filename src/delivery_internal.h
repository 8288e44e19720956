/*-------------------------------------------------------------------------
 * delivery_internal.h
 *	  What the parts of delivery share: a lane as loaded with its mapping, a
 *	  batch, the outcome of a step, the lane state machine, and the
 *	  functions of each part.
 *
 *	  delivery_pool.c     the delivery launcher and its pool of workers
 *	  delivery_mapping.c  the mapping and lane rows: load, save an outcome
 *	  delivery_batch.c    fetching and filtering a batch, its event
 *	  delivery_record.c   a record's JSON as jsonb, for the event
 *	  delivery_invoke.c   invoking a function as its owner
 *	  delivery_failure.c  failures: the OnFailure document, errors
 *	  delivery_lane.c     one step of a lane: the state machine
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_DELIVERY_INTERNAL_H
#define ORDERS_STREAM_DELIVERY_INTERNAL_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "postmaster/bgworker.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "delivery.h"
#include "window.h"

/* With maximum_record_age_in_seconds = -1, give up this long before trimming. */
#define AGE_MARGIN_SECS		60

#define UUID_TEXT_LEN		(2 * UUID_LEN + 4)
/* SequenceNumbers kept in shared memory (they are 30 digits) */
#define OS_INFLIGHT_SEQ_LEN	64

/* A lane: lane of the epoch-th set of lanes of a mapping. */
typedef struct LaneKey
{
	char		mapping[UUID_TEXT_LEN + 1];
	int			epoch;
	int			lane;
} LaneKey;

/*
 * The states of a lane, as its row holds them (event_source_mapping_lanes.
 * state), in the manner of pg_cron's CronTaskState.  A step is a case of
 * delivery_lane.c's switch on the stored state; it ends in the state it
 * saves:
 *
 *	READY ──batch ok──────────────────────────► READY
 *	  ├──batch failed, bisect──────────────────► BISECTING ─halves done─► READY
 *	  ├──batch failed, retries left────────────► BACKOFF ─next_attempt_at─► READY
 *	  ├──owner may not read the stream─────────► STALLED ─privilege back─► READY
 *	  └──epoch ended, its records delivered────► DRAINED (final)
 *	WAITING_EPOCH ─older epochs all DRAINED──► READY
 *
 * A new epoch's lanes are created WAITING_EPOCH (70_mappings.sql).  A
 * BACKOFF or STALLED lane whose time has come runs as a READY lane, or as a
 * BISECTING one if its batch is bounded (a half, or a retry: bound_retry()).
 */
typedef enum LaneState
{
	LANE_READY,
	LANE_BACKOFF,
	LANE_BISECTING,
	LANE_STALLED,
	LANE_WAITING_EPOCH,
	LANE_DRAINED
} LaneState;

/*
 * The waits of a READY lane that a step reports to the pool and never
 * saves: the row stays READY.
 *
 *	READY ─batch not full, batching window open─► BATCHING
 *	READY ─window open, no record of it left────► WAITING_WINDOW
 *
 * With tumbling windows (window.c) each lane has its own window and state,
 * saved with its checkpoint.  A lane whose open window has no more records
 * waits for the window's end (its checkpoint moved up as an idle lane's),
 * then runs the window's final invocation.  A lane of an ended epoch runs
 * the final invocation of its open window at once, before it is DRAINED,
 * as Lambda closes a window when its shard ends.
 */
typedef enum LaneWait
{
	LANE_NOT_WAITING,
	LANE_BATCHING,
	LANE_WAITING_WINDOW
} LaneWait;

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
	Jsonb	   *filter_criteria;	/* FilterCriteria, or NULL */
	/* the lane */
	int			epoch;
	int			lane;
	int			lanes;			/* of its epoch */
	char	   *epoch_end;		/* the epoch's last SequenceNumber, or NULL */
	bool		older_epochs;	/* lanes of earlier epochs still drain */
	TransactionId lane_xmin;	/* of the lane row loaded */
	LaneState	state;
	char	   *checkpoint;
	int			attempts;
	TimestampTz next_attempt_at;	/* 0 = not waiting for a retry */
	List	   *bisect_stack;	/* of char *: ends of pending halves, top last */
	List	   *invoke_counts;	/* of int: invocations of each half's records */
	WindowState window;			/* the lane's tumbling window */
	bool		stale;			/* changed or deleted since loaded */
} Mapping;

typedef struct Batch
{
	int			n;
	bool		full;			/* cut by batch_size or max_batch_size_bytes */
	char	  **seqs;
	TimestampTz *arrivals;
	char	  **records;		/* JSON text */
	int		   *lengths;		/* strlen() of each */
	Jsonb	  **parsed;			/* the records as jsonb, or NULL */
	WindowInvocation *window;	/* with a tumbling window: its event members */
} Batch;

/* Outcome of one delivery step, written to the lane row. */
typedef struct Outcome
{
	LaneState	state;
	char	   *checkpoint;
	int			attempts;
	TimestampTz next_attempt_at;	/* 0 = none */
	List	   *bisect_stack;
	List	   *invoke_counts;
	int			invocations;
	int			errors;
	int			retries;
	int			failures;
	int			processed;
	int			dropped;		/* records given up to the failure destination */
	char	   *last_error;
	const char *result;			/* NULL: last_processing_result unchanged */
	WindowState window;			/* the lane's window after the step */
} Outcome;

/* What a step tells the pool. */
typedef struct LaneStep
{
	bool		worked;			/* it invoked, or gave records up */
	bool		gone;			/* the lane or its mapping is gone, or disabled */
	LaneState	state;			/* as saved (or found) */
	LaneWait	wait;			/* of a READY lane: what for */
	TimestampTz due;			/* run again then, 0 = when records arrive */
} LaneStep;

/*
 * An invocation a worker of the pool was running, in its slot in shared
 * memory: it outlives a worker that is terminated during the invocation (a
 * function that ignored the cancel at orders_stream.function_timeout), so
 * that the next worker of the slot counts that invocation as failed instead
 * of running it again at once.  Written only by the slot's worker (and its
 * timeout handler), read by its successor: no lock.
 */
typedef struct DeliveryInflight
{
	pid_t		pid;			/* the invoking worker, 0 = none in flight */
	bool		timed_out;		/* terminated past the timeout's grace */
	int			timeout_ms;		/* orders_stream.function_timeout then */
	LaneKey		lane;
	char		checkpoint[OS_INFLIGHT_SEQ_LEN];	/* the lane's, then */
	char		batch_end[OS_INFLIGHT_SEQ_LEN]; /* last SequenceNumber read */
} DeliveryInflight;

/* An invocation a previous worker did not finish: its lane fails it. */
typedef struct KilledInvocation
{
	LaneKey		lane;
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

/* A saved plan for one of delivery's own queries, prepared on first use. */
extern SPIPlanPtr delivery_plan(SPIPlanPtr *cache, const char *sql,
								int nargs, Oid *argtypes, int cursor_options);

/* delivery_pool.c */
extern DeliveryInflight *delivery_pool_my_inflight(void);
extern void delivery_pool_dynamic_worker(BackgroundWorker *worker,
										 const char *function,
										 const char *type, Datum arg);

/* delivery_mapping.c */
extern Mapping *delivery_mapping_load_lane(const LaneKey *key);
extern void delivery_mapping_save_outcome(Mapping *m, Outcome *o);
extern void delivery_mapping_note_error(const LaneKey *key,
										const char *message);

/* delivery_batch.c */
extern Batch *delivery_batch_fetch(Mapping *m, const char *until);
extern char *delivery_batch_high_water(Mapping *m);
extern Batch *delivery_batch_filter(Mapping *m, Batch *b, ErrorData **error);
extern Jsonb *delivery_batch_event(void *arg);

/* delivery_invoke.c */
extern void delivery_invoke_in_worker(void);

/* delivery_failure.c */
extern char *delivery_failure_describe(ErrorData *e);
extern char *delivery_failure_function_name(Mapping *m);
extern void delivery_failure_write(Mapping *m, Batch *b, int from, int to,
								   const char *condition, int invoke_count,
								   ErrorData *e);
extern ErrorData *delivery_failure_killed_error(Mapping *m,
												const KilledInvocation *killed);

/* delivery_lane.c */
extern void delivery_lane_step(const LaneKey *key,
							   const KilledInvocation *killed, LaneStep *step);

#endif							/* ORDERS_STREAM_DELIVERY_INTERNAL_H */
