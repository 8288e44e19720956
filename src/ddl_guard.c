/*-------------------------------------------------------------------------
 * ddl_guard.c
 *	  An event trigger that refuses DDL which would break a stream: a stream's
 *	  key schema never changes (as DynamoDB's), an unlogged table writes no
 *	  WAL to capture, and rows of an inheritance child are not the streamed
 *	  table's changes.  It checks the state each statement leaves behind, so
 *	  every way of getting there (DROP CONSTRAINT, DROP COLUMN, RENAME COLUMN,
 *	  ADD PRIMARY KEY, SET UNLOGGED, INHERITS, INHERIT...) is covered; the
 *	  ERROR rolls the statement back.
 *
 * orders_stream.streams is read with a catalog scan, as the output plugin
 * reads it: no SPI, no search_path.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_inherits.h"
#include "commands/event_trigger.h"
#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "orders_stream.h"
#include "streams.h"

PG_FUNCTION_INFO_V1(orders_stream_ddl_guard);

/* The table streaming relid's changes, with its key_columns; InvalidOid if none. */
static Oid
streamed_root_keys(Oid relid, Datum *keys)
{
	Oid			root = os_streamed_root(relid);

	if (OidIsValid(root))
		(void) os_enabled_stream(root, NULL, keys);
	return root;
}

static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* "a, b" of the primary key columns of rel, "" without a primary key. */
static char *
primary_key_columns(Relation rel)
{
	StringInfoData cols;
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);

	initStringInfo(&cols);
	if (OidIsValid(pkoid))
	{
		Relation	idx = index_open(pkoid, AccessShareLock);
		int			i;

		for (i = 0; i < idx->rd_index->indnkeyatts; i++)
			appendStringInfo(&cols, "%s%s", i > 0 ? ", " : "",
							 quote_identifier(NameStr(TupleDescAttr(RelationGetDescr(rel),
																	idx->rd_index->indkey.values[i] - 1)->attname)));
		index_close(idx, AccessShareLock);
	}
	return cols.data;
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
		Datum		keys;
		Oid			root = streamed_root_keys(parent, &keys);

		if (OidIsValid(root))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("table \"%s\" cannot inherit from table \"%s\", which has a stream",
							qualified_name(relid), qualified_name(parent)),
					 errdetail("Changes of inheritance children are not captured in their parent's stream."),
					 errhint("Use a partition (CREATE TABLE ... PARTITION OF), or disable the stream first with orders_stream.disable_stream('%s').",
							 qualified_name(root))));
	}
	systable_endscan(scan);
	table_close(inhrel, AccessShareLock);
}

/* Checks the state a statement left relid (a table) in. */
static void
check_table(Oid relid)
{
	Datum		keys;
	Oid			root;
	Relation	rel;
	char	   *recorded;
	char	   *current;

	if (!OidIsValid(relid) || get_rel_relkind(relid) == '\0')
		return;
	check_not_inheritance_child(relid);

	root = streamed_root_keys(relid, &keys);
	if (!OidIsValid(root))
		return;

	if (get_rel_persistence(relid) != RELPERSISTENCE_PERMANENT ||
		get_rel_persistence(root) != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" has a stream and cannot be unlogged",
						qualified_name(relid)),
				 errdetail("Changes of an unlogged table are not written to the write-ahead log, so they cannot be captured."),
				 errhint("Disable the stream first with orders_stream.disable_stream('%s').",
						 qualified_name(root))));

	rel = table_open(root, AccessShareLock);
	current = primary_key_columns(rel);
	table_close(rel, AccessShareLock);
	recorded = name_list(keys);
	if (strcmp(current, recorded) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot change the primary key of table \"%s\": its stream has the key schema (%s)",
						qualified_name(root), recorded),
				 *current ? errdetail("The primary key would become (%s); a stream's key schema never changes, as in DynamoDB.", current)
				 : errdetail("The table would have no primary key; a stream's key schema never changes, as in DynamoDB."),
				 errhint("Disable the stream first with orders_stream.disable_stream('%s'), then enable a new one.",
						 qualified_name(root))));

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

Datum
orders_stream_ddl_guard(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *tree;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"orders_stream_ddl_guard\" was not called by the event trigger manager")));
	trigdata = (EventTriggerData *) fcinfo->context;
	tree = trigdata->parsetree;

	switch (nodeTag(tree))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) tree;

				if (stmt->objtype == OBJECT_TABLE)
					check_table(relation_of(stmt->relation));
				break;
			}
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) tree;

				if (stmt->renameType == OBJECT_COLUMN ||
					stmt->renameType == OBJECT_TABCONSTRAINT)
					check_table(relation_of(stmt->relation));
				break;
			}
		case T_CreateStmt:
			check_table(relation_of(((CreateStmt *) tree)->relation));
			break;
		default:
			break;
	}
	PG_RETURN_NULL();
}
