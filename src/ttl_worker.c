/*-------------------------------------------------------------------------
 * ttl_worker.c
 *	  Time to Live's background worker, which deletes expired rows.
 *
 * A table's TTL attribute is a timestamptz column or a number of epoch
 * seconds (integer, bigint, numeric, double precision, or a domain over
 * one).  The worker deletes rows whose time has passed, and not those more
 * than five years in the past (DynamoDB ignores them too), in small
 * transactions: at most orders_stream.ttl_batch_size rows and
 * orders_stream.ttl_batch_timeout per transaction, rows that a writer has
 * locked skipped (SKIP LOCKED), and the attribute checked again on the
 * locked row, so that a row whose TTL was just extended stays.
 *
 * The deletes run as the table's owner (who alone may enable TTL), with the
 * search_path of the call that enabled it, as a restricted operation: never
 * as a superuser unless the owner is one.  Settings its triggers make, and
 * the session state they leave, are undone after each batch, so that they
 * never reach the next owner's batch.  Their transactions carry a
 * replication origin of their own, ORDERS_STREAM_TTL_ORIGIN: the output
 * plugin gives the REMOVE records of those transactions, and only those,
 * AWS's userIdentity {"type": "Service", "principalId":
 * "dynamodb.amazonaws.com"}.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "replication/origin.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/pmsignal.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "orders_stream.h"
#include "security.h"
#include "ttl.h"
#include "workers.h"

/* After a failed batch (a trigger's error, a lock), retry the table later. */
#define TTL_RETRY_MS			60000
/* Waiting for a table lock (a DDL's) would queue writers behind the worker. */
#define TTL_LOCK_TIMEOUT		"100ms"

/* The worker's state per table. */
typedef struct TtlTable
{
	Oid			relid;			/* hash key */
	int			batch;			/* rows per transaction now */
	TimestampTz retry_after;	/* after a failure */
	bool		warned;			/* that its attribute cannot expire rows */
} TtlTable;

/* A table with TTL enabled, as read from orders_stream.time_to_live. */
typedef struct TtlSetting
{
	Oid			relid;
	AttrNumber	attnum;
	char	   *search_path;
	char	   *name;			/* for messages */
} TtlSetting;

/*
 * The expiry bound in the attribute's type, from $1 (now, timestamptz), or
 * NULL if the type cannot hold a time to live.  Epoch seconds compare with
 * the bound in their own type family, so that an index on the column is
 * usable.
 */
static const char *
ttl_bound(Oid typid, const char *param)
{
	switch (getBaseType(typid))
	{
		case TIMESTAMPTZOID:
			return param;
		case INT4OID:
		case INT8OID:
			return psprintf("CAST(pg_catalog.floor(EXTRACT(epoch FROM %s)) AS pg_catalog.int8)", param);
		case NUMERICOID:
			return psprintf("EXTRACT(epoch FROM %s)", param);
		case FLOAT8OID:
			return psprintf("CAST(EXTRACT(epoch FROM %s) AS pg_catalog.float8)", param);
		default:
			return NULL;
	}
}

bool
ttl_worker_can_expire(Oid typid)
{
	return ttl_bound(typid, "$1") != NULL;
}

/*
 * The worker's replication origin: created once, set up for the session,
 * so that every transaction of the worker commits with it.
 */
static void
setup_origin(void)
{
	RepOriginId origin;

	StartTransactionCommand();
	origin = replorigin_by_name(ORDERS_STREAM_TTL_ORIGIN, true);
	if (origin == InvalidRepOriginId)
		origin = replorigin_create(ORDERS_STREAM_TTL_ORIGIN);
	CommitTransactionCommand();
	replorigin_session_setup(origin);
	replorigin_session_origin = origin;
}

/* DROP EXTENSION: the origin goes too. */
static void
drop_origin(void)
{
	if (replorigin_session_origin != InvalidRepOriginId)
	{
		replorigin_session_reset();
		replorigin_session_origin = InvalidRepOriginId;
	}
	StartTransactionCommand();
	replorigin_drop_by_name(ORDERS_STREAM_TTL_ORIGIN, true, false);
	CommitTransactionCommand();
}

