/*-------------------------------------------------------------------------
 * delivery_mapping.c
 *	  The mapping row: loading a mapping's configuration and delivery state,
 *	  and saving the outcome of a step with the optimistic xmin check (the
 *	  row is never locked while the function runs).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "delivery_internal.h"
#include "filter.h"
#include "orders_stream.h"
#include "workers.h"

/*
 * Loads a mapping; NULL if it is gone or disabled.  The row is not locked:
 * save_outcome() checks that it has not changed since.
 */
Mapping *
load_mapping(const char *uuid)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(uuid)};
	HeapTuple	tup;
	Mapping    *m;
	bool		isnull;
	Datum		stack;

	if (SPI_execute_with_args("SELECT m.stream_id, m.event_source_arn, s.shard_id, s.relid, "
							  "m.function_oid, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) m.anchor), m.search_path, m.function_name, "
							  "m.batch_size, m.maximum_batching_window_in_seconds, "
							  "m.bisect_batch_on_function_error, m.maximum_retry_attempts, "
							  "m.maximum_record_age_in_seconds, "
							  "'ReportBatchItemFailures' = ANY (m.function_response_types), "
							  "m.checkpoint, m.attempts, m.bisect_stack, m.enabled, m.next_attempt_at, "
							  "m.filter_criteria, m.xmin::text::bigint "
							  "FROM orders_stream.event_source_mappings m "
							  "JOIN orders_stream.streams s USING (stream_id) "
							  "WHERE m.uuid = $1::uuid",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read event source mapping %s", uuid);
	if (SPI_processed == 0)
		return NULL;
	tup = SPI_tuptable->vals[0];
	if (!DatumGetBool(spi_datum(tup, 18, &isnull)))
		return NULL;

	m = palloc0(sizeof(Mapping));
	m->uuid = pstrdup(uuid);
	m->xmin = (TransactionId) DatumGetInt64(spi_datum(tup, 21, &isnull));
	{
		Datum		criteria = spi_datum(tup, 20, &isnull);

		if (!isnull)
			m->filters = filter_patterns(DatumGetJsonbP(criteria));
	}
	m->stream_id = DatumGetInt64(spi_datum(tup, 1, &isnull));
	m->stream_arn = spi_text(tup, 2);
	m->shard_id = spi_text(tup, 3);
	m->relid = DatumGetObjectId(spi_datum(tup, 4, &isnull));
	m->target.function = DatumGetObjectId(spi_datum(tup, 5, &isnull));
	/* the role the function runs as, and whose access is checked */
	m->target.owner = DatumGetObjectId(spi_datum(tup, 6, &isnull));
	m->target.search_path = spi_text(tup, 7);
	m->function_name = spi_text(tup, 8);
	m->batch_size = DatumGetInt32(spi_datum(tup, 9, &isnull));
	m->window_secs = DatumGetInt32(spi_datum(tup, 10, &isnull));
	m->bisect = DatumGetBool(spi_datum(tup, 11, &isnull));
	m->max_retries = DatumGetInt32(spi_datum(tup, 12, &isnull));
	m->max_age_secs = DatumGetInt32(spi_datum(tup, 13, &isnull));
	m->report_item_failures = DatumGetBool(spi_datum(tup, 14, &isnull));
	m->checkpoint = spi_text(tup, 15);
	m->attempts = DatumGetInt32(spi_datum(tup, 16, &isnull));
	stack = spi_datum(tup, 17, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(stack), TEXTOID, -1, false,
						  TYPALIGN_INT, &elems, &nulls, &n);
		for (i = 0; i < n; i++)
			m->bisect_stack = lappend(m->bisect_stack, TextDatumGetCString(elems[i]));
	}
	{
		Datum		next = spi_datum(tup, 19, &isnull);

		m->next_attempt_at = isnull ? 0 : DatumGetTimestampTz(next);
	}
	return m;
}

/*
 * Writes the outcome to the mapping row, if the row is still the one loaded
 * (same xmin) and nobody is changing it (SKIP LOCKED: an update or delete in
 * progress never makes the worker wait).  Otherwise marks the mapping stale:
 * the caller rolls the whole batch back, function effects included, and the
 * next round sees the new configuration, or no mapping.
 */
