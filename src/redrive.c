/*-------------------------------------------------------------------------
 * redrive.c
 *	  redrive_failures(): the failures of event source mappings, invoked
 *	  again after the function has been fixed.
 *
 * The functions never run in the caller's session: a superuser who
 * redrives another role's failures would otherwise run that role's code in
 * a session where what it leaves (a deferred trigger firing at the
 * caller's commit, a temporary object shadowing the caller's next query)
 * acts with the caller's rights.  The caller picks the failures it may
 * redrive (those of the mappings of roles it is a member of), then a
 * redrive worker, a background worker started for the call, replays them
 * one by one through delivery_invoke(), with the rules of a delivery
 * worker: as the mapping's owner, as a security-restricted operation, in a
 * subtransaction, with orders_stream.function_timeout, its settings undone
 * and the session state it leaves cleared.  Each outcome is committed in
 * the failure row by the worker; the caller waits on its latch until the
 * worker has exited and returns the outcomes.
 *
 * The request lives in a dynamic shared memory segment: the failure ids,
 * and the state of each, written by the worker.  A worker terminated during
 * an invocation (past the function's timeout) leaves that failure RUNNING:
 * the caller records it as failed and starts a new worker for the rest.
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
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "delivery_internal.h"
#include "orders_stream.h"
#include "security.h"
#include "version.h"
#include "workers.h"

PG_FUNCTION_INFO_V1(orders_stream_redrive_failures);

#define REDRIVE_WORKER_TYPE		"orders_stream redrive"
/* How long a call waits for a free background worker slot. */
#define REDRIVE_START_TIMEOUT_MS	30000
/* Past a function's timeout and grace, how long before its worker is ended. */
#define REDRIVE_SLACK_MS		10000
/* How often the caller looks at the running invocation's age. */
#define REDRIVE_POLL_MS			1000
/* field4 of the advisory lock tag of a role's redrive (SQL's are 1 and 2) */
#define REDRIVE_LOCKTAG_FIELD4	0x6f73

typedef enum RedriveState
{
	REDRIVE_PENDING,
	REDRIVE_RUNNING,			/* its function runs now */
	REDRIVE_SKIPPED,			/* redriven meanwhile, or locked by another call */
	REDRIVE_DONE				/* its outcome is committed in the failure row */
} RedriveState;

typedef struct RedriveItem
{
	int64		failure_id;
	/* set by the worker before the state turns RUNNING */
	Oid			function;
	TimestampTz started;
	int			timeout_ms;		/* orders_stream.function_timeout, 0 = none */
	int			grace_ms;		/* orders_stream.function_timeout_grace */
	pg_atomic_uint32 state;
} RedriveItem;

typedef struct RedriveRequest
{
	Oid			database;
	Oid			caller;			/* whose failures these are */
	int			nitems;
	RedriveItem items[FLEXIBLE_ARRAY_MEMBER];
} RedriveRequest;

/* The event of a stored failure's records (a DeliveryEventBuilder). */
static Jsonb *
build_stored_event(void *arg)
{
	const char *records = (const char *) arg;

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(psprintf("{\"Records\":%s}", records))));
}

/* ---- the worker ---- */

/*
 * Reads and locks the failure, if it still needs a redrive, the caller may
 * redrive it and no concurrent call has it.  Its row is the one SPI tuple:
 * records, whether the mapping exists, its function, owner and search_path,
 * whether it reports batch item failures, the records' SequenceNumbers.
 */
