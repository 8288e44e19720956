/*-------------------------------------------------------------------------
 * version.c
 *	  The library's version and the extension's installed one.
 *
 * A server runs one library, the one its package installed; each database
 * has the extension at the version its last CREATE or ALTER EXTENSION
 * left.  Between the installation of a new package and ALTER EXTENSION
 * orders_stream UPDATE the two differ, and the library must neither run
 * its SQL against objects of another version nor fail in a loop: the
 * workers wait (workers.c), and the functions that cannot work raise a
 * clear error here.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "version.h"

PG_FUNCTION_INFO_V1(orders_stream_library_version);

char *
version_installed(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *version = NULL;

	/* no syscache covers pg_extension: an index scan, as extension.c does */
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("orders_stream"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		value = heap_getattr(tup, Anum_pg_extension_extversion,
										 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = text_to_cstring(DatumGetTextPP(value));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

int
version_compare(const char *a, const char *b)
{
	while (*a != '\0' || *b != '\0')
	{
		char	   *a_end;
		char	   *b_end;
		long		an = strtol(a, &a_end, 10);
		long		bn = strtol(b, &b_end, 10);

		if (an != bn)
			return an < bn ? -1 : 1;
		/* not a number where one was expected: order the rest as text */
		if (a_end == a || b_end == b)
			return strcmp(a, b);
		a = *a_end == '.' ? a_end + 1 : a_end;
		b = *b_end == '.' ? b_end + 1 : b_end;
	}
	return 0;
}

void
version_require_installed(const char *function)
{
	char	   *installed = version_installed();

	if (installed == NULL || strcmp(installed, VERSION_LIBRARY) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s() cannot run: the orders_stream library is version %s but this database has the extension at version %s",
					function, VERSION_LIBRARY, installed),
			 version_compare(installed, VERSION_LIBRARY) < 0 ?
			 errhint("Run ALTER EXTENSION orders_stream UPDATE; the workers wait until then.") :
			 errhint("Install the orders_stream package of version %s and restart the server; the workers wait until then.",
					 installed)));
}

/* The library's version, to compare with pg_extension.extversion. */
Datum
orders_stream_library_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(VERSION_LIBRARY));
}
