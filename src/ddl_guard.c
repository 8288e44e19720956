/*-------------------------------------------------------------------------
 * ddl_guard.c
 *	  The event triggers that keep streamed tables streamed.
 *
 *	  Partitions created or attached under a streamed table get what
 *	  enable_stream gave the others (REPLICA IDENTITY FULL, the TRUNCATE
 *	  guard).  A dropped table's stream is disabled, as DynamoDB disables the
 *	  stream of a deleted table, and the mapping of a dropped owner anchor
 *	  (DROP OWNED BY its owner) is deleted.
 *
 *	  The guard refuses DDL which would break a stream: a stream's
 *	  key schema never changes (as DynamoDB's), an unlogged table writes no
 *	  WAL to capture, and rows of an inheritance child are not the streamed
 *	  table's changes.  It checks the state each statement leaves behind, so
 *	  every way of getting there (DROP CONSTRAINT, DROP COLUMN, RENAME COLUMN,
 *	  ADD PRIMARY KEY, SET UNLOGGED, INHERITS, INHERIT...) is covered; the
 *	  ERROR rolls the statement back.
 *
 *	  Items must not enter or leave a streamed table without stream records
 *	  (as TRUNCATE is refused): a partition with rows can be neither detached
 *	  nor attached, and a partition cannot be dropped without its table (by
 *	  DROP TABLE, DROP SCHEMA ... CASCADE or DROP OWNED).  DETACH
 *	  ... CONCURRENTLY commits before ddl_command_end, and DROP leaves no
 *	  rows to look at, so those two are refused at ddl_command_start.
 *
 * They run as the role that ran the DDL.  orders_stream.streams is read
 * with a catalog scan, as the output plugin reads it: no SPI, no
 * search_path; what they write in the extension's tables is written as the
 * extension's owner, with a pinned search_path.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "orders_stream.h"
#include "security.h"
#include "streams.h"

PG_FUNCTION_INFO_V1(orders_stream_on_table_ddl);
PG_FUNCTION_INFO_V1(orders_stream_on_sql_drop);
PG_FUNCTION_INFO_V1(orders_stream_ddl_guard);

/* The table streaming relid's changes, with its key_columns; InvalidOid if none. */
static Oid
streamed_root_keys(Oid relid, Datum *keys)
{
	Oid			root = streams_streamed_root(relid);

	if (OidIsValid(root))
		(void) streams_enabled_stream(root, NULL, keys);
	return root;
}

static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* "a, b" of a name[] */
static char *
name_list(Datum names)
{
	StringInfoData cols;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(DatumGetArrayTypeP(names), NAMEOID, NAMEDATALEN, false,
					  TYPALIGN_CHAR, &elems, &nulls, &n);
	initStringInfo(&cols);
	for (i = 0; i < n; i++)
		appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "",
						 nulls[i] ? "NULL" : quote_identifier(NameStr(*DatumGetName(elems[i]))));
	return cols.data;
}

/*
 * Refuses the statement, with a hint that names the other way, if any, or
 * disabling root's stream first.
 */
static pg_attribute_noreturn() void
refuse(int sqlstate, Oid root, const char *message, const char *detail,
	   const char *other_way)
{
	char	   *disable = psprintf("orders_stream.disable_stream('%s')", qualified_name(root));

	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg_internal("%s", message),
			 errdetail_internal("%s", detail),
			 other_way ? errhint("%s, or disable the stream first with %s.", other_way, disable)
			 : errhint("Disable the stream first with %s.", disable)));
	pg_unreachable();
}

/* Refuses rows of relid going to a streamed parent's children unseen. */
static void
check_not_inheritance_child(Oid relid)
{
	Relation	inhrel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (get_rel_relispartition(relid))
		return;
	inhrel = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(inhrel, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Oid			parent = ((Form_pg_inherits) GETSTRUCT(tup))->inhparent;
		Oid			root = streams_streamed_root(parent);

		if (OidIsValid(root))
			refuse(ERRCODE_FEATURE_NOT_SUPPORTED, root,
				   psprintf("table \"%s\" cannot inherit from table \"%s\", which has a stream",
							qualified_name(relid), qualified_name(parent)),
				   "Changes of inheritance children are not captured in their parent's stream.",
				   "Use a partition (CREATE TABLE ... PARTITION OF)");
	}
	systable_endscan(scan);
	table_close(inhrel, AccessShareLock);
}