/*
 * The tables with TTL enabled, allocated in cxt; settings of tables that
 * no longer exist are removed on the way, and attribute names follow
 * renames (a restore finds the attribute by name: see 75_ttl.sql).
 */
static List *
enabled_tables(MemoryContext cxt)
{
	List	   *result = NIL;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("DELETE FROM orders_stream.time_to_live t WHERE NOT EXISTS"
					" (SELECT FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) t.relid)",
					false, 0) != SPI_OK_DELETE ||
		SPI_execute("UPDATE orders_stream.time_to_live t SET attribute_name = a.attname"
					" FROM pg_catalog.pg_attribute a"
					" WHERE a.attrelid OPERATOR(pg_catalog.=) t.relid AND a.attnum OPERATOR(pg_catalog.=) t.attnum"
					" AND a.attname OPERATOR(pg_catalog.<>) t.attribute_name",
					false, 0) != SPI_OK_UPDATE ||
		SPI_execute("SELECT relid, attnum, search_path, CAST(CAST(relid AS pg_catalog.regclass) AS pg_catalog.text)"
					" FROM orders_stream.time_to_live ORDER BY 1",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read orders_stream.time_to_live");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		TtlSetting *s = palloc(sizeof(TtlSetting));
		bool		isnull;

		s->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		s->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 2, &isnull));
		s->search_path = SPI_getvalue(tup, desc, 3);
		s->name = SPI_getvalue(tup, desc, 4);
		result = lappend(result, s);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return result;
}

/*
 * The DELETE of one batch of a table, or NULL (with a WARNING, once) if its
 * TTL attribute is gone or changed type.  Everything is qualified: it runs with
 * the owner's search_path, for the owner's triggers.
 */
static char *
batch_sql(TtlSetting *s, TtlTable *t)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(s->relid),
									  Int16GetDatum(s->attnum));
	Form_pg_attribute att;
	const char *bound;
	char	   *table;
	const char *column;
	char	   *sql = NULL;

	if (!HeapTupleIsValid(tup))
		return NULL;
	att = (Form_pg_attribute) GETSTRUCT(tup);
	table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(s->relid)),
									   get_rel_name(s->relid));
	column = quote_identifier(NameStr(att->attname));
	bound = att->attisdropped ? NULL : ttl_bound(att->atttypid, "$1");
	if (bound == NULL && !t->warned)
		ereport(WARNING,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the time to live attribute of table %s was dropped or changed type: no row expires", table),
				 errhint("Disable time to live on the table, or enable it on a column of type timestamptz, integer, bigint, numeric or double precision.")));
	t->warned = (bound == NULL);
	if (bound != NULL)
		sql = psprintf("WITH expired AS ("
					   "SELECT tableoid, ctid FROM %s"
					   " WHERE %s OPERATOR(pg_catalog.<=) (%s) AND %s OPERATOR(pg_catalog.>) (%s)"
					   " LIMIT %d FOR UPDATE SKIP LOCKED)"
					   " DELETE FROM %s AS t USING expired e"
					   " WHERE t.tableoid OPERATOR(pg_catalog.=) e.tableoid"
					   " AND t.ctid OPERATOR(pg_catalog.=) e.ctid"
					   " AND t.%s OPERATOR(pg_catalog.<=) (%s)",
					   table, column, bound, column, ttl_bound(att->atttypid, "$2"),
					   t->batch, table, column, bound);
	ReleaseSysCache(tup);
	return sql;
}

/*
 * Takes ROW EXCLUSIVE on the table and its partitions, if that needs no
 * wait.  The DELETE would take it anyway, but only after its FOR UPDATE
 * took ROW SHARE: an upgrade that deadlocks with a DDL (ALTER TABLE,
 * enable_stream) that came between.  And the worker never queues on a DDL:
 * that table is tried again at the next pass.
 */
