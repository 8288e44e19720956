/*-------------------------------------------------------------------------
 * ttl.c
 *	  Time to Live, as DynamoDB's: UpdateTimeToLive and DescribeTimeToLive,
 *	  and the background worker that deletes expired rows.
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
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
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
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "orders_stream.h"
#include "security.h"
#include "ttl.h"
#include "workers.h"

PG_FUNCTION_INFO_V1(orders_stream_update_time_to_live);
PG_FUNCTION_INFO_V1(orders_stream_describe_time_to_live);

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

/* Whether some index of the table has the attribute as its first column. */
static bool
attribute_indexed(Relation rel, AttrNumber attnum)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tup))
			continue;
		if (((Form_pg_index) GETSTRUCT(tup))->indkey.values[0] == attnum)
			found = true;
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return found;
}

/* The TTL attribute of a table, or InvalidAttrNumber. */
static AttrNumber
ttl_attnum(Oid relid)
{
	Datum		value = ObjectIdGetDatum(relid);
	Oid			type = OIDOID;
	AttrNumber	attnum = InvalidAttrNumber;
	bool		isnull;

	SPI_connect();
	os_spi_exec_as_owner("SELECT attnum FROM orders_stream.time_to_live"
						 " WHERE relid OPERATOR(pg_catalog.=) $1",
						 1, &type, &value, NULL, SPI_OK_SELECT);
	if (SPI_processed == 1)
		attnum = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return attnum;
}

static Jsonb *
jsonb_of(const char *text)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

static char *
json_string(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

/*
 * orders_stream.update_time_to_live(source regclass, attribute_name name,
 * enabled boolean) RETURNS jsonb: UpdateTimeToLive, with its rules.  Runs as
 * the caller, who must own the table; the setting is written as the
 * extension's owner.  Returns AWS's response,
 * {"TimeToLiveSpecification": {"Enabled": ..., "AttributeName": ...}}.
 */
Datum
orders_stream_update_time_to_live(PG_FUNCTION_ARGS)
{
	Oid			relid;
	const char *attname;
	bool		enable;
	Relation	rel;
	char		relkind;
	AttrNumber	current;
	AttrNumber	attnum;
	const char *relname;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ValidationException: source, attribute_name and enabled must not be null"),
				 errhint("Call orders_stream.update_time_to_live('orders', 'expires_at', true).")));
	relid = PG_GETARG_OID(0);
	attname = NameStr(*PG_GETARG_NAME(1));
	enable = PG_GETARG_BOOL(2);

	/* serializes concurrent calls for the table without blocking its writers */
	rel = os_open_owned_table(relid, ShareUpdateExclusiveLock,
							  "Pass the table by name, e.g. orders_stream.update_time_to_live('orders', 'expires_at', true).");
	relkind = rel->rd_rel->relkind;
	relname = RelationGetRelationName(rel);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("ValidationException: cannot have a time to live on \"%s\"", relname),
				 errdetail_relkind_not_supported(relkind),
				 errhint("Time to live deletes rows of tables: use an ordinary or partitioned table.")));
	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("ValidationException: cannot have a time to live on partition \"%s\"", relname),
				 errhint("Enable it on the partitioned table: it covers every partition.")));
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ValidationException: cannot have a time to live on temporary table \"%s\"", relname),
				 errhint("The TTL worker cannot see another session's temporary tables.")));
	attnum = get_attnum(relid, attname);
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("ValidationException: column \"%s\" of table \"%s\" does not exist",
						attname, relname),
				 errhint("The time to live attribute is a column of the table.")));

	current = ttl_attnum(relid);
	if (enable)
	{
		Oid			typid = get_atttype(relid, attnum);
		Oid			types[3] = {OIDOID, INT2OID, TEXTOID};
		Datum		values[3];

		if (current == attnum)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ValidationException: TimeToLive is already enabled on table \"%s\"", relname),
					 errhint("describe_time_to_live('%s') shows the setting.", relname)));
		if (current != InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ValidationException: TimeToLive is active on a different AttributeName of table \"%s\": current AttributeName is \"%s\"",
							relname, get_attname(relid, current, false)),
					 errhint("Disable it first, as in DynamoDB.")));
		if (ttl_bound(typid, "$1") == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("ValidationException: column \"%s\" of table \"%s\" has type %s, which cannot hold a time to live",
							attname, relname, format_type_be(typid)),
					 errhint("Use a timestamptz column, or a number of epoch seconds: integer, bigint, numeric or double precision.")));
		if (!attribute_indexed(rel, attnum))
			ereport(NOTICE,
					(errmsg("no index of table \"%s\" starts with column \"%s\": each pass of the time to live worker scans the whole table",
							relname, attname),
					 errhint("CREATE INDEX ON %s (%s);",
							 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), relname),
							 quote_identifier(attname))));

		values[0] = ObjectIdGetDatum(relid);
		values[1] = Int16GetDatum(attnum);
		values[2] = CStringGetTextDatum(namespace_search_path);
		SPI_connect();
		os_spi_exec_as_owner("INSERT INTO orders_stream.time_to_live (relid, attnum, search_path)"
							 " VALUES ($1, $2, $3)",
							 3, types, values, NULL, SPI_OK_INSERT);
		SPI_finish();
	}
	else
	{
		Oid			type = OIDOID;
		Datum		value = ObjectIdGetDatum(relid);

		if (current == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ValidationException: TimeToLive is already disabled on table \"%s\"", relname),
					 errhint("describe_time_to_live('%s') shows the setting.", relname)));
		if (current != attnum)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ValidationException: TimeToLive is active on a different AttributeName of table \"%s\": current AttributeName is \"%s\"",
							relname, get_attname(relid, current, false)),
					 errhint("Name the current attribute to disable it.")));
		SPI_connect();
		os_spi_exec_as_owner("DELETE FROM orders_stream.time_to_live"
							 " WHERE relid OPERATOR(pg_catalog.=) $1",
							 1, &type, &value, NULL, SPI_OK_DELETE);
		SPI_finish();
	}
	relation_close(rel, NoLock);

	PG_RETURN_JSONB_P(jsonb_of(psprintf("{\"TimeToLiveSpecification\": {\"Enabled\": %s, \"AttributeName\": %s}}",
										enable ? "true" : "false",
										json_string(attname))));
}