static bool
lock_failure(RedriveRequest *req, RedriveItem *item)
{
	Oid			argtypes[2] = {INT8OID, OIDOID};
	Datum		args[2];

	args[0] = Int64GetDatum(item->failure_id);
	args[1] = ObjectIdGetDatum(req->caller);
	if (SPI_execute_with_args("SELECT f.records::pg_catalog.text, m.uuid IS NOT NULL, "
							  "m.function_oid, c.relowner, m.search_path, "
							  "COALESCE('ReportBatchItemFailures' OPERATOR(pg_catalog.=) ANY (m.function_response_types), false), "
							  "ARRAY(SELECT r OPERATOR(pg_catalog.->) 'dynamodb' OPERATOR(pg_catalog.->>) 'SequenceNumber' "
							  "      FROM pg_catalog.jsonb_array_elements(f.records) r) "
							  "FROM orders_stream_internal.failures f "
							  "LEFT JOIN orders_stream_internal.event_source_mappings m ON m.uuid OPERATOR(pg_catalog.=) f.mapping_uuid "
							  "LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.anchor "
							  "WHERE f.failure_id OPERATOR(pg_catalog.=) $1 "
							  "AND pg_catalog.pg_has_role($2, f.owner_oid, 'USAGE') "
							  "AND (c.relowner IS NULL OR pg_catalog.pg_has_role($2, c.relowner, 'USAGE')) "
							  "AND f.redrive_result IS DISTINCT FROM 'OK' "
							  "FOR UPDATE OF f SKIP LOCKED",
							  2, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read failure " INT64_FORMAT, item->failure_id);
	return SPI_processed > 0;
}

/* Invokes the mapping's function on the failure's records (lock_failure()'s row). */
static char *
redrive_invoke(RedriveItem *item, HeapTuple tup, TupleDesc desc)
{
	DeliveryTarget target;
	DeliveryInvocation call;
	bool		isnull;

	memset(&call, 0, sizeof(call));
	target.function = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	target.owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	target.search_path = SPI_getvalue(tup, desc, 5);
	call.target = &target;
	call.build = build_stored_event;
	call.build_arg = SPI_getvalue(tup, desc, 1);
	if (DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull)))
	{
		Datum	   *elems;
		bool	   *elemnulls;
		int			j;

		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 7, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elemnulls, &call.nbatch);
		call.batch = palloc(sizeof(char *) * Max(call.nbatch, 1));
		for (j = 0; j < call.nbatch; j++)
			call.batch[j] = elemnulls[j] ? "" : TextDatumGetCString(elems[j]);
	}

	/* what the caller needs should this worker not survive the call */
	item->function = target.function;
	item->timeout_ms = orders_stream_function_timeout;
	item->grace_ms = orders_stream_function_timeout_grace;
	item->started = GetCurrentTimestamp();
	pg_write_barrier();
	pg_atomic_write_u32(&item->state, REDRIVE_RUNNING);

	if (!delivery_invoke(&call))
		return psprintf("ERROR: %s", delivery_failure_describe(call.error));
	if (call.lowest_failure != NULL)
		return psprintf("ERROR: batchItemFailures from %s", call.lowest_failure);
	return "OK";
}

/*
 * Replays one failure, in a transaction of its own, if it still needs it
 * and no concurrent call has it: the row is locked while its function runs
 * and its outcome is written.
 */
