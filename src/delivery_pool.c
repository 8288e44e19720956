/*-------------------------------------------------------------------------
 * delivery_pool.c
 *	  The delivery launcher and its pool of delivery workers, the way
 *	  logical replication's launcher starts and stops apply workers.
 *
 * The launcher (one per server, in orders_stream.database) keeps the list
 * of the lanes of the enabled mappings and hands each lane that may have
 * something to do to an idle worker of the pool, starting dynamic workers
 * up to orders_stream.max_delivery_workers.  A worker serves one lane at a
 * time: it runs the lane's steps (delivery_lane.c) while they do something,
 * then gives the lane back with the time it wants to run again (its retry,
 * its batching window) or "when records arrive", and waits for the next
 * lane.  So a slow, failing or hung function holds one worker, never the
 * others, and a lane waiting for a retry holds none.  When more lanes have
 * work than there are workers, a worker gives its lane back after
 * DELIVERY_LANE_QUANTUM_MS (or its one step, if longer), and lanes take
 * turns.
 *
 * The turns are fair between the mappings' owners, not between lanes: a
 * free worker goes to the runnable lane whose owner holds the fewest
 * workers, the one given back longest ago of those first.  Otherwise a role
 * with many lanes (ParallelizationFactor 10, several mappings) whose
 * function runs to its timeout would queue ahead of another role's lane
 * that many times, and delay it by as many invocations (issue #15: 174 s).
 * And an owner holding its share of the workers, ceil(workers / owners of
 * enabled mappings), gets more only while one stays free: an invocation is
 * never interrupted, so a role that took every worker while the others had
 * nothing to do would make the next of them wait for its slowest
 * invocation to end.  So while an owner holds more than its share a worker
 * is free, and another owner's lane starts at once; a role alone still
 * uses every worker.
 *
 * Shared memory has one slot per possible worker: the lane assigned to it,
 * what the worker reports when it gives the lane back, and the invocation
 * in flight (see DeliveryInflight).  A worker terminated during an
 * invocation leaves that record behind; the launcher restarts a worker in
 * the same slot with the same lane, and that worker fails the invocation
 * instead of running it again.  Capture bumps a counter whenever it stores
 * records (capture_slot_note_stored()), which makes the lanes waiting for
 * records runnable; a lane that found nothing reports the counter it saw
 * before it looked, so records stored meanwhile are never missed.
 *
 * Idle workers exit after DELIVERY_WORKER_IDLE_MS, giving their
 * max_worker_processes slot back (parallel query uses them too).  When the
 * launcher exits, it terminates its workers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/pmsignal.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "capture_slot.h"
#include "compat.h"
#include "delivery_internal.h"
#include "housekeeping.h"
#include "metrics.h"
#include "orders_stream.h"
#include "workers.h"

/* How long a worker serves one lane while other lanes wait for a worker. */
#define DELIVERY_LANE_QUANTUM_MS	200
/* An idle worker exits after this long. */
#define DELIVERY_WORKER_IDLE_MS		30000
/* A worker that exited without giving its lane back: its lane waits this long. */
#define DELIVERY_RESTART_DELAY_MS	1000
/* How often the launcher reads the lanes again without being told of a change. */
#define LAUNCHER_REFRESH_MS			1000
/* A lane waiting for records runs anyway this often. */
#define LANE_RECHECK_MS				5000

#define DELIVERY_WORKER_TYPE	"orders_stream delivery"

/*
 * DROP EXTENSION locks the extension's tables in its own order; a worker
 * reading them at that moment can deadlock with it.  The process that
 * detects a deadlock is the one aborted: workers look sooner than sessions
 * (default 1 s), so that the worker gives way, not the DROP.
 */
#define DELIVERY_DEADLOCK_TIMEOUT	"100ms"

/* What a worker says when it gives its lane back. */
typedef struct LaneRelease
{
	TimestampTz due;			/* run again from then (0 = no time) */
	bool		on_records;		/* run again when records arrive */
	bool		gone;			/* the lane (or its mapping) is gone or disabled */
	LaneState	state;
	uint64		seen_records;	/* the records counter before its last step */
} LaneRelease;