void
save_outcome(Mapping *m, Outcome *o)
{
	Oid			argtypes[12] = {TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTARRAYOID,
		INT4OID, INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[12];
	char		nulls[12];
	Datum	   *stack;
	ListCell   *lc;
	int			i = 0;

	memset(nulls, ' ', sizeof(nulls));
	stack = palloc(sizeof(Datum) * Max(list_length(o->bisect_stack), 1));
	foreach(lc, o->bisect_stack)
		stack[i++] = CStringGetTextDatum((char *) lfirst(lc));

	values[0] = CStringGetTextDatum(m->uuid);
	values[1] = CStringGetTextDatum(o->checkpoint);
	values[2] = Int32GetDatum(o->attempts);
	if (o->next_attempt_at)
		values[3] = TimestampTzGetDatum(o->next_attempt_at);
	else
		nulls[3] = 'n';
	values[4] = PointerGetDatum(construct_array(stack, i, TEXTOID, -1, false, TYPALIGN_INT));
	values[5] = Int32GetDatum(o->invocations);
	values[6] = Int32GetDatum(o->errors);
	values[7] = Int32GetDatum(o->retries);
	values[8] = Int32GetDatum(o->failures);
	values[9] = Int32GetDatum(o->processed);
	if (o->last_error)
		values[10] = CStringGetTextDatum(o->last_error);
	else
		nulls[10] = 'n';
	values[11] = CStringGetTextDatum(o->result);

	{
		Oid			locktypes[2] = {TEXTOID, INT8OID};
		Datum		lockvalues[2] = {values[0], Int64GetDatum((int64) m->xmin)};

		if (SPI_execute_with_args("SELECT FROM orders_stream.event_source_mappings "
								  "WHERE uuid = $1::uuid AND xmin::text::bigint = $2 "
								  "FOR NO KEY UPDATE SKIP LOCKED",
								  2, locktypes, lockvalues, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock event source mapping %s", m->uuid);
		if (SPI_processed == 0)
		{
			m->stale = true;
			return;
		}
	}
	if (SPI_execute_with_args("UPDATE orders_stream.event_source_mappings SET "
							  "checkpoint = $2, attempts = $3, next_attempt_at = $4, bisect_stack = $5, "
							  "invocations = invocations + $6, errors = errors + $7, "
							  "retries = retries + $8, failures = failures + $9, "
							  "records_processed = records_processed + $10, "
							  "last_error = coalesce($11, last_error), last_processing_result = $12, "
							  "last_invoked_at = CASE WHEN $6 > 0 THEN now() ELSE last_invoked_at END "
							  "WHERE uuid = $1::uuid",
							  12, argtypes, values, nulls, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update event source mapping %s", m->uuid);
}

/*
 * After an error outside the function's subtransaction (a bug, or a catalog
 * change under the mapping): shows it on the mapping and holds the mapping
 * back for orders_stream.retry_max_delay, so that it neither stops the
 * worker nor keeps the other mappings waiting.
 */
void
note_internal_error(const char *uuid, const char *message)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(uuid);
	values[1] = CStringGetTextDatum(message);
	values[2] = Int32GetDatum(orders_stream_retry_max_delay);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	/* SKIP LOCKED: a change of the mapping in progress does not stop us */
	if (SPI_execute_with_args("UPDATE orders_stream.event_source_mappings SET "
							  "last_error = $2, last_processing_result = 'PROBLEM: Internal error', "
							  "next_attempt_at = clock_timestamp() + $3 * interval '1 ms' "
							  "WHERE uuid = (SELECT uuid FROM orders_stream.event_source_mappings "
							  "  WHERE uuid = $1::uuid FOR NO KEY UPDATE SKIP LOCKED)",
							  3, argtypes, values, NULL, false, 0) < 0)
		elog(WARNING, "could not record the error of event source mapping %s", uuid);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/* The enabled mappings' UUIDs, allocated in cxt. */
List *
enabled_mappings(MemoryContext cxt)
{
	List	   *uuids = NIL;
	uint64		i;
	MemoryContext old;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT uuid::text FROM orders_stream.event_source_mappings "
					"WHERE enabled ORDER BY created_at, uuid", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not list event source mappings");
	old = MemoryContextSwitchTo(cxt);
	for (i = 0; i < SPI_processed; i++)
		uuids = lappend(uuids, pstrdup(spi_text(SPI_tuptable->vals[i], 1)));
	MemoryContextSwitchTo(old);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return uuids;
}
