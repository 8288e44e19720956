/*-------------------------------------------------------------------------
 * delivery_lane.c
 *	  One step of one lane of an event source mapping: the lane's records, in
 *	  SequenceNumber order and in batches, go to the mapping's function, the
 *	  way an AWS Lambda event source mapping feeds a Lambda function from one
 *	  shard, with ParallelizationFactor lanes per shard.
 *
 * One batch is one transaction: the lane's records after its checkpoint are
 * read, the function runs in a subtransaction as the mapping's owner, and
 * its effects commit together with the lane's new checkpoint, so each
 * record's effects happen exactly once.  A failing batch is retried with
 * exponential backoff; with bisect_batch_on_function_error it is first
 * halved until the failing record is alone (halvings are not retries); the
 * halves still to run are kept as a stack of end SequenceNumbers in the lane
 * row, so a restart resumes the same bisection.  When retries or the record
 * age run out, the batch goes to orders_stream_internal.failures with the Lambda
 * OnFailure document, and the checkpoint moves past it.  The lane's state
 * (delivery_internal.h) says which of these it is doing.
 *
 * Hostile functions: neither the mapping row nor the lane row is locked
 * while the function runs (delete and update do not wait for it); the
 * outcome is saved only if both are still the ones loaded (same xmin), else
 * the whole batch rolls back and is redone under the new configuration, or
 * not at all.  A function is cancelled at orders_stream.function_timeout
 * and, if it catches the cancel, its worker is terminated
 * orders_stream.function_timeout_grace later; the invocation is recorded in
 * the worker's slot in shared memory, so that the slot's next worker counts
 * it as a failed attempt (retry, bisect, failures) instead of running it
 * again.  Session state a function leaves in the worker (advisory locks,
 * temporary objects, prepared statements, cursors, sequence caches,
 * settings) is cleared after each invocation.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "delivery_internal.h"
#include "filter.h"
#include "metrics.h"
#include "orders_stream.h"
#include "security.h"
#include "workers.h"

/* Exponential backoff: base * 2^(attempt-1), capped. */
static TimestampTz
next_attempt(int attempt)
{
	int64		delay = orders_stream_retry_base_delay;
	int			i;

	for (i = 1; i < attempt && delay < orders_stream_retry_max_delay; i++)
		delay *= 2;
	delay = Min(delay, (int64) orders_stream_retry_max_delay);
	return TimestampTzPlusMilliseconds(GetCurrentTimestamp(), delay);
}

/* The halves the checkpoint has passed are done. */
static void
pop_done_halves(Outcome *o)
{
	while (o->bisect_stack != NIL &&
		   strcmp((char *) llast(o->bisect_stack), o->checkpoint) <= 0)
		o->bisect_stack = list_delete_last(o->bisect_stack);
	o->invoke_counts = list_truncate(list_copy(o->invoke_counts), list_length(o->bisect_stack));
}

/*
 * A retry runs the same batch again: records that arrived since must wait
 * for the next one, so the batch's end goes on the stack (and comes off it
 * with pop_done_halves() once the checkpoint has passed it).  Its count of
 * invocations is invoked, for the batch's records.
 */
static void
bound_retry(Outcome *o, Batch *b, int invoked)
{
	char	   *last = b->seqs[b->n - 1];

	if (o->bisect_stack == NIL || strcmp((char *) llast(o->bisect_stack), last) > 0)
	{
		o->bisect_stack = lappend(list_copy(o->bisect_stack), last);
		o->invoke_counts = lappend_int(list_copy(o->invoke_counts), invoked);
	}
	else
	{
		o->invoke_counts = list_copy(o->invoke_counts);
		llast_int(o->invoke_counts) = invoked;
	}
}

/*
 * The invocations that have included the lane's next records: those of the
 * pending half, or retried batch, they are in (a half counts those of the
 * batches it was halved from).
 */
static int
prior_invocations(Mapping *m)
{
	return m->invoke_counts != NIL ? llast_int(m->invoke_counts) : 0;
}

/*
 * The record-age limit of a mapping, in seconds: its own, or with -1 the
 * retention less a margin, so that records are given up on (and kept in
 * orders_stream_internal.failures) before they are trimmed.
 */
static int64
max_age_secs(Mapping *m)
{
	if (m->max_age_secs >= 0)
		return m->max_age_secs;
	return Max(orders_stream_retention - AGE_MARGIN_SECS, 1);
}

