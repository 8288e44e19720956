/*-------------------------------------------------------------------------
 * delivery_invoke.c
 *	  Invoking a mapping's function as its owner, as a security-restricted
 *	  operation: in a subtransaction, with its search_path, cancelled at
 *	  orders_stream.function_timeout and its process ended
 *	  orders_stream.function_timeout_grace later if it ignores the cancel;
 *	  settings it makes are undone and, in a delivery or redrive worker, the
 *	  session state it leaves is cleared.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/timeout.h"

#include "compat.h"
#include "delivery_internal.h"
#include "filter.h"
#include "orders_stream.h"
#include "security.h"
#include "workers.h"

/* Set in the delivery worker, whose session state invocations reset. */
static bool am_delivery_worker = false;

/* Timeouts of an invocation: a cancel, then the end of the process. */
static TimeoutId cancel_timeout = MAX_TIMEOUTS;
static TimeoutId terminate_timeout = MAX_TIMEOUTS;

void
delivery_invoke_in_worker(void)
{
	am_delivery_worker = true;
}

/*
 * A function's response as jsonb, NULL for a null (or void) response, a
 * success, as a null EventResponse.  With ReportBatchItemFailures the
 * function must return jsonb (or json, or text).
 */
static Jsonb *
response_jsonb(Oid function, Datum result, bool isnull)
{
	Oid			rettype = getBaseType(get_func_rettype(function));

	if (isnull || rettype == VOIDOID)
		return NULL;
	/* the Datum is only a Jsonb if the function returns jsonb */
	if (rettype == JSONBOID)
		return DatumGetJsonbP(result);
	if (rettype == JSONOID || rettype == TEXTOID)
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												  CStringGetDatum(TextDatumGetCString(result))));
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("function returns %s, not a ReportBatchItemFailures response",
					format_type_be(rettype)),
			 errhint("With function_response_types {ReportBatchItemFailures} the function must return jsonb (or void).")));
	return NULL;				/* keep compiler quiet */
}

/*
 * The itemIdentifier of an entry of batchItemFailures, which must be a
 * SequenceNumber of the batch.
 */
static char *
item_identifier(JsonbValue *entry, char **batch, int nbatch)
{
	JsonbValue *id = NULL;
	char	   *seq;
	int			i;

	if (entry->type == jbvBinary && JsonContainerIsObject(entry->val.binary.data))
		id = getKeyJsonValueFromContainer(entry->val.binary.data, "itemIdentifier",
										  strlen("itemIdentifier"), NULL);
	if (id == NULL || id->type != jbvString || id->val.string.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("batchItemFailures entry without an itemIdentifier"),
				 errhint("Each entry is {\"itemIdentifier\": \"<SequenceNumber>\"}.")));
	seq = pnstrdup(id->val.string.val, id->val.string.len);
	for (i = 0; i < nbatch; i++)
		if (strcmp(batch[i], seq) == 0)
			return seq;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("batchItemFailures names \"%s\", which is not a SequenceNumber of the batch", seq),
			 errhint("Report the dynamodb.SequenceNumber of the failed records.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * ReportBatchItemFailures: the lowest itemIdentifier of the function's
 * batchItemFailures, or NULL when it reports none.  Raises an error (which
 * fails the whole batch, as in AWS) for an identifier outside the batch.
 */
static char *
lowest_item_failure(Oid function, Datum result, bool isnull, char **batch, int nbatch)
{
	Jsonb	   *jb = response_jsonb(function, result, isnull);
	JsonbValue *failures;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *lowest = NULL;

	if (jb == NULL || !JB_ROOT_IS_OBJECT(jb))
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
		char	   *seq;

		if (tok != WJB_ELEM)
			continue;
		seq = item_identifier(&v, batch, nbatch);
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
	security_check_target(target->function);
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
	DeliveryInflight *inflight = delivery_pool_my_inflight();

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


/* Arms the invocation's timeouts: a cancel, then the end of the process. */
static void
start_timeouts(int timeout)
{
	EnableTimeoutParams timeouts[2];

	if (timeout <= 0)
		return;
	timeouts[0].id = cancel_timeout;
	timeouts[0].type = TMPARAM_AFTER;
	timeouts[0].delay_ms = timeout;
	timeouts[1].id = terminate_timeout;
	timeouts[1].type = TMPARAM_AFTER;
	timeouts[1].delay_ms = timeout + orders_stream_function_timeout_grace;
	enable_timeouts(timeouts, 2);
}

/*
 * Disarms the invocation's timeouts.  Returns whether the cancel fired
 * (with reset, its indicator is cleared).
 */
static bool
stop_timeouts(int timeout, bool reset)
{
	if (timeout <= 0)
		return false;
	disable_timeout(cancel_timeout, false);
	disable_timeout(terminate_timeout, false);
	return get_timeout_indicator(cancel_timeout, reset);
}

/*
 * Calls the function on the event under orders_stream.function_timeout, and
 * reads its response: the lowest batchItemFailures (into the caller's
 * memory context cxt), then the caller's check.
 */
static void
call_function(DeliveryInvocation *call, Jsonb *event, int timeout,
			  MemoryContext cxt)
{
	Oid			function = call->target->function;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	start_timeouts(timeout);
	fmgr_info(function, &flinfo);
	InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(event);
	fcinfo->args[0].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	/* it caught the cancel and returned: still too late, as on AWS */
	if (stop_timeouts(timeout, false))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("function %s timed out after %d ms and ignored the cancel",
						format_procedure(function), timeout),
				 errhint("Raise orders_stream.function_timeout, or let the function end when cancelled.")));
	call->returned = true;
	if (call->batch != NULL)
	{
		char	   *lowest = lowest_item_failure(function, result, fcinfo->isnull,
												 call->batch, call->nbatch);

		if (lowest != NULL)
			call->lowest_failure = MemoryContextStrdup(cxt, lowest);
	}
	if (call->check != NULL)
		call->check(function, result, fcinfo->isnull, call->check_arg);
}