static bool
lock_tree(Oid relid)
{
	List	   *tree;
	ListCell   *lc;

	if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		tree = find_all_inheritors(relid, NoLock, NULL);
	else
		tree = list_make1_oid(relid);
	foreach(lc, tree)
		if (!ConditionalLockRelationOid(lfirst_oid(lc), RowExclusiveLock))
			return false;
	return true;
}

/* $1 and $2 of a batch: now, and five years ago (older times are ignored). */
static void
expiry_bounds(Datum *values)
{
	TimestampTz now = GetCurrentTimestamp();
	Interval	five_years = {0};

	five_years.month = 5 * MONTHS_PER_YEAR;
	values[0] = TimestampTzGetDatum(now);
	values[1] = DirectFunctionCall2(timestamptz_mi_interval,
									TimestampTzGetDatum(now),
									IntervalPGetDatum(&five_years));
}

/*
 * Runs a batch's DELETE as the table's owner, in a restricted operation,
 * with the enabling call's search_path; returns the rows deleted.
 */
static int64
delete_as_owner(TtlSetting *s, Oid owner, const char *sql)
{
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
	int64		deleted;

	expiry_bounds(values);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);

	/*
	 * Every setting made from here on, ours or a trigger's (even
	 * set_config(..., false)), is undone after the batch: none may reach the
	 * next table's owner or the worker's own queries.
	 */
	nestlevel = security_become_owner(owner, s->search_path, save_sec_context);
	(void) set_config_option("lock_timeout", TTL_LOCK_TIMEOUT,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	enable_timeout_after(STATEMENT_TIMEOUT, orders_stream_ttl_batch_timeout);
	SPI_connect();
	if (SPI_execute_with_args(sql, 2, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not expire rows: %s", sql);
	deleted = SPI_processed;
	SPI_finish();
	disable_timeout(STATEMENT_TIMEOUT, false);
	security_end_owner(nestlevel, save_userid, save_sec_context);
	/* advisory locks, prepared statements a trigger left */
	security_reset_session_state();
	return deleted;
}

/*
 * A batch of a table, inside its transaction: none if the table is gone
 * (its setting goes at the next pass), locked by a DDL, or its attribute
 * cannot expire rows.
 */
static int64
expire_in_transaction(TtlSetting *s, TtlTable *t)
{
	HeapTuple	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(s->relid));
	Oid			owner;
	char	   *sql;

	if (!HeapTupleIsValid(classtup))
		return 0;
	owner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
	ReleaseSysCache(classtup);
	sql = lock_tree(s->relid) ? batch_sql(s, t) : NULL;
	if (sql == NULL)
		return 0;
	return delete_as_owner(s, owner, sql);
}

/*
 * After a batch's error: logs it, and either halves the table's batch (cut
 * by orders_stream.ttl_batch_timeout) or tries the table again later.
 */
static void
batch_failed(TtlSetting *s, TtlTable *t, MemoryContext cxt)
{
	ErrorData  *edata;
	bool		timed_out;

	disable_timeout(STATEMENT_TIMEOUT, false);
	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	/* also restores the user id, security context and settings */
	AbortCurrentTransaction();
	/* session advisory locks outlive the abort */
	StartTransactionCommand();
	security_reset_session_state();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	timed_out = (edata->sqlerrcode == ERRCODE_QUERY_CANCELED);
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("orders_stream could not expire rows of table %s: %s",
					s->name, edata->message),
			 edata->detail ? errdetail("%s", edata->detail) : 0,
			 timed_out ?
			 errhint("The batch ran past orders_stream.ttl_batch_timeout; the next one deletes at most %d rows.",
					 Max(1, t->batch / 2)) :
			 errhint("Time to live tries this table again in a minute.")));
	if (timed_out)
		t->batch = Max(1, t->batch / 2);
	else
		t->retry_after = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), TTL_RETRY_MS);
	FreeErrorData(edata);
}

