/*-------------------------------------------------------------------------
 * api.c
 *	  SQL-callable functions: enabling and disabling streams, the TRUNCATE
 *	  guard.
 *
 * enable_stream and disable_stream run as their caller for everything the
 * caller must be allowed to do (ALTER TABLE, CREATE TRIGGER need ownership),
 * and as the extension's owner only to write orders_stream.streams, which no
 * other role may touch.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "replication/message.h"
#include "replication/slot.h"
#include "storage/latch.h"
#include "storage/spin.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "capture.h"
#include "workers.h"
#include "compat.h"
#include "delivery.h"
#include "orders_stream.h"

PG_FUNCTION_INFO_V1(orders_stream_enable_stream);
PG_FUNCTION_INFO_V1(orders_stream_disable_stream);
PG_FUNCTION_INFO_V1(orders_stream_truncate_guard);

static const char *const view_types[] = {
	"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"
};

#define TRUNCATE_GUARD "orders_stream_truncate_guard"

/* The stream's TableName: schema-qualified unless the table is in public. */
static char *
stream_table_name(Relation rel)
{
	char	   *nsp = get_namespace_name(RelationGetNamespace(rel));

	if (strcmp(nsp, "public") == 0)
		return pstrdup(RelationGetRelationName(rel));
	return psprintf("%s.%s", nsp, RelationGetRelationName(rel));
}

static char *
qualified_relid_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static char *
qualified_name(Relation rel)
{
	return qualified_relid_name(RelationGetRelid(rel));
}

static void
spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
		 int expected)
{
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL,
										   false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
}

/*
 * Runs one statement as the owner of the extension's tables (the owner of
 * orders_stream.streams), the only role allowed to write them.
 */
static void
exec_as_extension_owner(const char *sql, int nargs, Oid *argtypes,
					  Datum *values, int expected)
{
	Oid			nsp = get_namespace_oid(ORDERS_STREAM_SCHEMA, false);
	Oid			streams = get_relname_relid("streams", nsp);
	Relation	rel = table_open(streams, AccessShareLock);
	Oid			owner = rel->rd_rel->relowner;
	Oid			save_userid;
	int			save_sec_context;

	table_close(rel, NoLock);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	spi_exec(sql, nargs, argtypes, values, expected);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* The ARN of the enabled stream of relid, or NULL. */
static char *
enabled_stream_arn(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	char	   *arn = NULL;

	exec_as_extension_owner("SELECT stream_arn FROM orders_stream.streams "
							"WHERE relid = $1 AND disabled_at IS NULL",
							1, argtypes, values, SPI_OK_SELECT);
	if (SPI_processed > 0)
		arn = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	return arn;
}

/*
 * Opens the table a stream is enabled or disabled on and checks what every
 * stream needs of it: a permanent, ordinary or partitioned table, not a
 * partition, owned by the caller.
 */
static Relation
open_stream_table(Oid relid)
{
	Relation	rel = relation_open(relid, ShareRowExclusiveLock);
	char		relkind = rel->rd_rel->relkind;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("ValidationException: cannot have a stream on \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail_relkind_not_supported(relkind),
				 errhint("Streams capture the changes of tables: use an ordinary or partitioned table.")));
	if (!pg_class_ownercheck(relid, GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(relkind),
					   RelationGetRelationName(rel));
	return rel;
}

/* Every relation of a partition tree (or just the table), root first. */
static List *
table_and_partitions(Relation rel)
{
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		return find_all_inheritors(RelationGetRelid(rel), ShareRowExclusiveLock, NULL);
	return list_make1_oid(RelationGetRelid(rel));
}

/* Makes decoding sessions re-read the stream of each relation of the tree. */
static void
invalidate_tree(List *relids)
{
	ListCell   *lc;

	foreach(lc, relids)
		CacheInvalidateRelcacheByRelid(lfirst_oid(lc));
}

static void
check_view_type(const char *view_type, Relation rel)
{
	int			i;

	for (i = 0; i < lengthof(view_types); i++)
		if (strcmp(view_type, view_types[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("ValidationException: unknown stream view type \"%s\" for table \"%s\"",
					view_type, RelationGetRelationName(rel)),
			 errhint("StreamViewType is one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES.")));
}

/* Primary key column names, in key order (HASH first, then RANGE). */
static ArrayType *
key_columns(Relation rel)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;
	Datum	   *names;
	int			n;
	int			i;
	ArrayType  *result;

	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ValidationException: table \"%s\" has no primary key",
						RelationGetRelationName(rel)),
				 errdetail("Every stream record names its item by Keys, the primary key of the table."),
				 errhint("Add one with ALTER TABLE %s ADD PRIMARY KEY (...).",
						 qualified_name(rel))));
	idx = index_open(pkoid, AccessShareLock);
	n = idx->rd_index->indnkeyatts;
	names = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		AttrNumber	attno = idx->rd_index->indkey.values[i];

		names[i] = NameGetDatum(&TupleDescAttr(RelationGetDescr(rel), attno - 1)->attname);
	}
	index_close(idx, AccessShareLock);
	result = construct_array(names, n, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR);
	return result;
}

