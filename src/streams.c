/*-------------------------------------------------------------------------
 * streams.c
 *	  Enabling and disabling streams, and what a streamed table needs (REPLICA
 *	  IDENTITY FULL and the TRUNCATE guard, on every partition).  The DDL
 *	  event triggers that keep streamed tables so are in ddl_guard.c; the
 *	  owner anchors of event source mappings are in delivery_mapping.c.
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

#include "aws_error.h"
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

static const char *const view_types[] = {
	"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"
};

#define TRUNCATE_GUARD "orders_stream_truncate_guard"

int64
streams_enabled_stream(Oid relid, char **arn, Datum *keys)
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
streams_streamed_root(Oid relid)
{
	ListCell   *lc;

	if (streams_enabled_stream(relid, NULL, NULL) != 0)
		return relid;
	if (get_rel_relispartition(relid))
		foreach(lc, get_partition_ancestors(relid))
			if (streams_enabled_stream(lfirst_oid(lc), NULL, NULL) != 0)
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

	rel = security_open_owned_table(relid, ShareRowExclusiveLock,
							  "Pass the table by name, e.g. orders_stream.enable_stream('orders').");
	relkind = rel->rd_rel->relkind;
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		aws_error(AWS_VALIDATION,
				  "Streams capture the changes of tables: use an ordinary or partitioned table.",
				  "cannot have a stream on \"%s\"", RelationGetRelationName(rel));
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

	security_spi_exec(psprintf("CREATE OR REPLACE TRIGGER " TRUNCATE_GUARD
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

List *
streams_prepare_tree(Oid root, LOCKMODE lockmode)
{
	List	   *tree = table_and_partitions(root, lockmode);
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
			security_spi_exec(psprintf("ALTER TABLE %s REPLICA IDENTITY FULL",
								 qualified_relid_name(relid)),
						0, NULL, NULL, NULL, SPI_OK_UTILITY);
		if (!OidIsValid(get_trigger_oid(relid, TRUNCATE_GUARD, true)))
			install_truncate_guard(relid);
	}
	return tree;
}

void
streams_mark_disabled(Oid relid)
{
	Oid			type = OIDOID;
	Datum		value = ObjectIdGetDatum(relid);

	security_spi_exec_as_owner("UPDATE orders_stream.streams SET disabled_at = pg_catalog.now() "
						 "WHERE relid OPERATOR(pg_catalog.=) $1 AND disabled_at IS NULL",
						 1, &type, &value, NULL, SPI_OK_UPDATE);
}

static void
check_view_type(const char *view_type, Relation rel)
{
	int			i;

	for (i = 0; i < lengthof(view_types); i++)
		if (strcmp(view_type, view_types[i]) == 0)
			return;
	aws_error(AWS_VALIDATION,
			  "StreamViewType is one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES.",
			  "unknown stream view type \"%s\" for table \"%s\"",
			  view_type, RelationGetRelationName(rel));
}

/*
 * A key attribute of DynamoDB is S, N or B: a primary key column whose type
 * renders as anything else (BOOL, M, L: boolean, json, jsonb, arrays,
 * composites, and domains over them) cannot be one.
 */
static void
check_key_column_type(Relation rel, const char *column)
{
	Oid			typid = get_atttype(RelationGetRelid(rel),
									get_attnum(RelationGetRelid(rel), column));

	if (ddb_key_type_ok(typid))
		return;
	aws_error(AWS_VALIDATION,
			  "A DynamoDB key attribute is a string, number or binary (S, N or B); values of this type are streamed as BOOL, M or L. "
			  "Use a primary key of text, numeric, integer, bytea, uuid, date or time columns, e.g. a surrogate key.",
			  "primary key column \"%s\" of table \"%s\" has type %s, which cannot be a DynamoDB key attribute",
			  column, RelationGetRelationName(rel), format_type_be(typid));
}

ArrayType *
streams_primary_key(Relation rel)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	idx;
	Datum	   *names;
	int			n;
	int			i;

	if (!OidIsValid(pkoid))
		return NULL;
	idx = index_open(pkoid, AccessShareLock);
	n = idx->rd_index->indnkeyatts;
	names = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		names[i] = NameGetDatum(&TupleDescAttr(RelationGetDescr(rel),
											   idx->rd_index->indkey.values[i] - 1)->attname);
	index_close(idx, AccessShareLock);
	return construct_array(names, n, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR);
}

/*
 * The stream's key_columns: the primary key, each column S, N or B.  A
 * primary key of more than two columns is accepted: every column is in
 * Keys, since only all of them name the item (per-item order, key changes,
 * replay), and describe_stream's KeySchema names the first two.
 */
static ArrayType *
key_columns(Relation rel)
{
	ArrayType  *keys = streams_primary_key(rel);
	Datum	   *names;
	int			n;
	int			i;

	if (keys == NULL)
		aws_error(AWS_VALIDATION,
				  psprintf("Every stream record names its item by Keys, the primary key of the table. "
						   "Add one with ALTER TABLE %s ADD PRIMARY KEY (...).",
						   qualified_name(rel)),
				  "table \"%s\" has no primary key", RelationGetRelationName(rel));
	deconstruct_array(keys, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR, &names, NULL, &n);
	for (i = 0; i < n; i++)
		check_key_column_type(rel, NameStr(*DatumGetName(names[i])));
	return keys;
}