typedef struct DeliverySlot
{
	slock_t		mutex;			/* protects the fields up to inflight */
	pid_t		pid;			/* the worker attached, 0 = none */
	Latch	   *latch;
	bool		assigned;		/* set by the launcher, cleared by the worker */
	bool		idle_exit;		/* the worker is exiting for idleness */
	LaneKey		lane;
	LaneRelease release;
	DeliveryInflight inflight;
} DeliverySlot;

typedef struct DeliveryPool
{
	pg_atomic_uint32 changes;	/* bumped when mappings change */
	bool		lanes_waiting;	/* runnable lanes wait for a worker */
	bool		version_wait;	/* the launcher waits for the versions to agree */
	int			nslots;
	DeliverySlot slots[FLEXIBLE_ARRAY_MEMBER];
} DeliveryPool;

static DeliveryPool *pool = NULL;

/* In a worker: its slot. */
static DeliverySlot *my_slot = NULL;

/* ---- shared memory ---- */

Size
delivery_pool_shmem_size(void)
{
	return add_size(offsetof(DeliveryPool, slots),
					mul_size(orders_stream_max_delivery_workers, sizeof(DeliverySlot)));
}

void
delivery_pool_shmem_init(void)
{
	bool		found;
	int			i;

	pool = ShmemInitStruct("orders_stream delivery pool",
						   delivery_pool_shmem_size(), &found);
	if (found)
		return;
	memset(pool, 0, delivery_pool_shmem_size());
	pg_atomic_init_u32(&pool->changes, 0);
	pool->nslots = orders_stream_max_delivery_workers;
	for (i = 0; i < pool->nslots; i++)
		SpinLockInit(&pool->slots[i].mutex);
}

/* This transaction changed mappings: at its commit, the launcher is told. */
static bool mappings_changed = false;

void
delivery_pool_note_mappings_changed(void)
{
	mappings_changed = true;
}

static void
delivery_pool_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT && mappings_changed && pool != NULL)
	{
		pg_atomic_fetch_add_u32(&pool->changes, 1);
		worker_nudge(OS_WORKER_DELIVERY);
	}
	if (event != XACT_EVENT_PRE_COMMIT)
		mappings_changed = false;
}

void
delivery_pool_register_wakeups(void)
{
	RegisterXactCallback(delivery_pool_xact_callback, NULL);
}

DeliveryInflight *
delivery_pool_my_inflight(void)
{
	return my_slot ? &my_slot->inflight : NULL;
}

/* ---- the launcher ---- */

/* A lane as the launcher knows it. */
typedef struct LaneEntry
{
	LaneKey		key;
	Oid			owner;			/* the mapping's owner: turns are per owner */
	int			load;			/* its index in loads[], in dispatch() */
	int			slot;			/* the slot serving it, or -1 */
	bool		listed;			/* in the last refresh */
	TimestampTz due;			/* runnable from then, 0 = no time */
	bool		on_records;		/* runnable when records arrive */
	uint64		seen_records;
	uint64		queued;			/* when it became runnable, for turns */

	/*
	 * Its mapping changed (or an epoch drained) while a worker served it: the
	 * worker's step may have read the mapping from before, so the lane is
	 * runnable again as soon as it is given back, whatever the step said.
	 */
	bool		recheck;
	bool		throttled;		/* counted in Throttles since it last had a worker */
} LaneEntry;

static LaneEntry *entries = NULL;
static int	nentries = 0;
/* A slot of the pool, as the launcher knows it. */
typedef struct LauncherSlot
{
	BackgroundWorkerHandle *handle; /* of its worker, NULL = none started */
	bool		busy;			/* assigned a lane not seen given back yet */
	LaneKey		lane;			/* that lane */
	Oid			owner;			/* and its owner */
} LauncherSlot;

static LauncherSlot *launcher_slots = NULL;
static uint64 turn = 0;

/* In dispatch(): each owner of a lane or a busy worker, and its workers. */
typedef struct OwnerLoad
{
	Oid			owner;
	int			held;			/* busy workers serving its lanes */
} OwnerLoad;

static OwnerLoad *loads = NULL;
static int	nloads = 0;
static int	maxloads = 0;
/*
 * In dispatch(): ceil(workers / owners of enabled mappings); an owner
 * holding as many takes another worker only if one stays free.
 */
static int	share = 0;
/* In dispatch(): the slots that can take a lane. */
static int	nfree = 0;

