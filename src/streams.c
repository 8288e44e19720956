/*-------------------------------------------------------------------------
 * streams.c
 *	  Enabling and disabling streams, the TRUNCATE guard, the DDL event
 *	  triggers that keep partitions streamed and disable the streams of
 *	  dropped tables, and the owner anchors of event source mappings.
 *
 * enable_stream and disable_stream run as their caller for everything the
 * caller must be allowed to do (ALTER TABLE, CREATE TRIGGER need ownership),
 * and as the extension's owner only to write orders_stream.streams, which no
 * other role may touch.  Whether a table is streamed is read from the
 * catalog directly, never through SQL a caller's search_path could steer.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/dbcommands.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "replication/slot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "capture_slot.h"
#include "compat.h"
#include "orders_stream.h"
#include "record.h"
#include "security.h"
#include "streams.h"
#include "workers.h"

PG_FUNCTION_INFO_V1(orders_stream_enable_stream);
PG_FUNCTION_INFO_V1(orders_stream_disable_stream);
PG_FUNCTION_INFO_V1(orders_stream_truncate_guard);
PG_FUNCTION_INFO_V1(orders_stream_on_table_ddl);
PG_FUNCTION_INFO_V1(orders_stream_on_sql_drop);
PG_FUNCTION_INFO_V1(orders_stream_create_anchor);

static const char *const view_types[] = {
	"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"
};

#define TRUNCATE_GUARD "orders_stream_truncate_guard"

int64
os_enabled_stream(Oid relid, char **arn, Datum *keys)
{
	Oid			nsp = get_namespace_oid(ORDERS_STREAM_SCHEMA, true);
	Oid			streams_relid = OidIsValid(nsp) ? get_relname_relid("streams", nsp) : InvalidOid;
	Relation	streams;
	TupleDesc	desc;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		stream_id = 0;

	if (!OidIsValid(streams_relid))
		return 0;
	streams = table_open(streams_relid, AccessShareLock);
	desc = RelationGetDescr(streams);
	ScanKeyInit(&key, get_attnum(streams_relid, "relid"), BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(streams, InvalidOid, false, NULL, 1, &key);
	while (stream_id == 0 && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		(void) heap_getattr(tup, get_attnum(streams_relid, "disabled_at"), desc, &isnull);
		if (!isnull)
			continue;
		stream_id = DatumGetInt64(heap_getattr(tup, get_attnum(streams_relid, "stream_id"),
											   desc, &isnull));
		if (arn)
			*arn = TextDatumGetCString(heap_getattr(tup, get_attnum(streams_relid, "stream_arn"),
													desc, &isnull));
		if (keys)
			*keys = datumCopy(heap_getattr(tup, get_attnum(streams_relid, "key_columns"),
										   desc, &isnull), false, -1);
	}
	systable_endscan(scan);
	table_close(streams, AccessShareLock);
	return stream_id;
}

Oid
os_streamed_root(Oid relid)
{
	ListCell   *lc;

	if (os_enabled_stream(relid, NULL, NULL) != 0)
		return relid;
	if (get_rel_relispartition(relid))
		foreach(lc, get_partition_ancestors(relid))
			if (os_enabled_stream(lfirst_oid(lc), NULL, NULL) != 0)
				return lfirst_oid(lc);
	return InvalidOid;
}

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

/*
 * Opens the table a stream is enabled or disabled on and checks what every
 * stream needs of it: an existing, ordinary or partitioned table, owned by
 * the caller (checked before the table is locked).
 */
static Relation
open_stream_table(Oid relid)
{
	Relation	rel;
	char		relkind;

	rel = os_open_owned_table(relid, ShareRowExclusiveLock,
							  "Pass the table by name, e.g. orders_stream.enable_stream('orders').");
	relkind = rel->rd_rel->relkind;
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("ValidationException: cannot have a stream on \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail_relkind_not_supported(relkind),
				 errhint("Streams capture the changes of tables: use an ordinary or partitioned table.")));
	return rel;
}

/* Every relation of a partition tree (or just the table), root first. */
static List *
table_and_partitions(Oid relid, LOCKMODE lockmode)
{
	if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		return find_all_inheritors(relid, lockmode, NULL);
	return list_make1_oid(relid);
}

