/*-------------------------------------------------------------------------
 * workers.c
 *	  The background workers of orders_stream: one capture worker, one
 *	  delivery launcher with its pool of delivery workers (delivery_pool.c)
 *	  and one TTL worker (ttl_worker.c), in the database named by
 *	  orders_stream.database.
 *
 * A static launcher, connected to no database (it reads the shared catalog
 * pg_database only), waits until orders_stream.database exists, logging at
 * most once a minute while it does not, then starts the per-database
 * workers as dynamic workers and exits.  They exit quietly when the
 * extension is not installed; CREATE EXTENSION (and the wait helpers) start
 * them again.  Both are restarted a second after a crash.  A slot in shared
 * memory per kind keeps a single worker of each kind and holds its latch,
 * so that the modules can wake their workers (commits the capture worker,
 * stored records the delivery launcher) without polling.  Workers are named
 * by their functions' names only: this file calls into none of them.
 *
 * A worker runs the extension's SQL only while the installed version is the
 * library's (worker_extension_oid): after a new package and before ALTER
 * EXTENSION orders_stream UPDATE, or the reverse, it logs why once and
 * waits, looking again every second, rather than fail and be restarted in
 * a loop.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <malloc.h>

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
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
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "orders_stream.h"
#include "version.h"
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

/* How often the launcher looks for a missing database, and logs it. */
#define LAUNCHER_POLL_MS		1000
#define LAUNCHER_LOG_EVERY_MS	60000

static const char *const worker_names[OS_NUM_WORKERS] = {
	"orders_stream capture",
	"orders_stream delivery launcher",
	"orders_stream ttl"
};

static const char *const worker_functions[OS_NUM_WORKERS] = {
	"orders_stream_capture_main",
	"orders_stream_delivery_launcher_main",
	"orders_stream_ttl_main"
};

static WorkersShared *workers_shared = NULL;
static OsWorkerKind my_kind;
/* the installed version this worker last logged it waits for, or NULL */
static char *waiting_for = NULL;

Size
workers_shmem_size(void)
{
	return MAXALIGN(sizeof(WorkersShared));
}

void
workers_shmem_init(void)
{
	bool		found;

	workers_shared = ShmemInitStruct("orders_stream workers",
									 sizeof(WorkersShared), &found);
	if (!found)
		memset(workers_shared, 0, sizeof(WorkersShared));
}

static void
fill_worker(BackgroundWorker *worker, const char *name, const char *function,
			Oid database)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	/* restarted a second after a crash, like pg_cron's */
	worker->bgw_restart_time = 1;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "orders_stream");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_name, BGW_MAXLEN, "%s", name);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", name);
	worker->bgw_main_arg = ObjectIdGetDatum(database);
}

void
workers_register_launcher(void)
{
	BackgroundWorker worker;

	fill_worker(&worker, "orders_stream launcher", "orders_stream_launcher_main",
				InvalidOid);
	RegisterBackgroundWorker(&worker);
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

static bool
launch_in(Oid database)
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
		fill_worker(&worker, worker_names[kind], worker_functions[kind], database);
		ok = RegisterDynamicBackgroundWorker(&worker, &handle) && ok;
	}
	return ok;
}

bool
workers_launch(void)
{
	return launch_in(MyDatabaseId);
}

/*
 * The OID of a database, or InvalidOid.  A backend connected to no database
 * has no relcache entries for the indexes of shared catalogs: a heap scan of
 * pg_database, as autovacuum's launcher does.
 */
static Oid
database_oid(const char *name)
{
	Oid			result = InvalidOid;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			result = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

/*
 * The static worker: waits for orders_stream.database to exist, then starts
 * the workers there.  Connected to no database, it can read pg_database but
 * need not fail (and be restarted every second) when the database is
 * missing.
 */
void
orders_stream_launcher_main(Datum arg)
{
	TimestampTz logged = 0;

	worker_signals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	for (;;)
	{
		Oid			database = database_oid(orders_stream_database);

		if (OidIsValid(database))
		{
			if (!launch_in(database))
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("orders_stream could not start its workers in database \"%s\"",
								orders_stream_database),
						 errhint("Raise max_worker_processes; CREATE EXTENSION orders_stream or orders_stream.launch_workers() starts them later.")));
			/* exit code 0: not restarted, the workers it started are */
			proc_exit(0);
		}
		if (logged == 0 ||
			TimestampDifferenceExceeds(logged, GetCurrentTimestamp(), LAUNCHER_LOG_EVERY_MS))
		{
			ereport(LOG,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("orders_stream is waiting for database \"%s\", which does not exist",
							orders_stream_database),
					 errhint("Create the database, or set orders_stream.database to an existing one and restart the server.")));
			logged = GetCurrentTimestamp();
		}
		worker_wait(LAUNCHER_POLL_MS);
	}
}

