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
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "delivery_internal.h"
#include "delivery_record.h"
#include "filter.h"
#include "orders_stream.h"
#include "record_store.h"
#include "workers.h"

/* records read per cursor fetch, at most */
#define FETCH_CHUNK 64

static SPIPlanPtr fetch_plan = NULL;
static SPIPlanPtr high_water_plan = NULL;

/*
 * A cursor over the lane's records after its checkpoint, up to the top of
 * the bisect stack, the end of the lane's epoch, or until (if given),
 * whichever comes first.  The lane's records are ((uint32) key_hash) %
 * lanes = lane.  The plan must read the stream's (stream_id, sequence_key)
 * index in order and stop at the LIMIT: a sort (or a bitmap scan) reads
 * every pending record of the stream for every batch, which the planner
 * picks whenever the partitions' statistics (rarely fresh: they are written
 * in bulk) put fewer rows after the checkpoint than the batch size.  So it
 * is planned once, without those, and kept.
 */
static Portal
open_batch_cursor(Mapping *m, const char *until)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INT4OID, INT4OID, INT4OID,
	TIMESTAMPTZOID};
	Datum		values[7];
	const char *end = m->bisect_stack != NIL ? (char *) llast(m->bisect_stack) : NULL;
	Portal		portal;
	int			nestlevel;

	if (until != NULL && (end == NULL || strcmp(until, end) < 0))
		end = until;
	if (m->epoch_end != NULL && (end == NULL || strcmp(m->epoch_end, end) < 0))
		end = m->epoch_end;
	values[0] = Int64GetDatum(m->stream_id);
	values[1] = CStringGetTextDatum(m->checkpoint);
	/* no bound: the last SequenceNumber, an index bound all the same */
	values[2] = CStringGetTextDatum(end != NULL ? end : OS_LAST_SEQUENCE_NUMBER);
	values[3] = Int32GetDatum(m->batch_size);
	values[4] = Int32GetDatum(m->lanes);
	values[5] = Int32GetDatum(m->lane);
	/* older records are no longer in the stream: the read API's rule */
	values[6] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTransactionStartTimestamp(),
																-(int64) orders_stream_retention * 1000));

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	portal = SPI_cursor_open(NULL,
							 delivery_plan(&fetch_plan,
										   "SELECT orders_stream.sequence_text(r.sequence_key), r.captured_at, "
										   "orders_stream_internal.stored_record_json(s.stream_arn, s.view_type, r.sequence_key, "
										   "r.event_name, r.body, r.size_bytes, r.ttl_delete)::pg_catalog.text "
										   "FROM orders_stream.record_store r, "
										   "(SELECT st.stream_arn, st.view_type FROM orders_stream.streams st "
										   "WHERE st.stream_id OPERATOR(pg_catalog.=) $1) s "
										   "WHERE r.stream_id OPERATOR(pg_catalog.=) $1 "
										   "AND r.sequence_key OPERATOR(pg_catalog.>) orders_stream.sequence_key($2) "
										   "AND r.sequence_key OPERATOR(pg_catalog.<=) orders_stream.sequence_key($3) "
										   "AND ($5 OPERATOR(pg_catalog.=) 1 OR "
										   "     ((r.key_hash::pg_catalog.int8 OPERATOR(pg_catalog.&) 4294967295) "
										   "       OPERATOR(pg_catalog.%) $5) OPERATOR(pg_catalog.=) $6) "
										   "AND r.captured_at OPERATOR(pg_catalog.>=) $7 "
										   "ORDER BY r.sequence_key LIMIT $4",
										   7, argtypes, CURSOR_OPT_GENERIC_PLAN | CURSOR_OPT_NO_SCROLL),
							 values, NULL, true);
	AtEOXact_GUC(true, nestlevel);
	return portal;
}

/*
 * The lane's next records (see open_batch_cursor()), at most batch_size of
 * them and, as Lambda's payload limit, at most
 * orders_stream.max_batch_size_bytes of JSON, unless the first alone is
 * larger.  Read through a cursor in chunks sized so that they would fit
 * in what is left of that limit were their records as large as the largest
 * so far: a fetch call per record cost more than the record, and a chunk
 * of large records must not hold many times the limit in memory.  Read in
 * the transaction's snapshot, as delivery_batch_high_water() is.
 */
