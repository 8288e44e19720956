/*-------------------------------------------------------------------------
 * window.h
 *	  Tumbling windows of an event source mapping (TumblingWindowInSeconds),
 *	  with AWS Lambda's semantics and exactly-once state.
 *
 * The delivery code keeps one WindowState per checkpoint (a lane's: the
 * window_* columns of its event_source_mapping_lanes row, saved with the
 * checkpoint in one UPDATE) and asks, for each step:
 *
 *	 window_plan()		what to do with the records after the checkpoint:
 *						go on with a batch of one window (cut at the window's
 *						end), invoke the window's final invocation, fetch
 *						again, or wait (until the window can end);
 *	 window_invocation()	the window members of that invocation's event;
 *	 window_append_event()	appends them to the event's JSON text;
 *	 window_check_response()	parses the function's {"state": {...}},
 *						inside the invocation's subtransaction (a missing or
 *						oversized state fails the invocation);
 *	 window_invoked() / window_final_done() / window_overflowed()
 *						the WindowState to save with the outcome.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_WINDOW_H
#define ORDERS_STREAM_WINDOW_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

/* Lambda's limit on a window's state (its JSON text), per shard. */
#define WINDOW_STATE_LIMIT_BYTES	(1024 * 1024)

/* A window's state, as saved with the checkpoint. */
typedef struct WindowState
{
	int			seconds;		/* tumbling_window_in_seconds; 0 = none */
	bool		started;		/* start is valid: a window was opened */
	int64		start;			/* of the open (or last) window, epoch secs */
	Jsonb	   *state;			/* of the open window; NULL = closed */
	bool		terminate_early;	/* state hit its limit: final invoke next */
} WindowState;

/* What the next step of a windowed mapping does. */
typedef enum WindowAction
{
	WINDOW_BATCH,				/* go on with the (cut) batch, in its window */
	WINDOW_FINAL,				/* the window's final invocation */
	WINDOW_RECHECK,				/* ends unless records arrived: fetch anew */
	WINDOW_WAIT					/* nothing to do before *due */
} WindowAction;

/* The window members of one invocation's event, and its response. */
typedef struct WindowInvocation
{
	MemoryContext cxt;			/* where the response is kept */
	int64		start;			/* the event's window, epoch seconds */
	int64		end;
	Jsonb	   *state;			/* the state the event carries */
	bool		final;			/* isFinalInvokeForWindow */
	bool		early;			/* isWindowTerminatedEarly */
	const char *shard_id;
	const char *event_source_arn;
	Jsonb	   *new_state;		/* the function's response state */
	bool		overflowed;		/* the response state was over the limit */
} WindowInvocation;

extern void window_load(WindowState *w, int seconds, bool start_isnull,
						TimestampTz start, Jsonb *state, bool terminate_early);
extern WindowAction window_plan(WindowState *w, char **records, int *n,
								bool killed, bool rechecked, TimestampTz now,
								TimestampTz *due);
extern WindowInvocation *window_invocation(const WindowState *w, bool final,
										   const char *shard_id,
										   const char *event_source_arn);
extern void window_append_event(StringInfo buf, const WindowInvocation *wi);
extern void window_check_response(Oid function, Datum result, bool isnull,
								  void *arg);
extern void window_invoked(WindowState *w, const WindowInvocation *wi);
extern void window_final_done(WindowState *w, const WindowInvocation *wi);
extern bool window_overflowed(WindowState *w, const WindowInvocation *wi);
extern void window_columns(const WindowState *w, Datum *values, char *nulls);

#endif							/* ORDERS_STREAM_WINDOW_H */
