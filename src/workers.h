/*-------------------------------------------------------------------------
 * workers.h
 *	  The background workers of orders_stream (capture, delivery): shared
 *	  memory, registration, launching, waking, and their common start-up.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_WORKERS_H
#define ORDERS_STREAM_WORKERS_H

#include "postgres.h"

typedef enum OsWorkerKind
{
	OS_WORKER_CAPTURE,
	OS_WORKER_DELIVERY,
	OS_WORKER_TTL,
	OS_NUM_WORKERS
} OsWorkerKind;

/*
 * The delivery worker's invocation in flight, in shared memory: it outlives
 * a worker that is terminated during the invocation (a function that ignored
 * the cancel at orders_stream.function_timeout), so that the next worker
 * counts that invocation as failed instead of running it again at once.
 * Written only by the delivery worker (and its timeout handler), read by its
 * successor: no lock.
 */
#define OS_INFLIGHT_SEQ_LEN	64

typedef struct DeliveryInflight
{
	pid_t		pid;			/* the invoking worker, 0 = none in flight */
	Oid			database;
	bool		timed_out;		/* terminated past the timeout's grace */
	int			timeout_ms;		/* orders_stream.function_timeout then */
	char		mapping[40];	/* UUID */
	char		checkpoint[OS_INFLIGHT_SEQ_LEN];	/* the mapping's, then */
	char		batch_end[OS_INFLIGHT_SEQ_LEN]; /* last SequenceNumber read */
} DeliveryInflight;

/* The shared in-flight record of the delivery worker (NULL before startup). */
extern DeliveryInflight *worker_inflight(void);

/* From _PG_init: shared memory hooks, the launcher, commit wake-ups. */
extern void workers_init(void);

/*
 * Starts, in the current database, every worker that is not running; true
 * if all run or were started.
 */
extern bool workers_launch(void);

extern PGDLLEXPORT void orders_stream_launcher_main(Datum arg);

/* Wakes a worker, if it runs. */
extern void worker_wakeup(OsWorkerKind kind);

/* Whether a worker of this kind runs now. */
extern bool worker_running(OsWorkerKind kind);

/*
 * In a worker's main function: signals, connection to the database of
 * main_arg (an OID), claiming the kind's single slot (exits if another
 * worker has it).  Returns the name of the database.
 */
extern char *worker_start(OsWorkerKind kind, Datum main_arg);

/* Sleeps until woken or timeout_ms, then handles interrupts and SIGHUP. */
extern void worker_wait(long timeout_ms);

/* The extension's OID in this database, or InvalidOid (starts a transaction). */
extern Oid	worker_extension_oid(void);

#endif							/* ORDERS_STREAM_WORKERS_H */