/* Makes decoding sessions re-read the stream of each relation of the tree. */
static void
invalidate_tree(List *relids)
{
	ListCell   *lc;

	foreach(lc, relids)
		CacheInvalidateRelcacheByRelid(lfirst_oid(lc));
}

static Oid
truncate_guard_function(void)
{
	return LookupFuncName(list_make2(makeString(ORDERS_STREAM_SCHEMA),
									 makeString("truncate_guard")),
						  0, NULL, false);
}

/*
 * Puts the TRUNCATE guard on a table, as the caller (who owns it).  The
 * trigger depends on the guard function automatically, not normally, so
 * that DROP EXTENSION removes it instead of refusing.
 */
static void
install_truncate_guard(Oid relid)
{
	Oid			trigoid;
	Oid			funcoid = truncate_guard_function();
	ObjectAddress trigger;
	ObjectAddress function;

	os_spi_exec(psprintf("CREATE OR REPLACE TRIGGER " TRUNCATE_GUARD
						 " BEFORE TRUNCATE ON %s FOR EACH STATEMENT"
						 " EXECUTE FUNCTION orders_stream.truncate_guard()",
						 qualified_relid_name(relid)),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	trigoid = get_trigger_oid(relid, TRUNCATE_GUARD, false);
	ObjectAddressSet(trigger, TriggerRelationId, trigoid);
	ObjectAddressSet(function, ProcedureRelationId, funcoid);
	deleteDependencyRecordsForSpecific(TriggerRelationId, trigoid, DEPENDENCY_NORMAL,
									   ProcedureRelationId, funcoid);
	recordDependencyOn(&trigger, &function, DEPENDENCY_AUTO);
	CommandCounterIncrement();
}

/* REPLICA IDENTITY FULL and the TRUNCATE guard on every table of the tree. */
static void
prepare_tree(List *tree)
{
	ListCell   *lc;

	foreach(lc, tree)
	{
		Oid			relid = lfirst_oid(lc);
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		char		replident;

		if (!HeapTupleIsValid(tup))
			continue;
		replident = ((Form_pg_class) GETSTRUCT(tup))->relreplident;
		ReleaseSysCache(tup);
		if (replident != REPLICA_IDENTITY_FULL)
			os_spi_exec(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL",
								 qualified_relid_name(relid)),
						0, NULL, NULL, NULL, SPI_OK_UTILITY);
		if (!OidIsValid(get_trigger_oid(relid, TRUNCATE_GUARD, true)))
			install_truncate_guard(relid);
	}
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

/*
 * A key attribute of DynamoDB is S, N or B: a primary key column whose type
 * renders as anything else (BOOL, M, L: boolean, json, jsonb, arrays,
 * composites, and domains over them) cannot be one.
 */
static void
check_key_column_type(Relation rel, Form_pg_attribute att)
{
	if (ddb_key_type_ok(att->atttypid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("ValidationException: primary key column \"%s\" of table \"%s\" has type %s, which cannot be a DynamoDB key attribute",
					NameStr(att->attname), RelationGetRelationName(rel),
					format_type_be(att->atttypid)),
			 errdetail("A DynamoDB key attribute is a string, number or binary (S, N or B); values of this type are streamed as BOOL, M or L."),
			 errhint("Use a primary key of text, numeric, integer, bytea, uuid, date or time columns, e.g. a surrogate key.")));
}

/*
 * Primary key column names, in key order: the first is the HASH key, the
 * second the RANGE key.  A primary key of more columns is accepted: every
 * column is in Keys, since only all of them name the item (per-item order,
 * key changes, replay), and describe_stream's KeySchema names the first two.
 */
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
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attno - 1);

		check_key_column_type(rel, att);
		names[i] = NameGetDatum(&att->attname);
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
		if (!ddb_set_element_type_ok(get_atttype(RelationGetRelid(rel), attno)))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("ValidationException: column \"%s\" of table \"%s\" (%s) cannot be a set",
							name, RelationGetRelationName(rel),
							format_type_be(get_atttype(RelationGetRelid(rel), attno))),
					 errdetail("DynamoDB sets hold strings, numbers or binaries: SS, NS or BS."),
					 errhint("Leave the column out of set_columns: it is streamed as a list (L).")));
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

	os_spi_exec_as_owner("SELECT 1 FROM orders_stream.streams "
						 "WHERE stream_arn OPERATOR(pg_catalog.=) $1",
						 1, argtypes, values, NULL, SPI_OK_SELECT);
	return SPI_processed > 0;
}

