/*-------------------------------------------------------------------------
 * workers.h
 *	  The background workers of orders_stream (capture, delivery, ttl):
 *	  one slot per kind in shared memory, launching, waking, and their
 *	  common start-up.  It knows the workers by their function names only.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_WORKERS_H
#define ORDERS_STREAM_WORKERS_H

#include "postgres.h"

/* The workers with a single instance; delivery's is its launcher. */
typedef enum OsWorkerKind
{
	OS_WORKER_CAPTURE,
	OS_WORKER_DELIVERY,
	OS_WORKER_TTL,
	OS_NUM_WORKERS
} OsWorkerKind;

/* The launcher, registered from _PG_init. */
extern void workers_register_launcher(void);

/* The workers' slots in shared memory, set up from _PG_init's hooks. */
extern Size workers_shmem_size(void);
extern void workers_shmem_init(void);

/*
 * Starts, in the current database, every worker that is not running; true
 * if all run or were started.
 */
extern bool workers_launch(void);

extern PGDLLEXPORT void orders_stream_launcher_main(Datum arg);

/* Sets a worker's latch, if it runs. */
extern void worker_nudge(OsWorkerKind kind);

/* Whether a worker of this kind runs now. */
extern bool worker_running(OsWorkerKind kind);

/*
 * In a worker's main function, first: the handlers of SIGHUP (reload),
 * SIGTERM and of the postmaster's death (both end the worker at its next
 * CHECK_FOR_INTERRUPTS()), then signals unblocked.
 */
extern void worker_signals(void);

/*
 * In a worker's main function: signals, connection to the database of
 * main_arg (an OID), claiming the kind's single slot (exits if another
 * worker has it).  Returns the name of the database.
 */
extern char *worker_start(OsWorkerKind kind, Datum main_arg);

/*
 * glibc gives the top of the heap back to the kernel whenever more than
 * 128kB of it is free, and serves chunks over 128kB with mmap: a worker
 * whose every step allocates and frees a batch's memory would unmap and map
 * again pages at each step, and each unmapping is a TLB shootdown on every
 * CPU (a quarter of a delivery worker's time in a bulk apply).  Workers
 * keep up to WORKER_HEAP_KEEP of freed heap instead.
 */
#define WORKER_HEAP_KEEP (32 * 1024 * 1024)
extern void worker_keep_heap(void);

/* Sleeps until woken or timeout_ms, then handles interrupts and SIGHUP. */
extern void worker_wait(long timeout_ms);

/*
 * The extension's OID in this database, or InvalidOid (starts a
 * transaction).  *version_ok says whether its installed version is the
 * library's.  When it is not, the worker must run none of the extension's
 * SQL (it may not have the objects the library expects, or has others) and
 * waits, looking again every WORKER_VERSION_WAIT_MS: it logs why once, and
 * once again when the versions agree.
 */
extern Oid	worker_extension_oid(bool *version_ok);

#define WORKER_VERSION_WAIT_MS	1000

/*
 * How long a worker launched by CREATE EXTENSION waits for that transaction
 * to commit before it takes a missing extension for a dropped one.
 */
#define WORKER_EXTENSION_WAIT_MS	10000

#endif							/* ORDERS_STREAM_WORKERS_H */
