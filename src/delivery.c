/*-------------------------------------------------------------------------
 * delivery.c
 *	  Event source mappings: the delivery worker hands each mapping's stream
 *	  records, in SequenceNumber order and in batches, to its function, the
 *	  way an AWS Lambda event source mapping feeds a Lambda function.
 *
 * One batch is one transaction: the records after the mapping's checkpoint
 * are read, the function runs in a subtransaction as the mapping's owner,
 * and its effects commit together with the new checkpoint, so each record's
 * effects happen exactly once.  A failing batch is retried with exponential
 * backoff; with bisect_batch_on_function_error it is first halved until the
 * failing record is alone (halvings are not retries); the halves still to
 * run are kept as a stack of end SequenceNumbers in the mapping row, so a
 * restart resumes the same bisection.  When retries or the record age run
 * out, the batch goes to orders_stream.failures with the Lambda OnFailure
 * document, and the checkpoint moves past it.
 *
 * Mappings take turns, one batch each per round; a mapping waiting for a
 * retry or for its batching window does not hold up the others.
 *
 * Hostile functions: the mapping row is not locked while its function runs
 * (delete and update do not wait for it); the outcome is saved only if the
 * row is still the one loaded (same xmin), else the whole batch rolls back
 * and is redone under the new configuration, or not at all.  A function is
 * cancelled at orders_stream.function_timeout and, if it catches the cancel,
 * its worker is terminated orders_stream.function_timeout_grace later; the
 * invocation is recorded in shared memory, so that the next worker counts it
 * as a failed attempt (retry, bisect, failures) instead of running it again.
 * Session state a function leaves in the worker (advisory locks, temporary
 * objects, prepared statements, cursors, sequence caches, settings) is
 * cleared after each invocation.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/prepare.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/pmsignal.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "compat.h"
#include "delivery.h"
#include "filter.h"
#include "orders_stream.h"
#include "window.h"
#include "workers.h"

/* How long a freshly launched worker waits for CREATE EXTENSION to commit. */
#define EXTENSION_WAIT_MS	10000
/* With maximum_record_age_in_seconds = -1, give up this long before trimming. */
#define AGE_MARGIN_SECS		60

typedef struct Mapping
{
	char	   *uuid;
	TransactionId xmin;			/* of the row loaded: changed = changed since */
	int64		stream_id;
	char	   *stream_arn;
	char	   *shard_id;
	Oid			relid;
	DeliveryTarget target;
	char	   *function_name;
	int			batch_size;
	int			window_secs;
	bool		bisect;
	int			max_retries;
	int			max_age_secs;
	bool		report_item_failures;
	char	   *checkpoint;
	int			attempts;
	TimestampTz next_attempt_at;	/* 0 = not waiting for a retry */
	List	   *bisect_stack;	/* of char *: ends of pending halves, top last */
	List	   *filters;		/* parsed FilterCriteria patterns, or NIL */
	WindowState window;			/* tumbling window, saved with the checkpoint */
	bool		stale;			/* changed or deleted since loaded */
} Mapping;

typedef struct Batch
{
	int			n;
	bool		full;			/* cut by batch_size or max_batch_size_bytes */
	char	  **seqs;
	TimestampTz *arrivals;
	char	  **records;		/* JSON text */
	WindowInvocation *window;	/* with a tumbling window: its event members */
} Batch;

/* Outcome of one delivery step, written to the mapping row. */
typedef struct Outcome
{
	char	   *checkpoint;
	int			attempts;
	TimestampTz next_attempt_at;	/* 0 = none */
	List	   *bisect_stack;
	int			invocations;
	int			errors;
	int			retries;
	int			failures;
	int			processed;
	char	   *last_error;
	const char *result;
	WindowState window;
} Outcome;

/*
 * An invocation a previous worker did not finish (see workers.h): the next
 * step of its mapping fails it instead of invoking.
 */
typedef struct KilledInvocation
{
	char	   *mapping;
	char	   *checkpoint;
	char	   *batch_end;
	bool		timed_out;
	int			timeout_ms;
} KilledInvocation;

/* Set in the delivery worker, whose session state invocations reset. */
static bool am_delivery_worker = false;

/* Timeouts of an invocation: a cancel, then the end of the process. */
static TimeoutId cancel_timeout = MAX_TIMEOUTS;
static TimeoutId terminate_timeout = MAX_TIMEOUTS;

static int64
ms_between(TimestampTz from, TimestampTz to)
{
	return (to - from) / 1000;
}

static char *
spi_text(HeapTuple tup, int col)
{
	return SPI_getvalue(tup, SPI_tuptable->tupdesc, col);
}

