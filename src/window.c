/*-------------------------------------------------------------------------
 * window.c
 *	  Tumbling windows (TumblingWindowInSeconds), as AWS Lambda runs them for
 *	  DynamoDB streams, with the state kept exactly once.
 *
 * Windows are aligned on the epoch (a window of W seconds starts at a
 * multiple of W) and a record belongs to the window of its
 * dynamodb.ApproximateCreationDateTime.  Records are delivered in
 * SequenceNumber order, and commit times are not quite in that order (a
 * commit takes its timestamp before its WAL record), so a record whose
 * window has already ended counts in the current one: windows never go
 * back, and a record's window is the latest window of the records up to it.
 *
 * A batch holds records of one window only.  Each invocation gets the
 * window's state and returns the new one ({"state": {...}}); when the
 * window ends, a final invocation (no records, isFinalInvokeForWindow)
 * gets the accumulated state, which is then dropped.  A window ends when a
 * record of a later window is next, or, on an idle stream, once capture has
 * stored every change committed up to the window's end (a WAL message
 * written after the end plus WINDOW_CLOSE_GRACE_MS marks that point, as
 * wait_for_capture() does).
 *
 * A state over WINDOW_STATE_LIMIT_BYTES fails its invocation (whose effects
 * roll back); if the window's state held anything, the window is then
 * terminated early: its final invocation (isWindowTerminatedEarly) gets
 * the state as it was, and the window goes on with a fresh state, so that
 * every record still counts once.
 *
 * Unlike Lambda, whose state is at least once, the state is saved with the
 * checkpoint, in the transaction of the function's effects.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "replication/message.h"
#include "storage/latch.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/wait_event.h"

#include "capture_slot.h"
#include "window.h"
#include "workers.h"

/*
 * An idle window ends this long after its end: for commits that took their
 * timestamp before the end and had not yet written their commit record.
 */
#define WINDOW_CLOSE_GRACE_MS	1000
/* How long a step waits for capture to pass its end-of-window mark. */
#define WINDOW_FENCE_WAIT_MS	100

static Jsonb *
empty_object(void)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
}

static TimestampTz
epoch_to_timestamptz(int64 secs)
{
	return time_t_to_timestamptz((pg_time_t) secs);
}

/* A record's dynamodb.ApproximateCreationDateTime, in whole seconds. */
static int64
record_time(const char *record)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(record)));
	JsonbValue *ddb = NULL;
	JsonbValue *t = NULL;

	if (JB_ROOT_IS_OBJECT(jb))
		ddb = getKeyJsonValueFromContainer(&jb->root, "dynamodb", strlen("dynamodb"), NULL);
	if (ddb != NULL && ddb->type == jbvBinary)
		t = getKeyJsonValueFromContainer(ddb->val.binary.data, "ApproximateCreationDateTime",
										 strlen("ApproximateCreationDateTime"), NULL);
	if (t == NULL || t->type != jbvNumeric)
		elog(ERROR, "stream record without a numeric dynamodb.ApproximateCreationDateTime");
	return DatumGetInt64(DirectFunctionCall1(numeric_int8,
											 DirectFunctionCall1(numeric_floor,
																 NumericGetDatum(t->val.numeric))));
}

/* The window (its start) a record time falls in, never before earliest. */
static int64
window_of(const WindowState *w, int64 time, int64 earliest)
{
	int64		start = time - time % w->seconds;

	return Max(start, earliest);
}

/*
 * Whether capture has stored every change committed until now: a WAL
 * message marks now, and capture confirms its slot past it only once the
 * changes before it are stored (see wait_for_capture()).
 */