/* Set while records go to the failure destination: see give_up(). */
static bool giving_up = false;

/*
 * Gives records from..to-1 of the batch up to the failure destination.
 * Should that fail, the error reaches delivery_lane_step(), which counts
 * it in DestinationDeliveryFailures.
 */
static void
give_up(Mapping *m, Batch *b, int from, int to, const char *condition,
		int invoke_count, ErrorData *error)
{
	giving_up = true;
	delivery_failure_write(m, b, from, to, condition, invoke_count, error);
	giving_up = false;
}

/*
 * What a step that handled a batch adds to its mapping's metrics
 * (metrics.c): polled records, of which filtered out, and the outcome.
 * iterator_age_ms is the age of the batch's last record, -1 for none.
 */
static void
note_metrics(Mapping *m, const Outcome *o, int polled, int filtered_out,
			 int invoked, int64 iterator_age_ms)
{
	MetricsMappingDelta d;

	memset(&d, 0, sizeof(d));
	d.counters[METRICS_POLLED_EVENTS] = polled;
	d.counters[METRICS_FILTERED_OUT_EVENTS] = filtered_out;
	d.counters[METRICS_INVOCATIONS] = o->invocations;
	if (o->invocations > 0)
	{
		d.counters[METRICS_INVOKED_EVENTS] = invoked;
		if (o->errors > 0)
		{
			d.counters[METRICS_ERRORS] = o->errors;
			d.counters[METRICS_FAILED_INVOKE_EVENTS] = invoked - o->processed;
		}
	}
	d.counters[METRICS_DROPPED_EVENTS] = o->dropped;
	d.counters[METRICS_ON_FAILURE_DELIVERED_EVENTS] = o->dropped;
	d.iterator_age_ms = iterator_age_ms;
	metrics_mapping_add(m->uuid, m->lane, &d);
}

/*
 * Runs the function on the batch, recording the invocation in the worker's
 * slot while it runs, for the slot's next worker should this one be
 * terminated.  With killed, the batch is the one a terminated worker was
 * invoking: it fails without being invoked again.
 */
static bool
invoke_batch(Mapping *m, Batch *b, const char *batch_end,
			 const KilledInvocation *killed, DeliveryInvocation *call)
{
	DeliveryInflight *inflight = delivery_pool_my_inflight();
	bool		ok;

	memset(call, 0, sizeof(DeliveryInvocation));
	if (killed != NULL)
	{
		call->error = delivery_failure_killed_error(m, killed);
		return false;
	}
	if (inflight != NULL &&
		strlen(m->checkpoint) < OS_INFLIGHT_SEQ_LEN &&
		strlen(batch_end) < OS_INFLIGHT_SEQ_LEN)
	{
		strlcpy(inflight->lane.mapping, m->uuid, sizeof(inflight->lane.mapping));
		inflight->lane.epoch = m->epoch;
		inflight->lane.lane = m->lane;
		strlcpy(inflight->checkpoint, m->checkpoint, sizeof(inflight->checkpoint));
		strlcpy(inflight->batch_end, batch_end, sizeof(inflight->batch_end));
		inflight->timeout_ms = orders_stream_function_timeout;
		inflight->timed_out = false;
		pg_write_barrier();
		inflight->pid = MyProcPid;
	}
	call->target = &m->target;
	call->build = delivery_batch_event;
	call->build_arg = b;
	if (m->report_item_failures)
	{
		call->batch = b->seqs;
		call->nbatch = b->n;
	}
	if (b->window != NULL)
	{
		call->check = window_check_response;
		call->check_arg = b->window;
	}
	ok = delivery_invoke(call);
	if (inflight != NULL)
		inflight->pid = 0;
	return ok;
}

/* An outcome that leaves the lane as loaded (with its window as planned). */
static void
outcome_init(Outcome *o, const Mapping *m)
{
	memset(o, 0, sizeof(Outcome));
	o->checkpoint = m->checkpoint;
	o->attempts = m->attempts;
	o->bisect_stack = m->bisect_stack;
	o->invoke_counts = m->invoke_counts;
	o->window = m->window;
}

/*
 * Saves an outcome in the state it leaves the lane in, BACKOFF, BISECTING
 * or READY, and reports that state.
 */