/*
 * Deletes one batch of expired rows of a table, in a transaction of its
 * own, as the table's owner.  Returns the rows deleted; on an error, logs
 * it and returns -1.
 */
static int64
expire_batch(TtlSetting *s, TtlTable *t, MemoryContext cxt)
{
	volatile int64 deleted = 0;

	pgstat_report_activity(STATE_RUNNING, "expiring rows");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		deleted = expire_in_transaction(s, t);
		PopActiveSnapshot();

		/*
		 * Decoding reports the origin's timestamp as the commit time of a
		 * transaction with an origin: ApproximateCreationDateTime.
		 */
		replorigin_session_origin_timestamp = GetCurrentTimestamp();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		batch_failed(s, t, cxt);
		deleted = -1;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return deleted;
}

/* The worker's state of a table, new at its setting's batch size. */
static TtlTable *
table_state(HTAB *tables, Oid relid)
{
	bool		found;
	TtlTable   *t = hash_search(tables, &relid, HASH_ENTER, &found);

	if (!found)
	{
		t->batch = orders_stream_ttl_batch_size;
		t->retry_after = 0;
		t->warned = false;
	}
	t->batch = Min(t->batch, orders_stream_ttl_batch_size);
	return t;
}

/*
 * One pass: a batch of each table with TTL enabled that is not waiting for
 * a retry.  Returns whether some table may have more expired rows.
 */
static bool
expire_round(HTAB *tables, MemoryContext cxt)
{
	List	   *settings = enabled_tables(cxt);
	TimestampTz now = GetCurrentTimestamp();
	ListCell   *lc;
	bool		more = false;

	foreach(lc, settings)
	{
		TtlSetting *s = lfirst(lc);
		TtlTable   *t = table_state(tables, s->relid);

		if (t->retry_after > now)
			continue;
		if (expire_batch(s, t, cxt) >= t->batch)
		{
			more = true;
			/* a full batch within the timeout: grow back towards the setting */
			t->batch = Min(t->batch * 2, orders_stream_ttl_batch_size);
		}
		CHECK_FOR_INTERRUPTS();
	}
	return more;
}

/*
 * Without the extension: just launched by CREATE EXTENSION, which may not
 * have committed yet, or after DROP EXTENSION, when the worker ends.
 */
static void
wait_for_extension(TimestampTz started)
{
	if (TimestampDifferenceExceeds(started, GetCurrentTimestamp(), WORKER_EXTENSION_WAIT_MS))
	{
		drop_origin();
		ereport(LOG,
				(errmsg("orders_stream ttl stopping: extension \"orders_stream\" is not installed")));
		proc_exit(0);
	}
	worker_wait(100);
}

void
orders_stream_ttl_main(Datum arg)
{
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext round_cxt;
	HTAB	   *tables;
	HASHCTL		ctl;

	(void) worker_start(OS_WORKER_TTL, arg);
	/* this session is a superuser's: its own queries trust pg_catalog only */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
	round_cxt = AllocSetContextCreate(TopMemoryContext, "orders_stream ttl round",
									  ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(TtlTable);
	ctl.hcxt = TopMemoryContext;
	tables = hash_create("orders_stream ttl tables", 16, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	for (;;)
	{
		bool		version_ok;

		MemoryContextSwitchTo(round_cxt);
		MemoryContextReset(round_cxt);
		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);
		if (!OidIsValid(worker_extension_oid(&version_ok)))
		{
			wait_for_extension(started);
			continue;
		}
		/* installed at another version than the library's: until it agrees */
		if (!version_ok)
		{
			worker_wait(WORKER_VERSION_WAIT_MS);
			continue;
		}
		if (replorigin_session_origin == InvalidRepOriginId)
			setup_origin();
		/* with a backlog, the next batch at once, after the reload if any */
		if (!expire_round(tables, round_cxt))
			worker_wait(orders_stream_ttl_naptime);
		else if (ConfigReloadPending)
			worker_wait(0);
	}
}