void
worker_nudge(OsWorkerKind kind)
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

/*
 * The postmaster died.  PostgreSQL's handler of this signal only sets the
 * flag PostmasterIsAlive() reads, and a worker notices when it next waits on
 * its latch (WL_EXIT_ON_PM_DEATH).  A worker decoding a large transaction,
 * storing a batch or running a user's function may not wait for minutes,
 * and all that time it keeps the dead server's shared memory attached, so
 * that the server cannot start again.  Terminate instead at the next
 * CHECK_FOR_INTERRUPTS(), which every such loop reaches, as SIGTERM does:
 * the log says "due to administrator command", but nobody is left to read
 * the worker's exit status.
 */
#ifdef OS_POSTMASTER_DEATH_SIGNAL
static void
postmaster_death_handler(SIGNAL_ARGS)
{
	postmaster_possibly_dead = true;
	die(postgres_signal_arg);
}
#endif

void
worker_signals(void)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
#ifdef OS_POSTMASTER_DEATH_SIGNAL
	pqsignal(OS_POSTMASTER_DEATH_SIGNAL, postmaster_death_handler);
#endif
	BackgroundWorkerUnblockSignals();
}

char *
worker_start(OsWorkerKind kind, Datum main_arg)
{
	Oid			database = DatumGetObjectId(main_arg);
	char	   *name;

	worker_signals();

	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	/* a setting, not just pg_stat_activity's: invocations restore it */
	SetConfigOption("application_name", worker_names[kind], PGC_USERSET, PGC_S_SESSION);

	if (!claim_slot(kind))
		proc_exit(0);

	StartTransactionCommand();
	name = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();
	return name;
}

void
worker_keep_heap(void)
{
	mallopt(M_MMAP_THRESHOLD, WORKER_HEAP_KEEP / 2);
	mallopt(M_TRIM_THRESHOLD, WORKER_HEAP_KEEP);
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

/* Logs once that the worker waits for the versions to agree, and why. */
static void
log_waiting(const char *installed)
{
	const char *database = get_database_name(MyDatabaseId);

	if (waiting_for != NULL && strcmp(waiting_for, installed) == 0)
		return;
	if (version_compare(installed, VERSION_LIBRARY) < 0)
		ereport(LOG,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s: the library is version %s but database \"%s\" has the extension at version %s; waiting for ALTER EXTENSION orders_stream UPDATE",
						worker_names[my_kind], VERSION_LIBRARY, database, installed),
				 errhint("Run ALTER EXTENSION orders_stream UPDATE in database \"%s\". Changes committed meanwhile are captured then: the capture slot keeps their WAL.",
						 database)));
	else
		ereport(LOG,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s: the library is version %s, older than the extension's version %s in database \"%s\"; waiting for the library of version %s",
						worker_names[my_kind], VERSION_LIBRARY, installed, database, installed),
				 errhint("Install the orders_stream package of version %s and restart the server, or ALTER EXTENSION orders_stream UPDATE TO '%s' if an update script leads there. Changes committed meanwhile are captured then: the capture slot keeps their WAL.",
						 installed, VERSION_LIBRARY)));
	if (waiting_for != NULL)
		pfree(waiting_for);
	waiting_for = MemoryContextStrdup(TopMemoryContext, installed);
}

Oid
worker_extension_oid(bool *version_ok)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			extension;
	char	   *installed;

	StartTransactionCommand();
	extension = get_extension_oid("orders_stream", true);
	installed = OidIsValid(extension) ? version_installed() : NULL;
	*version_ok = installed != NULL && strcmp(installed, VERSION_LIBRARY) == 0;
	if (installed != NULL && !*version_ok)
		log_waiting(installed);
	else if (*version_ok && waiting_for != NULL)
	{
		ereport(LOG,
				(errmsg("%s resumes: database \"%s\" has the extension at version %s, the library's",
						worker_names[my_kind], get_database_name(MyDatabaseId), installed)));
		pfree(waiting_for);
		waiting_for = NULL;
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return extension;
}