static void
lane_save(Mapping *m, Outcome *o, LaneStep *step)
{
	pop_done_halves(o);
	if (o->next_attempt_at != 0)
		o->state = LANE_BACKOFF;
	else if (o->bisect_stack != NIL)
		o->state = LANE_BISECTING;
	else
		o->state = LANE_READY;
	delivery_mapping_save_outcome(m, o);
	step->state = o->state;
	step->due = o->next_attempt_at;
}

/* The next attempt of a failed invocation, after a backoff. */
static void
schedule_retry(Mapping *m, Outcome *o)
{
	o->attempts = m->attempts + 1;
	o->retries = 1;
	o->next_attempt_at = next_attempt(o->attempts);
}

/* An invocation that failed with error. */
static void
note_failed_call(Outcome *o, ErrorData *error)
{
	o->errors = 1;
	o->last_error = delivery_failure_describe(error);
	o->result = "PROBLEM: Function call failed";
}

/*
 * A lane that fetched nothing: a pending half whose records have gone is
 * done; a lane of an ended epoch has delivered all its records and is
 * DRAINED; any other has delivered everything of its stream up to the
 * newest record, whatever lane that is in, and moves its checkpoint there,
 * so that the mapping's checkpoint (its slowest lane's) shows how far the
 * mapping has got.
 */
static void
lane_caught_up(Mapping *m, LaneStep *step)
{
	Outcome		o;

	outcome_init(&o, m);
	if (m->bisect_stack != NIL)
	{
		o.checkpoint = (char *) llast(m->bisect_stack);
		o.result = "OK";
	}
	else if (m->epoch_end != NULL)
	{
		o.checkpoint = m->epoch_end;
		o.state = LANE_DRAINED;
		delivery_mapping_save_outcome(m, &o);
		step->state = LANE_DRAINED;
		return;
	}
	else
	{
		char	   *newest = delivery_batch_high_water(m);

		if (newest != NULL && strcmp(newest, m->checkpoint) > 0)
			o.checkpoint = newest;
		else if (m->state == LANE_READY)
			return;				/* nothing to save */
		/* else a new epoch's lane that may run now: say so */
	}
	lane_save(m, &o, step);
}

/*
 * The owner may no longer read the stream: the lane stalls, as an AWS
 * mapping whose role lost access to the stream does, until the privilege
 * is back (see lane_next_batch()).
 */
static void
lane_stall(Mapping *m, TimestampTz now, LaneStep *step)
{
	Outcome		o;

	outcome_init(&o, m);
	o.errors = 1;
	o.last_error = psprintf("42501: AccessDeniedException: the owner of event source mapping %s may not read stream \"%s\"",
							m->uuid, m->stream_arn);
	o.result = "PROBLEM: The owner of the mapping may not read the stream";
	o.next_attempt_at = TimestampTzPlusMilliseconds(now, orders_stream_retry_max_delay);
	o.state = LANE_STALLED;
	delivery_mapping_save_outcome(m, &o);
	step->state = LANE_STALLED;
	step->due = o.next_attempt_at;
}

/*
 * The final invocation of the lane's tumbling window (see window.c): no
 * records, the window's state, isFinalInvokeForWindow.  As in Lambda, a
 * failing final invocation holds the lane until it succeeds: it is retried
 * with backoff whatever maximum_retry_attempts says (it has no records to
 * give up on).  With killed, it was running when its worker was terminated.
 */
static void
lane_window_final(Mapping *m, const KilledInvocation *killed, LaneStep *step)
{
	Batch	   *b = palloc0(sizeof(Batch));
	DeliveryInvocation call;
	Outcome		o;

	outcome_init(&o, m);
	b->window = window_invocation(&m->window, true, m->shard_id, m->stream_arn);
	o.invocations = 1;
	if (invoke_batch(m, b, m->checkpoint, killed, &call))
	{
		window_final_done(&o.window, b->window);
		o.attempts = 0;
		o.result = "OK";
	}
	else
	{
		note_failed_call(&o, call.error);
		schedule_retry(m, &o);
	}
	lane_save(m, &o, step);
	note_metrics(m, &o, 0, 0, 0, -1);
	step->worked = true;
}

/*
 * Tumbling windows: cuts the batch to the records of the lane's window, or
 * says that the window's final invocation is next (WINDOW_FINAL) or that
 * the lane waits (WINDOW_WAIT, until *due).  A lane of an ended epoch that
 * has delivered its records ends its open window at once.
 */