/* A set column (NULL for a NULL element) must be an array column of the table. */
static void
check_set_column(Relation rel, const char *name)
{
	Oid			relid = RelationGetRelid(rel);
	const char *relname = RelationGetRelationName(rel);
	AttrNumber	attno;
	Oid			typid;

	if (name == NULL)
		aws_error(AWS_VALIDATION, "List array columns by name.",
				  "set_columns of table \"%s\" contains NULL", relname);
	attno = get_attnum(relid, name);
	if (attno == InvalidAttrNumber)
		aws_error(AWS_VALIDATION, "set_columns lists array columns that become SS, NS or BS sets.",
				  "column \"%s\" of table \"%s\" does not exist", name, relname);
	typid = get_atttype(relid, attno);
	if (!OidIsValid(get_element_type(getBaseType(typid))))
		aws_error(AWS_VALIDATION, "Only array columns can be streamed as SS, NS or BS sets.",
				  "column \"%s\" of table \"%s\" is not an array", name, relname);
	if (!ddb_set_element_type_ok(typid))
		aws_error(AWS_VALIDATION,
				  "DynamoDB sets hold strings, numbers or binaries: SS, NS or BS. "
				  "Leave the column out of set_columns: it is streamed as a list (L).",
				  "column \"%s\" of table \"%s\" (%s) cannot be a set",
				  name, relname, format_type_be(typid));
}

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
		check_set_column(rel, nulls[i] ? NULL : NameStr(*DatumGetName(elems[i])));
}

/*
 * A document column (see record.c) is a jsonb column, whose members are the
 * item's attributes; it is never a key column, since jsonb is none.
 */
