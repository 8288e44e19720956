/*-------------------------------------------------------------------------
 * redrive.c
 *	  redrive_failures(): the failures of event source mappings, invoked
 *	  again after the function has been fixed.
 *
 * It runs in the caller's session through delivery_invoke(), the path of
 * the delivery worker: as the mapping's owner, in a subtransaction, with
 * orders_stream.function_timeout (a function that ignores the cancel ends
 * the caller's session after the grace period), and its settings undone.
 * Other session state the function leaves (temporary tables, advisory
 * locks) is not cleared here: in a user's session it may be the caller's.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "compat.h"
#include "delivery.h"
#include "security.h"

PG_FUNCTION_INFO_V1(orders_stream_redrive_failures);

typedef struct StoredFailure
{
	int64		failure_id;
	char	   *records;
	bool		mapping_exists;
	DeliveryTarget target;
	char	  **seqs;			/* with ReportBatchItemFailures, else NULL */
	int			nseqs;
} StoredFailure;

/* The event of a stored failure's records (a DeliveryEventBuilder). */
static Jsonb *
build_stored_event(void *arg)
{
	const char *records = (const char *) arg;

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(psprintf("{\"Records\":%s}", records))));
}

/*
 * Invokes the mapping function again with the records of each stored
 * failure (the caller's own, not yet redriven successfully), as the
 * mapping's owner, and records the outcome in the failure row.
 */
Datum
orders_stream_redrive_failures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			argtypes[3] = {UUIDOID, INT8ARRAYOID, OIDOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	StoredFailure *failures;
	uint64		n;
	uint64		i;

	InitMaterializedSRF(fcinfo, 0);
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
	 * As the extension's owner (PUBLIC may not lock failures), the caller's
	 * own failures only, locked so that concurrent redrives do not apply a
	 * failure twice.
	 */
	args[2] = ObjectIdGetDatum(GetUserId());
	os_spi_exec_as_owner("SELECT f.failure_id, f.records::text, m.uuid IS NOT NULL, "
						 "m.function_oid, c.relowner, m.search_path, "
						 "COALESCE('ReportBatchItemFailures' OPERATOR(pg_catalog.=) ANY (m.function_response_types), false), "
						 "ARRAY(SELECT r OPERATOR(pg_catalog.->) 'dynamodb' OPERATOR(pg_catalog.->>) 'SequenceNumber' "
						 "      FROM pg_catalog.jsonb_array_elements(f.records) r) "
						 "FROM orders_stream.failures f "
						 "LEFT JOIN orders_stream.event_source_mappings m ON m.uuid OPERATOR(pg_catalog.=) f.mapping_uuid "
						 "LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.anchor "
						 "WHERE pg_catalog.pg_has_role($3, f.owner_oid, 'USAGE') "
						 "AND ($1 IS NULL OR f.mapping_uuid OPERATOR(pg_catalog.=) $1) "
						 "AND ($2 IS NULL OR f.failure_id OPERATOR(pg_catalog.=) ANY ($2)) "
						 "AND f.redrive_result IS DISTINCT FROM 'OK' "
						 "ORDER BY f.failure_id FOR UPDATE OF f SKIP LOCKED",
						 3, argtypes, args, nulls, SPI_OK_SELECT);

	n = SPI_processed;
	failures = palloc0(sizeof(StoredFailure) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		failures[i].failure_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		failures[i].records = SPI_getvalue(tup, desc, 2);
		failures[i].mapping_exists = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		if (failures[i].mapping_exists)
		{
			failures[i].target.function = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
			failures[i].target.owner = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
			failures[i].target.search_path = SPI_getvalue(tup, desc, 6);
			if (DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull)))
			{
				Datum	   *elems;
				bool	   *elemnulls;
				int			j;

				deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 8, &isnull)),
								  TEXTOID, -1, false, TYPALIGN_INT,
								  &elems, &elemnulls, &failures[i].nseqs);
				failures[i].seqs = palloc(sizeof(char *) * Max(failures[i].nseqs, 1));
				for (j = 0; j < failures[i].nseqs; j++)
					failures[i].seqs[j] = elemnulls[j] ? "" : TextDatumGetCString(elems[j]);
			}
		}
	}

	for (i = 0; i < n; i++)
	{
		StoredFailure *f = &failures[i];
		char	   *result;
		Datum		values[2];
		bool		isnull[2] = {false, false};
		Oid			uptypes[2] = {INT8OID, TEXTOID};
		Datum		upvalues[2];

		if (!f->mapping_exists)
			result = "ERROR: the event source mapping no longer exists";
		else
		{
			ErrorData  *error;
			char	   *lowest = NULL;

			if (delivery_invoke(&f->target, build_stored_event, f->records,
								f->seqs, f->nseqs, &lowest, NULL, NULL, &error))
				result = lowest ? psprintf("ERROR: batchItemFailures from %s", lowest) : "OK";
			else
				result = psprintf("ERROR: %s: %s", unpack_sql_state(error->sqlerrcode),
								  error->message ? error->message : "");
		}

		upvalues[0] = Int64GetDatum(f->failure_id);
		upvalues[1] = CStringGetTextDatum(result);
		os_spi_exec_as_owner("UPDATE orders_stream.failures "
							 "SET redriven_at = pg_catalog.now(), redrive_result = $2 "
							 "WHERE failure_id OPERATOR(pg_catalog.=) $1",
							 2, uptypes, upvalues, NULL, SPI_OK_UPDATE);

		values[0] = Int64GetDatum(f->failure_id);
		values[1] = CStringGetTextDatum(result);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	SPI_finish();
	return (Datum) 0;
}
