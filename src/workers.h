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
	OS_NUM_WORKERS
} OsWorkerKind;

/* From _PG_init: shared memory hooks, static workers, commit wake-ups. */
extern void workers_init(void);

/*
 * Starts, in the current database, every worker that is not running; true
 * if all run or were started.
 */
extern bool workers_launch(void);

/* Wakes a worker, if it runs. */
extern void worker_wakeup(OsWorkerKind kind);

/* Whether a worker of this kind runs now. */
extern bool worker_running(OsWorkerKind kind);

/*
 * In a worker's main function: signals, database connection, claiming the
 * kind's single slot (exits if another worker has it).  Returns the name of
 * the database.
 */
extern char *worker_start(OsWorkerKind kind, Datum main_arg);

/* Sleeps until woken or timeout_ms, then handles interrupts and SIGHUP. */
extern void worker_wait(long timeout_ms);

/* The extension's OID in this database, or InvalidOid (starts a transaction). */
extern Oid	worker_extension_oid(void);

#endif							/* ORDERS_STREAM_WORKERS_H */