/*
 * orders_stream.describe_time_to_live(source regclass) RETURNS jsonb:
 * DescribeTimeToLive's response, {"TimeToLiveDescription":
 * {"TimeToLiveStatus": "ENABLED", "AttributeName": ...}} or
 * {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}.  For roles
 * that may read the table or own it.
 */
Datum
orders_stream_describe_time_to_live(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	AttrNumber	attnum;
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("ResourceNotFoundException: table with OID %u does not exist", relid),
				 errhint("Pass the table by name, e.g. orders_stream.describe_time_to_live('orders').")));
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		!pg_class_ownercheck(relid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("AccessDeniedException: permission denied to describe the time to live of table \"%s\"", relname),
				 errhint("Roles that may SELECT from the table may describe its time to live.")));

	attnum = ttl_attnum(relid);
	if (attnum == InvalidAttrNumber)
		PG_RETURN_JSONB_P(jsonb_of("{\"TimeToLiveDescription\": {\"TimeToLiveStatus\": \"DISABLED\"}}"));
	PG_RETURN_JSONB_P(jsonb_of(psprintf("{\"TimeToLiveDescription\": {\"TimeToLiveStatus\": \"ENABLED\", \"AttributeName\": %s}}",
										json_string(get_attname(relid, attnum, false)))));
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

/*
 * Deletes one batch of expired rows of a table, in a transaction of its
 * own, as the table's owner.  Returns the rows deleted; on an error, logs
 * it and returns -1 (a batch cut by orders_stream.ttl_batch_timeout halves
 * the table's batch size).
 */