Batch *
delivery_batch_fetch(Mapping *m, const char *until)
{
	Batch	   *b = palloc0(sizeof(Batch));
	Portal		portal = open_batch_cursor(m, until);
	int64		bytes = 0;
	int64		largest = 1;
	int			chunk = 1;

	b->seqs = palloc(sizeof(char *) * m->batch_size);
	b->arrivals = palloc(sizeof(TimestampTz) * m->batch_size);
	b->records = palloc(sizeof(char *) * m->batch_size);
	b->lengths = palloc(sizeof(int) * m->batch_size);
	while (b->n < m->batch_size && !b->full)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, Min(m->batch_size - b->n, chunk));
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			bool		isnull;
			text	   *json = DatumGetTextPP(spi_datum(tup, 3, &isnull));
			int			len = VARSIZE_ANY_EXHDR(json);

			/* the event's bytes: the record and the comma before it */
			if (b->n > 0 && bytes + len + 1 > orders_stream_max_batch_size_bytes)
			{
				b->full = true;
				break;
			}
			bytes += len + 1;
			b->seqs[b->n] = spi_text(tup, 1);
			b->arrivals[b->n] = DatumGetTimestampTz(spi_datum(tup, 2, &isnull));
			b->records[b->n] = text_to_cstring(json);
			b->lengths[b->n] = len;
			b->n++;
			largest = Max(largest, len + 1);
		}
		SPI_freetuptable(SPI_tuptable);
		chunk = Max(1, Min(FETCH_CHUNK, (orders_stream_max_batch_size_bytes - bytes) / largest));
	}
	if (b->n == m->batch_size)
		b->full = true;
	SPI_cursor_close(portal);
	return b;
}

/*
 * The newest SequenceNumber of the mapping's stream, in the transaction's
 * snapshot (that of delivery_batch_fetch()), or NULL.  A lane that fetched
 * nothing has delivered every one of its records up to it.
 */