static WindowAction
lane_window_plan(Mapping *m, Batch **b, bool killed, TimestampTz now,
				 TimestampTz *due)
{
	int			fetched = (*b)->n;
	WindowAction action;

	if ((*b)->n == 0 && m->epoch_end != NULL && m->window.state != NULL)
		return WINDOW_FINAL;
	action = window_plan(&m->window, (*b)->records, &(*b)->n, killed, false,
						 now, due);
	if (action == WINDOW_RECHECK)
	{
		/* capture has caught up: what it stored since this snapshot */
		PushActiveSnapshot(GetTransactionSnapshot());
		*b = delivery_batch_fetch(m, NULL);
		PopActiveSnapshot();
		fetched = (*b)->n;
		action = window_plan(&m->window, (*b)->records, &(*b)->n, false, true,
							 now, due);
	}
	if (action == WINDOW_BATCH && (*b)->n < fetched)
		(*b)->full = true;		/* cut at the window's end */
	return action;
}

/*
 * The lane's next batch, cut to its tumbling window, or NULL when the step
 * ends without one: the lane is caught up, its window waits or ends, or its
 * owner may not read the stream.
 */
static Batch *
lane_next_batch(Mapping *m, const KilledInvocation *killed, TimestampTz now,
				LaneStep *step)
{
	Batch	   *b;
	TimestampTz due = 0;

	step->state = LANE_READY;
	b = delivery_batch_fetch(m, killed ? killed->batch_end : NULL);
	if (m->window.seconds > 0 &&
		(m->bisect_stack == NIL || m->window.terminate_early))
	{
		switch (lane_window_plan(m, &b, killed != NULL, now, &due))
		{
			case WINDOW_WAIT:
				/* up to date all the same: the mapping's checkpoint moves on */
				lane_caught_up(m, step);
				step->wait = LANE_WAITING_WINDOW;
				step->due = due;
				return NULL;
			case WINDOW_FINAL:
				lane_window_final(m, killed, step);
				return NULL;
			default:
				break;
		}
	}
	if (b->n == 0)
	{
		/* nothing invoked: the lane waits for records */
		lane_caught_up(m, step);
		return NULL;
	}

	/*
	 * The owner must still exist and still be allowed to read the stream.  If
	 * not, the lane stalls: its records go neither to the function nor to
	 * orders_stream_internal.failures, which the owner can read.  Delivery
	 * resumes once the privilege is back; until then retention trims the
	 * records.  Checked before the batching window or the filters look at a
	 * record, so that not even the checkpoint moves on data the owner may
	 * not read.
	 */
	if (!security_may_read(m->target.owner, m->relid, true))
	{
		lane_stall(m, now, step);
		return NULL;
	}
	if (m->window.state != NULL)
		b->window = window_invocation(&m->window, false, m->shard_id, m->stream_arn);
	return b;
}

/* The invocation succeeded: the checkpoint moves past the batch. */
static void
lane_delivered(Outcome *o, Batch *b, char *batch_end)
{
	o->checkpoint = batch_end;
	o->attempts = 0;
	o->processed = b->n;
	o->result = "OK";
	if (b->window != NULL)
		window_invoked(&o->window, b->window);
}

/*
 * A failed batch (from its record from on) is retried after a backoff or,
 * once retries run out, goes to orders_stream_internal.failures.
 */
static void
retry_or_give_up(Mapping *m, Outcome *o, Batch *b, int from, char *batch_end,
				 int invoked, ErrorData *error)
{
	if (m->max_retries >= 0 && m->attempts >= m->max_retries)
	{
		give_up(m, b, from, b->n, "RetryAttemptsExhausted", invoked, error);
		o->checkpoint = batch_end;
		o->attempts = 0;
		o->failures = 1;
		o->dropped = b->n - from;
	}
	else
	{
		schedule_retry(m, o);
		bound_retry(o, b, invoked);
	}
}

/*
 * ReportBatchItemFailures named records: what came before the lowest of
 * them is done, the rest fails.
 */
static void
lane_items_failed(Mapping *m, Outcome *o, Batch *b, char *batch_end,
				  int invoked, const char *lowest)
{
	int			first_failed = 0;

	while (strcmp(b->seqs[first_failed], lowest) != 0)
		first_failed++;
	o->processed = first_failed;
	if (first_failed > 0)
		o->checkpoint = b->seqs[first_failed - 1];
	/* the state the function returned counts the records it processed */
	if (b->window != NULL)
		window_invoked(&o->window, b->window);
	o->errors = 1;
	o->last_error = psprintf("batchItemFailures from %s", lowest);
	o->result = "PROBLEM: Function reported batch item failures";
	retry_or_give_up(m, o, b, first_failed, batch_end, invoked, NULL);
}

