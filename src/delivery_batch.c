/*-------------------------------------------------------------------------
 * delivery_batch.c
 *	  Fetching a batch of a mapping's records, filtering it with the
 *	  mapping's FilterCriteria, and building its Lambda event.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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

/*
 * The records after the checkpoint, up to the top of the bisect stack (or
 * until, if given), at most batch_size of them and, as Lambda's payload
 * limit, at most orders_stream.max_batch_size_bytes of JSON, unless the
 * first alone is larger.  Read one by one through a cursor, so that no more
 * than the batch and one record are ever in memory.
 */
Batch *
fetch_batch(Mapping *m, const char *until)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	Batch	   *b = palloc0(sizeof(Batch));
	const char *end = m->bisect_stack != NIL ? (char *) llast(m->bisect_stack) : NULL;
	Portal		portal;
	int64		bytes = 0;

	if (until != NULL && (end == NULL || strcmp(until, end) < 0))
		end = until;
	values[0] = Int64GetDatum(m->stream_id);
	values[1] = CStringGetTextDatum(m->checkpoint);
	if (end != NULL)
		values[2] = CStringGetTextDatum(end);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum(m->batch_size);
	b->seqs = palloc(sizeof(char *) * m->batch_size);
	b->arrivals = palloc(sizeof(TimestampTz) * m->batch_size);
	b->records = palloc(sizeof(char *) * m->batch_size);

	portal = SPI_cursor_open_with_args(NULL,
									   "SELECT r.sequence_number, r.captured_at, r.record::text "
									   "FROM orders_stream.records r "
									   "WHERE r.stream_id = $1 AND r.sequence_number > $2 "
									   "AND ($3 IS NULL OR r.sequence_number <= $3) "
									   "AND r.captured_at >= now() - orders_stream_internal.retention_interval() "
									   /* the LIMIT makes it an index scan, not a sort of the whole stream */
									   "ORDER BY r.sequence_number LIMIT $4",
									   4, argtypes, values, nulls, true,
									   CURSOR_OPT_NO_SCROLL);
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