/*
 * The invocation, inside its subtransaction.  Building the event is part of
 * the attempt: an error (out of memory) fails it like the function's own,
 * so that the batch is retried, bisected and given up on as usual.
 */
static void
invoke_as_owner(DeliveryInvocation *call, int timeout, MemoryContext cxt)
{
	Jsonb	   *event = call->build(call->build_arg);
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	nestlevel = security_become_owner(call->target->owner,
									  call->target->search_path,
									  save_sec_context);
	check_target(call->target);
	call_function(call, event, timeout, cxt);

	/*
	 * Undo every setting the function made, SET or SET LOCAL: none may
	 * outlive the invocation, in this worker's superuser session (its own
	 * queries, e.g. under a search_path the function chose) or in the next
	 * mapping's function.
	 */
	security_end_owner(nestlevel, save_userid, save_sec_context);
}

bool
delivery_invoke(DeliveryInvocation *call)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	MemoryContext invocation_cxt;
	volatile bool ok = false;
	int			timeout = orders_stream_function_timeout;

	call->error = NULL;
	call->returned = false;
	call->lowest_failure = NULL;
	if (cancel_timeout == MAX_TIMEOUTS)
	{
		cancel_timeout = RegisterTimeout(USER_TIMEOUT, cancel_timeout_handler);
		terminate_timeout = RegisterTimeout(USER_TIMEOUT, terminate_timeout_handler);
	}
	/* the event and everything the call leaves behind, freed after it */
	invocation_cxt = AllocSetContextCreate(cxt, "orders_stream invocation",
										   ALLOCSET_DEFAULT_SIZES);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(invocation_cxt);
	PG_TRY();
	{
		invoke_as_owner(call, timeout, cxt);
		ReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		bool		timed_out = stop_timeouts(timeout, true);

		MemoryContextSwitchTo(cxt);
		call->error = CopyErrorData();
		if (call->returned)
			call->error->context = pstrdup(DELIVERY_RESPONSE_CONTEXT);
		FlushErrorState();
		/* restores the user id and the GUCs of before the subtransaction */
		RollbackAndReleaseCurrentSubTransaction();
		CurrentResourceOwner = owner;
		MemoryContextSwitchTo(cxt);
		/* rather than "canceling statement due to user request" */
		if (timed_out && call->error->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			strstr(call->error->message, "timed out") == NULL)
			call->error->message = psprintf("function %s timed out after %d ms",
											format_procedure(call->target->function),
											timeout);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	MemoryContextDelete(invocation_cxt);

	if (am_delivery_worker)
		security_reset_session_state();
	/* the function's effects must be visible to what follows */
	if (ok)
		CommandCounterIncrement();
	return ok;
}
