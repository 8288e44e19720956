/*-------------------------------------------------------------------------
 * shared_library_init.c
 *	  Library entry point: the preload check, the GUCs, and each module's
 *	  shared memory, commit-time wake-ups and workers.
 *
 * Every module that keeps state in shared memory owns it, as PostgreSQL's
 * own do (ApplyLauncherShmemSize/ApplyLauncherShmemInit): its size and its
 * initialization are functions of the module, which the hooks here call in
 * turn.  Commit-time wake-ups are the modules' own transaction callbacks
 * (as AtEOXact_ApplyLauncher is the launcher's).  Workers are started by
 * their functions' names, so no module calls back into this file or into
 * workers.c's callers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "capture.h"
#include "capture_slot.h"
#include "delivery.h"
#include "metrics.h"
#include "orders_stream.h"
#include "workers.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
orders_stream_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(workers_shmem_size());
	RequestAddinShmemSpace(capture_slot_shmem_size());
	RequestAddinShmemSpace(delivery_pool_shmem_size());
	metrics_shmem_request();
}

static void
orders_stream_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	workers_shmem_init();
	capture_slot_shmem_init();
	delivery_pool_shmem_init();
	metrics_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders_stream must be loaded via shared_preload_libraries"),
				 errhint("Add orders_stream to shared_preload_libraries and to output_plugin_libraries in postgresql.conf, set wal_level = logical, and restart the server.")));

	orders_stream_define_settings();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = orders_stream_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = orders_stream_shmem_startup;

	capture_register_wakeups();
	delivery_pool_register_wakeups();

	/*
	 * pg_upgrade starts the new cluster in binary upgrade mode and restores
	 * each database with DROP DATABASE first: a worker connected to
	 * orders_stream.database would make that fail.  The workers start at
	 * the cluster's first normal start.
	 */
	if (!IsBinaryUpgrade)
		workers_register_launcher();
}