/*
 * The bisect step: a failed batch is halved, the first half to run next,
 * then the second.  A halving is not a retry; both halves keep the count of
 * invocations their records have had.
 */
static void
bisect_batch(Outcome *o, Batch *b, int invoked)
{
	bound_retry(o, b, invoked);
	o->bisect_stack = lappend(list_copy(o->bisect_stack), b->seqs[(b->n + 1) / 2 - 1]);
	o->invoke_counts = lappend_int(list_copy(o->invoke_counts), invoked);
}

/* The invocation failed: bisect, retry or give the batch up. */
static void
lane_call_failed(Mapping *m, Outcome *o, Batch *b, char *batch_end,
				 int invoked, ErrorData *error)
{
	note_failed_call(o, error);
	if (b->window != NULL && window_overflowed(&o->window, b->window))
		o->result = "PROBLEM: Tumbling window state over its limit: window terminated early";
	else if (m->bisect && b->n > 1)
		bisect_batch(o, b, invoked);
	else
		retry_or_give_up(m, o, b, 0, batch_end, invoked, error);
}

/*
 * Delivers a batch: records that match no filter are discarded, as AWS
 * event filtering does; records too old for the function go to the failure
 * destination; the rest go to the function.
 */
static void
lane_deliver(Mapping *m, Batch *b, const KilledInvocation *killed,
			 TimestampTz now, LaneStep *step)
{
	char	   *batch_end = b->seqs[b->n - 1];	/* the last read, matching or
												 * not */
	DeliveryInvocation call;
	Outcome		o;
	int			expired;
	ErrorData  *filter_error = NULL;
	int			invoked = prior_invocations(m);	/* of the batch's records */
	int			polled = b->n;
	int64		iterator_age_ms = ms_between(b->arrivals[b->n - 1], now);

	step->worked = true;
	outcome_init(&o, m);
	if (m->filter_criteria != NULL)
		b = delivery_batch_filter(m, b, &filter_error);
	for (expired = 0; expired < b->n; expired++)
		if (ms_between(b->arrivals[expired], now) <= max_age_secs(m) * 1000)
			break;
	if (b->n == 0)
	{
		o.checkpoint = batch_end;
		o.result = "OK";
	}
	else if (expired > 0)
	{
		give_up(m, b, 0, expired, "RecordAgeExceeded", invoked, NULL);
		o.checkpoint = b->seqs[expired - 1];
		o.attempts = 0;
		o.failures = 1;
		o.dropped = expired;
		o.result = "PROBLEM: Record age exceeded";
	}
	else if (filter_error != NULL)
	{
		/* the filters failed on the batch: a failed call, without the call */
		lane_call_failed(m, &o, b, batch_end, invoked, filter_error);
	}
	else
	{
		o.invocations = 1;
		invoked++;
		if (!invoke_batch(m, b, batch_end, killed, &call))
			lane_call_failed(m, &o, b, batch_end, invoked, call.error);
		else if (call.lowest_failure != NULL)
			lane_items_failed(m, &o, b, batch_end, invoked, call.lowest_failure);
		else
			lane_delivered(&o, b, batch_end);
	}
	lane_save(m, &o, step);
	note_metrics(m, &o, polled, polled - b->n, b->n, iterator_age_ms);
}

/*
 * READY (and WAITING_EPOCH once the older epochs have drained): the next
 * batch after the checkpoint, once it is full or AWS's batching window has
 * passed.
 */
static void
lane_ready(Mapping *m, const KilledInvocation *killed, LaneStep *step)
{
	TimestampTz now = GetCurrentTimestamp();
	Batch	   *b = lane_next_batch(m, killed, now, step);
	TimestampTz window_end;

	if (b == NULL)
		return;
	window_end = TimestampTzPlusMilliseconds(b->arrivals[0], m->window_secs * 1000L);
	if (!b->full && m->window_secs > 0 && m->attempts == 0 &&
		m->bisect_stack == NIL && killed == NULL && m->epoch_end == NULL &&
		now < window_end)
	{
		step->wait = LANE_BATCHING;
		step->due = window_end;
		return;
	}
	lane_deliver(m, b, killed, now, step);
}

/*
 * BISECTING: the half of a failed batch on top of the stack (the fetch
 * stops at its end), at once: no batching window.
 */