static bool
same_lane(const LaneKey *a, const LaneKey *b)
{
	return a->epoch == b->epoch && a->lane == b->lane &&
		strcmp(a->mapping, b->mapping) == 0;
}

static LaneEntry *
find_entry(const LaneKey *key)
{
	int			i;

	for (i = 0; i < nentries; i++)
		if (same_lane(&entries[i].key, key))
			return &entries[i];
	return NULL;
}

/*
 * The entry of a lane listed by refresh_lanes(): what the launcher knew of
 * it, if anything, and its owner as of now.
 */
static void
lane_entry_from_row(LaneEntry *e, HeapTuple tup, TimestampTz now)
{
	LaneEntry  *old;
	bool		isnull;
	Datum		next;
	Datum		owner;

	memset(e, 0, sizeof(LaneEntry));
	strlcpy(e->key.mapping, spi_text(tup, 1), sizeof(e->key.mapping));
	e->key.epoch = DatumGetInt32(spi_datum(tup, 2, &isnull));
	e->key.lane = DatumGetInt32(spi_datum(tup, 3, &isnull));
	owner = spi_datum(tup, 5, &isnull);
	/* REASSIGN OWNED moves a mapping: read it every time */
	e->owner = isnull ? InvalidOid : DatumGetObjectId(owner);
	e->listed = true;
	old = find_entry(&e->key);
	if (old != NULL)
	{
		e->slot = old->slot;
		e->due = old->due;
		e->on_records = old->on_records;
		e->seen_records = old->seen_records;
		e->queued = old->queued;
		e->recheck = old->recheck;
		e->throttled = old->throttled;
		old->slot = -2;			/* carried over */
		return;
	}
	next = spi_datum(tup, 4, &isnull);
	e->slot = -1;
	e->due = isnull ? now : DatumGetTimestampTz(next);
	e->on_records = isnull;
	e->queued = turn++;
}

/*
 * Reads the lanes of the enabled mappings again.  Entries keep what the
 * launcher knows of them; a lane that is gone is forgotten once no worker
 * serves it.
 */