/* Streams are captured in orders_stream.database only. */
static void
check_capture_slot(void)
{
	char	   *slot = capture_slot_name();

	(void) capture_slot_check_database(ERROR);
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
	ArrayType  *keys;
	Relation	rel;
	char	   *existing = NULL;
	char	   *table_name;
	char	   *label;
	char	   *arn;
	char	   *shard_id;
	char		hash[33];
	const char *errstr = NULL;
	TimestampTz created;
	List	   *tree;
	Datum		result;

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

	if (os_enabled_stream(relid, &existing, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("ResourceInUseException: table \"%s\" already has an enabled stream",
						RelationGetRelationName(rel)),
				 errdetail("Stream: %s.", existing),
				 errhint("Disable it with orders_stream.disable_stream('%s') to enable a new one.",
						 qualified_name(rel))));

	keys = key_columns(rel);
	check_set_columns(rel, set_columns);
	if (rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
		ereport(NOTICE,
				(errmsg("setting REPLICA IDENTITY FULL on table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Stream records need the whole old row: OldImage, and unchanged values in NewImage.")));
	table_name = stream_table_name(rel);
	/* ALTER TABLE refuses to run on a relation this function holds open */
	relation_close(rel, NoLock);

	SPI_connect();
	tree = table_and_partitions(relid, ShareRowExclusiveLock);
	prepare_tree(tree);

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
		os_spi_exec_as_owner("INSERT INTO orders_stream.streams "
							 "(relid, table_name, view_type, stream_label, stream_arn, "
							 "shard_id, key_columns, set_columns, start_lsn, created_at) "
							 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
							 "pg_catalog.pg_current_wal_insert_lsn(), $9)",
							 9, argtypes, values, NULL, SPI_OK_INSERT);
	}

	invalidate_tree(tree);
	/* the ARN lives in SPI's memory, which SPI_finish() frees */
	result = SPI_datumTransfer(CStringGetTextDatum(arn), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

Datum
orders_stream_disable_stream(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = open_stream_table(relid);
	char	   *arn = NULL;
	List	   *tree;
	ListCell   *lc;

	if (os_enabled_stream(relid, &arn, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ValidationException: table \"%s\" has no enabled stream",
						RelationGetRelationName(rel)),
				 errhint("orders_stream.list_streams() shows the streams of this database.")));
	/* DROP TRIGGER refuses to run on a relation this function holds open */
	relation_close(rel, NoLock);

	SPI_connect();
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(relid)};

		os_spi_exec_as_owner("UPDATE orders_stream.streams SET disabled_at = pg_catalog.now() "
							 "WHERE relid OPERATOR(pg_catalog.=) $1 AND disabled_at IS NULL",
							 1, argtypes, values, NULL, SPI_OK_UPDATE);
	}
	tree = table_and_partitions(relid, ShareRowExclusiveLock);
	foreach(lc, tree)
		os_spi_exec(psprintf("DROP TRIGGER IF EXISTS " TRUNCATE_GUARD " ON %s",
							 qualified_relid_name(lfirst_oid(lc))),
					0, NULL, NULL, NULL, SPI_OK_UTILITY);
	invalidate_tree(tree);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(arn));
}

/*
 * BEFORE TRUNCATE trigger of streamed tables.  DynamoDB has no TRUNCATE, and
 * items that vanish without REMOVE records would silently stay in every
 * consumer's state: refuse, unless the session opts out.  It runs as the
 * truncating role and reads the streams catalog directly: no SQL at all.
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
		OidIsValid(os_streamed_root(RelationGetRelid(trigdata->tg_relation))))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot truncate table \"%s\" because it has a stream",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("TRUNCATE removes items without REMOVE stream records, so consumers would never learn they are gone."),
				 errhint("Use DELETE, disable the stream first, or SET orders_stream.allow_truncate = on to truncate without stream records.")));
	PG_RETURN_POINTER(NULL);
}

/* The OIDs in the first column of an SPI result (copied before more SPI). */
static List *
spi_oids(const char *sql)
{
	List	   *oids = NIL;
	uint64		i;
	int			nestlevel = os_pin_search_path();

	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\"", sql);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		oids = lappend_oid(oids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc, 1, &isnull)));
	}
	os_unpin_search_path(nestlevel);
	return oids;
}