/* A stream's key schema never changes, as in DynamoDB's. */
static void
check_key_schema(Oid root, Datum keys)
{
	Relation	rel = table_open(root, AccessShareLock);
	ArrayType  *primary_key = streams_primary_key(rel);
	char	   *current = primary_key ? name_list(PointerGetDatum(primary_key)) : "";
	char	   *recorded = name_list(keys);

	table_close(rel, AccessShareLock);
	if (strcmp(current, recorded) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot change the primary key of table \"%s\": its stream has the key schema (%s)",
						qualified_name(root), recorded),
				 *current ? errdetail("The primary key would become (%s); a stream's key schema never changes, as in DynamoDB.", current)
				 : errdetail("The table would have no primary key; a stream's key schema never changes, as in DynamoDB."),
				 errhint("Disable the stream first with orders_stream.disable_stream('%s'), then enable a new one.",
						 qualified_name(root))));
}

/* Checks the state a statement left relid (a table) in. */
static void
check_table(Oid relid)
{
	Datum		keys;
	Oid			root;

	if (!OidIsValid(relid) || get_rel_relkind(relid) == '\0')
		return;
	check_not_inheritance_child(relid);

	root = streamed_root_keys(relid, &keys);
	if (!OidIsValid(root))
		return;

	if (get_rel_persistence(relid) != RELPERSISTENCE_PERMANENT ||
		get_rel_persistence(root) != RELPERSISTENCE_PERMANENT)
		refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, root,
			   psprintf("table \"%s\" has a stream and cannot be unlogged", qualified_name(relid)),
			   "Changes of an unlogged table are not written to the write-ahead log, so they cannot be captured.",
			   NULL);
	check_key_schema(root, keys);

	/* CREATE TABLE ... INHERITS checks the child; ALTER TABLE the parent too */
	if (has_subclass(root))
	{
		List	   *children = find_inheritance_children(root, AccessShareLock);
		ListCell   *lc;

		foreach(lc, children)
			check_not_inheritance_child(lfirst_oid(lc));
	}
}

static Oid
relation_of(RangeVar *rv)
{
	return rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
}

/*
 * Whether relid (or any partition under it) has a row any transaction has
 * committed, or this one has written.  The caller holds a lock that keeps
 * writers out, so the latest snapshot sees every row there is.
 */
static bool
has_rows(Oid relid)
{
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	ListCell   *lc;
	bool		found = false;

	foreach(lc, rels)
	{
		Relation	rel;
		TableScanDesc scan;
		TupleTableSlot *slot;

		if (get_rel_relkind(lfirst_oid(lc)) != RELKIND_RELATION)
			continue;
		rel = table_open(lfirst_oid(lc), AccessShareLock);
		slot = table_slot_create(rel, NULL);
		scan = table_beginscan(rel, snapshot, 0, NULL);
		found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, AccessShareLock);
		if (found)
			break;
	}
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * ddl_command_end of ATTACH and DETACH PARTITION under a streamed table:
 * the rows of the partition would become items without INSERT records, or
 * vanish without REMOVE records.
 */
static void
check_partition_cmd(Oid parent, AlterTableCmd *cmd)
{
	PartitionCmd *pcmd = (PartitionCmd *) cmd->def;
	Oid			root = streams_streamed_root(parent);
	Oid			partition = relation_of(pcmd->name);

	if (!OidIsValid(root) || !OidIsValid(partition) || !has_rows(partition))
		return;
	if (cmd->subtype == AT_AttachPartition)
		refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, root,
			   psprintf("cannot attach table \"%s\" with rows to table \"%s\", which has a stream",
						qualified_name(partition), qualified_name(parent)),
			   "Its rows would become items of the stream without INSERT records.",
			   psprintf("Attach it empty and INSERT its rows through \"%s\"", qualified_name(parent)));
	refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, root,
		   psprintf("cannot detach partition \"%s\" with rows from table \"%s\", which has a stream",
					qualified_name(partition), qualified_name(parent)),
		   "Its rows would leave the stream's items without REMOVE records, so consumers would never learn they are gone.",
		   "DELETE its rows first");
}