static void
refresh_lanes(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	LaneEntry  *fresh;
	int			nfresh = 0;
	uint64		i;
	int			j;
	TimestampTz now = GetCurrentTimestamp();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	pgstat_report_activity(STATE_RUNNING, "reading the lanes of event source mappings");
	if (SPI_execute("SELECT l.mapping_uuid::pg_catalog.text, l.epoch, l.lane, l.next_attempt_at, "
					"(SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) m.anchor) "
					"FROM orders_stream.event_source_mapping_lanes l "
					"JOIN orders_stream_internal.event_source_mappings m ON m.uuid OPERATOR(pg_catalog.=) l.mapping_uuid "
					"WHERE m.enabled AND l.state OPERATOR(pg_catalog.<>) 'DRAINED' "
					"ORDER BY m.created_at, m.uuid, l.epoch, l.lane", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list the lanes of event source mappings");

	fresh = MemoryContextAlloc(TopMemoryContext,
							   sizeof(LaneEntry) * (SPI_processed + nentries + 1));
	for (i = 0; i < SPI_processed; i++)
		lane_entry_from_row(&fresh[nfresh++], SPI_tuptable->vals[i], now);
	/* lanes no longer listed whose worker has not given them back yet */
	for (j = 0; j < nentries; j++)
		if (entries[j].slot >= 0)
		{
			fresh[nfresh] = entries[j];
			fresh[nfresh++].listed = false;
		}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(cxt);
	if (entries)
		pfree(entries);
	entries = fresh;
	nentries = nfresh;
}

/* Makes every lane of a mapping (NULL: of every mapping) runnable now. */
static void
kick_lanes(const char *mapping, TimestampTz now)
{
	int			i;

	for (i = 0; i < nentries; i++)
		if (mapping == NULL || strcmp(entries[i].key.mapping, mapping) == 0)
		{
			entries[i].due = now;
			entries[i].recheck = entries[i].slot >= 0;
		}
}

/* Takes in the lanes workers gave back.  Returns whether a lane drained. */
static bool
collect_releases(TimestampTz now)
{
	bool		drained = false;
	int			i;

	for (i = 0; i < pool->nslots; i++)
	{
		DeliverySlot *slot = &pool->slots[i];
		LaneRelease release;
		LaneEntry  *e;
		bool		assigned;

		if (!launcher_slots[i].busy)
			continue;
		SpinLockAcquire(&slot->mutex);
		assigned = slot->assigned;
		release = slot->release;
		SpinLockRelease(&slot->mutex);
		if (assigned)
			continue;
		launcher_slots[i].busy = false;
		e = find_entry(&launcher_slots[i].lane);
		if (e == NULL)
			continue;
		e->slot = -1;
		e->seen_records = release.seen_records;
		e->on_records = release.on_records;
		e->due = release.due != 0 ? release.due :
			TimestampTzPlusMilliseconds(now, LANE_RECHECK_MS);
		if (e->recheck)
			e->due = now;
		e->recheck = false;
		e->queued = turn++;
		if (release.gone)
			e->listed = false;
		else if (release.state == LANE_DRAINED)
		{
			/* the next epoch's lanes may start */
			kick_lanes(e->key.mapping, now);
			drained = true;
		}
	}
	return drained;
}

/*
 * A dynamic worker of this library in this database that runs function
 * with arg and tells this backend when it starts and exits, as a delivery
 * and a redrive worker are.  bgw_name is the caller's.
 */
void
delivery_pool_dynamic_worker(BackgroundWorker *worker, const char *function,
							 const char *type, Datum arg)
{
	memset(worker, 0, sizeof(BackgroundWorker));
	worker->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker->bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker->bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker->bgw_library_name, BGW_MAXLEN, "orders_stream");
	snprintf(worker->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(worker->bgw_type, BGW_MAXLEN, "%s", type);
	worker->bgw_main_arg = arg;
	memcpy(worker->bgw_extra, &MyDatabaseId, sizeof(Oid));
	worker->bgw_notify_pid = MyProcPid;
}

static bool
start_worker(int index)
{
	BackgroundWorker worker;

	delivery_pool_dynamic_worker(&worker, "orders_stream_delivery_worker_main",
								 DELIVERY_WORKER_TYPE, Int32GetDatum(index));
	snprintf(worker.bgw_name, BGW_MAXLEN, "orders_stream delivery worker %d", index);
	return RegisterDynamicBackgroundWorker(&worker, &launcher_slots[index].handle);
}

/* Takes back a lane that slot index's worker will not give back. */
static void
unassign(int index)
{
	SpinLockAcquire(&pool->slots[index].mutex);
	pool->slots[index].assigned = false;
	SpinLockRelease(&pool->slots[index].mutex);
	launcher_slots[index].busy = false;
}

/*
 * Frees the slots whose worker has exited.  One that was invoking a function
 * (terminated past its timeout) gets a new worker at once, for the same
 * lane, which fails that invocation.
 */
static void
reap_workers(TimestampTz now)
{
	int			i;

	for (i = 0; i < pool->nslots; i++)
	{
		DeliverySlot *slot = &pool->slots[i];
		pid_t		pid;
		LaneEntry  *e;

		if (launcher_slots[i].handle == NULL ||
			GetBackgroundWorkerPid(launcher_slots[i].handle, &pid) != BGWH_STOPPED)
			continue;
		pfree(launcher_slots[i].handle);
		launcher_slots[i].handle = NULL;
		SpinLockAcquire(&slot->mutex);
		slot->idle_exit = false;
		SpinLockRelease(&slot->mutex);
		if (!launcher_slots[i].busy)
			continue;
		if (slot->inflight.pid != 0 && start_worker(i))
			continue;
		/* it exited without giving its lane back: an error, or a signal */
		unassign(i);
		e = find_entry(&launcher_slots[i].lane);
		if (e != NULL)
		{
			e->slot = -1;
			e->due = TimestampTzPlusMilliseconds(now, DELIVERY_RESTART_DELAY_MS);
			e->on_records = false;
		}
	}
}

static bool
runnable(const LaneEntry *e, TimestampTz now, uint64 records)
{
	return e->slot == -1 && e->listed &&
		((e->due != 0 && e->due <= now) ||
		 (e->on_records && e->seen_records != records));
}

/* Gives the lane to slot index; false if the slot cannot take it. */
static bool
assign(int index, LaneEntry *e)
{
	DeliverySlot *slot = &pool->slots[index];
	bool		ok;
	Latch	   *latch;

	SpinLockAcquire(&slot->mutex);
	ok = !slot->assigned && !slot->idle_exit;
	if (ok)
	{
		slot->lane = e->key;
		slot->assigned = true;
		memset(&slot->release, 0, sizeof(LaneRelease));
	}
	latch = slot->latch;
	SpinLockRelease(&slot->mutex);
	if (!ok)
		return false;
	launcher_slots[index].busy = true;
	launcher_slots[index].lane = e->key;
	launcher_slots[index].owner = e->owner;
	e->slot = index;
	e->throttled = false;
	if (latch != NULL)
		SetLatch(latch);
	return true;
}

/* The index of an owner in loads[], added with no workers if new. */
static int
owner_load(Oid owner)
{
	int			i;

	for (i = 0; i < nloads; i++)
		if (loads[i].owner == owner)
			return i;
	Assert(nloads < maxloads);
	loads[nloads].owner = owner;
	loads[nloads].held = 0;
	return nloads++;
}

/*
 * Counts the workers each owner holds now, the free ones, and the share of
 * each owner of an enabled mapping: ceil(workers / owners).
 */
static void
count_loads(void)
{
	int			owners;
	int			i;

	if (maxloads < nentries + pool->nslots)
	{
		maxloads = nentries + pool->nslots;
		loads = loads ? repalloc(loads, sizeof(OwnerLoad) * maxloads) :
			MemoryContextAlloc(TopMemoryContext, sizeof(OwnerLoad) * maxloads);
	}
	nloads = 0;
	for (i = 0; i < nentries; i++)
		if (entries[i].listed)
			entries[i].load = owner_load(entries[i].owner);
	owners = nloads;
	for (i = 0; i < nentries; i++)
		if (!entries[i].listed)
			entries[i].load = owner_load(entries[i].owner);
	nfree = 0;
	for (i = 0; i < pool->nslots; i++)
		if (launcher_slots[i].busy)
			loads[owner_load(launcher_slots[i].owner)].held++;
		else if (launcher_slots[i].handle != NULL || pool->slots[i].pid == 0)
			nfree++;			/* not a worker still exiting */
	share = owners > 0 ? (pool->nslots + owners - 1) / owners : pool->nslots;
}

/*
 * Whether lane e's owner may take a free worker: up to its share, and
 * beyond it only while another stays free, so that another owner's lane
 * finds one at once instead of waiting for an invocation to end.
 */
static bool
may_take(const LaneEntry *e)
{
	return loads[e->load].held < share || nfree > 1;
}

/* Whether runnable lane a gets a worker before b: fewest held, then oldest. */
static bool
goes_first(const LaneEntry *a, const LaneEntry *b)
{
	if (loads[a->load].held != loads[b->load].held)
		return loads[a->load].held < loads[b->load].held;
	return a->queued < b->queued;
}

/*
 * The runnable lane that gets the next free worker (see goes_first() and
 * may_take()), or NULL; *any says whether a lane is runnable at all.
 */
static LaneEntry *
next_lane(TimestampTz now, uint64 records, bool *any)
{
	LaneEntry  *e = NULL;
	int			i;

	*any = false;
	for (i = 0; i < nentries; i++)
		if (runnable(&entries[i], now, records))
		{
			*any = true;
			if (may_take(&entries[i]) && (e == NULL || goes_first(&entries[i], e)))
				e = &entries[i];
		}
	return e;
}

/*
 * Gives the lane to an idle worker, or else to a new worker in a free
 * slot.  False if no worker can take it.
 */
static bool
place_lane(LaneEntry *e)
{
	int			i;

	for (i = 0; i < pool->nslots; i++)
		if (launcher_slots[i].handle != NULL && !launcher_slots[i].busy &&
			assign(i, e))
			return true;
	for (i = 0; i < pool->nslots; i++)
		if (launcher_slots[i].handle == NULL && pool->slots[i].pid == 0)
		{
			pool->slots[i].inflight.pid = 0;
			if (!assign(i, e))
				continue;
			if (start_worker(i))
				return true;
			/* max_worker_processes reached: it waits */
			unassign(i);
			e->slot = -1;
			return false;
		}
	return false;
}

/*
 * Hands the runnable lanes to idle workers, starting workers while there
 * are free slots: each free worker to the lane whose owner holds the fewest
 * workers, the longest waiting first among those, and to no owner beyond
 * its share that would take the last free one (see the top of the file).
 * Returns when the next lane becomes runnable by time.
 */
static TimestampTz
dispatch(TimestampTz now)
{
	uint64		records = capture_slot_stored_count();
	bool		any;
	TimestampTz next = TimestampTzPlusMilliseconds(now, LANE_RECHECK_MS);
	int			j;

	count_loads();
	for (;;)
	{
		LaneEntry  *e = next_lane(now, records, &any);

		if (e == NULL || !place_lane(e))
			break;
		loads[e->load].held++;
		nfree--;
	}
	/* a runnable lane left over waits for a worker: Lambda's Throttles */
	pool->lanes_waiting = any;

	for (j = 0; j < nentries; j++)
	{
		if (any && !entries[j].throttled && runnable(&entries[j], now, records))
		{
			metrics_mapping_count(entries[j].key.mapping, METRICS_THROTTLES, 1);
			entries[j].throttled = true;
		}
		if (entries[j].slot == -1 && entries[j].due > now && entries[j].due < next)
			next = entries[j].due;
	}
	return next;
}

static void
stop_workers(int code, Datum arg)
{
	int			i;

	for (i = 0; i < pool->nslots; i++)
		if (launcher_slots[i].handle != NULL)
			TerminateBackgroundWorker(launcher_slots[i].handle);
}

/*
 * Just launched by CREATE EXTENSION, the launcher may run before the
 * extension has committed: waits for it for a while, and stops if it does
 * not come.  Installed at another version than the library's, it waits,
 * with its workers, until an ALTER EXTENSION makes them agree.
 */
static void
await_extension(TimestampTz started)
{
	for (;;)
	{
		bool		version_ok;

		CHECK_FOR_INTERRUPTS();
		if (OidIsValid(worker_extension_oid(&version_ok)))
		{
			pool->version_wait = !version_ok;
			if (version_ok)
				return;
			worker_wait(WORKER_VERSION_WAIT_MS);
			continue;
		}
		if (TimestampDifferenceExceeds(started, GetCurrentTimestamp(), WORKER_EXTENSION_WAIT_MS))
		{
			ereport(LOG,
					(errmsg("orders_stream delivery launcher stopping: extension \"orders_stream\" is not installed")));
			proc_exit(0);
		}
		worker_wait(100);
	}
}

/*
 * pg_upgrade gives functions new OIDs: binds the mappings to theirs again
 * by name (rebind_functions(), 73_pg_upgrade.sql) before any lane runs.
 */
static void
rebind_functions(void *arg)
{
	if (SPI_execute("SELECT orders_stream_internal.rebind_functions()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not bind the event source mappings to their functions");
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("orders_stream delivery bound %llu event source mapping(s) to their functions again, by name: their functions' OIDs had changed (pg_upgrade)",
						(unsigned long long) SPI_processed)));
}

/* refresh_lanes(); false after an error (DROP EXTENSION, most likely). */
static bool
refresh_lanes_guarded(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		refresh_lanes();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

void
orders_stream_delivery_launcher_main(Datum arg)
{
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz next_refresh = 0;
	uint32		changes = 0;
	bool		extension_ok = false;

	(void) worker_start(OS_WORKER_DELIVERY, arg);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("deadlock_timeout", DELIVERY_DEADLOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION);
	launcher_slots = MemoryContextAllocZero(TopMemoryContext,
											sizeof(LauncherSlot) * pool->nslots);
	before_shmem_exit(stop_workers, (Datum) 0);

	for (;;)
	{
		TimestampTz now;
		TimestampTz wake;
		uint32		current;

		CHECK_FOR_INTERRUPTS();
		if (!extension_ok)
		{
			await_extension(started);
			housekeeping_run(rebind_functions, NULL, "bind the event source mappings to their functions",
							 "Delivery goes on; a mapping whose function cannot be found fails with ResourceNotFoundException until UpdateEventSourceMapping names it.");
			extension_ok = true;
			next_refresh = 0;
		}
		now = GetCurrentTimestamp();
		current = pg_atomic_read_u32(&pool->changes);
		if (current != changes || now >= next_refresh)
		{
			bool		version_ok;

			/* an ALTER EXTENSION ... UPDATE, noticed within a refresh */
			if (!OidIsValid(worker_extension_oid(&version_ok)) || !version_ok)
			{
				extension_ok = false;
				continue;
			}
			/* after an error, the extension is checked again next time */
			extension_ok = refresh_lanes_guarded();
			/* a mapping changed: each of its lanes may have work now */
			if (current != changes)
				kick_lanes(NULL, now);
			changes = current;
			next_refresh = TimestampTzPlusMilliseconds(now, LAUNCHER_REFRESH_MS);
		}

		reap_workers(now);
		if (collect_releases(now))
			next_refresh = now;
		wake = Min(dispatch(now), next_refresh);
		worker_wait(Max(ms_between(GetCurrentTimestamp(), wake), 1));
	}
}

/* ---- a worker ---- */

static void
detach_slot(int code, Datum arg)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = 0;
	my_slot->latch = NULL;
	SpinLockRelease(&my_slot->mutex);
}

/*
 * The invocation the slot's previous worker was running when it exited
 * (terminated past the function's timeout, or otherwise), or NULL.
 */
static KilledInvocation *
take_killed_invocation(void)
{
	DeliveryInflight *inflight = &my_slot->inflight;
	KilledInvocation *killed;

	if (inflight->pid == 0 || inflight->pid == MyProcPid)
		return NULL;
	killed = MemoryContextAllocZero(TopMemoryContext, sizeof(KilledInvocation));
	killed->lane = inflight->lane;
	killed->checkpoint = MemoryContextStrdup(TopMemoryContext, inflight->checkpoint);
	killed->batch_end = MemoryContextStrdup(TopMemoryContext, inflight->batch_end);
	killed->timed_out = inflight->timed_out;
	killed->timeout_ms = inflight->timeout_ms;
	inflight->pid = 0;
	ereport(LOG,
			(errmsg("orders_stream delivery: the previous worker was terminated while invoking the function of event source mapping %s (lane %d)%s; the invocation counts as failed",
					killed->lane.mapping, killed->lane.lane,
					killed->timed_out ? " past orders_stream.function_timeout" : "")));
	return killed;
}

/*
 * Whether records arriving may give a lane work: while it waits for its
 * batching window to fill or its tumbling window to end (a record of a
 * later window ends it), or for records; not while it backs off or stalls.
 */
static bool
wakes_on_records(const LaneStep *step)
{
	if (step->wait != LANE_NOT_WAITING)
		return true;
	return step->state != LANE_BACKOFF && step->state != LANE_STALLED;
}

/*
 * Runs the lane's steps while they do something (for one quantum, when
 * other lanes wait for a worker), then gives the lane back.
 */
static void
serve_lane(const LaneKey *key, const KilledInvocation *killed,
		   MemoryContext step_cxt)
{
	TimestampTz started = GetCurrentTimestamp();
	LaneStep	step;
	uint64		seen;
	char		name[NAMEDATALEN];

	/* pg_stat_activity names the lane served */
	snprintf(name, sizeof(name), "orders_stream %s lane %d", key->mapping, key->lane);
	SetConfigOption("application_name", name, PGC_USERSET, PGC_S_SESSION);

	for (;;)
	{
		seen = capture_slot_stored_count();
		MemoryContextReset(step_cxt);
		MemoryContextSwitchTo(step_cxt);
		delivery_lane_step(key, killed, &step);
		killed = NULL;
		if (!step.worked)
			break;
		/* the launcher waits for ALTER EXTENSION: so do the lanes */
		if (pool->version_wait)
		{
			step.due = GetCurrentTimestamp();
			break;
		}
		if (pool->lanes_waiting &&
			TimestampDifferenceExceeds(started, GetCurrentTimestamp(), DELIVERY_LANE_QUANTUM_MS))
		{
			step.due = GetCurrentTimestamp();
			break;
		}
		/* not through the latch: an orphan must not go on delivering */
		if (!PostmasterIsAlive())
			proc_exit(1);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}

	SpinLockAcquire(&my_slot->mutex);
	my_slot->release.due = step.due;
	my_slot->release.on_records = wakes_on_records(&step);
	my_slot->release.gone = step.gone;
	my_slot->release.state = step.state;
	my_slot->release.seen_records = seen;
	my_slot->assigned = false;
	SpinLockRelease(&my_slot->mutex);
	worker_nudge(OS_WORKER_DELIVERY);
	SetConfigOption("application_name", DELIVERY_WORKER_TYPE, PGC_USERSET, PGC_S_SESSION);
}

/*
 * A worker's session: connected to the launcher's database, with its own
 * settings, which invocations restore.
 */
static void
worker_session(void)
{
	Oid			database;

	memcpy(&database, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	worker_signals();
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	/* settings, not just pg_stat_activity's: invocations restore them */
	SetConfigOption("application_name", DELIVERY_WORKER_TYPE, PGC_USERSET, PGC_S_SESSION);
	/* this session is a superuser's: its own queries trust pg_catalog only */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("deadlock_timeout", DELIVERY_DEADLOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION);

	/*
	 * A batch's effects and the lane's checkpoint past it are one commit: a
	 * crash before its WAL is flushed loses both, and the batch is delivered
	 * again, so exactly-once does not need the flush.  Without it a worker
	 * does not wait on the disk once per batch.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_OVERRIDE);
	worker_keep_heap();
	delivery_invoke_in_worker();
}

/*
 * Whether the worker, idle since idle_since, exits now: it has been idle
 * for DELIVERY_WORKER_IDLE_MS and the launcher has not just given it a lane.
 * Otherwise it waits for a lane (or its idle time to run out).
 */
static bool
idle_exit(TimestampTz idle_since)
{
	long		idle_ms = ms_between(idle_since, GetCurrentTimestamp());
	bool		exiting;

	if (idle_ms < DELIVERY_WORKER_IDLE_MS)
	{
		worker_wait(DELIVERY_WORKER_IDLE_MS - idle_ms);
		return false;
	}
	SpinLockAcquire(&my_slot->mutex);
	exiting = !my_slot->assigned;
	if (exiting)
		my_slot->idle_exit = true;
	SpinLockRelease(&my_slot->mutex);
	return exiting;
}

void
orders_stream_delivery_worker_main(Datum arg)
{
	TimestampTz idle_since;
	MemoryContext step_cxt;
	KilledInvocation *killed;

	worker_session();
	my_slot = &pool->slots[DatumGetInt32(arg)];
	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = MyProcPid;
	my_slot->latch = MyLatch;
	SpinLockRelease(&my_slot->mutex);
	before_shmem_exit(detach_slot, (Datum) 0);
	killed = take_killed_invocation();

	/* everything of a step, reset at the start of the next */
	step_cxt = AllocSetContextCreate(TopMemoryContext, "orders_stream delivery step",
									 ALLOCSET_DEFAULT_SIZES);
	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		bool		assigned;
		LaneKey		key;

		CHECK_FOR_INTERRUPTS();
		SpinLockAcquire(&my_slot->mutex);
		assigned = my_slot->assigned;
		key = my_slot->lane;
		SpinLockRelease(&my_slot->mutex);
		if (assigned)
		{
			serve_lane(&key,
					   killed != NULL && same_lane(&killed->lane, &key) ? killed : NULL,
					   step_cxt);
			killed = NULL;
			MemoryContextSwitchTo(TopMemoryContext);
			idle_since = GetCurrentTimestamp();
			continue;
		}
		if (!worker_running(OS_WORKER_DELIVERY) || idle_exit(idle_since))
			proc_exit(0);
	}
}

/* ---- status ---- */

PG_FUNCTION_INFO_V1(orders_stream_delivery_workers);

/* The delivery workers and the lanes they serve now. */
Datum
orders_stream_delivery_workers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	for (i = 0; pool != NULL && i < pool->nslots; i++)
	{
		DeliverySlot *slot = &pool->slots[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		pid_t		pid;
		bool		assigned;
		LaneKey		key;

		SpinLockAcquire(&slot->mutex);
		pid = slot->pid;
		assigned = slot->assigned;
		key = slot->lane;
		SpinLockRelease(&slot->mutex);
		if (pid == 0)
			continue;
		values[0] = Int32GetDatum(pid);
		if (assigned)
		{
			values[1] = DirectFunctionCall1(uuid_in, CStringGetDatum(key.mapping));
			values[2] = Int32GetDatum(key.epoch);
			values[3] = Int32GetDatum(key.lane);
		}
		else
			nulls[1] = nulls[2] = nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