/* Set columns must be array columns of the table. */
static void
check_set_columns(Relation rel, ArrayType *set_columns)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(set_columns, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		const char *name;
		AttrNumber	attno;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("ValidationException: set_columns of table \"%s\" contains NULL",
							RelationGetRelationName(rel)),
					 errhint("List array columns by name.")));
		name = NameStr(*DatumGetName(elems[i]));
		attno = get_attnum(RelationGetRelid(rel), name);
		if (attno == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("ValidationException: column \"%s\" of table \"%s\" does not exist",
							name, RelationGetRelationName(rel)),
					 errhint("set_columns lists array columns that become SS, NS or BS sets.")));
		if (!OidIsValid(get_element_type(getBaseType(get_atttype(RelationGetRelid(rel), attno)))))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("ValidationException: column \"%s\" of table \"%s\" is not an array",
							name, RelationGetRelationName(rel)),
					 errhint("Only array columns can be streamed as SS, NS or BS sets.")));
	}
}

/* "2015-05-11T21:21:33.291": DynamoDB's StreamLabel, in UTC. */
static char *
stream_label(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "timestamp out of range");
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03d",
					tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (fsec / 1000));
}

static bool
arn_exists(const char *arn)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(arn)};

	exec_as_extension_owner("SELECT 1 FROM orders_stream.streams WHERE stream_arn = $1",
							1, argtypes, values, SPI_OK_SELECT);
	return SPI_processed > 0;
}

/* Streams are captured in orders_stream.database only. */
static void
check_capture_database(void)
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

/*
 * A stream may only be enabled once the capture slot exists: the slot cannot
 * be created in this transaction, and changes made before it exists would be
 * lost silently.
 */
static void
check_capture_slot(void)
{
	char	   *slot = capture_slot_name();

	check_capture_database();
	if (SearchNamedReplicationSlot(slot, true) == NULL)
	{
		(void) workers_launch();
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("capture slot \"%s\" does not exist yet", slot),
				 errdetail("The orders_stream capture worker creates it after CREATE EXTENSION commits."),
				 errhint("Run SELECT orders_stream.wait_for_slot(); in its own transaction, then enable the stream.")));
	}
}

Datum
orders_stream_enable_stream(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *view_type;
	ArrayType  *set_columns;
	Relation	rel;
	char	   *existing;
	char	   *table_name;
	char	   *label;
	char	   *arn;
	char	   *shard_id;
	char		hash[33];
	const char *errstr = NULL;
	TimestampTz created;
	List	   *tree;
	ListCell   *lc;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ValidationException: source table must not be NULL"),
				 errhint("Pass the table, e.g. orders_stream.enable_stream('orders', 'NEW_IMAGE').")));
	relid = PG_GETARG_OID(0);
	view_type = PG_ARGISNULL(1) ? "NEW_AND_OLD_IMAGES" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	set_columns = PG_ARGISNULL(2) ? construct_empty_array(NAMEOID) : PG_GETARG_ARRAYTYPE_P(2);

	rel = open_stream_table(relid);
	check_view_type(view_type, rel);
	check_capture_slot();
	if (rel->rd_rel->relpersistence != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ValidationException: cannot have a stream on %s table \"%s\"",
						rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP ? "temporary" : "unlogged",
						RelationGetRelationName(rel)),
				 errdetail("Changes to temporary and unlogged tables are not written to WAL, so they cannot be captured."),
				 errhint("Use a permanent table (ALTER TABLE ... SET LOGGED for an unlogged one).")));
	if (rel->rd_rel->relispartition)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("ValidationException: cannot have a stream on partition \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("The changes of a partition belong to the stream of its partitioned table."),
				 errhint("Enable the stream on the partitioned table \"%s\".",
						 get_rel_name(llast_oid(get_partition_ancestors(relid))))));

	SPI_connect();

	existing = enabled_stream_arn(relid);
	if (existing)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("ResourceInUseException: table \"%s\" already has an enabled stream",
						RelationGetRelationName(rel)),
				 errdetail("Stream: %s.", existing),
				 errhint("Disable it with orders_stream.disable_stream('%s') to enable a new one.",
						 qualified_name(rel))));

	{
		ArrayType  *keys = key_columns(rel);

		check_set_columns(rel, set_columns);

		tree = table_and_partitions(rel);
		if (rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
			ereport(NOTICE,
					(errmsg("setting REPLICA IDENTITY FULL on table \"%s\"",
							RelationGetRelationName(rel)),
					 errdetail("Stream records need the whole old row: OldImage, and unchanged values in NewImage.")));
		table_name = stream_table_name(rel);
		/* ALTER TABLE refuses to run on a relation this function holds open */
		relation_close(rel, NoLock);
		foreach(lc, tree)
		{
			char	   *name = qualified_relid_name(lfirst_oid(lc));

			spi_exec(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL", name),
					 0, NULL, NULL, SPI_OK_UTILITY);
			spi_exec(psprintf("CREATE OR REPLACE TRIGGER " TRUNCATE_GUARD
							  " BEFORE TRUNCATE ON %s FOR EACH STATEMENT"
							  " EXECUTE FUNCTION orders_stream.truncate_guard()",
							  name),
					 0, NULL, NULL, SPI_OK_UTILITY);
		}

		created = GetCurrentStatementStartTimestamp();
		for (;;)
		{
			label = stream_label(created);
			arn = psprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/%s",
						   orders_stream_region, orders_stream_account_id,
						   table_name, label);
			if (!arn_exists(arn))
				break;
			/* the label must be new: disable and enable in one millisecond */
			created += 1000;
		}
		if (!pg_md5_hash(arn, strlen(arn), hash, &errstr))
			elog(ERROR, "could not hash stream ARN: %s", errstr);
		hash[8] = '\0';
		shard_id = psprintf("shardId-%020lld-%s",
							(long long) (created / 1000 +
										 (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000),
							hash);

		{
			Oid			argtypes[9] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, NAMEARRAYOID, NAMEARRAYOID, TIMESTAMPTZOID};
			Datum		values[9];

			values[0] = ObjectIdGetDatum(relid);
			values[1] = CStringGetTextDatum(table_name);
			values[2] = CStringGetTextDatum(view_type);
			values[3] = CStringGetTextDatum(label);
			values[4] = CStringGetTextDatum(arn);
			values[5] = CStringGetTextDatum(shard_id);
			values[6] = PointerGetDatum(keys);
			values[7] = PointerGetDatum(set_columns);
			values[8] = TimestampTzGetDatum(created);
			exec_as_extension_owner("INSERT INTO orders_stream.streams "
								  "(relid, table_name, view_type, stream_label, stream_arn, "
								  "shard_id, key_columns, set_columns, start_lsn, created_at) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, pg_current_wal_insert_lsn(), $9)",
								  9, argtypes, values, SPI_OK_INSERT);
		}
	}

	invalidate_tree(tree);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(arn));
}