static bool
capture_caught_up(void)
{
	XLogRecPtr	mark = LogLogicalMessage("orders_stream", "", 0, false);
	char	   *slot = capture_slot_name();
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   WINDOW_FENCE_WAIT_MS);

	XLogFlush(mark);
	worker_nudge(OS_WORKER_CAPTURE);
	for (;;)
	{
		if (capture_slot_confirmed(slot) >= mark)
			return true;
		if (GetCurrentTimestamp() >= deadline)
			return false;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 5, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Loads a saved window: tumbling_window_in_seconds, window_start (NULL
 * before the first window), window_state (NULL while no window is open),
 * window_terminated_early.
 */
void
window_load(WindowState *w, int seconds, bool start_isnull, TimestampTz start,
			Jsonb *state, bool terminate_early)
{
	w->seconds = seconds;
	w->started = !start_isnull;
	w->start = start_isnull ? 0 : (int64) timestamptz_to_time_t(start);
	/* a state left by windows since turned off is not shown to anyone */
	w->state = seconds > 0 ? state : NULL;
	w->terminate_early = terminate_early && w->state != NULL;
}

/*
 * What to do with the n records (JSON texts) after the checkpoint, read
 * with the batch size and limits; killed: the step fails the invocation a
 * terminated worker was running; rechecked: records were fetched anew after
 * capture_caught_up().
 *
 * WINDOW_BATCH: *n is cut to the records of one window, which is opened
 * in *w (with state {}) if none is; go on with them as with any batch (none
 * if *n is 0).  WINDOW_FINAL: the open window ends, invoke its final
 * invocation.  WINDOW_RECHECK: it ends unless records came in meanwhile:
 * fetch them with a new snapshot and plan again with rechecked.
 * WINDOW_WAIT: nothing to do before *due.
 */
WindowAction
window_plan(WindowState *w, char **records, int *n, bool killed,
			bool rechecked, TimestampTz now, TimestampTz *due)
{
	int64		earliest;
	int64		start;
	int			i;

	if (w->state != NULL && w->terminate_early)
		return WINDOW_FINAL;
	if (*n == 0)
	{
		TimestampTz ends;

		if (w->state == NULL)
			return WINDOW_BATCH;
		/* the final invocation was running when its worker was terminated */
		if (killed)
			return WINDOW_FINAL;
		ends = TimestampTzPlusMilliseconds(epoch_to_timestamptz(w->start + w->seconds),
										   WINDOW_CLOSE_GRACE_MS);
		if (now < ends)
		{
			*due = ends;
			return WINDOW_WAIT;
		}
		if (rechecked)
			return WINDOW_FINAL;
		if (!capture_caught_up())
		{
			*due = TimestampTzPlusMilliseconds(now, WINDOW_FENCE_WAIT_MS);
			return WINDOW_WAIT;
		}
		return WINDOW_RECHECK;
	}

	if (!w->started)
		earliest = 0;
	else if (w->state != NULL)
		earliest = w->start;
	else
		earliest = w->start + w->seconds;
	start = window_of(w, record_time(records[0]), earliest);
	if (w->state != NULL && start > w->start)
		return WINDOW_FINAL;	/* ended by a record of a later window */
	if (w->state == NULL)
	{
		w->started = true;
		w->start = start;
		w->state = empty_object();
	}
	for (i = 1; i < *n; i++)
		if (window_of(w, record_time(records[i]), start) > start)
			break;
	*n = i;
	return WINDOW_BATCH;
}

/* The window members of the next invocation: final or not. */
WindowInvocation *
window_invocation(const WindowState *w, bool final, const char *shard_id,
				  const char *event_source_arn)
{
	WindowInvocation *wi = palloc0(sizeof(WindowInvocation));

	wi->cxt = CurrentMemoryContext;
	wi->start = w->start;
	wi->end = w->start + w->seconds;
	wi->state = w->state ? w->state : empty_object();
	wi->final = final;
	wi->early = final && w->terminate_early;
	wi->shard_id = shard_id;
	wi->event_source_arn = event_source_arn;
	return wi;
}

/* Appends an epoch time as JSON text, as AWS writes it: "2020-07-30T17:00:00Z". */
static void
append_time(StringInfo buf, int64 secs)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(epoch_to_timestamptz(secs), NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("tumbling window start out of range")));
	appendStringInfo(buf, "\"%04d-%02d-%02dT%02d:%02d:%02dZ\"",
					 tm.tm_year, tm.tm_mon, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Appends the members of a DynamodbTimeWindowEvent besides Records:
 * window, state, shardId, eventSourceARN, isFinalInvokeForWindow,
 * isWindowTerminatedEarly.
 */
void
window_append_event(StringInfo buf, const WindowInvocation *wi)
{
	appendStringInfoString(buf, ",\"window\":{\"start\":");
	append_time(buf, wi->start);
	appendStringInfoString(buf, ",\"end\":");
	append_time(buf, wi->end);
	appendStringInfoString(buf, "},\"state\":");
	(void) JsonbToCString(buf, &wi->state->root, VARSIZE(wi->state));
	appendStringInfoString(buf, ",\"shardId\":");
	escape_json(buf, wi->shard_id);
	appendStringInfoString(buf, ",\"eventSourceARN\":");
	escape_json(buf, wi->event_source_arn);
	appendStringInfo(buf, ",\"isFinalInvokeForWindow\":%s,\"isWindowTerminatedEarly\":%s",
					 wi->final ? "true" : "false", wi->early ? "true" : "false");
}

/*
 * A DeliveryResponseCheck: the function's response must be a
 * TimeWindowEventResponse, {"state": {...}} (and perhaps batchItemFailures);
 * Lambda counts a response without state as a failed invocation.  Runs in
 * the invocation's subtransaction, so that an error rolls its effects
 * back.  Keeps the state in wi->cxt.
 */
void
window_check_response(Oid function, Datum result, bool isnull, void *arg)
{
	WindowInvocation *wi = (WindowInvocation *) arg;
	Oid			rettype = getBaseType(get_func_rettype(function));
	Jsonb	   *jb = NULL;
	JsonbValue *state = NULL;
	MemoryContext old;

	if (!isnull && rettype == JSONBOID)
		jb = DatumGetJsonbP(result);
	else if (!isnull && (rettype == JSONOID || rettype == TEXTOID))
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(TextDatumGetCString(result))));
	if (jb != NULL && JB_ROOT_IS_OBJECT(jb))
		state = getKeyJsonValueFromContainer(&jb->root, "state", strlen("state"), NULL);
	if (state == NULL || state->type != jbvBinary ||
		!JsonContainerIsObject(state->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("function %s returned no \"state\" object for its tumbling window",
						format_procedure(function)),
				 errdetail("With tumbling_window_in_seconds, every invocation returns a TimeWindowEventResponse, {\"state\": {...}}; Lambda counts a response without state as a failed invocation."),
				 errhint("Return jsonb_build_object('state', <the new state>) from the function (a jsonb, json or text result).")));

	/* the final invocation's state is dropped: its size does not matter */
	if (!wi->final)
	{
		StringInfoData text;

		initStringInfo(&text);
		(void) JsonbToCString(&text, state->val.binary.data, state->val.binary.len);
		if (text.len > WINDOW_STATE_LIMIT_BYTES)
		{
			wi->overflowed = true;
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("state returned by function %s for its tumbling window is %d bytes, over the limit of %d bytes",
							format_procedure(function), text.len, WINDOW_STATE_LIMIT_BYTES),
					 errdetail("As in Lambda, a window whose state reaches the limit is terminated early (isWindowTerminatedEarly) and goes on with a fresh state; a batch whose state alone is over the limit fails."),
					 errhint("Keep the state small (totals, counts): write details to tables.")));
		}
		pfree(text.data);
	}
	old = MemoryContextSwitchTo(wi->cxt);
	wi->new_state = JsonbValueToJsonb(state);
	MemoryContextSwitchTo(old);
}

