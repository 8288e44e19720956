/*-------------------------------------------------------------------------
 * waits.c
 *	  Helpers for scripts and tests: wait_for_slot() after CREATE EXTENSION,
 *	  wait_for_capture() until every change committed before the call is in
 *	  the stream; and launch_workers().  Each waits on its latch, with a
 *	  timeout and a clear error when it expires.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "aws_error.h"
#include "capture_slot.h"
#include "compat.h"
#include "delivery.h"
#include "version.h"
#include "workers.h"

PG_FUNCTION_INFO_V1(orders_stream_launch_workers);
PG_FUNCTION_INFO_V1(orders_stream_wait_for_slot);
PG_FUNCTION_INFO_V1(orders_stream_wait_for_capture);

/*
 * Starts the workers of this database unless they run already.  Elsewhere
 * than in orders_stream.database it only warns: the extension may be
 * installed there, but nothing is captured.
 */
Datum
orders_stream_launch_workers(PG_FUNCTION_ARGS)
{
	if (!capture_slot_check_database(WARNING))
		PG_RETURN_BOOL(false);
	/* called by the functions that create and change mappings */
	delivery_pool_note_mappings_changed();
	PG_RETURN_BOOL(workers_launch());
}

/* Longest wait accepted: longer ones are surely mistakes. */
#define MAX_WAIT_MS		((int64) 7 * SECS_PER_DAY * 1000)

/* An interval as text, for messages. */
static char *
interval_text(Interval *interval)
{
	return DatumGetCString(DirectFunctionCall1(interval_out,
											   IntervalPGetDatum(interval)));
}

/* Sleeps until woken or ms have passed, before a wait looks again. */
static void
nap(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/* A wait's timeout in milliseconds, checked: ValidationException if absurd. */
static int64
timeout_ms(Interval *timeout)
{
	double		ms = (double) timeout->time / 1000.0 +
		((double) timeout->month * DAYS_PER_MONTH + timeout->day) * SECS_PER_DAY * 1000.0;

	if (ms < 0 || ms > MAX_WAIT_MS)
		aws_error(AWS_VALIDATION, "Pass an interval such as '30s'.",
				  "timeout %s is outside 0 .. 7 days", interval_text(timeout));
	return (int64) ms;
}

/*
 * What both waits begin with: the capture slot's name, and the deadline of
 * timeout; an error outside orders_stream.database.
 */
static char *
begin_wait(Interval *timeout, TimestampTz *deadline)
{
	char	   *slot = capture_slot_name();

	*deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											timeout_ms(timeout));
	(void) capture_slot_check_database(ERROR);
	return slot;
}

/*
 * Waits until the capture slot of this database exists.  Scripts call it
 * right after CREATE EXTENSION, whose commit lets the worker create it.
 */
Datum
orders_stream_wait_for_slot(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	TimestampTz deadline;
	char	   *slot = begin_wait(timeout, &deadline);

	for (;;)
	{
		if (SearchNamedReplicationSlot(slot, true) != NULL)
			break;
		(void) workers_launch();
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("capture slot \"%s\" does not exist after %s",
							slot, interval_text(timeout)),
					 errdetail("The orders_stream capture worker creates it once CREATE EXTENSION has committed, after every transaction running then has ended."),
					 errhint("Call wait_for_slot() in a transaction of its own, end long-running transactions, and check the server log and pg_stat_activity for the orders_stream capture worker.")));
		nap(10);
	}
	PG_RETURN_TEXT_P(cstring_to_text(slot));
}

/*
 * Waits until every change committed before the call is in the stream.  A
 * WAL message marks "now"; once the worker has confirmed its slot past it,
 * everything committed earlier is stored.
 */
Datum
orders_stream_wait_for_capture(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	TimestampTz deadline;
	char	   *slot = begin_wait(timeout, &deadline);
	XLogRecPtr	target;

	/* capture stores nothing until the versions agree: say so now */
	version_require_installed("wait_for_capture");
	target = LogLogicalMessage("orders_stream", "", 0, false);
	XLogFlush(target);
	worker_nudge(OS_WORKER_CAPTURE);
	for (;;)
	{
		XLogRecPtr	confirmed = capture_slot_confirmed(slot);

		if (confirmed >= target)
			break;
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("capture did not reach %X/%X within %s",
							LSN_FORMAT_ARGS(target), interval_text(timeout)),
					 errdetail(confirmed == InvalidXLogRecPtr ?
							   "Capture slot \"%s\" does not exist." :
							   "Capture slot \"%s\" has confirmed %X/%X.",
							   slot, LSN_FORMAT_ARGS(confirmed)),
					 errhint("Check pg_stat_activity and the server log for the orders_stream capture worker, and orders_stream.stream_status for the lag.")));
		nap(1);
	}
	PG_RETURN_LSN(target);
}