static void
redrive_one(RedriveRequest *req, RedriveItem *item)
{
	bool		isnull;
	char	   *result;
	Oid			uptypes[2] = {INT8OID, TEXTOID};
	Datum		upvalues[2];

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	pgstat_report_activity(STATE_RUNNING, "redriving a failure");
	if (!lock_failure(req, item))
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pg_atomic_write_u32(&item->state, REDRIVE_SKIPPED);
		pgstat_report_activity(STATE_IDLE, NULL);
		return;
	}
	if (!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		result = "ERROR: the event source mapping no longer exists";
	else
		result = redrive_invoke(item, SPI_tuptable->vals[0], SPI_tuptable->tupdesc);

	upvalues[0] = Int64GetDatum(item->failure_id);
	upvalues[1] = CStringGetTextDatum(result);
	if (SPI_execute_with_args("UPDATE orders_stream_internal.failures "
							  "SET redriven_at = pg_catalog.now(), redrive_result = $2 "
							  "WHERE failure_id OPERATOR(pg_catalog.=) $1",
							  2, uptypes, upvalues, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not record the redrive of failure " INT64_FORMAT, item->failure_id);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pg_atomic_write_u32(&item->state, REDRIVE_DONE);
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
orders_stream_redrive_worker_main(Datum arg)
{
	dsm_segment *seg;
	RedriveRequest *req;
	Oid			database;
	int			i;

	memcpy(&database, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	/*
	 * As every worker's: the postmaster's death ends a function computing
	 * here at its next CHECK_FOR_INTERRUPTS(), not at its timeout (never,
	 * with none), while the dead server's shared memory stays attached.
	 */
	worker_signals();
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	/* the caller gave up (its transaction ended): nothing to do */
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		proc_exit(0);
	dsm_pin_mapping(seg);
	req = dsm_segment_address(seg);

	SetConfigOption("application_name", REDRIVE_WORKER_TYPE, PGC_USERSET, PGC_S_SESSION);
	/* this session is a superuser's: its own queries trust pg_catalog only */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
	delivery_invoke_in_worker();

	for (i = 0; i < req->nitems; i++)
	{
		/* not through the latch: an orphan must not go on replaying */
		if (!PostmasterIsAlive())
			proc_exit(1);
		CHECK_FOR_INTERRUPTS();
		if (pg_atomic_read_u32(&req->items[i].state) == REDRIVE_PENDING)
			redrive_one(req, &req->items[i]);
	}
	proc_exit(0);
}

/* ---- the caller ---- */

/*
 * Starts a redrive worker for the request, waiting for a free background
 * worker slot for a while.
 */
static BackgroundWorkerHandle *
start_redrive_worker(dsm_segment *seg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   REDRIVE_START_TIMEOUT_MS);

	/* its start and its exit set this backend's latch */
	delivery_pool_dynamic_worker(&worker, "orders_stream_redrive_worker_main",
								 REDRIVE_WORKER_TYPE,
								 UInt32GetDatum(dsm_segment_handle(seg)));
	snprintf(worker.bgw_name, BGW_MAXLEN, "orders_stream redrive worker for PID %d", MyProcPid);

	while (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		if (GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start a redrive worker: no background worker slot was free for %d s",
							REDRIVE_START_TIMEOUT_MS / 1000),
					 errhint("Failures are replayed in a background worker: raise max_worker_processes.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return handle;
}

/*
 * Waits until the worker has exited.  A function that outlives its timeout
 * and grace by REDRIVE_SLACK_MS (a C function that never checks for
 * interrupts) has its worker terminated; so has the worker of a call that
 * is cancelled.
 */
static void
wait_redrive_worker(RedriveRequest *req, BackgroundWorkerHandle *handle)
{
	PG_TRY();
	{
		for (;;)
		{
			pid_t		pid;
			BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);
			int			i;

			if (status == BGWH_STOPPED)
				break;
			if (status == BGWH_POSTMASTER_DIED)
				ereport(FATAL,
						(errcode(ERRCODE_ADMIN_SHUTDOWN),
						 errmsg("postmaster exited during redrive_failures()")));
			for (i = 0; i < req->nitems; i++)
			{
				RedriveItem *item = &req->items[i];

				if (pg_atomic_read_u32(&item->state) != REDRIVE_RUNNING)
					continue;
				pg_read_barrier();
				if (item->timeout_ms > 0 &&
					TimestampDifferenceExceeds(item->started, GetCurrentTimestamp(),
											   item->timeout_ms + item->grace_ms + REDRIVE_SLACK_MS))
					TerminateBackgroundWorker(handle);
			}
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 REDRIVE_POLL_MS, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		TerminateBackgroundWorker(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * The outcome of a failure whose worker exited while its function ran,
 * recorded as the worker would have: with the error of a delivery worker
 * terminated during an invocation.
 */
static char *
record_killed(RedriveItem *item)
{
	char	   *function = format_procedure(item->function);
	char	   *result;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	pg_read_barrier();
	if (item->timeout_ms > 0 &&
		TimestampDifferenceExceeds(item->started, GetCurrentTimestamp(), item->timeout_ms))
		result = psprintf("ERROR: %s: function %s timed out after %d ms and ignored the cancel: its worker was terminated",
						  unpack_sql_state(ERRCODE_QUERY_CANCELED), function,
						  item->timeout_ms);
	else
		result = psprintf("ERROR: %s: the redrive worker exited while function %s ran",
						  unpack_sql_state(ERRCODE_ADMIN_SHUTDOWN), function);
	values[0] = Int64GetDatum(item->failure_id);
	values[1] = CStringGetTextDatum(result);
	security_spi_exec_as_owner("UPDATE orders_stream_internal.failures "
						 "SET redriven_at = pg_catalog.now(), redrive_result = $2 "
						 "WHERE failure_id OPERATOR(pg_catalog.=) $1",
						 2, types, values, NULL, SPI_OK_UPDATE);
	pg_atomic_write_u32(&item->state, REDRIVE_DONE);
	return result;
}

/*
 * The outcomes the workers committed, read with a fresh snapshot: the
 * caller's own (in REPEATABLE READ, say) predates them.
 */
static void
read_outcomes(RedriveRequest *req, char **results)
{
	Datum	   *ids = palloc(sizeof(Datum) * req->nitems);
	int			nids = 0;
	Oid			argtype = INT8ARRAYOID;
	Datum		arg;
	SPIPlanPtr	plan;
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
	uint64		i;
	int			j;

	for (j = 0; j < req->nitems; j++)
		if (results[j] == NULL &&
			pg_atomic_read_u32(&req->items[j].state) == REDRIVE_DONE)
			ids[nids++] = Int64GetDatum(req->items[j].failure_id);
	if (nids == 0)
		return;
	arg = PointerGetDatum(construct_array(ids, nids, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(security_extension_owner(), save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = security_pin_search_path();
	plan = SPI_prepare("SELECT failure_id, redrive_result FROM orders_stream_internal.failures "
					   "WHERE failure_id OPERATOR(pg_catalog.=) ANY ($1)",
					   1, &argtype);
	if (plan == NULL ||
		SPI_execute_snapshot(plan, &arg, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 true, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the outcomes of redrive_failures()");
	security_unpin_search_path(nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));

		for (j = 0; j < req->nitems; j++)
			if (req->items[j].failure_id == id && results[j] == NULL)
				results[j] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
}

/*
 * Invokes the mapping function again with the records of each stored
 * failure (the caller's own, not yet redriven successfully), in a redrive
 * worker, and returns each outcome, as recorded in the failure row.
 */
Datum
orders_stream_redrive_failures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[3] = {UUIDOID, INT8ARRAYOID, OIDOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	dsm_segment *seg;
	RedriveRequest *req;
	char	  **results;
	Size		size;
	LOCKTAG		tag;
	uint64		n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	PreventCommandDuringRecovery("redrive_failures()");
	/* its worker runs the extension's SQL, as the delivery workers do */
	version_require_installed("redrive_failures");
	if (PG_ARGISNULL(0))
		nulls[0] = 'n';
	else
		args[0] = PG_GETARG_DATUM(0);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		args[1] = PG_GETARG_DATUM(1);

	SPI_connect();

	/*
	 * As the extension's owner, the caller's own failures only: who may
	 * redrive what is decided here, before any worker starts, and again by
	 * the worker, which locks each row while it replays it.  The failure's
	 * role and the mapping's owner now must both be the caller's: a mapping
	 * given to another role (REASSIGN OWNED) runs that role's function as
	 * that role, which the role whose failures these were must not set off.
	 */
	args[2] = ObjectIdGetDatum(GetUserId());
	security_spi_exec_as_owner("SELECT f.failure_id FROM orders_stream_internal.failures f "
						 "LEFT JOIN orders_stream_internal.event_source_mappings m ON m.uuid OPERATOR(pg_catalog.=) f.mapping_uuid "
						 "LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.anchor "
						 "WHERE pg_catalog.pg_has_role($3, f.owner_oid, 'USAGE') "
						 "AND (c.relowner IS NULL OR pg_catalog.pg_has_role($3, c.relowner, 'USAGE')) "
						 "AND ($1 IS NULL OR f.mapping_uuid OPERATOR(pg_catalog.=) $1) "
						 "AND ($2 IS NULL OR f.failure_id OPERATOR(pg_catalog.=) ANY ($2)) "
						 "AND f.redrive_result IS DISTINCT FROM 'OK' "
						 "ORDER BY f.failure_id",
						 3, argtypes, args, nulls, SPI_OK_SELECT);
	n = SPI_processed;
	if (n == 0)
	{
		SPI_finish();
		return (Datum) 0;
	}
	if (n > (MaxAllocSize - offsetof(RedriveRequest, items)) / sizeof(RedriveItem))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many failures to redrive at once: " UINT64_FORMAT, n),
				 errhint("Pass failure_ids or a mapping to redrive fewer.")));

	/*
	 * One redrive worker per role at a time: each holds a background worker
	 * slot and runs user code outside the delivery pool's share, so a role
	 * calling from many sessions would otherwise take every free slot (and
	 * with them the delivery workers', capture's and TTL's next start).  A
	 * lock SQL cannot take (advisory locks from SQL use other field4
	 * values), held until the call's worker has exited.
	 */
	SET_LOCKTAG_ADVISORY(tag, InvalidOid, GetUserId(), 0, REDRIVE_LOCKTAG_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	size = offsetof(RedriveRequest, items) + sizeof(RedriveItem) * n;
	seg = dsm_create(size, 0);
	req = dsm_segment_address(seg);
	req->database = MyDatabaseId;
	req->caller = GetUserId();
	req->nitems = (int) n;
	for (i = 0; i < req->nitems; i++)
	{
		bool		isnull;

		memset(&req->items[i], 0, sizeof(RedriveItem));
		req->items[i].failure_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull));
		pg_atomic_init_u32(&req->items[i].state, REDRIVE_PENDING);
	}
	results = palloc0(sizeof(char *) * n);

	/* one worker, and another for the rest each time one is terminated */
	for (;;)
	{
		int			pending = 0;
		int			before = 0;
		int			first = -1;

		for (i = 0; i < req->nitems; i++)
			if (pg_atomic_read_u32(&req->items[i].state) == REDRIVE_PENDING)
				before++;
		if (before == 0)
			break;
		wait_redrive_worker(req, start_redrive_worker(seg));
		for (i = 0; i < req->nitems; i++)
		{
			uint32		state = pg_atomic_read_u32(&req->items[i].state);

			if (state == REDRIVE_RUNNING)
				results[i] = record_killed(&req->items[i]);
			else if (state == REDRIVE_PENDING && pending++ == 0)
				first = i;
		}
		if (pending == before)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("the redrive worker exited before it replayed failure " INT64_FORMAT,
							req->items[first].failure_id),
					 errhint("The server log has the worker's error.")));
	}

	LockRelease(&tag, ExclusiveLock, false);
	read_outcomes(req, results);
	for (i = 0; i < req->nitems; i++)
	{
		Datum		values[2];
		bool		isnull[2] = {false, false};

		if (results[i] == NULL)
			continue;			/* skipped, or redriven by another call */
		values[0] = Int64GetDatum(req->items[i].failure_id);
		values[1] = CStringGetTextDatum(results[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	dsm_detach(seg);
	SPI_finish();
	return (Datum) 0;
}