/* After a successful invocation of a batch (or part of one). */
void
window_invoked(WindowState *w, const WindowInvocation *wi)
{
	Assert(wi->new_state != NULL);
	w->state = wi->new_state;
}

/*
 * After a successful final invocation: the window is closed, or, ended
 * early, goes on with a fresh state.
 */
void
window_final_done(WindowState *w, const WindowInvocation *wi)
{
	w->state = wi->early ? empty_object() : NULL;
	w->terminate_early = false;
}

/*
 * After a failed invocation of a batch: true if its state went over the
 * limit and the window, holding a state already, is to end early; false if
 * the failure counts as any other (a fresh state over the limit).
 */
bool
window_overflowed(WindowState *w, const WindowInvocation *wi)
{
	if (!wi->overflowed || w->state == NULL || JB_ROOT_COUNT(w->state) == 0)
		return false;
	w->terminate_early = true;
	return true;
}

/*
 * The window as SQL parameters (values[0..2], nulls ' '/'n'): window_start
 * timestamptz, window_state jsonb, window_terminated_early boolean.
 */
void
window_columns(const WindowState *w, Datum *values, char *nulls)
{
	nulls[0] = w->started ? ' ' : 'n';
	values[0] = TimestampTzGetDatum(epoch_to_timestamptz(w->start));
	nulls[1] = w->state != NULL ? ' ' : 'n';
	values[1] = w->state != NULL ? JsonbPGetDatum(w->state) : (Datum) 0;
	nulls[2] = ' ';
	values[2] = BoolGetDatum(w->terminate_early);
}