char *
delivery_batch_high_water(Mapping *m)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	Datum		newest;

	values[0] = Int64GetDatum(m->stream_id);
	if (SPI_execute_plan(delivery_plan(&high_water_plan,
									   "SELECT (SELECT orders_stream.sequence_text(r.sequence_key) "
									   "FROM orders_stream.record_store r "
									   "WHERE r.stream_id OPERATOR(pg_catalog.=) $1 "
									   "ORDER BY r.sequence_key DESC LIMIT 1)",
									   1, argtypes, 0),
						 values, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the newest record of stream %s", m->stream_arn);
	newest = spi_datum(SPI_tuptable->vals[0], 1, &isnull);
	return isnull ? NULL : TextDatumGetCString(newest);
}

/*
 * The records of a batch that match the mapping's filters, parsed.  No
 * filter may stall a mapping: whatever compiling or matching raises (a
 * pattern stored before validation refused it, say) is returned in *error,
 * and the batch is then handled as one the function failed on, retried and
 * sent to the failures by the mapping's rules.  Matching touches nothing
 * but memory, so a subtransaction per batch is enough to recover.
 */
Batch *
delivery_batch_filter(Mapping *m, Batch *b, ErrorData **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Batch	   *volatile all = b;
	Batch	   *kept = palloc0(sizeof(Batch));

	kept->seqs = palloc(sizeof(char *) * b->n);
	kept->arrivals = palloc(sizeof(TimestampTz) * b->n);
	kept->records = palloc(sizeof(char *) * b->n);
	kept->lengths = palloc(sizeof(int) * b->n);
	kept->parsed = palloc(sizeof(Jsonb *) * b->n);
	*error = NULL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		FilterCriteria *criteria = filter_compile_cached(m->filter_criteria);
		DeliveryRecordParser *parser = delivery_record_parser();
		int			i;

		for (i = 0; i < b->n; i++)
		{
			Jsonb	   *record = delivery_record_jsonb(parser, b->records[i]);

			if (!filter_matches(criteria, record))
				continue;
			kept->seqs[kept->n] = b->seqs[i];
			kept->arrivals[kept->n] = b->arrivals[i];
			kept->records[kept->n] = b->records[i];
			kept->lengths[kept->n] = b->lengths[i];
			kept->parsed[kept->n] = record;
			kept->n++;
		}
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		*error = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (*error != NULL)
		return all;
	kept->window = all->window;
	return kept;
}

static void
pad_to_int(StringInfo buf)
{
	while (buf->len % sizeof(uint32) != 0)
		appendStringInfoChar(buf, '\0');
}

/*
 * The event of a batch of a tumbling window, a DynamodbTimeWindowEvent:
 * Records and the window's members (window.c), parsed from its text.  Its
 * batches are of one window, and its final invocation has no records.
 */
static Jsonb *
build_window_event(Batch *b)
{
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
	appendStringInfoChar(&buf, ']');
	window_append_event(&buf, b->window);
	appendStringInfoChar(&buf, '}');
	return delivery_record_jsonb(delivery_record_parser(), buf.data);
}

/*
 * The root object of an event: one key, its JEntry (an offset, as the
 * first), the value's JEntry (set once the value is written), the key.
 */
static void
append_records_key(StringInfo buf)
{
	uint32		header = 1 | JB_FOBJECT;
	JEntry		entry = JENTRY_ISSTRING | JENTRY_HAS_OFF | (uint32) strlen("Records");

	appendBinaryStringInfo(buf, (char *) &header, sizeof(uint32));
	appendBinaryStringInfo(buf, (char *) &entry, sizeof(JEntry));
	appendBinaryStringInfo(buf, (char *) &entry, sizeof(JEntry));
	appendBinaryStringInfoNT(buf, "Records", strlen("Records"));
}

/*
 * Appends record i of the batch as a jsonb container, int-aligned; what
 * parsing it leaves behind is in record_cxt, reset after.  Returns the
 * bytes appended, padding included.
 */
static uint32
append_record(StringInfo buf, Batch *b, int i, DeliveryRecordParser *parser,
			  MemoryContext record_cxt)
{
	int			start = buf->len;
	MemoryContext old;

	pad_to_int(buf);
	old = MemoryContextSwitchTo(record_cxt);
	if (b->parsed != NULL ||
		!delivery_record_append(parser, b->records[i], b->lengths[i], buf))
	{
		Jsonb	   *record = b->parsed != NULL ? b->parsed[i] :
			delivery_record_jsonb(parser, b->records[i]);

		if (!JB_ROOT_IS_OBJECT(record))
			elog(ERROR, "stream record %s is not a JSON object", b->seqs[i]);
		appendBinaryStringInfoNT(buf, (char *) &record->root, VARSIZE(record) - VARHDRSZ);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(record_cxt);
	return buf->len - start;
}

/*
 * The Lambda event of a batch (a DeliveryEventBuilder): {"Records": [...]}
 * as jsonb.  Each record is parsed on its own (or was, by
 * delivery_batch_filter()) and its jsonb copied into the event's array as
 * it is, as
 * convertJsonbArray() would lay it out: parsing the event's text whole
 * would build the whole batch as a tree of JsonbValues first, many
 * megabytes for a large batch, which is what made batches of 1000 slower
 * per record than batches of 100.  A nested container's layout does not
 * depend on where it starts as long as that is int-aligned.
 */
Jsonb *
delivery_batch_event(void *arg)
{
	Batch	   *b = (Batch *) arg;
	StringInfoData buf;
	int			array_start;
	int			array_jentries;
	uint32		header = 0;
	JEntry		entry;
	uint32		total = 0;
	int			i;
	DeliveryRecordParser *parser;
	MemoryContext record_cxt;

	if (b->window != NULL)
		return build_window_event(b);
	initStringInfo(&buf);
	/* the varlena header, set at the end */
	appendBinaryStringInfo(&buf, (char *) &header, VARHDRSZ);
	append_records_key(&buf);

	/* the array, padding included */
	array_start = buf.len;
	pad_to_int(&buf);
	header = (uint32) b->n | JB_FARRAY;
	appendBinaryStringInfo(&buf, (char *) &header, sizeof(uint32));
	array_jentries = buf.len;
	enlargeStringInfo(&buf, sizeof(JEntry) * b->n);
	buf.len += sizeof(JEntry) * b->n;
	parser = delivery_record_parser();
	/* what parsing one record leaves behind, reset for the next */
	record_cxt = AllocSetContextCreate(CurrentMemoryContext, "orders_stream event record",
									   ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < b->n; i++)
	{
		uint32		len = append_record(&buf, b, i, parser, record_cxt);

		total += len;
		if (total > JENTRY_OFFLENMASK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the event of %d records exceeds the maximum jsonb size", b->n),
					 errhint("Lower orders_stream.max_batch_size_bytes.")));
		entry = JENTRY_ISCONTAINER | ((i % JB_OFFSET_STRIDE) == 0 ? JENTRY_HAS_OFF | total : len);
		memcpy(buf.data + array_jentries + sizeof(JEntry) * i, &entry, sizeof(JEntry));
	}
	entry = JENTRY_ISCONTAINER | (uint32) (buf.len - array_start);
	memcpy(buf.data + VARHDRSZ + sizeof(uint32) + sizeof(JEntry), &entry, sizeof(JEntry));
	MemoryContextDelete(record_cxt);
	SET_VARSIZE(buf.data, buf.len);
	return (Jsonb *) buf.data;
}
