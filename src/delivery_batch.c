/*-------------------------------------------------------------------------
 * delivery_batch.c
 *	  Fetching a batch of a mapping's records, filtering it with the
 *	  mapping's FilterCriteria, and building its Lambda event.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/portal.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "delivery_internal.h"
#include "filter.h"
#include "orders_stream.h"
#include "workers.h"

static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr high_water_plan = NULL;

/*
 * The lane's records after its checkpoint, up to the top of the bisect
 * stack, the end of the lane's epoch, or until (if given), whichever comes
 * first, at most batch_size of them and, as Lambda's payload limit, at most
 * orders_stream.max_batch_size_bytes of JSON, unless the first alone is
 * larger.  Read one by one through a cursor, so that no more than the batch
 * and one record are ever in memory.  Read in the transaction's snapshot,
 * as stream_high_water() is.
 */
Batch *
fetch_batch(Mapping *m, const char *until)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INT4OID, INT4OID, INT4OID,
	TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	Batch	   *b = palloc0(sizeof(Batch));
	const char *end = m->bisect_stack != NIL ? (char *) llast(m->bisect_stack) : NULL;
	Portal		portal;
	int64		bytes = 0;

	if (until != NULL && (end == NULL || strcmp(until, end) < 0))
		end = until;
	if (m->epoch_end != NULL && (end == NULL || strcmp(m->epoch_end, end) < 0))
		end = m->epoch_end;
	values[0] = Int64GetDatum(m->stream_id);
	values[1] = CStringGetTextDatum(m->checkpoint);
	if (end != NULL)
		values[2] = CStringGetTextDatum(end);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum(m->batch_size);
	values[4] = Int32GetDatum(m->lanes);
	values[5] = Int32GetDatum(m->lane);
	/* older records are no longer in the stream: the read API's rule */
	values[6] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
																-(int64) orders_stream_retention * 1000));
	b->seqs = palloc(sizeof(char *) * m->batch_size);
	b->arrivals = palloc(sizeof(TimestampTz) * m->batch_size);
	b->records = palloc(sizeof(char *) * m->batch_size);

	/*
	 * The lane's records are ((uint32) key_hash) % lanes = lane: read in the
	 * stream's (stream_id, sequence_number) order, the LIMIT making it an
	 * index scan instead of a sort of the whole stream.
	 */
	portal = SPI_cursor_open(NULL,
							 delivery_plan(&fetch_plan,
										   "SELECT r.sequence_number, r.captured_at, r.record::pg_catalog.text "
										   "FROM orders_stream.records r "
										   "WHERE r.stream_id OPERATOR(pg_catalog.=) $1 "
										   "AND r.sequence_number OPERATOR(pg_catalog.>) $2 "
										   "AND ($3 IS NULL OR r.sequence_number OPERATOR(pg_catalog.<=) $3) "
										   "AND ($5 OPERATOR(pg_catalog.=) 1 OR "
										   "     ((r.key_hash::pg_catalog.int8 OPERATOR(pg_catalog.&) 4294967295) "
										   "       OPERATOR(pg_catalog.%) $5) OPERATOR(pg_catalog.=) $6) "
										   "AND r.captured_at OPERATOR(pg_catalog.>=) $7 "
										   "ORDER BY r.sequence_number LIMIT $4",
										   7, argtypes),
							 values, nulls, true);
	while (b->n < m->batch_size)
	{
		HeapTuple	tup;
		bool		isnull;
		char	   *record;
		int64		size;

		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 0)
			break;
		tup = SPI_tuptable->vals[0];
		record = spi_text(tup, 3);
		/* the event's bytes: the record and the comma before it */
		size = strlen(record) + 1;
		if (b->n > 0 && bytes + size > orders_stream_max_batch_size_bytes)
		{
			pfree(record);
			SPI_freetuptable(SPI_tuptable);
			b->full = true;
			break;
		}
		bytes += size;
		b->seqs[b->n] = spi_text(tup, 1);
		b->arrivals[b->n] = DatumGetTimestampTz(spi_datum(tup, 2, &isnull));
		b->records[b->n] = record;
		b->n++;
		SPI_freetuptable(SPI_tuptable);
	}
	if (b->n == m->batch_size)
		b->full = true;
	SPI_cursor_close(portal);
	return b;
}

/*
 * The newest SequenceNumber of the mapping's stream, in the transaction's
 * snapshot (that of fetch_batch()), or NULL.  A lane that fetched nothing
 * has delivered every one of its records up to it.
 */
char *
stream_high_water(Mapping *m)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		newest;

	values[0] = Int64GetDatum(m->stream_id);
	if (SPI_execute_plan(delivery_plan(&high_water_plan,
									   "SELECT pg_catalog.max(r.sequence_number) FROM orders_stream.records r "
									   "WHERE r.stream_id OPERATOR(pg_catalog.=) $1",
									   1, argtypes),
						 values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the newest record of stream %s", m->stream_arn);
	newest = spi_datum(SPI_tuptable->vals[0], 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(newest);
}

/* The records of a batch that match the mapping's filters. */
Batch *
filter_batch(Mapping *m, Batch *b)
{
	Batch	   *kept = palloc0(sizeof(Batch));
	int			i;

	kept->seqs = palloc(sizeof(char *) * b->n);
	kept->arrivals = palloc(sizeof(TimestampTz) * b->n);
	kept->records = palloc(sizeof(char *) * b->n);
	for (i = 0; i < b->n; i++)
	{
		Jsonb	   *record = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																CStringGetDatum(b->records[i])));

		if (!filter_matches(m->filters, record))
			continue;
		kept->seqs[kept->n] = b->seqs[i];
		kept->arrivals[kept->n] = b->arrivals[i];
		kept->records[kept->n] = b->records[i];
		kept->n++;
	}
	return kept;
}

/* The Lambda event of a batch (a DeliveryEventBuilder). */
Jsonb *
build_event(void *arg)
{
	Batch	   *b = (Batch *) arg;
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"Records\":[");
	for (i = 0; i < b->n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		appendStringInfoString(&buf, b->records[i]);
	}
	appendStringInfoString(&buf, "]}");
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
