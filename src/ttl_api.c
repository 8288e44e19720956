/*-------------------------------------------------------------------------
 * ttl_api.c
 *	  Time to Live, as DynamoDB's: UpdateTimeToLive and DescribeTimeToLive.
 *
 * A table's setting is a row of orders_stream.time_to_live (75_ttl.sql),
 * written as the extension's owner once the caller's call has passed
 * DynamoDB's rules: only the table's owner may enable or disable it, it is
 * enabled once and disabled by naming the current attribute, and the
 * attribute is one the worker can expire rows by (ttl_worker.c).  The
 * enabling call's search_path is kept: the worker's deletes run with it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "aws_error.h"
#include "security.h"
#include "ttl.h"

PG_FUNCTION_INFO_V1(orders_stream_update_time_to_live);
PG_FUNCTION_INFO_V1(orders_stream_describe_time_to_live);

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
	security_spi_exec_as_owner("SELECT attnum FROM orders_stream.time_to_live"
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
 * The table of a time to live, locked against concurrent calls for it
 * (not against its writers): an ordinary or partitioned table the caller
 * owns, not a partition, not temporary.
 */
static Relation
open_ttl_table(Oid relid)
{
	Relation	rel;
	char		relkind;
	const char *relname;

	rel = security_open_owned_table(relid, ShareUpdateExclusiveLock,
							  "Pass the table by name, e.g. orders_stream.update_time_to_live('orders', 'expires_at', true).");
	relkind = rel->rd_rel->relkind;
	relname = RelationGetRelationName(rel);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		aws_error(AWS_VALIDATION,
				  "Time to live deletes rows of tables: use an ordinary or partitioned table.",
				  "cannot have a time to live on \"%s\"", relname);
	if (rel->rd_rel->relispartition)
		aws_error(AWS_VALIDATION, "Enable it on the partitioned table: it covers every partition.",
				  "cannot have a time to live on partition \"%s\"", relname);
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		aws_error(AWS_VALIDATION, "The TTL worker cannot see another session's temporary tables.",
				  "cannot have a time to live on temporary table \"%s\"", relname);
	return rel;
}

/*
 * DynamoDB's rules for going from the current attribute (or none) to
 * enabling or disabling attnum: enabled once, disabled by naming the
 * current attribute.
 */
static void
check_transition(Relation rel, AttrNumber current, AttrNumber attnum, bool enable)
{
	const char *relname = RelationGetRelationName(rel);

	if (enable ? current == attnum : current == InvalidAttrNumber)
		aws_error(AWS_VALIDATION,
				  psprintf("describe_time_to_live('%s') shows the setting.", relname),
				  "TimeToLive is already %s on table \"%s\"",
				  enable ? "enabled" : "disabled", relname);
	if (current != attnum && current != InvalidAttrNumber)
		aws_error(AWS_VALIDATION,
				  enable ? "Disable it first, as in DynamoDB." : "Name the current attribute to disable it.",
				  "TimeToLive is active on a different AttributeName of table \"%s\": current AttributeName is \"%s\"",
				  relname, get_attname(RelationGetRelid(rel), current, false));
}

/*
 * The attribute to enable must hold a time; without an index that starts
 * with it, each pass of the worker scans the whole table.
 */
static void
check_ttl_attribute(Relation rel, AttrNumber attnum, const char *attname)
{
	Oid			typid = get_atttype(RelationGetRelid(rel), attnum);
	const char *relname = RelationGetRelationName(rel);

	if (!ttl_worker_can_expire(typid))
		aws_error(AWS_VALIDATION,
				  "Use a timestamptz column, or a number of epoch seconds: integer, bigint, numeric or double precision.",
				  "column \"%s\" of table \"%s\" has type %s, which cannot hold a time to live",
				  attname, relname, format_type_be(typid));
	if (!attribute_indexed(rel, attnum))
		ereport(NOTICE,
				(errmsg("no index of table \"%s\" starts with column \"%s\": each pass of the time to live worker scans the whole table",
						relname, attname),
				 errhint("CREATE INDEX ON %s (%s);",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)), relname),
						 quote_identifier(attname))));
}

/* Writes the setting, as the extension's owner: the caller's search_path goes with it. */
static void
store_ttl_setting(Oid relid, AttrNumber attnum, bool enable)
{
	Oid			types[3] = {OIDOID, INT2OID, TEXTOID};
	Datum		values[3];

	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int16GetDatum(attnum);
	values[2] = CStringGetTextDatum(namespace_search_path);
	SPI_connect();
	if (enable)
		security_spi_exec_as_owner("INSERT INTO orders_stream.time_to_live (relid, attnum, search_path)"
							 " VALUES ($1, $2, $3)",
							 3, types, values, NULL, SPI_OK_INSERT);
	else
		security_spi_exec_as_owner("DELETE FROM orders_stream.time_to_live"
							 " WHERE relid OPERATOR(pg_catalog.=) $1",
							 1, types, values, NULL, SPI_OK_DELETE);
	SPI_finish();
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
	AttrNumber	attnum;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		aws_error(AWS_VALIDATION,
				  "Call orders_stream.update_time_to_live('orders', 'expires_at', true).",
				  "source, attribute_name and enabled must not be null");
	relid = PG_GETARG_OID(0);
	attname = NameStr(*PG_GETARG_NAME(1));
	enable = PG_GETARG_BOOL(2);

	rel = open_ttl_table(relid);
	attnum = get_attnum(relid, attname);
	if (attnum <= 0)
		aws_error(AWS_VALIDATION, "The time to live attribute is a column of the table.",
				  "column \"%s\" of table \"%s\" does not exist",
				  attname, RelationGetRelationName(rel));
	check_transition(rel, ttl_attnum(relid), attnum, enable);
	if (enable)
		check_ttl_attribute(rel, attnum, attname);
	store_ttl_setting(relid, attnum, enable);
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
		aws_error(AWS_RESOURCE_NOT_FOUND,
				  "Pass the table by name, e.g. orders_stream.describe_time_to_live('orders').",
				  "table with OID %u does not exist", relid);
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK &&
		!pg_class_ownercheck(relid, GetUserId()))
		aws_error(AWS_ACCESS_DENIED,
				  "Roles that may SELECT from the table may describe its time to live.",
				  "permission denied to describe the time to live of table \"%s\"", relname);

	attnum = ttl_attnum(relid);
	if (attnum == InvalidAttrNumber)
		PG_RETURN_JSONB_P(jsonb_of("{\"TimeToLiveDescription\": {\"TimeToLiveStatus\": \"DISABLED\"}}"));
	PG_RETURN_JSONB_P(jsonb_of(psprintf("{\"TimeToLiveDescription\": {\"TimeToLiveStatus\": \"ENABLED\", \"AttributeName\": %s}}",
										json_string(get_attname(relid, attnum, false)))));
}
