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
	DeliveryInflight *inflight = delivery_my_inflight();

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
	volatile bool returned = false;
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
		 *
		 * And as a security-restricted operation, as VACUUM runs index
		 * functions: nothing the function queues may run after the switch
		 * back to this session's user.  PostgreSQL then refuses deferred
		 * triggers (they would fire at commit, as the worker's superuser),
		 * temporary objects (they would shadow what runs next) and cursors
		 * WITH HOLD.
		 */
		SetUserIdAndSecContext(target->owner,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
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
		returned = true;
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
		if (returned)
			(*error)->context = pstrdup(DELIVERY_RESPONSE_CONTEXT);
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
		os_reset_session_state();
	/* the function's effects must be visible to what follows */
	if (ok)
		CommandCounterIncrement();
	return ok;
}
