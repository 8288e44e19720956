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
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "capture.h"
#include "compat.h"
#include "orders_stream.h"
#include "waits.h"
#include "workers.h"

/* Streams are captured in orders_stream.database only. */
void
os_check_capture_database(void)
{
	char	   *db = get_database_name(MyDatabaseId);

	if (strcmp(db, orders_stream_database) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders_stream captures database \"%s\", not \"%s\"",
						orders_stream_database, db),
				 errhint("Set orders_stream.database = '%s' in postgresql.conf and restart the server.",
						 db)));
}

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
	char	   *db = get_database_name(MyDatabaseId);

	if (strcmp(db, orders_stream_database) != 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders_stream captures database \"%s\", not \"%s\": streams cannot be enabled here",
						orders_stream_database, db),
				 errhint("Set orders_stream.database = '%s' in postgresql.conf and restart the server.",
						 db)));
		PG_RETURN_BOOL(false);
	}
	/* called by the functions that create and change mappings */
	worker_note_mappings_changed();
	PG_RETURN_BOOL(workers_launch());
}

/* Longest wait accepted: longer ones are surely mistakes. */
#define MAX_WAIT_MS		((int64) 7 * SECS_PER_DAY * 1000)

/* A wait's timeout in milliseconds, checked: ValidationException if absurd. */
static int64
timeout_ms(Interval *timeout)
{
	double		ms = (double) timeout->time / 1000.0 +
		((double) timeout->month * DAYS_PER_MONTH + timeout->day) * SECS_PER_DAY * 1000.0;

	if (ms < 0 || ms > MAX_WAIT_MS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ValidationException: timeout %s is outside 0 .. 7 days",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(timeout)))),
				 errhint("Pass an interval such as '30s'.")));
	return (int64) ms;
}

/*
 * Waits until the capture slot of this database exists.  Scripts call it
 * right after CREATE EXTENSION, whose commit lets the worker create it.
 */
Datum
orders_stream_wait_for_slot(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_GETARG_INTERVAL_P(0);
	char	   *slot = capture_slot_name();
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms(timeout));

	os_check_capture_database();
	for (;;)
	{
		if (SearchNamedReplicationSlot(slot, true) != NULL)
			break;
		(void) workers_launch();
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("capture slot \"%s\" does not exist after %s",
							slot, DatumGetCString(DirectFunctionCall1(interval_out,
																	  IntervalPGetDatum(timeout)))),
					 errdetail("The orders_stream capture worker creates it once CREATE EXTENSION has committed, after every transaction running then has ended."),
					 errhint("Call wait_for_slot() in a transaction of its own, end long-running transactions, and check the server log and pg_stat_activity for the orders_stream capture worker.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_TEXT_P(cstring_to_text(slot));
}

/* The capture slot's confirmed position, or InvalidXLogRecPtr. */
static XLogRecPtr
capture_confirmed(const char *slot_name)
{
	ReplicationSlot *slot;
	XLogRecPtr	confirmed = InvalidXLogRecPtr;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(slot_name, false);
	if (slot)
	{
		SpinLockAcquire(&slot->mutex);
		confirmed = slot->data.confirmed_flush;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return confirmed;
}

/* The capture slot's confirmed position (of this database's slot). */
XLogRecPtr
os_capture_confirmed(void)
{
	return capture_confirmed(capture_slot_name());
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
	char	   *slot = capture_slot_name();
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms(timeout));
	XLogRecPtr	target;

	os_check_capture_database();
	target = LogLogicalMessage("orders_stream", "", 0, false);
	XLogFlush(target);
	worker_wakeup(OS_WORKER_CAPTURE);
	for (;;)
	{
		XLogRecPtr	confirmed = capture_confirmed(slot);

		if (confirmed >= target)
			break;
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("capture did not reach %X/%X within %s",
							LSN_FORMAT_ARGS(target),
							DatumGetCString(DirectFunctionCall1(interval_out,
																IntervalPGetDatum(timeout)))),
					 errdetail(confirmed == InvalidXLogRecPtr ?
							   "Capture slot \"%s\" does not exist." :
							   "Capture slot \"%s\" has confirmed %X/%X.",
							   slot, LSN_FORMAT_ARGS(confirmed)),
					 errhint("Check pg_stat_activity and the server log for the orders_stream capture worker, and orders_stream.stream_status for the lag.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	PG_RETURN_LSN(target);
}