static void
lane_bisecting(Mapping *m, const KilledInvocation *killed, LaneStep *step)
{
	TimestampTz now = GetCurrentTimestamp();
	Batch	   *b = lane_next_batch(m, killed, now, step);

	if (b != NULL)
		lane_deliver(m, b, killed, now, step);
}

/*
 * BACKOFF and STALLED: nothing until next_attempt_at; then the batch again,
 * bounded by the stack as a half is (bound_retry()), or, stalled or after
 * an internal error with no bound, as a READY lane's.  A batch a terminated
 * worker was invoking fails at once.
 */
static void
lane_backoff(Mapping *m, const KilledInvocation *killed, LaneStep *step)
{
	if (killed == NULL && m->next_attempt_at > GetCurrentTimestamp())
	{
		step->state = m->state;
		step->due = m->next_attempt_at;
	}
	else if (m->bisect_stack != NIL)
		lane_bisecting(m, killed, step);
	else
		lane_ready(m, killed, step);
}

/*
 * One step of one lane, in the current transaction: a case per state of
 * its row (see delivery_internal.h), as pg_cron's ManageCronTask has one
 * per CronTaskState.  Sets step->worked if it invoked or gave records up;
 * otherwise step->due says when there may be something to do.  With
 * killed, the batch is the one a terminated worker was invoking, and fails
 * without being invoked again.
 */
static void
lane_step(Mapping *m, const KilledInvocation *killed, LaneStep *step)
{
	/* whatever its row says, a lane waits for the older epochs to drain */
	if (m->older_epochs)
	{
		step->state = LANE_WAITING_EPOCH;
		return;
	}
	switch (m->state)
	{
		case LANE_READY:
		case LANE_WAITING_EPOCH:
			lane_ready(m, killed, step);
			break;
		case LANE_BISECTING:
			lane_bisecting(m, killed, step);
			break;
		case LANE_BACKOFF:
		case LANE_STALLED:
			lane_backoff(m, killed, step);
			break;
		case LANE_DRAINED:
			/* delivery_mapping_load_lane() returns no drained lane */
			break;
	}
}

/*
 * One step of one lane, in a transaction of its own, rolled back if the
 * mapping or the lane changed meanwhile.
 */
static void
lane_one(const LaneKey *key, const KilledInvocation *killed, LaneStep *step)
{
	MemoryContext cxt = CurrentMemoryContext;
	Mapping    *m;
	bool		stale = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	pgstat_report_activity(STATE_RUNNING, "delivering stream records");

	m = delivery_mapping_load_lane(key);
	if (m == NULL)
		step->gone = true;
	else
	{
		if (killed != NULL && strcmp(m->checkpoint, killed->checkpoint) != 0)
			killed = NULL;		/* that batch is no longer the next */
		lane_step(m, killed, step);
		stale = m->stale;
	}

	SPI_finish();
	PopActiveSnapshot();
	if (stale)
	{
		AbortCurrentTransaction();
		step->worked = true;	/* try again at once, under the new row */
		step->due = 0;
	}
	else
		CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * After an error of lane_one(): shows it on the lane, which backs off, in a
 * transaction of its own.
 */
static void
lane_note_error(const LaneKey *key, const char *message, LaneStep *step)
{
	MemoryContext cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	delivery_mapping_note_error(key, message);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	memset(step, 0, sizeof(LaneStep));
	step->state = LANE_BACKOFF;
	step->due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											orders_stream_retry_max_delay);
}

/* lane_one(), surviving its errors. */
void
delivery_lane_step(const LaneKey *key, const KilledInvocation *killed,
				   LaneStep *step)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile message = NULL;

	memset(step, 0, sizeof(LaneStep));
	PG_TRY();
	{
		lane_one(key, killed, step);
	}
	PG_CATCH();
	{
		ErrorData  *e;
		DeliveryInflight *inflight = delivery_pool_my_inflight();

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		if (giving_up)
			metrics_mapping_count(key->mapping, METRICS_DESTINATION_DELIVERY_FAILURES, 1);
		giving_up = false;
		if (inflight != NULL)
			inflight->pid = 0;
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		message = psprintf("%s: %s", unpack_sql_state(e->sqlerrcode),
						   e->message ? e->message : "");
		FreeErrorData(e);
	}
	PG_END_TRY();

	if (message != NULL)
	{
		lane_note_error(key, message, step);
		pfree(message);
	}
}
