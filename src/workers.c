/*-------------------------------------------------------------------------
 * workers.c
 *	  The background workers of orders_stream: one capture worker and one
 *	  delivery worker, in the database named by orders_stream.database.
 *
 * Each kind is started with the server (static registration) and exits
 * quietly when the extension is not installed; CREATE EXTENSION (and the
 * wait helpers) launch them again as dynamic workers.  A slot in shared
 * memory per kind keeps a single worker of each kind and holds its latch,
 * so that commits can wake the capture worker and stored records the
 * delivery worker without polling.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "orders_stream.h"
#include "workers.h"

typedef struct WorkerSlot
{
	pid_t		pid;			/* of the running worker, or 0 */
	Latch	   *latch;			/* its latch, set to wake it */
} WorkerSlot;

typedef struct WorkersShared
{
	WorkerSlot	slots[OS_NUM_WORKERS];
} WorkersShared;

static const char *const worker_names[OS_NUM_WORKERS] = {
	"orders_stream capture",
	"orders_stream delivery"
};

static const char *const worker_functions[OS_NUM_WORKERS] = {
	"orders_stream_capture_main",
	"orders_stream_delivery_main"
};

static WorkersShared *workers_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static OsWorkerKind my_kind;
static bool commit_wrote = false;

static void
workers_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WorkersShared)));
}

static void
workers_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	workers_shared = ShmemInitStruct("orders_stream workers",
									 sizeof(WorkersShared), &found);
	if (!found)
		memset(workers_shared, 0, sizeof(WorkersShared));
	LWLockRelease(AddinShmemInitLock);
}

static void
fill_worker(BackgroundWorker *worker, OsWorkerKind kind, Oid database)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* restarted a second after a crash, like pg_cron's */
	worker->bgw_restart_time = 1;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "orders_stream");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", worker_functions[kind]);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", worker_names[kind]);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", worker_names[kind]);
	worker->bgw_main_arg = ObjectIdGetDatum(database);
}

/*
 * Wakes the capture worker after every transaction that wrote: the commit
 * record is flushed by then (with synchronous_commit), so the worker reads
 * it at once instead of at its next nap.
 */
static void
workers_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			commit_wrote = TransactionIdIsValid(GetTopTransactionIdIfAny());
			break;
		case XACT_EVENT_COMMIT:
			if (commit_wrote)
				worker_wakeup(OS_WORKER_CAPTURE);
			commit_wrote = false;
			break;
		default:
			commit_wrote = false;
			break;
	}
}

void
workers_init(void)
{
	int			kind;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = workers_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = workers_shmem_startup;

	for (kind = 0; kind < OS_NUM_WORKERS; kind++)
	{
		BackgroundWorker worker;

		fill_worker(&worker, kind, InvalidOid);
		RegisterBackgroundWorker(&worker);
	}
	RegisterXactCallback(workers_xact_callback, NULL);
}

bool
worker_running(OsWorkerKind kind)
{
	pid_t		pid;

	if (workers_shared == NULL)
		return false;
	LWLockAcquire(AddinShmemInitLock, LW_SHARED);
	pid = workers_shared->slots[kind].pid;
	LWLockRelease(AddinShmemInitLock);
	return pid != 0;
}

bool
workers_launch(void)
{
	bool		ok = true;
	int			kind;

	if (workers_shared == NULL)
		return false;
	for (kind = 0; kind < OS_NUM_WORKERS; kind++)
	{
		BackgroundWorker worker;
		BackgroundWorkerHandle *handle;

		if (worker_running(kind))
			continue;
		fill_worker(&worker, kind, MyDatabaseId);
		ok = RegisterDynamicBackgroundWorker(&worker, &handle) && ok;
	}
	return ok;
}

void
worker_wakeup(OsWorkerKind kind)
{
	Latch	   *latch = workers_shared ? workers_shared->slots[kind].latch : NULL;

	if (latch != NULL)
		SetLatch(latch);
}

static void
release_slot(int code, Datum arg)
{
	WorkerSlot *slot = &workers_shared->slots[my_kind];

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	if (slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->latch = NULL;
	}
	LWLockRelease(AddinShmemInitLock);
}

static bool
claim_slot(OsWorkerKind kind)
{
	WorkerSlot *slot = &workers_shared->slots[kind];
	bool		claimed = false;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	if (slot->pid == 0 || BackendPidGetProc(slot->pid) == NULL)
	{
		slot->pid = MyProcPid;
		slot->latch = MyLatch;
		claimed = true;
	}
	LWLockRelease(AddinShmemInitLock);
	if (claimed)
	{
		my_kind = kind;
		before_shmem_exit(release_slot, (Datum) 0);
	}
	return claimed;
}

char *
worker_start(OsWorkerKind kind, Datum main_arg)
{
	Oid			database = DatumGetObjectId(main_arg);
	char	   *name;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (OidIsValid(database))
		BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	else
		BackgroundWorkerInitializeConnection(orders_stream_database, NULL, 0);
	pgstat_report_appname(worker_names[kind]);

	if (!claim_slot(kind))
		proc_exit(0);

	StartTransactionCommand();
	name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();
	return name;
}

void
worker_wait(long timeout_ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

Oid
worker_extension_oid(void)
{
	Oid			extension;

	StartTransactionCommand();
	extension = get_extension_oid("orders_stream", true);
	CommitTransactionCommand();
	return extension;
}