static Datum
spi_datum(HeapTuple tup, int col, bool *isnull)
{
	return SPI_getbinval(tup, SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Loads a mapping; NULL if it is gone or disabled.  The row is not locked:
 * save_outcome() checks that it has not changed since.
 */
static Mapping *
load_mapping(const char *uuid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(uuid)};
	HeapTuple	tup;
	Mapping    *m;
	bool		isnull;
	Datum		stack;

	if (SPI_execute_with_args("SELECT m.stream_id, m.event_source_arn, s.shard_id, s.relid, "
							  "m.function_oid, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) m.anchor), m.search_path, m.function_name, "
							  "m.batch_size, m.maximum_batching_window_in_seconds, "
							  "m.bisect_batch_on_function_error, m.maximum_retry_attempts, "
							  "m.maximum_record_age_in_seconds, "
							  "'ReportBatchItemFailures' = ANY (m.function_response_types), "
							  "m.checkpoint, m.attempts, m.bisect_stack, m.enabled, m.next_attempt_at, "
							  "m.filter_criteria, m.xmin::text::bigint, "
							  "m.tumbling_window_in_seconds, m.window_start, m.window_state, "
							  "m.window_terminated_early "
							  "FROM orders_stream.event_source_mappings m "
							  "JOIN orders_stream.streams s USING (stream_id) "
							  "WHERE m.uuid = $1::uuid",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read event source mapping %s", uuid);
	if (SPI_processed == 0)
		return NULL;
	tup = SPI_tuptable->vals[0];
	if (!DatumGetBool(spi_datum(tup, 18, &isnull)))
		return NULL;

	m = palloc0(sizeof(Mapping));
	m->uuid = pstrdup(uuid);
	m->xmin = (TransactionId) DatumGetInt64(spi_datum(tup, 21, &isnull));
	{
		Datum		criteria = spi_datum(tup, 20, &isnull);

		if (!isnull)
			m->filters = filter_patterns(DatumGetJsonbP(criteria));
	}
	m->stream_id = DatumGetInt64(spi_datum(tup, 1, &isnull));
	m->stream_arn = spi_text(tup, 2);
	m->shard_id = spi_text(tup, 3);
	m->relid = DatumGetObjectId(spi_datum(tup, 4, &isnull));
	m->target.function = DatumGetObjectId(spi_datum(tup, 5, &isnull));
	/* the role the function runs as, and whose access is checked */
	m->target.owner = DatumGetObjectId(spi_datum(tup, 6, &isnull));
	m->target.search_path = spi_text(tup, 7);
	m->function_name = spi_text(tup, 8);
	m->batch_size = DatumGetInt32(spi_datum(tup, 9, &isnull));
	m->window_secs = DatumGetInt32(spi_datum(tup, 10, &isnull));
	m->bisect = DatumGetBool(spi_datum(tup, 11, &isnull));
	m->max_retries = DatumGetInt32(spi_datum(tup, 12, &isnull));
	m->max_age_secs = DatumGetInt32(spi_datum(tup, 13, &isnull));
	m->report_item_failures = DatumGetBool(spi_datum(tup, 14, &isnull));
	m->checkpoint = spi_text(tup, 15);
	m->attempts = DatumGetInt32(spi_datum(tup, 16, &isnull));
	stack = spi_datum(tup, 17, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(stack), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		for (i = 0; i < n; i++)
			m->bisect_stack = lappend(m->bisect_stack, TextDatumGetCString(elems[i]));
	}
	{
		Datum		next = spi_datum(tup, 19, &isnull);

		m->next_attempt_at = isnull ? 0 : DatumGetTimestampTz(next);
	}
	{
		bool		start_isnull;
		bool		state_isnull;
		Datum		start = spi_datum(tup, 23, &start_isnull);
		Datum		state = spi_datum(tup, 24, &state_isnull);

		window_load(&m->window, DatumGetInt32(spi_datum(tup, 22, &isnull)),
					start_isnull, start_isnull ? 0 : DatumGetTimestampTz(start),
					state_isnull ? NULL : DatumGetJsonbPCopy(state),
					DatumGetBool(spi_datum(tup, 25, &isnull)));
	}
	return m;
}

/*
 * The records after the checkpoint, up to the top of the bisect stack (or
 * until, if given), at most batch_size of them and, as Lambda's payload
 * limit, at most orders_stream.max_batch_size_bytes of JSON, unless the
 * first alone is larger.  Read one by one through a cursor, so that no more
 * than the batch and one record are ever in memory.
 */
static Batch *
fetch_batch(Mapping *m, const char *until)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Batch	   *b = palloc0(sizeof(Batch));
	const char *end = m->bisect_stack != NIL ? (char *) llast(m->bisect_stack) : NULL;
	Portal		portal;
	int64		bytes = 0;

	if (until != NULL && (end == NULL || strcmp(until, end) < 0))
		end = until;
	values[0] = Int64GetDatum(m->stream_id);
	values[1] = CStringGetTextDatum(m->checkpoint);
	if (end != NULL)
		values[2] = CStringGetTextDatum(end);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum(m->batch_size);
	b->seqs = palloc(sizeof(char *) * m->batch_size);
	b->arrivals = palloc(sizeof(TimestampTz) * m->batch_size);
	b->records = palloc(sizeof(char *) * m->batch_size);

	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT r.sequence_number, r.captured_at, r.record::text "
									   "FROM orders_stream.records r "
									   "WHERE r.stream_id = $1 AND r.sequence_number > $2 "
									   "AND ($3 IS NULL OR r.sequence_number <= $3) "
									   "AND r.captured_at >= now() - orders_stream_internal.retention_interval() "
									   /* the LIMIT makes it an index scan, not a sort of the whole stream */
									   "ORDER BY r.sequence_number LIMIT $4",
									   4, argtypes, values, nulls, true,
									   CURSOR_OPT_NO_SCROLL);
	while (b->n < m->batch_size)
	{
		HeapTuple	tup;
		bool		isnull;
		char	   *record;
		int64		size;

		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 0)
			break;
		tup = SPI_tuptable->vals[0];
		record = spi_text(tup, 3);
		/* the event's bytes: the record and the comma before it */
		size = strlen(record) + 1;
		if (b->n > 0 && bytes + size > orders_stream_max_batch_size_bytes)
		{
			pfree(record);
			SPI_freetuptable(SPI_tuptable);
			b->full = true;
			break;
		}
		bytes += size;
		b->seqs[b->n] = spi_text(tup, 1);
		b->arrivals[b->n] = DatumGetTimestampTz(spi_datum(tup, 2, &isnull));
		b->records[b->n] = record;
		b->n++;
		SPI_freetuptable(SPI_tuptable);
	}
	if (b->n == m->batch_size)
		b->full = true;
	SPI_cursor_close(portal);
	return b;
}