Datum
orders_stream_disable_stream(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = open_stream_table(relid);
	char	   *arn;
	List	   *tree;
	ListCell   *lc;

	SPI_connect();
	arn = enabled_stream_arn(relid);
	if (arn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ValidationException: table \"%s\" has no enabled stream",
						RelationGetRelationName(rel)),
				 errhint("orders_stream.list_streams() shows the streams of this database.")));

	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(relid)};

		exec_as_extension_owner("UPDATE orders_stream.streams SET disabled_at = now() "
							  "WHERE relid = $1 AND disabled_at IS NULL",
							  1, argtypes, values, SPI_OK_UPDATE);
	}

	tree = table_and_partitions(rel);
	/* DROP TRIGGER refuses to run on a relation this function holds open */
	relation_close(rel, NoLock);
	foreach(lc, tree)
		spi_exec(psprintf("DROP TRIGGER IF EXISTS " TRUNCATE_GUARD " ON %s",
						  qualified_relid_name(lfirst_oid(lc))),
				 0, NULL, NULL, SPI_OK_UTILITY);
	invalidate_tree(tree);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(arn));
}

/*
 * Whether the table, or a partitioned table it is a partition of, has an
 * enabled stream: a detached partition keeps its guard, but not its stream.
 */
static bool
has_enabled_stream(Oid relid)
{
	List	   *candidates = list_make1_oid(relid);
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum	   *oids;
	Datum		values[1];
	ListCell   *lc;
	int			n = 0;
	bool		found;

	if (get_rel_relispartition(relid))
		candidates = list_concat(candidates, get_partition_ancestors(relid));
	oids = palloc(sizeof(Datum) * list_length(candidates));
	foreach(lc, candidates)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));

	SPI_connect();
	exec_as_extension_owner("SELECT 1 FROM orders_stream.streams "
							"WHERE relid = ANY ($1) AND disabled_at IS NULL",
							1, argtypes, values, SPI_OK_SELECT);
	found = SPI_processed > 0;
	SPI_finish();
	return found;
}

/*
 * BEFORE TRUNCATE trigger of streamed tables.  DynamoDB has no TRUNCATE, and
 * items that vanish without REMOVE records would silently stay in every
 * consumer's state: refuse, unless the session opts out.
 */
Datum
orders_stream_truncate_guard(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_stream.truncate_guard() must be a BEFORE TRUNCATE trigger")));
	if (!orders_stream_allow_truncate &&
		has_enabled_stream(RelationGetRelid(trigdata->tg_relation)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot truncate table \"%s\" because it has a stream",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("TRUNCATE removes items without REMOVE stream records, so consumers would never learn they are gone."),
				 errhint("Use DELETE, disable the stream first, or SET orders_stream.allow_truncate = on to truncate without stream records.")));
	PG_RETURN_POINTER(NULL);
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
	PG_RETURN_BOOL(workers_launch());
}

static int64
timeout_ms(Interval *timeout)
{
	return timeout->time / 1000 +
		((int64) timeout->month * DAYS_PER_MONTH + timeout->day) * SECS_PER_DAY * 1000;
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

	check_capture_database();
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

	check_capture_database();
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