static void
check_document_column(Relation rel, const char *name)
{
	Oid			relid = RelationGetRelid(rel);
	const char *relname = RelationGetRelationName(rel);
	AttrNumber	attno = get_attnum(relid, name);

	if (attno == InvalidAttrNumber)
		aws_error(AWS_VALIDATION,
				  "document_column names the jsonb column whose members are streamed as top-level attributes, e.g. document_column => 'item'.",
				  "column \"%s\" of table \"%s\" does not exist", name, relname);
	if (getBaseType(get_atttype(relid, attno)) != JSONBOID)
		aws_error(AWS_VALIDATION,
				  psprintf("A document column holds the item's attributes as a jsonb object. "
						   "Convert it with ALTER TABLE %s ALTER COLUMN %s TYPE jsonb USING %s::jsonb.",
						   qualified_name(rel), quote_identifier(name), quote_identifier(name)),
				  "document column \"%s\" of table \"%s\" has type %s, not jsonb",
				  name, relname, format_type_be(get_atttype(relid, attno)));
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

	security_spi_exec_as_owner("SELECT 1 FROM orders_stream.streams "
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

/*
 * What a stream needs of a table beyond its kind: changes written to WAL,
 * no partitioned table above it, no stream already.
 */
static void
check_streamable(Relation rel)
{
	const char *relname = RelationGetRelationName(rel);
	char	   *existing = NULL;

	if (rel->rd_rel->relpersistence != RELPERSISTENCE_PERMANENT)
		aws_error(AWS_VALIDATION,
				  "Changes to temporary and unlogged tables are not written to WAL, so they cannot be captured. "
				  "Use a permanent table (ALTER TABLE ... SET LOGGED for an unlogged one).",
				  "cannot have a stream on %s table \"%s\"",
				  rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP ? "temporary" : "unlogged",
				  relname);
	if (rel->rd_rel->relispartition)
		aws_error(AWS_VALIDATION,
				  psprintf("The changes of a partition belong to the stream of its partitioned table. "
						   "Enable the stream on the partitioned table \"%s\".",
						   get_rel_name(llast_oid(get_partition_ancestors(RelationGetRelid(rel))))),
				  "cannot have a stream on partition \"%s\"", relname);
	if (streams_enabled_stream(RelationGetRelid(rel), &existing, NULL) != 0)
		aws_error(AWS_RESOURCE_IN_USE,
				  psprintf("Disable its stream %s with orders_stream.disable_stream('%s') to enable a new one.",
						   existing, qualified_name(rel)),
				  "table \"%s\" already has an enabled stream", relname);
}

/* A row of orders_stream.streams, for enable_stream to insert. */
typedef struct NewStream
{
	Oid			relid;
	char	   *table_name;
	const char *view_type;
	char	   *label;
	char	   *arn;
	char	   *shard_id;
	ArrayType  *keys;
	ArrayType  *set_columns;
	char	   *document_column;	/* NULL for none */
	TimestampTz created;
} NewStream;

/*
 * A new stream's label (when it was created, made unique), its ARN and its
 * one shard's id.
 */
static void
name_stream(NewStream *s)
{
	char		hash[33];
	const char *errstr = NULL;

	s->created = GetCurrentStatementStartTimestamp();
	for (;;)
	{
		s->label = stream_label(s->created);
		s->arn = psprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/%s",
						  orders_stream_region, orders_stream_account_id,
						  s->table_name, s->label);
		if (!arn_exists(s->arn))
			break;
		/* the label must be new: disable and enable in one millisecond */
		s->created += 1000;
	}
	if (!pg_md5_hash(s->arn, strlen(s->arn), hash, &errstr))
		elog(ERROR, "could not hash stream ARN: %s", errstr);
	hash[8] = '\0';
	s->shard_id = psprintf("shardId-%020lld-%s",
						   (long long) (s->created / 1000 +
										(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000),
						   hash);
}

static void
insert_stream(const NewStream *s)
{
	Oid			argtypes[10] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, NAMEARRAYOID, NAMEARRAYOID, TIMESTAMPTZOID, NAMEOID};
	Datum		values[10];
	char		nulls[10];

	values[0] = ObjectIdGetDatum(s->relid);
	values[1] = CStringGetTextDatum(s->table_name);
	values[2] = CStringGetTextDatum(s->view_type);
	values[3] = CStringGetTextDatum(s->label);
	values[4] = CStringGetTextDatum(s->arn);
	values[5] = CStringGetTextDatum(s->shard_id);
	values[6] = PointerGetDatum(s->keys);
	values[7] = PointerGetDatum(s->set_columns);
	values[8] = TimestampTzGetDatum(s->created);
	memset(nulls, ' ', sizeof(nulls));
	if (s->document_column)
		values[9] = DirectFunctionCall1(namein, CStringGetDatum(s->document_column));
	else
		nulls[9] = 'n';
	security_spi_exec_as_owner("INSERT INTO orders_stream.streams "
						 "(relid, table_name, view_type, stream_label, stream_arn, "
						 "shard_id, key_columns, set_columns, start_lsn, created_at, "
						 "document_column) "
						 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
						 "pg_catalog.pg_current_wal_insert_lsn(), $9, $10)",
						 10, argtypes, values, nulls, SPI_OK_INSERT);
}

Datum
orders_stream_enable_stream(PG_FUNCTION_ARGS)
{
	NewStream	s;
	Relation	rel;
	List	   *tree;
	Datum		result;

	if (PG_ARGISNULL(0))
		aws_error(AWS_VALIDATION,
				  "Pass the table, e.g. orders_stream.enable_stream('orders', 'NEW_IMAGE').",
				  "source table must not be NULL");
	s.relid = PG_GETARG_OID(0);
	s.view_type = PG_ARGISNULL(1) ? "NEW_AND_OLD_IMAGES" : text_to_cstring(PG_GETARG_TEXT_PP(1));
	s.set_columns = PG_ARGISNULL(2) ? construct_empty_array(NAMEOID) : PG_GETARG_ARRAYTYPE_P(2);
	s.document_column = PG_ARGISNULL(3) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(3)));

	rel = open_stream_table(s.relid);
	check_view_type(s.view_type, rel);
	check_capture_slot();
	check_streamable(rel);
	s.keys = key_columns(rel);
	check_set_columns(rel, s.set_columns);
	if (s.document_column)
		check_document_column(rel, s.document_column);
	if (rel->rd_rel->relreplident != REPLICA_IDENTITY_FULL)
		ereport(NOTICE,
				(errmsg("setting REPLICA IDENTITY FULL on table \"%s\"",
						RelationGetRelationName(rel)),
				 errdetail("Stream records need the whole old row: OldImage, and unchanged values in NewImage.")));
	s.table_name = stream_table_name(rel);
	/* ALTER TABLE refuses to run on a relation this function holds open */
	relation_close(rel, NoLock);

	SPI_connect();
	tree = streams_prepare_tree(s.relid, ShareRowExclusiveLock);
	name_stream(&s);
	insert_stream(&s);
	invalidate_tree(tree);
	/* the ARN lives in SPI's memory, which SPI_finish() frees */
	result = SPI_datumTransfer(CStringGetTextDatum(s.arn), false, -1);
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

	if (streams_enabled_stream(relid, &arn, NULL) == 0)
		aws_error(AWS_VALIDATION, "orders_stream.list_streams() shows the streams of this database.",
				  "table \"%s\" has no enabled stream", RelationGetRelationName(rel));
	/* DROP TRIGGER refuses to run on a relation this function holds open */
	relation_close(rel, NoLock);

	SPI_connect();
	streams_mark_disabled(relid);
	tree = table_and_partitions(relid, ShareRowExclusiveLock);
	foreach(lc, tree)
		security_spi_exec(psprintf("DROP TRIGGER IF EXISTS " TRUNCATE_GUARD " ON %s",
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
		OidIsValid(streams_streamed_root(RelationGetRelid(trigdata->tg_relation))))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot truncate table \"%s\" because it has a stream",
						RelationGetRelationName(trigdata->tg_relation)),
				 errdetail("TRUNCATE removes items without REMOVE stream records, so consumers would never learn they are gone."),
				 errhint("Use DELETE, disable the stream first, or SET orders_stream.allow_truncate = on to truncate without stream records.")));
	PG_RETURN_POINTER(NULL);
}