/*
 * ddl_command_end of CREATE TABLE and ALTER TABLE: partitions created or
 * attached under a streamed table get REPLICA IDENTITY FULL and the
 * TRUNCATE guard.  The statements below fire this trigger again; they are
 * only run while something is missing, so that ends.
 */
Datum
orders_stream_on_table_ddl(PG_FUNCTION_ARGS)
{
	List	   *relids;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_stream_internal.on_table_ddl() must be an event trigger")));
	SPI_connect();
	relids = spi_oids("SELECT objid FROM pg_catalog.pg_event_trigger_ddl_commands() "
					  "WHERE object_type OPERATOR(pg_catalog.=) 'table'");
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		Oid			root = relid;

		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			continue;
		if (get_rel_relispartition(relid))
			root = llast_oid(get_partition_ancestors(relid));
		if (os_enabled_stream(root, NULL, NULL) == 0)
			continue;
		prepare_tree(table_and_partitions(root, AccessShareLock));
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * sql_drop: the stream of a dropped table is disabled (as DynamoDB disables
 * the stream of a deleted table; its records stay for its mappings until
 * they age out), and the mapping of a dropped owner anchor (DROP OWNED BY
 * its owner) is deleted.  Only objects that are really gone count.
 */
Datum
orders_stream_on_sql_drop(PG_FUNCTION_ARGS)
{
	List	   *tables;
	List	   *sequences;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("orders_stream_internal.on_sql_drop() must be an event trigger")));
	SPI_connect();
	tables = spi_oids("SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects() "
					  "WHERE object_type OPERATOR(pg_catalog.=) 'table' AND NOT is_temporary");
	sequences = spi_oids("SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects() "
						 "WHERE object_type OPERATOR(pg_catalog.=) 'sequence' "
						 "AND schema_name OPERATOR(pg_catalog.=) '" ORDERS_STREAM_INTERNAL_SCHEMA "'");
	foreach(lc, tables)
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(lfirst_oid(lc))};

		if (SearchSysCacheExists1(RELOID, values[0]))
			continue;
		os_spi_exec_as_owner("UPDATE orders_stream.streams SET disabled_at = pg_catalog.now() "
							 "WHERE relid OPERATOR(pg_catalog.=) $1 AND disabled_at IS NULL",
							 1, argtypes, values, NULL, SPI_OK_UPDATE);
	}
	foreach(lc, sequences)
	{
		Oid			argtypes[1] = {OIDOID};
		Datum		values[1] = {ObjectIdGetDatum(lfirst_oid(lc))};

		if (SearchSysCacheExists1(RELOID, values[0]))
			continue;
		os_spi_exec_as_owner("DELETE FROM orders_stream_internal.event_source_mappings "
							 "WHERE anchor OPERATOR(pg_catalog.=) $1",
							 1, argtypes, values, NULL, SPI_OK_DELETE);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The owner anchor of a new event source mapping (see 70_mappings.sql): a
 * sequence owned by the mapping's owner, which the extension's owner alone
 * can reach.  It depends automatically on the extension, so that DROP
 * EXTENSION takes it along.  Called by the extension's owner only.
 */
Datum
orders_stream_create_anchor(PG_FUNCTION_ARGS)
{
	char	   *mapping = DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(0)));
	Oid			owner = PG_GETARG_OID(1);
	char	   *name = psprintf("mapping_%s", mapping);
	char	   *qualified = quote_qualified_identifier(ORDERS_STREAM_INTERNAL_SCHEMA, name);
	Oid			anchor;
	ObjectAddress anchor_address;
	ObjectAddress extension;

	SPI_connect();
	os_spi_exec(psprintf("CREATE SEQUENCE %s", qualified),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	os_spi_exec(psprintf("ALTER SEQUENCE %s OWNER TO %s", qualified,
						 quote_identifier(GetUserNameFromId(owner, false))),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	SPI_finish();
	anchor = get_relname_relid(name, get_namespace_oid(ORDERS_STREAM_INTERNAL_SCHEMA, false));
	ObjectAddressSet(anchor_address, RelationRelationId, anchor);
	ObjectAddressSet(extension, ExtensionRelationId, get_extension_oid("orders_stream", false));
	recordDependencyOn(&anchor_address, &extension, DEPENDENCY_AUTO);
	PG_RETURN_OID(anchor);
}