/* The records of a batch that match the mapping's filters. */
static Batch *
filter_batch(Mapping *m, Batch *b)
{
	Batch	   *kept = palloc0(sizeof(Batch));
	int			i;

	kept->seqs = palloc(sizeof(char *) * b->n);
	kept->arrivals = palloc(sizeof(TimestampTz) * b->n);
	kept->records = palloc(sizeof(char *) * b->n);
	for (i = 0; i < b->n; i++)
	{
		Jsonb	   *record = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																CStringGetDatum(b->records[i])));

		if (!filter_matches(m->filters, record))
			continue;
		kept->seqs[kept->n] = b->seqs[i];
		kept->arrivals[kept->n] = b->arrivals[i];
		kept->records[kept->n] = b->records[i];
		kept->n++;
	}
	kept->window = b->window;
	return kept;
}

/* The Lambda event of a batch (a DeliveryEventBuilder). */
static Jsonb *
build_event(void *arg)
{
	Batch	   *b = (Batch *) arg;
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"Records\":[");
	for (i = 0; i < b->n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, b->records[i]);
	}
	appendStringInfoChar(&buf, ']');
	if (b->window != NULL)
		window_append_event(&buf, b->window);
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * ReportBatchItemFailures: the lowest itemIdentifier of the function's
 * batchItemFailures, or NULL when it reports none.  Raises an error (which
 * fails the whole batch, as in AWS) for an identifier outside the batch.
 */
static char *
lowest_item_failure(Oid function, Datum result, bool isnull, char **batch, int nbatch)
{
	Oid			rettype = getBaseType(get_func_rettype(function));
	Jsonb	   *jb;
	JsonbValue *failures;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *lowest = NULL;

	/* a null (or void) response is a success, as a null EventResponse */
	if (isnull || rettype == VOIDOID)
		return NULL;
	/* the Datum is only a Jsonb if the function returns jsonb */
	if (rettype == JSONBOID)
		jb = DatumGetJsonbP(result);
	else if (rettype == JSONOID || rettype == TEXTOID)
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(TextDatumGetCString(result))));
	else
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("function returns %s, not a ReportBatchItemFailures response",
						format_type_be(rettype)),
				 errhint("With function_response_types {ReportBatchItemFailures} the function must return jsonb (or void).")));
	if (!JB_ROOT_IS_OBJECT(jb))
		return NULL;
	failures = getKeyJsonValueFromContainer(&jb->root, "batchItemFailures",
											strlen("batchItemFailures"), NULL);
	if (failures == NULL || failures->type == jbvNull)
		return NULL;
	if (failures->type != jbvBinary || !JsonContainerIsArray(failures->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batchItemFailures returned by the function is not an array")));

	it = JsonbIteratorInit(failures->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *id;
		char	   *seq;
		bool		found = false;
		int			i;

		if (tok != WJB_ELEM)
			continue;
		id = (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data)) ?
			getKeyJsonValueFromContainer(v.val.binary.data, "itemIdentifier",
										 strlen("itemIdentifier"), NULL) : NULL;
		if (id == NULL || id->type != jbvString || id->val.string.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batchItemFailures entry without an itemIdentifier"),
					 errhint("Each entry is {\"itemIdentifier\": \"<SequenceNumber>\"}.")));
		seq = pnstrdup(id->val.string.val, id->val.string.len);
		for (i = 0; i < nbatch && !found; i++)
			found = (strcmp(batch[i], seq) == 0);
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batchItemFailures names \"%s\", which is not a SequenceNumber of the batch", seq),
					 errhint("Report the dynamodb.SequenceNumber of the failed records.")));
		if (lowest == NULL || strcmp(seq, lowest) < 0)
			lowest = seq;
	}
	return lowest;
}

/*
 * The target must still be a function of one jsonb returning one value that
 * its owner (the current user) may execute: the mapping row can be changed
 * by direct UPDATEs, which create/update_event_source_mapping() do not see,
 * and privileges can be revoked after the mapping was made.
 */
static void
check_target(const DeliveryTarget *target)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(target->function));
	Form_pg_proc p;
	bool		callable;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("ResourceNotFoundException: the function (OID %u) of the event source mapping does not exist",
						target->function)));
	p = (Form_pg_proc) GETSTRUCT(tup);
	callable = p->pronargs == 1 && p->proargtypes.values[0] == JSONBOID &&
		!p->proretset && p->prokind == PROKIND_FUNCTION;
	ReleaseSysCache(tup);
	if (!callable)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("InvalidParameterValueException: function %s cannot be an event source mapping target",
						format_procedure(target->function))));
	if (pg_proc_aclcheck(target->function, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(target->function));
}

/*
 * The function ignored the cancel: end the process at the next
 * CHECK_FOR_INTERRUPTS() with a FATAL error, which no exception block can
 * catch.  In the delivery worker, the shared in-flight record tells the next
 * worker why.  (A signal handler: flags only.)
 */