/* ddl_command_start: DETACH PARTITION ... CONCURRENTLY under a streamed table */
static void
check_concurrent_detach(Oid parent, AlterTableCmd *cmd)
{
	PartitionCmd *pcmd = (PartitionCmd *) cmd->def;
	Oid			root = streams_streamed_root(parent);

	if (!OidIsValid(root) || !pcmd->concurrent)
		return;
	refuse(ERRCODE_FEATURE_NOT_SUPPORTED, root,
		   psprintf("cannot detach partition \"%s\" of table \"%s\" concurrently, because the table has a stream",
					pcmd->name->relname, qualified_name(parent)),
		   "A concurrent detach commits before its rows can be checked; rows leaving the table would have no REMOVE records.",
		   "DELETE its rows and detach it without CONCURRENTLY");
}

/* Whether the statement being checked drops relid, by name, schema or owner. */
static bool
dropped(Oid relid, List *tables, List *schemas, List *owners)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Form_pg_class form;
	bool		result;

	if (!HeapTupleIsValid(tup))
		return true;
	form = (Form_pg_class) GETSTRUCT(tup);
	result = list_member_oid(tables, relid) ||
		list_member_oid(schemas, form->relnamespace) ||
		list_member_oid(owners, form->relowner);
	ReleaseSysCache(tup);
	return result;
}

/* The partitions in the schemas or of the owners a statement drops. */
static List *
partitions_in(List *schemas, List *owners)
{
	List	   *partitions = NIL;
	Relation	pg_class = table_open(RelationRelationId, AccessShareLock);
	SysScanDesc scan = systable_beginscan(pg_class, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

		if (form->relispartition &&
			(list_member_oid(schemas, form->relnamespace) ||
			 list_member_oid(owners, form->relowner)))
			partitions = lappend_oid(partitions, form->oid);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return partitions;
}

/*
 * ddl_command_start of DROP TABLE, DROP SCHEMA ... CASCADE and DROP OWNED:
 * a partition of a streamed table is not dropped without the table (its
 * rows would vanish without REMOVE records); with the streamed table
 * itself, it goes with the stream.
 */
static void
check_drop(Node *tree)
{
	List	   *tables = NIL;
	List	   *schemas = NIL;
	List	   *owners = NIL;
	List	   *partitions = NIL;
	ListCell   *lc;

	if (IsA(tree, DropStmt) && ((DropStmt *) tree)->removeType == OBJECT_TABLE)
	{
		foreach(lc, ((DropStmt *) tree)->objects)
			tables = lappend_oid(tables, relation_of(makeRangeVarFromNameList(lfirst(lc))));
		foreach(lc, tables)
			if (OidIsValid(lfirst_oid(lc)) && get_rel_relispartition(lfirst_oid(lc)))
				partitions = lappend_oid(partitions, lfirst_oid(lc));
	}
	else if (IsA(tree, DropStmt) && ((DropStmt *) tree)->removeType == OBJECT_SCHEMA &&
			 ((DropStmt *) tree)->behavior == DROP_CASCADE)
		foreach(lc, ((DropStmt *) tree)->objects)
			schemas = lappend_oid(schemas, get_namespace_oid(strVal(lfirst(lc)), true));
	else if (IsA(tree, DropOwnedStmt))
		foreach(lc, ((DropOwnedStmt *) tree)->roles)
			owners = lappend_oid(owners, get_rolespec_oid(lfirst(lc), true));
	if (schemas != NIL || owners != NIL)
		partitions = partitions_in(schemas, owners);

	foreach(lc, partitions)
	{
		Oid			relid = lfirst_oid(lc);
		Oid			root = streams_streamed_root(relid);

		if (!OidIsValid(root) || dropped(root, tables, schemas, owners))
			continue;
		refuse(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, root,
			   psprintf("cannot drop partition \"%s\" of table \"%s\", which has a stream",
						qualified_name(relid), qualified_name(root)),
			   "Its rows would leave the stream's items without REMOVE records, so consumers would never learn they are gone.",
			   "DELETE its rows and detach it first (ALTER TABLE ... DETACH PARTITION)");
	}
}

/* ddl_command_start: what cannot be checked after the statement. */
static void
guard_command_start(Node *tree)
{
	if (IsA(tree, DropStmt) || IsA(tree, DropOwnedStmt))
		check_drop(tree);
	else if (IsA(tree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) tree;
		ListCell   *lc;

		foreach(lc, stmt->cmds)
			if (((AlterTableCmd *) lfirst(lc))->subtype == AT_DetachPartition)
				check_concurrent_detach(relation_of(stmt->relation), lfirst(lc));
	}
}

/* ddl_command_end of ALTER TABLE: the table, and partitions attached or detached. */
static void
guard_alter_table(AlterTableStmt *stmt)
{
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE)
		return;
	check_table(relation_of(stmt->relation));
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst(lc);

		if (cmd->subtype == AT_AttachPartition ||
			cmd->subtype == AT_DetachPartition ||
			cmd->subtype == AT_DetachPartitionFinalize)
			check_partition_cmd(relation_of(stmt->relation), cmd);
	}
}