static int64
expire_batch(TtlSetting *s, TtlTable *t, MemoryContext cxt)
{
	volatile int64 deleted = 0;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[2];
	Interval	five_years = {0};
	TimestampTz now;

	pgstat_report_activity(STATE_RUNNING, "expiring rows");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		HeapTuple	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(s->relid));
		Oid			owner;
		Oid			save_userid;
		int			save_sec_context;
		int			nestlevel;
		char	   *sql;

		if (!HeapTupleIsValid(classtup))
			deleted = 0;		/* dropped: its setting goes at the next pass */
		else
		{
			owner = ((Form_pg_class) GETSTRUCT(classtup))->relowner;
			ReleaseSysCache(classtup);
			sql = lock_tree(s->relid) ? batch_sql(s, t) : NULL;
			if (sql != NULL)
			{
				now = GetCurrentTimestamp();
				five_years.month = 5 * MONTHS_PER_YEAR;
				values[0] = TimestampTzGetDatum(now);
				values[1] = DirectFunctionCall2(timestamptz_mi_interval,
												TimestampTzGetDatum(now),
												IntervalPGetDatum(&five_years));

				GetUserIdAndSecContext(&save_userid, &save_sec_context);
				SetUserIdAndSecContext(owner, save_sec_context |
									   SECURITY_LOCAL_USERID_CHANGE |
									   SECURITY_RESTRICTED_OPERATION);

				/*
				 * Every setting made from here on, ours or a trigger's (even
				 * set_config(..., false)), is undone after the batch: none
				 * may reach the next table's owner or the worker's own
				 * queries.
				 */
				nestlevel = NewGUCNestLevel();
				(void) set_config_option("search_path",
										 strstr(s->search_path, "pg_temp") ? s->search_path :
										 psprintf("%s, pg_temp", s->search_path),
										 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
										 true, 0, false);
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
				AtEOXact_GUC(false, nestlevel);
				SetUserIdAndSecContext(save_userid, save_sec_context);
				/* advisory locks, prepared statements a trigger left */
				os_reset_session_state();
			}
		}
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
		os_reset_session_state();
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
		deleted = -1;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	return deleted;
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
		List	   *settings;
		ListCell   *lc;
		bool		more = false;
		TimestampTz now;

		MemoryContextSwitchTo(round_cxt);
		MemoryContextReset(round_cxt);
		CHECK_FOR_INTERRUPTS();
		if (!PostmasterIsAlive())
			proc_exit(1);

		if (!OidIsValid(worker_extension_oid()))
		{
			/* just launched by CREATE EXTENSION: it may not have committed yet */
			if (TimestampDifferenceExceeds(started, GetCurrentTimestamp(), WORKER_EXTENSION_WAIT_MS))
			{
				drop_origin();
				ereport(LOG,
						(errmsg("orders_stream ttl stopping: extension \"orders_stream\" is not installed")));
				proc_exit(0);
			}
			worker_wait(100);
			continue;
		}
		if (replorigin_session_origin == InvalidRepOriginId)
			setup_origin();

		settings = enabled_tables(round_cxt);
		now = GetCurrentTimestamp();
		foreach(lc, settings)
		{
			TtlSetting *s = lfirst(lc);
			bool		found;
			TtlTable   *t = hash_search(tables, &s->relid, HASH_ENTER, &found);
			int64		deleted;

			if (!found)
			{
				t->batch = orders_stream_ttl_batch_size;
				t->retry_after = 0;
				t->warned = false;
			}
			t->batch = Min(t->batch, orders_stream_ttl_batch_size);
			if (t->retry_after > now)
				continue;
			deleted = expire_batch(s, t, round_cxt);
			if (deleted >= t->batch)
			{
				more = true;
				/* a full batch within the timeout: grow back towards the setting */
				t->batch = Min(t->batch * 2, orders_stream_ttl_batch_size);
			}
			CHECK_FOR_INTERRUPTS();
		}

		/* with a backlog, the next batch at once, after the reload if any */
		if (!more)
			worker_wait(orders_stream_ttl_naptime);
		else if (ConfigReloadPending)
			worker_wait(0);
	}
}