static void
terminate_timeout_handler(void)
{
	DeliveryInflight *inflight = worker_inflight();

	if (inflight != NULL && inflight->pid == MyProcPid)
		inflight->timed_out = true;
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/* orders_stream.function_timeout: a cancel, as statement_timeout's. */
static void
cancel_timeout_handler(void)
{
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * Clears the session state a function may leave in the delivery worker's
 * session, where the next mapping's function (another role's) would find
 * it, or the worker's own queries: what DISCARD ALL clears, but settings
 * (restored by the caller), the session user (which a function cannot
 * change) and LISTEN (refused in a background worker).  Runs as the
 * worker's user, in the delivery transaction.
 */
static void
reset_session_state(void)
{
	LockReleaseAll(USER_LOCKMETHOD, true);	/* advisory locks */
	ResetTempTableNamespace();
	DropAllPreparedStatements();
	PortalHashTableDeleteAll();
	ResetSequenceCaches();		/* currval(), lastval() */
}

bool
delivery_invoke(const DeliveryTarget *target, DeliveryEventBuilder build,
				void *build_arg, char **batch, int nbatch,
				char **lowest_failure, DeliveryResponseCheck check,
				void *check_arg, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	MemoryContext invocation_cxt;
	Oid			save_userid;
	int			save_sec_context;
	volatile bool ok = false;
	int			timeout = orders_stream_function_timeout;

	*error = NULL;
	if (lowest_failure)
		*lowest_failure = NULL;
	if (cancel_timeout == MAX_TIMEOUTS)
	{
		cancel_timeout = RegisterTimeout(USER_TIMEOUT, cancel_timeout_handler);
		terminate_timeout = RegisterTimeout(USER_TIMEOUT, terminate_timeout_handler);
	}
	/* the event and everything the call leaves behind, freed after it */
	invocation_cxt = AllocSetContextCreate(cxt, "orders_stream invocation",
										   ALLOCSET_DEFAULT_SIZES);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(invocation_cxt);

	PG_TRY();
	{
		FmgrInfo	flinfo;
		LOCAL_FCINFO(fcinfo, 1);
		Datum		result;
		int			nestlevel;
		Jsonb	   *event;

		/*
		 * Building the event is part of the attempt: an error (out of memory)
		 * fails it like the function's own, so that the batch is retried,
		 * bisected and given up on as usual.
		 */
		event = build(build_arg);

		/*
		 * The function runs as the mapping's owner, with its search_path.
		 * Temporary tables that other mappings' functions left in this
		 * session must not shadow the owner's tables: unless that path names
		 * pg_temp, it comes last (instead of first, implicitly).
		 */
		SetUserIdAndSecContext(target->owner,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path",
								 strstr(target->search_path, "pg_temp") ? target->search_path :
								 psprintf("%s, pg_temp", target->search_path),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
		/* is_superuser shows the worker's (superuser) session otherwise */
		(void) set_config_option("is_superuser",
								 superuser_arg(target->owner) ? "on" : "off",
								 PGC_INTERNAL, PGC_S_DYNAMIC_DEFAULT, GUC_ACTION_SAVE,
								 true, 0, false);
		check_target(target);
		if (timeout > 0)
		{
			EnableTimeoutParams timeouts[2];

			timeouts[0].id = cancel_timeout;
			timeouts[0].type = TMPARAM_AFTER;
			timeouts[0].delay_ms = timeout;
			timeouts[1].id = terminate_timeout;
			timeouts[1].type = TMPARAM_AFTER;
			timeouts[1].delay_ms = timeout + orders_stream_function_timeout_grace;
			enable_timeouts(timeouts, 2);
		}

		fmgr_info(target->function, &flinfo);
		InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(event);
		fcinfo->args[0].isnull = false;
		result = FunctionCallInvoke(fcinfo);
		if (timeout > 0)
		{
			disable_timeout(cancel_timeout, false);
			disable_timeout(terminate_timeout, false);
		}
		/* it caught the cancel and returned: still too late, as on AWS */
		if (timeout > 0 && get_timeout_indicator(cancel_timeout, false))
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("function %s timed out after %d ms and ignored the cancel",
							format_procedure(target->function), timeout),
					 errhint("Raise orders_stream.function_timeout, or let the function end when cancelled.")));
		if (batch != NULL)
		{
			char	   *lowest = lowest_item_failure(target->function, result,
													 fcinfo->isnull, batch, nbatch);

			if (lowest != NULL)
				*lowest_failure = MemoryContextStrdup(cxt, lowest);
		}
		if (check != NULL)
			check(target->function, result, fcinfo->isnull, check_arg);

		/*
		 * Undo every setting the function made, SET or SET LOCAL: none may
		 * outlive the invocation, in this worker's superuser session (its own
		 * queries, e.g. under a search_path the function chose) or in the
		 * next mapping's function.
		 */
		AtEOXact_GUC(false, nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		ReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		bool		timed_out;

		if (timeout > 0)
		{
			disable_timeout(cancel_timeout, false);
			disable_timeout(terminate_timeout, false);
		}
		timed_out = timeout > 0 && get_timeout_indicator(cancel_timeout, true);
		MemoryContextSwitchTo(cxt);
		*error = CopyErrorData();
		FlushErrorState();
		/* restores the user id and the GUCs of before the subtransaction */
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
		MemoryContextSwitchTo(cxt);
		/* rather than "canceling statement due to user request" */
		if (timed_out && (*error)->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			strstr((*error)->message, "timed out") == NULL)
			(*error)->message = psprintf("function %s timed out after %d ms",
										 format_procedure(target->function), timeout);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	MemoryContextDelete(invocation_cxt);

	if (am_delivery_worker)
		reset_session_state();
	/* the function's effects must be visible to what follows */
	if (ok)
		CommandCounterIncrement();
	return ok;
}

static char *
describe_error(ErrorData *e)
{
	return psprintf("%s: %s", unpack_sql_state(e->sqlerrcode), e->message ? e->message : "");
}

/*
 * The function's name for its functionArn, schema-qualified as in
 * the event_source_mapping_status view.  Looked up by OID: the mapping's
 * function_name is the regprocedure text of its creator's search_path, which
 * this worker's search_path may not resolve.
 */
static char *
function_display_name(Mapping *m)
{
	char	   *name = get_func_name(m->target.function);
	char	   *nsp;

	if (name == NULL)
		return m->function_name;	/* dropped since */
	nsp = get_namespace_name(get_func_namespace(m->target.function));
	return (char *) quote_qualified_identifier(nsp, name);
}

/*
 * Writes the batch's records [from, to) to orders_stream.failures with the
 * Lambda OnFailure document, as the on-failure destination does.
 */
static void
write_failure(Mapping *m, Batch *b, int from, int to, const char *condition,
			  int invoke_count, ErrorData *e)
{
	Oid			argtypes[14] = {UUIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[14];
	char		nulls[14];
	StringInfoData records;
	int			i;

	initStringInfo(&records);
	appendStringInfoChar(&records, '[');
	for (i = from; i < to; i++)
	{
		if (i > from)
			appendStringInfoChar(&records, ',');
		appendStringInfoString(&records, b->records[i]);
	}
	appendStringInfoChar(&records, ']');

	memset(nulls, ' ', sizeof(nulls));
	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(m->uuid));
	values[1] = ObjectIdGetDatum(m->target.owner);
	values[2] = CStringGetTextDatum(condition);
	values[3] = CStringGetTextDatum(function_display_name(m));
	values[4] = CStringGetTextDatum(b->seqs[from]);
	values[5] = CStringGetTextDatum(b->seqs[to - 1]);
	values[6] = CStringGetTextDatum(records.data);
	values[7] = Int32GetDatum(invoke_count);
	values[8] = Int32GetDatum(to - from);
	values[9] = CStringGetTextDatum(m->shard_id);
	values[10] = CStringGetTextDatum(m->stream_arn);
	if (e)
	{
		values[11] = CStringGetTextDatum(unpack_sql_state(e->sqlerrcode));
		values[12] = CStringGetTextDatum(e->message ? e->message : "");
		if (e->detail || e->hint || e->context)
			values[13] = CStringGetTextDatum(psprintf("%s\n%s\n%s",
													  e->detail ? e->detail : "",
													  e->hint ? e->hint : "",
													  e->context ? e->context : ""));
		else
			nulls[13] = 'n';
	}
	else
	{
		nulls[11] = nulls[12] = nulls[13] = 'n';
	}

	if (SPI_execute_with_args(
							  "INSERT INTO orders_stream.failures "
							  "(mapping_uuid, owner_oid, condition, payload, records, sqlstate, message, detail, hint, context) "
							  "SELECT $1, $2, $3, jsonb_build_object("
							  " 'requestContext', jsonb_build_object('requestId', gen_random_uuid(),"
							  "   'functionArn', format('arn:aws:lambda:%s:%s:function:%s',"
							  "      current_setting('orders_stream.region'), current_setting('orders_stream.account_id'), $4),"
							  "   'condition', $3, 'approximateInvokeCount', $8),"
							  " 'responseContext', CASE WHEN $12 IS NULL THEN jsonb_build_object('statusCode', 200, 'executedVersion', '$LATEST')"
							  "   ELSE jsonb_build_object('statusCode', 200, 'executedVersion', '$LATEST', 'functionError', 'Unhandled') END,"
							  " 'version', '1.0',"
							  " 'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
							  " 'DDBStreamBatchInfo', jsonb_build_object('shardId', $10,"
							  "   'startSequenceNumber', $5, 'endSequenceNumber', $6,"
							  "   'approximateArrivalOfFirstRecord', to_char(to_timestamp((r.j->0->'dynamodb'->>'ApproximateCreationDateTime')::float8) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
							  "   'approximateArrivalOfLastRecord', to_char(to_timestamp((r.j->-1->'dynamodb'->>'ApproximateCreationDateTime')::float8) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
							  "   'batchSize', $9, 'streamArn', $11)),"
							  " r.j, $12, $13, split_part($14, E'\\n', 1), split_part($14, E'\\n', 2), "
							  " nullif(substr($14, length(split_part($14, E'\\n', 1)) + length(split_part($14, E'\\n', 2)) + 3), '') "
							  "FROM (SELECT $7::jsonb AS j) r",
							  14, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write to orders_stream.failures");
}

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

static void
pop_done_halves(Outcome *o)
{
	while (o->bisect_stack != NIL &&
		   strcmp((char *) llast(o->bisect_stack), o->checkpoint) <= 0)
		o->bisect_stack = list_delete_last(o->bisect_stack);
}

/*
 * A retry runs the same batch again: records that arrived since must wait
 * for the next one, so the batch's end goes on the stack (and comes off it
 * with pop_done_halves() once the checkpoint has passed it).
 */
static void
bound_retry(Outcome *o, Batch *b)
{
	char	   *last = b->seqs[b->n - 1];

	if (o->bisect_stack == NIL || strcmp((char *) llast(o->bisect_stack), last) > 0)
		o->bisect_stack = lappend(list_copy(o->bisect_stack), last);
}

/*
 * Writes the outcome to the mapping row, if the row is still the one loaded
 * (same xmin) and nobody is changing it (SKIP LOCKED: an update or delete in
 * progress never makes the worker wait).  Otherwise marks the mapping stale:
 * the caller rolls the whole batch back, function effects included, and the
 * next round sees the new configuration, or no mapping.
 */
static void
save_outcome(Mapping *m, Outcome *o)
{
	Oid			argtypes[15] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTARRAYOID,
		INT4OID, INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID,
		TIMESTAMPTZOID, JSONBOID, BOOLOID};
	Datum		values[15];
	char		nulls[15];
	Datum	   *stack;
	ListCell   *lc;
	int			i = 0;

	memset(nulls, ' ', sizeof(nulls));
	stack = palloc(sizeof(Datum) * Max(list_length(o->bisect_stack), 1));
	foreach(lc, o->bisect_stack)
		stack[i++] = CStringGetTextDatum((char *) lfirst(lc));

	values[0] = CStringGetTextDatum(m->uuid);
	values[1] = CStringGetTextDatum(o->checkpoint);
	values[2] = Int32GetDatum(o->attempts);
	if (o->next_attempt_at)
		values[3] = TimestampTzGetDatum(o->next_attempt_at);
	else
		nulls[3] = 'n';
	values[4] = PointerGetDatum(construct_array(stack, i, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = Int32GetDatum(o->invocations);
	values[6] = Int32GetDatum(o->errors);
	values[7] = Int32GetDatum(o->retries);
	values[8] = Int32GetDatum(o->failures);
	values[9] = Int32GetDatum(o->processed);
	if (o->last_error)
		values[10] = CStringGetTextDatum(o->last_error);
	else
		nulls[10] = 'n';
	values[11] = CStringGetTextDatum(o->result);
	window_columns(&o->window, values + 12, nulls + 12);

	{
		Oid			locktypes[2] = {TEXTOID, INT8OID};
		Datum		lockvalues[2] = {values[0], Int64GetDatum((int64) m->xmin)};

		if (SPI_execute_with_args("SELECT FROM orders_stream.event_source_mappings "
								  "WHERE uuid = $1::uuid AND xmin::text::bigint = $2 "
								  "FOR NO KEY UPDATE SKIP LOCKED",
								  2, locktypes, lockvalues, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock event source mapping %s", m->uuid);
		if (SPI_processed == 0)
		{
			m->stale = true;
			return;
		}
	}
	if (SPI_execute_with_args("UPDATE orders_stream.event_source_mappings SET "
							  "checkpoint = $2, attempts = $3, next_attempt_at = $4, bisect_stack = $5, "
							  "invocations = invocations + $6, errors = errors + $7, "
							  "retries = retries + $8, failures = failures + $9, "
							  "records_processed = records_processed + $10, "
							  "last_error = coalesce($11, last_error), last_processing_result = $12, "
							  "last_invoked_at = CASE WHEN $6 > 0 THEN now() ELSE last_invoked_at END, "
							  "window_start = $13, window_state = $14, window_terminated_early = $15 "
							  "WHERE uuid = $1::uuid",
							  15, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update event source mapping %s", m->uuid);
}

/*
 * The record-age limit of a mapping, in seconds: its own, or with -1 the
 * retention less a margin, so that records are given up on (and kept in
 * orders_stream.failures) before they are trimmed.
 */
static int64
max_age_secs(Mapping *m)
{
	if (m->max_age_secs >= 0)
		return m->max_age_secs;
	return Max(orders_stream_retention - AGE_MARGIN_SECS, 1);
}

/*
 * Whether the mapping's owner may read its stream: SELECT on the table, and
 * past its row-level security if enabled (the records hold every row).  The
 * records of a dropped table stay deliverable to the mappings that exist
 * until they age out: nobody can be granted access to them any more, and
 * the mapping's owner had it.  (An OID that a new table reuses is checked
 * as that table.)
 */
static bool
owner_may_read(Mapping *m)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(m->target.owner)))
		return false;
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(m->relid)))
		return true;
	return pg_class_aclcheck(m->relid, m->target.owner, ACL_SELECT) == ACLCHECK_OK &&
		check_enable_rls(m->relid, m->target.owner, true) != RLS_ENABLED;
}

/*
 * Runs the function on the batch, recording the invocation in shared memory
 * while it runs, for the next worker should this one be terminated.
 */
static bool
invoke_batch(Mapping *m, Batch *b, const char *batch_end, char **lowest,
			 ErrorData **error)
{
	DeliveryInflight *inflight = worker_inflight();
	bool		ok;

	if (strlen(m->checkpoint) < OS_INFLIGHT_SEQ_LEN &&
		strlen(batch_end) < OS_INFLIGHT_SEQ_LEN)
	{
		strlcpy(inflight->mapping, m->uuid, sizeof(inflight->mapping));
		strlcpy(inflight->checkpoint, m->checkpoint, sizeof(inflight->checkpoint));
		strlcpy(inflight->batch_end, batch_end, sizeof(inflight->batch_end));
		inflight->database = MyDatabaseId;
		inflight->timeout_ms = orders_stream_function_timeout;
		inflight->timed_out = false;
		pg_write_barrier();
		inflight->pid = MyProcPid;
	}
	ok = delivery_invoke(&m->target, build_event, b,
						 m->report_item_failures ? b->seqs : NULL, b->n, lowest,
						 b->window ? window_check_response : NULL, b->window,
						 error);
	inflight->pid = 0;
	return ok;
}

/* The error of an invocation whose worker did not survive it. */
static ErrorData *
killed_error(Mapping *m, const KilledInvocation *killed)
{
	ErrorData  *e = palloc0(sizeof(ErrorData));

	e->elevel = ERROR;
	if (killed->timed_out)
	{
		e->sqlerrcode = ERRCODE_QUERY_CANCELED;
		e->message = psprintf("function %s timed out after %d ms and ignored the cancel: its worker was terminated",
							  function_display_name(m), killed->timeout_ms);
		e->hint = pstrdup("Let the function end when cancelled (do not catch query_canceled), or raise orders_stream.function_timeout.");
	}
	else
	{
		e->sqlerrcode = ERRCODE_ADMIN_SHUTDOWN;
		e->message = psprintf("the delivery worker exited while function %s ran",
							  function_display_name(m));
	}
	return e;
}

/*
 * The final invocation of a tumbling window (see window.c): no records, the
 * window's state, isFinalInvokeForWindow.  As in Lambda, a failing final
 * invocation holds the mapping until it succeeds: it is retried with
 * backoff whatever maximum_retry_attempts says (it has no records to give
 * up on).  With killed, it was running when its worker was terminated.
 */
static bool
deliver_window_final(Mapping *m, const KilledInvocation *killed)
{
	Batch	   *b = palloc0(sizeof(Batch));
	Outcome		o;
	char	   *lowest = NULL;
	ErrorData  *error = NULL;
	bool		ok;

	memset(&o, 0, sizeof(o));
	o.checkpoint = m->checkpoint;
	o.bisect_stack = m->bisect_stack;
	o.window = m->window;
	b->window = window_invocation(&m->window, true, m->shard_id, m->stream_arn);
	if (killed != NULL)
	{
		error = killed_error(m, killed);
		ok = false;
	}
	else
		ok = invoke_batch(m, b, m->checkpoint, &lowest, &error);
	o.invocations = 1;
	if (ok)
	{
		window_final_done(&o.window, b->window);
		o.result = "OK";
	}
	else
	{
		o.errors = 1;
		o.last_error = describe_error(error);
		o.result = "PROBLEM: Function call failed";
		o.attempts = m->attempts + 1;
		o.retries = 1;
		o.next_attempt_at = next_attempt(o.attempts);
	}
	save_outcome(m, &o);
	return true;
}

/*
 * One step of one mapping, in the current transaction.  Returns true if it
 * did something (invoked, or gave records up); false if there was nothing to
 * do, with *due set when the mapping waits for a time.  With killed, the
 * batch is the one a terminated worker was invoking, and fails without
 * being invoked again.
 */
static bool
deliver_step(Mapping *m, const KilledInvocation *killed, TimestampTz *due)
{
	TimestampTz now = GetCurrentTimestamp();
	Batch	   *b;
	Outcome		o;
	int			expired;
	char	   *lowest = NULL;
	ErrorData  *error = NULL;
	bool		ok;
	char	   *batch_end;		/* the last record read, matching or not */

	memset(&o, 0, sizeof(o));
	o.checkpoint = m->checkpoint;
	o.attempts = m->attempts;
	o.bisect_stack = m->bisect_stack;

	b = fetch_batch(m, killed ? killed->batch_end : NULL);

	/* tumbling windows (window.c): a batch of one window, or its end */
	if (m->window.seconds > 0 &&
		(m->bisect_stack == NIL || m->window.terminate_early))
	{
		int			fetched = b->n;
		WindowAction action = window_plan(&m->window, b->records, &b->n,
										  killed != NULL, false, now, due);

		if (action == WINDOW_RECHECK)
		{
			/* capture has caught up: what it stored since this snapshot */
			PushActiveSnapshot(GetTransactionSnapshot());
			b = fetch_batch(m, NULL);
			PopActiveSnapshot();
			fetched = b->n;
			action = window_plan(&m->window, b->records, &b->n, false, true,
								 now, due);
		}
		if (action == WINDOW_WAIT)
			return false;
		if (action == WINDOW_FINAL)
			return deliver_window_final(m, killed);
		if (b->n < fetched)
			b->full = true;		/* cut at the window's end */
	}
	if (m->window.state != NULL && b->n > 0)
		b->window = window_invocation(&m->window, false, m->shard_id, m->stream_arn);
	o.window = m->window;

	if (b->n == 0)
	{
		/* a pending half whose records have gone: nothing left of it */
		if (m->bisect_stack != NIL)
		{
			o.checkpoint = (char *) llast(m->bisect_stack);
			o.result = "OK";
			pop_done_halves(&o);
			save_outcome(m, &o);
			return true;
		}
		return false;
	}

	batch_end = b->seqs[b->n - 1];

	/*
	 * The owner must still exist and still be allowed to read the stream.  If
	 * not, the mapping stalls, as an AWS mapping whose role lost access to
	 * the stream does: its records go neither to the function nor to
	 * orders_stream.failures, which the owner can read.  Delivery resumes
	 * once the privilege is back; until then retention trims the records.
	 * Checked before the batching window or the filters look at a record, so
	 * that not even the checkpoint moves on data the owner may not read.
	 */
	if (!owner_may_read(m))
	{
		o.errors = 1;
		o.last_error = psprintf("42501: AccessDeniedException: the owner of event source mapping %s may not read stream \"%s\"",
								m->uuid, m->stream_arn);
		o.result = "PROBLEM: The owner of the mapping may not read the stream";
		o.next_attempt_at = TimestampTzPlusMilliseconds(now, orders_stream_retry_max_delay);
		save_outcome(m, &o);
		return true;
	}

	/* AWS waits up to the batching window for a full batch */
	if (!b->full && m->window_secs > 0 && m->attempts == 0 &&
		m->bisect_stack == NIL && killed == NULL &&
		now < TimestampTzPlusMilliseconds(b->arrivals[0], m->window_secs * 1000L))
	{
		*due = TimestampTzPlusMilliseconds(b->arrivals[0], m->window_secs * 1000L);
		return false;
	}

	/* records that match no filter are discarded, as AWS event filtering does */
	if (m->filters != NIL)
	{
		b = filter_batch(m, b);
		if (b->n == 0)
		{
			o.checkpoint = batch_end;
			o.result = "OK";
			pop_done_halves(&o);
			save_outcome(m, &o);
			return true;
		}
	}

	/* records too old for the function go to the failure destination */
	for (expired = 0; expired < b->n; expired++)
		if (ms_between(b->arrivals[expired], now) <= max_age_secs(m) * 1000)
			break;
	if (expired > 0)
	{
		write_failure(m, b, 0, expired, "RecordAgeExceeded", m->attempts, NULL);
		o.checkpoint = b->seqs[expired - 1];
		o.attempts = 0;
		o.failures = 1;
		o.result = "PROBLEM: Record age exceeded";
		pop_done_halves(&o);
		save_outcome(m, &o);
		return true;
	}

	if (killed != NULL)
	{
		error = killed_error(m, killed);
		ok = false;
	}
	else
		ok = invoke_batch(m, b, batch_end, &lowest, &error);
	o.invocations = 1;

	if (ok && lowest == NULL)
	{
		o.checkpoint = batch_end;
		o.attempts = 0;
		o.processed = b->n;
		o.result = "OK";
		pop_done_halves(&o);
		if (b->window != NULL)
			window_invoked(&o.window, b->window);
	}
	else if (ok)
	{
		/* partial failure: keep what came before the lowest failed record */
		int			first_failed = 0;

		while (strcmp(b->seqs[first_failed], lowest) != 0)
			first_failed++;
		o.processed = first_failed;
		if (first_failed > 0)
			o.checkpoint = b->seqs[first_failed - 1];
		/* the state the function returned counts the records it processed */
		if (b->window != NULL)
			window_invoked(&o.window, b->window);
		o.errors = 1;
		o.last_error = psprintf("batchItemFailures from %s", lowest);
		o.result = "PROBLEM: Function reported batch item failures";
		if (m->max_retries >= 0 && m->attempts >= m->max_retries)
		{
			write_failure(m, b, first_failed, b->n, "RetryAttemptsExhausted",
						  m->attempts + 1, NULL);
			o.checkpoint = batch_end;
			o.attempts = 0;
			o.failures = 1;
		}
		else
		{
			o.attempts = m->attempts + 1;
			o.retries = 1;
			o.next_attempt_at = next_attempt(o.attempts);
			bound_retry(&o, b);
		}
		pop_done_halves(&o);
	}
	else
	{
		o.errors = 1;
		o.last_error = describe_error(error);
		o.result = "PROBLEM: Function call failed";
		if (b->window != NULL && window_overflowed(&o.window, b->window))
			o.result = "PROBLEM: Tumbling window state over its limit: window terminated early";
		else if (m->bisect && b->n > 1)
		{
			/* run the first half next, then the second; not a retry */
			if (o.bisect_stack == NIL)
				o.bisect_stack = lappend(o.bisect_stack, b->seqs[b->n - 1]);
			o.bisect_stack = lappend(list_copy(o.bisect_stack), b->seqs[(b->n + 1) / 2 - 1]);
		}
		else if (m->max_retries >= 0 && m->attempts >= m->max_retries)
		{
			write_failure(m, b, 0, b->n, "RetryAttemptsExhausted", m->attempts + 1, error);
			o.checkpoint = batch_end;
			o.attempts = 0;
			o.failures = 1;
			pop_done_halves(&o);
		}
		else
		{
			o.attempts = m->attempts + 1;
			o.retries = 1;
			o.next_attempt_at = next_attempt(o.attempts);
			bound_retry(&o, b);
		}
	}
	save_outcome(m, &o);
	return true;
}

/*
 * One batch of one mapping, in a transaction of its own, rolled back if the
 * mapping changed meanwhile.
 */
static bool
deliver_one(const char *uuid, const KilledInvocation *killed, TimestampTz *due)
{
	MemoryContext cxt = CurrentMemoryContext;
	Mapping    *m;
	bool		worked = false;
	bool		stale = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	pgstat_report_activity(STATE_RUNNING, "delivering stream records");

	m = load_mapping(uuid);
	if (m != NULL && killed != NULL && strcmp(m->checkpoint, killed->checkpoint) != 0)
		m = NULL;				/* that batch is no longer the next */
	if (m != NULL && killed == NULL && m->next_attempt_at > GetCurrentTimestamp())
		*due = m->next_attempt_at;	/* backing off before a retry */
	else if (m != NULL)
	{
		worked = deliver_step(m, killed, due);
		stale = m->stale;
	}

	SPI_finish();
	PopActiveSnapshot();
	if (stale)
		AbortCurrentTransaction();
	else
		CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return worked;
}

/*
 * After an error outside the function's subtransaction (a bug, or a catalog
 * change under the mapping): shows it on the mapping and holds the mapping
 * back for orders_stream.retry_max_delay, so that it neither stops the
 * worker nor keeps the other mappings waiting.
 */
static void
note_internal_error(const char *uuid, const char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(uuid);
	values[1] = CStringGetTextDatum(message);
	values[2] = Int32GetDatum(orders_stream_retry_max_delay);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	/* SKIP LOCKED: a change of the mapping in progress does not stop us */
	if (SPI_execute_with_args("UPDATE orders_stream.event_source_mappings SET "
							  "last_error = $2, last_processing_result = 'PROBLEM: Internal error', "
							  "next_attempt_at = clock_timestamp() + $3 * interval '1 ms' "
							  "WHERE uuid = (SELECT uuid FROM orders_stream.event_source_mappings "
							  "  WHERE uuid = $1::uuid FOR NO KEY UPDATE SKIP LOCKED)",
							  3, argtypes, values, NULL, false, 0) < 0)
		elog(WARNING, "could not record the error of event source mapping %s", uuid);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/* deliver_one(), surviving its errors. */
static bool
deliver_one_guarded(const char *uuid, const KilledInvocation *killed,
					TimestampTz *due)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool worked = false;
	char	   *volatile message = NULL;

	PG_TRY();
	{
		worked = deliver_one(uuid, killed, due);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		EmitErrorReport();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		worker_inflight()->pid = 0;
		pgstat_report_activity(STATE_IDLE, NULL);
		RESUME_INTERRUPTS();
		message = psprintf("%s: %s", unpack_sql_state(e->sqlerrcode),
						   e->message ? e->message : "");
		FreeErrorData(e);
	}
	PG_END_TRY();

	if (message != NULL)
	{
		note_internal_error(uuid, message);
		pfree(message);
		*due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   orders_stream_retry_max_delay);
		return false;
	}
	return worked;
}

/* The enabled mappings' UUIDs, allocated in cxt. */
static List *
enabled_mappings(MemoryContext cxt)
{
	List	   *uuids = NIL;
	uint64		i;
	MemoryContext old;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT uuid::text FROM orders_stream.event_source_mappings "
					"WHERE enabled ORDER BY created_at, uuid", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list event source mappings");
	old = MemoryContextSwitchTo(cxt);
	for (i = 0; i < SPI_processed; i++)
		uuids = lappend(uuids, pstrdup(spi_text(SPI_tuptable->vals[i], 1)));
	MemoryContextSwitchTo(old);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return uuids;
}

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
	am_delivery_worker = true;
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