static void
require_event_trigger(FunctionCallInfo fcinfo, const char *function)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s() must be an event trigger", function)));
}

Datum
orders_stream_ddl_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *tree;

	require_event_trigger(fcinfo, ORDERS_STREAM_INTERNAL_SCHEMA ".ddl_guard");
	trigdata = (EventTriggerData *) fcinfo->context;
	tree = trigdata->parsetree;
	if (strcmp(trigdata->event, "ddl_command_start") == 0)
		guard_command_start(tree);
	else if (IsA(tree, AlterTableStmt))
		guard_alter_table((AlterTableStmt *) tree);
	else if (IsA(tree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) tree;

		if (stmt->renameType == OBJECT_COLUMN ||
			stmt->renameType == OBJECT_TABCONSTRAINT)
			check_table(relation_of(stmt->relation));
	}
	else if (IsA(tree, CreateStmt))
		check_table(relation_of(((CreateStmt *) tree)->relation));
	PG_RETURN_NULL();
}

/* The OIDs in the first column of an SPI result (copied before more SPI). */
static List *
spi_oids(const char *sql)
{
	List	   *oids = NIL;
	uint64		i;
	int			nestlevel = security_pin_search_path();

	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\"", sql);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		oids = lappend_oid(oids, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc, 1, &isnull)));
	}
	security_unpin_search_path(nestlevel);
	return oids;
}

/*
 * ddl_command_end of CREATE TABLE and ALTER TABLE: partitions created or
 * attached under a streamed table get REPLICA IDENTITY FULL and the
 * TRUNCATE guard.  The statements this runs fire this trigger again; they
 * are only run while something is missing, so that ends.
 */
Datum
orders_stream_on_table_ddl(PG_FUNCTION_ARGS)
{
	List	   *relids;
	ListCell   *lc;

	require_event_trigger(fcinfo, ORDERS_STREAM_INTERNAL_SCHEMA ".on_table_ddl");
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
		if (streams_enabled_stream(root, NULL, NULL) != 0)
			(void) streams_prepare_tree(root, AccessShareLock);
	}
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * The relations pg_event_trigger_dropped_objects() lists that match filter
 * and are really gone.
 */
static List *
gone_relations(const char *filter)
{
	List	   *gone = NIL;
	ListCell   *lc;

	foreach(lc, spi_oids(psprintf("SELECT objid FROM pg_catalog.pg_event_trigger_dropped_objects() "
								  "WHERE %s", filter)))
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(lfirst_oid(lc))))
			gone = lappend_oid(gone, lfirst_oid(lc));
	return gone;
}

/*
 * sql_drop: the stream of a dropped table is disabled (as DynamoDB disables
 * the stream of a deleted table; its records stay for its mappings until
 * they age out), and the mapping of a dropped owner anchor (DROP OWNED BY
 * its owner) is deleted.
 */
Datum
orders_stream_on_sql_drop(PG_FUNCTION_ARGS)
{
	List	   *tables;
	List	   *anchors;
	ListCell   *lc;

	require_event_trigger(fcinfo, ORDERS_STREAM_INTERNAL_SCHEMA ".on_sql_drop");
	SPI_connect();
	tables = gone_relations("object_type OPERATOR(pg_catalog.=) 'table' AND NOT is_temporary");
	anchors = gone_relations("object_type OPERATOR(pg_catalog.=) 'sequence' "
							 "AND schema_name OPERATOR(pg_catalog.=) '" ORDERS_STREAM_INTERNAL_SCHEMA "'");
	foreach(lc, tables)
		streams_mark_disabled(lfirst_oid(lc));
	foreach(lc, anchors)
	{
		Oid			type = OIDOID;
		Datum		anchor = ObjectIdGetDatum(lfirst_oid(lc));

		security_spi_exec_as_owner("DELETE FROM orders_stream_internal.event_source_mappings "
							 "WHERE anchor OPERATOR(pg_catalog.=) $1",
							 1, &type, &anchor, NULL, SPI_OK_DELETE);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
