/*-------------------------------------------------------------------------
 * delivery_pool.c
 *	  The delivery worker: mappings take turns, one batch each per round; a
 *	  mapping waiting for a retry or for its batching window does not hold
 *	  up the others.  An invocation a previous worker did not survive is
 *	  failed first.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/pmsignal.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "delivery_internal.h"
#include "filter.h"
#include "orders_stream.h"
#include "workers.h"

/*
 * The invocation a previous worker was running when it exited (terminated
 * past the function's timeout, or otherwise), taken from shared memory, or
 * NULL.
 */
static KilledInvocation *
take_killed_invocation(void)
{
	DeliveryInflight *inflight = worker_inflight();
	KilledInvocation *killed;

	if (inflight->pid == 0 || inflight->pid == MyProcPid ||
		inflight->database != MyDatabaseId)
		return NULL;
	killed = palloc0(sizeof(KilledInvocation));
	killed->mapping = pstrdup(inflight->mapping);
	killed->checkpoint = pstrdup(inflight->checkpoint);
	killed->batch_end = pstrdup(inflight->batch_end);
	killed->timed_out = inflight->timed_out;
	killed->timeout_ms = inflight->timeout_ms;
	inflight->pid = 0;
	ereport(LOG,
			(errmsg("orders_stream delivery: the previous worker was terminated while invoking the function of event source mapping %s%s; the invocation counts as failed",
					killed->mapping,
					killed->timed_out ? " past orders_stream.function_timeout" : "")));
	return killed;
}

void
orders_stream_delivery_main(Datum arg)
{
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext round_cxt;
	KilledInvocation *killed;

	(void) worker_start(OS_WORKER_DELIVERY, arg);
	delivery_invoke_in_worker();
	/* this session is a superuser's: its own queries trust pg_catalog only */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
	killed = take_killed_invocation();
	/* everything of a round, reset at the start of the next */
	round_cxt = AllocSetContextCreate(TopMemoryContext, "orders_stream delivery round",
									  ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(round_cxt);

	for (;;)
	{
		List	   *uuids;
		ListCell   *lc;
		bool		worked = false;
		TimestampTz wake;

		MemoryContextReset(round_cxt);
		wake = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 1000);
		CHECK_FOR_INTERRUPTS();

		/*
		 * With work to do, the worker does not wait on its latch (which exits
		 * on postmaster death): an orphaned worker would go on delivering and
		 * hold up the restart after a crash until its backlog is gone.
		 */
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (!OidIsValid(worker_extension_oid()))
		{
			/* just launched by CREATE EXTENSION: it may not have committed yet */
			if (TimestampDifferenceExceeds(started, GetCurrentTimestamp(), EXTENSION_WAIT_MS))
			{
				ereport(LOG,
						(errmsg("orders_stream delivery stopping: extension \"orders_stream\" is not installed")));
				proc_exit(0);
			}
			worker_wait(100);
			continue;
		}

		if (killed != NULL)
		{
			TimestampTz due = 0;

			(void) deliver_one_guarded(killed->mapping, killed, &due);
			killed = NULL;
		}

		uuids = enabled_mappings(round_cxt);
		foreach(lc, uuids)
		{
			TimestampTz due = 0;

			if (deliver_one_guarded(lfirst(lc), NULL, &due))
				worked = true;
			else if (due != 0 && due < wake)
				wake = due;
			CHECK_FOR_INTERRUPTS();
		}

		if (!worked)
		{
			long		ms = ms_between(GetCurrentTimestamp(), wake);

			worker_wait(Max(ms, 1));
		}
		else if (ConfigReloadPending)
			worker_wait(0);
	}
}
