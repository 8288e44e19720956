/*-------------------------------------------------------------------------
 * capture_buffer.c
 *	  The capture worker's record buffers, and storing them into
 *	  orders_stream.record_store.
 *
 * The output plugin's write callback (capture_buffer_write) runs inside the
 * replay of a transaction, under a historic snapshot, where no table may be
 * written: it only buffers.  Records of whole transactions go to one buffer
 * in commit order; those of a transaction the reorder buffer streams (a
 * large one, see output_plugin.c) go to a buffer of their own, since its
 * commit (and so their positions) is not known yet, and join the others in
 * commit order when it commits.  Buffers spill to temporary files, so a huge
 * transaction costs disk, not memory.  capture.c stores them all, with the
 * worker's high-water SequenceNumber, in one transaction.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/buffile.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "capture_buffer.h"
#include "metrics.h"
#include "output_plugin.h"

/* Records kept in memory before the buffer spills to a temporary file. */
#define CAPTURE_MEMORY_LIMIT	(4 * 1024 * 1024)
/* Columns of orders_stream.record_store. */
#define RECORD_STORE_NATTS		8
/* Tuples per table_multi_insert call. */
#define CAPTURE_INSERT_BATCH	1000

/*
 * One buffered record: this header, then len bytes of its body (without
 * ApproximateCreationDateTime, added when it is stored).
 */
typedef struct BufferedRecord
{
	int64		stream_id;
	XLogRecPtr	commit_lsn;
	TimestampTz commit_time;
	TransactionId subxid;		/* in a streamed transaction */
	uint32		position;
	char		event_name[8];
	uint32		len;
	int32		size_bytes;
	int32		key_hash;
	bool		ttl_delete;
	OsRecordException exception;
	uint64		full_size;		/* with an exception */
} BufferedRecord;

/*
 * Records waiting to be stored: those of whole transactions, in commit
 * order (xid invalid), or those of one streamed transaction (see
 * output_plugin.c), which only get their commit, and their positions, when
 * it commits: its records are numbered as they are stored, skipping those
 * of its aborted subtransactions.
 */
typedef struct CaptureBuffer
{
	TransactionId xid;			/* the streamed transaction's, or invalid */
	StringInfoData mem;			/* serialized records not yet spilled */
	BufFile    *file;			/* spilled records, oldest first */
	int64		nrecords;
	Size		bytes;
	XLogRecPtr	commit_lsn;		/* a committed streamed transaction's */
	TimestampTz commit_time;
	TransactionId *aborted;		/* its aborted subtransactions */
	int			naborted;
	int			maxaborted;
} CaptureBuffer;

/* Where buffers live: the worker's context, for its life. */
static MemoryContext BufferContext = NULL;
/* records of whole transactions, after those of pending */
static CaptureBuffer *current = NULL;
/* buffers to store, in commit order, before current */
static List *pending = NIL;
/* bytes in current and pending */
static Size pending_bytes = 0;
/* buffers of the streamed transactions in progress, by xid */
static HTAB *streamed = NULL;

/* The position (commit LSN, position) of the newest stored record. */
static XLogRecPtr last_lsn = InvalidXLogRecPtr;
static uint32 last_position = 0;

/* A streamed transaction's buffer is smaller: several may be in progress. */
#define STREAMED_MEMORY_LIMIT	(512 * 1024)

typedef struct StreamedEntry
{
	TransactionId xid;			/* hash key */
	CaptureBuffer *buffer;
} StreamedEntry;

static CaptureBuffer *
buffer_create(TransactionId xid)
{
	MemoryContext old = MemoryContextSwitchTo(BufferContext);
	CaptureBuffer *buf = palloc0(sizeof(CaptureBuffer));

	buf->xid = xid;
	initStringInfo(&buf->mem);
	MemoryContextSwitchTo(old);
	return buf;
}

static void
buffer_free(CaptureBuffer *buf)
{
	if (buf->file)
		BufFileClose(buf->file);
	pfree(buf->mem.data);
	if (buf->aborted)
		pfree(buf->aborted);
	pfree(buf);
}

static void
buffer_append(CaptureBuffer *buf, BufferedRecord *hdr, const char *body,
			  Size memory_limit)
{
	appendBinaryStringInfo(&buf->mem, (char *) hdr, sizeof(*hdr));
	appendBinaryStringInfo(&buf->mem, body, hdr->len);
	buf->nrecords++;
	buf->bytes += sizeof(*hdr) + hdr->len;
	if (buf->mem.len > memory_limit)
	{
		/*
		 * This runs in the write callback, where CurrentMemoryContext is the
		 * output plugin's per-change context, reset after every change: the
		 * BufFile (and the segment array it grows) must outlive the change.
		 */
		MemoryContext old = MemoryContextSwitchTo(BufferContext);

		if (buf->file == NULL)
			buf->file = BufFileCreateTemp(true);
		BufFileWrite(buf->file, buf->mem.data, buf->mem.len);
		resetStringInfo(&buf->mem);
		MemoryContextSwitchTo(old);
	}
}

void
capture_buffer_reset(void)
{
	ListCell   *lc;

	foreach(lc, pending)
		buffer_free(lfirst(lc));
	list_free(pending);
	pending = NIL;
	if (current->file)
		BufFileClose(current->file);
	current->file = NULL;
	resetStringInfo(&current->mem);
	current->nrecords = 0;
	current->bytes = 0;
	pending_bytes = 0;
}

void
capture_buffer_forget_streamed(void)
{
	HASH_SEQ_STATUS status;
	StreamedEntry *entry;

	hash_seq_init(&status, streamed);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		buffer_free(entry->buffer);
		hash_search(streamed, &entry->xid, HASH_REMOVE, NULL);
	}
}

static CaptureBuffer *
streamed_buffer(TransactionId xid, bool create)
{
	StreamedEntry *entry;
	bool		found;

	entry = hash_search(streamed, &xid, create ? HASH_ENTER : HASH_FIND, &found);
	if (entry == NULL)
		return NULL;
	if (!found)
		entry->buffer = buffer_create(xid);
	return entry->buffer;
}

void
capture_buffer_prepare_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
							 TransactionId xid, bool last_write)
{
	resetStringInfo(ctx->out);
}

/*
 * Buffers one record, unless a previous run stored it already, or handles
 * the end of a streamed (sub)transaction.  Runs inside the replay of a
 * transaction: no table access here.
 */
void
capture_buffer_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
					 TransactionId xid, bool last_write)
{
	const OsRecordInfo *info = output_plugin_current_record(ctx);
	CaptureBuffer *buf;
	BufferedRecord hdr;

	if (strcmp(info->event_name, OS_STREAM_ABORT_EVENT) == 0)
	{
		buf = streamed_buffer(info->xid, false);
		if (buf == NULL)
			return;
		if (info->subxid == info->xid)
		{
			hash_search(streamed, &info->xid, HASH_REMOVE, NULL);
			buffer_free(buf);
		}
		else
		{
			if (buf->naborted == buf->maxaborted)
			{
				buf->maxaborted = Max(8, 2 * buf->maxaborted);
				buf->aborted = buf->aborted ?
					repalloc(buf->aborted, sizeof(TransactionId) * buf->maxaborted) :
					MemoryContextAlloc(BufferContext, sizeof(TransactionId) * buf->maxaborted);
			}
			buf->aborted[buf->naborted++] = info->subxid;
		}
		return;
	}
	if (strcmp(info->event_name, OS_STREAM_COMMIT_EVENT) == 0)
	{
		buf = streamed_buffer(info->xid, false);
		if (buf == NULL)
			return;
		hash_search(streamed, &info->xid, HASH_REMOVE, NULL);
		/* stored by a previous run (one at the same LSN: see the store) */
		if (info->commit_lsn < last_lsn)
		{
			buffer_free(buf);
			return;
		}
		buf->commit_lsn = info->commit_lsn;
		buf->commit_time = info->commit_time;
		/* after the whole transactions that committed before it */
		if (current->nrecords > 0)
		{
			pending = lappend(pending, current);
			current = buffer_create(InvalidTransactionId);
		}
		pending = lappend(pending, buf);
		pending_bytes += buf->bytes;
		return;
	}

	memset(&hdr, 0, sizeof(hdr));
	hdr.stream_id = info->stream_id;
	strlcpy(hdr.event_name, info->event_name, sizeof(hdr.event_name));
	hdr.size_bytes = (int32) info->size_bytes;
	hdr.key_hash = info->key_hash;
	hdr.ttl_delete = info->ttl_delete;
	hdr.exception = info->exception;
	hdr.full_size = info->full_size;
	hdr.len = ctx->out->len;
	if (info->streamed)
	{
		hdr.subxid = info->subxid;
		buffer_append(streamed_buffer(info->xid, true), &hdr, ctx->out->data,
					  STREAMED_MEMORY_LIMIT);
		return;
	}
	if (info->commit_lsn < last_lsn ||
		(info->commit_lsn == last_lsn && info->position <= last_position))
		return;
	hdr.commit_lsn = info->commit_lsn;
	hdr.commit_time = info->commit_time;
	hdr.position = info->position;
	buffer_append(current, &hdr, ctx->out->data, CAPTURE_MEMORY_LIMIT);
	pending_bytes += sizeof(hdr) + hdr.len;
}

/* ---- storing ---- */

/* How many records of a stream one store added. */
typedef struct StreamStored
{
	int64		stream_id;		/* hash key */
	int64		records;
} StreamStored;

typedef struct RecordInserter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	CommandId	cid;
	TupleTableSlot *slots[CAPTURE_INSERT_BATCH];
	int			nslots;
	MemoryContext batch_cxt;
	TimestampTz captured_at;
	XLogRecPtr	newest_lsn;		/* the newest record stored */
	uint32		newest_position;
	HTAB	   *stored;			/* StreamStored per stream, for stream_counts */
	StreamStored *last;			/* the entry of the previous record */
} RecordInserter;

static void
inserter_flush(RecordInserter *ins)
{
	int			i;

	MemoryContext old;

	if (ins->nslots == 0)
		return;

	/*
	 * heap_multi_insert leaves its array of tuples (and any toasted copies)
	 * in CurrentMemoryContext, and index insertion may leave some too: in
	 * the batch context, reset below, they cannot pile up over the millions
	 * of records of one store.
	 */
	old = MemoryContextSwitchTo(ins->batch_cxt);
	table_multi_insert(ins->rel, ins->slots, ins->nslots, ins->cid, 0, ins->bistate);
	for (i = 0; i < ins->nslots; i++)
	{
		List	   *recheck;

		recheck = ExecInsertIndexTuples(ins->rri, ins->slots[i], ins->estate,
										false, false, NULL, NIL);
		list_free(recheck);
		ExecClearTuple(ins->slots[i]);
	}
	MemoryContextSwitchTo(old);
	ins->nslots = 0;
	ResetPerTupleExprContext(ins->estate);
	MemoryContextReset(ins->batch_cxt);
	/* a store of millions of records stops here if the postmaster died */
	CHECK_FOR_INTERRUPTS();
}

SPIPlanPtr
capture_buffer_kept_plan(SPIPlanPtr *plan, const char *sql, int nargs,
						 Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	prepared = SPI_prepare(sql, nargs, argtypes);

		if (prepared == NULL || SPI_keepplan(prepared) != 0)
			elog(ERROR, "could not prepare capture's query \"%s\"", sql);
		*plan = prepared;
	}
	return *plan;
}

/*
 * The capture_exceptions row of a record stored incomplete, in the
 * transaction that stores the record: exactly once, as the records.
 */
static void
store_exception(BufferedRecord *hdr)
{
	static SPIPlanPtr plan = NULL;
	const char *query = "INSERT INTO orders_stream.capture_exceptions "
		"(stream_id, sequence_number, event_name, reason, record_size) "
		"VALUES ($1, $2, $3, $4, $5)";
	Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID};
	Datum		values[5];
	char		seq[OS_SEQUENCE_NUMBER_LEN + 1];

	record_format_sequence_number(seq, hdr->commit_lsn, hdr->position);
	values[0] = Int64GetDatum(hdr->stream_id);
	values[1] = CStringGetTextDatum(seq);
	values[2] = CStringGetTextDatum(hdr->event_name);
	values[3] = CStringGetTextDatum(output_plugin_exception_reason(hdr->exception));
	values[4] = Int64GetDatum((int64) hdr->full_size);
	if (SPI_execute_plan(capture_buffer_kept_plan(&plan, query, 5, argtypes),
						 values, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not insert into orders_stream.capture_exceptions");
}

/*
 * A CLOSE event: the stream's shard ends where the disabling transaction
 * committed.  Every record of the stream is older and already stored (in
 * this transaction or a previous one: capture stores in commit order), so
 * its EndingSequenceNumber is the newest of them, or, for a shard without
 * a record left, the closing position itself.  Written in the transaction
 * that stores the records before it, and only once: exactly once, as the
 * records.
 */
static void
store_close(RecordInserter *ins, BufferedRecord *hdr)
{
	static SPIPlanPtr plan = NULL;
	const char *query = "UPDATE orders_stream.streams s "
		"SET closing_sequence_number = $2, "
		"ending_sequence_number = COALESCE(GREATEST("
		"(SELECT orders_stream.sequence_text(r.sequence_key) "
		"FROM orders_stream.record_store r "
		"WHERE r.stream_id OPERATOR(pg_catalog.=) $1 "
		"AND r.sequence_key OPERATOR(pg_catalog.<) $3 "
		"ORDER BY r.sequence_key DESC LIMIT 1), "
		"(SELECT t.trimmed_through FROM orders_stream.stream_trim t "
		"WHERE t.stream_id OPERATOR(pg_catalog.=) $1 "
		"AND t.trimmed_through OPERATOR(pg_catalog.<>) '' "
		"AND t.trimmed_through OPERATOR(pg_catalog.<) $2)), $2) "
		"WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
		"AND s.closing_sequence_number IS NULL";
	Oid			argtypes[3] = {INT8OID, TEXTOID, BYTEAOID};
	Datum		values[3];
	char		seq[OS_SEQUENCE_NUMBER_LEN + 1];
	bytea	   *key = palloc(VARHDRSZ + OS_SEQUENCE_KEY_LEN);

	inserter_flush(ins);
	CommandCounterIncrement();
	record_format_sequence_number(seq, hdr->commit_lsn, hdr->position);
	SET_VARSIZE(key, VARHDRSZ + OS_SEQUENCE_KEY_LEN);
	record_sequence_key(VARDATA(key), hdr->commit_lsn, hdr->position);
	values[0] = Int64GetDatum(hdr->stream_id);
	values[1] = CStringGetTextDatum(seq);
	values[2] = PointerGetDatum(key);
	if (SPI_execute_plan(capture_buffer_kept_plan(&plan, query, 3, argtypes),
						 values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close the shard of stream %lld",
			 (long long) hdr->stream_id);
	CommandCounterIncrement();
}

/* The body as stored: with its ApproximateCreationDateTime. */
static text *
stored_body(BufferedRecord *hdr, const char *body)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoSpaces(&buf, VARHDRSZ);
	record_append_creation_time(&buf, hdr->commit_time);
	appendBinaryStringInfo(&buf, body, hdr->len);
	SET_VARSIZE(buf.data, buf.len);
	return (text *) buf.data;
}

static void
inserter_add(RecordInserter *ins, BufferedRecord *hdr, const char *body)
{
	TupleTableSlot *slot;
	MemoryContext old;
	bytea	   *key;

	if (strcmp(hdr->event_name, OS_CLOSE_EVENT) == 0)
	{
		store_close(ins, hdr);
		return;
	}

	if (ins->slots[ins->nslots] == NULL)
		ins->slots[ins->nslots] = table_slot_create(ins->rel, NULL);
	slot = ins->slots[ins->nslots];
	ExecClearTuple(slot);

	old = MemoryContextSwitchTo(ins->batch_cxt);
	key = palloc(VARHDRSZ + OS_SEQUENCE_KEY_LEN);
	SET_VARSIZE(key, VARHDRSZ + OS_SEQUENCE_KEY_LEN);
	record_sequence_key(VARDATA(key), hdr->commit_lsn, hdr->position);
	/* the columns of orders_stream.record_store (20_records.sql) */
	slot->tts_values[0] = Int64GetDatum(hdr->stream_id);
	slot->tts_values[1] = TimestampTzGetDatum(ins->captured_at);
	slot->tts_values[2] = Int32GetDatum(hdr->key_hash);
	slot->tts_values[3] = Int32GetDatum(hdr->size_bytes);
	slot->tts_values[4] = PointerGetDatum(key);
	slot->tts_values[5] = CStringGetTextDatum(hdr->event_name);
	slot->tts_values[6] = PointerGetDatum(stored_body(hdr, body));
	slot->tts_values[7] = BoolGetDatum(hdr->ttl_delete);
	memset(slot->tts_isnull, false, sizeof(bool) * RECORD_STORE_NATTS);
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);

	if (hdr->exception != OS_RECORD_COMPLETE)
		store_exception(hdr);
	/* records come in runs of one stream: a hash lookup per run, not per record */
	if (ins->last == NULL || ins->last->stream_id != hdr->stream_id)
	{
		bool		found;

		ins->last = hash_search(ins->stored, &hdr->stream_id, HASH_ENTER, &found);
		if (!found)
			ins->last->records = 0;
	}
	ins->last->records++;
	if (++ins->nslots == CAPTURE_INSERT_BATCH)
		inserter_flush(ins);
}

/*
 * Adds what this store added to each stream's records_retained, in the
 * transaction that stores the records: the count is exact, as they are.
 */
static void
store_counts(RecordInserter *ins)
{
	static SPIPlanPtr plan = NULL;
	const char *query = "INSERT INTO orders_stream.stream_counts AS c (stream_id, records_retained) "
		"VALUES ($1, $2) ON CONFLICT (stream_id) DO UPDATE "
		"SET records_retained = c.records_retained OPERATOR(pg_catalog.+) excluded.records_retained";
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];
	HASH_SEQ_STATUS status;
	StreamStored *entry;

	hash_seq_init(&status, ins->stored);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		values[0] = Int64GetDatum(entry->stream_id);
		values[1] = Int64GetDatum(entry->records);
		if (SPI_execute_plan(capture_buffer_kept_plan(&plan, query, 2, argtypes),
							 values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not count the records of stream %lld",
				 (long long) entry->stream_id);
	}
}

/*
 * Stores one buffered record; for a streamed transaction's, numbers it first,
 * or skips it (aborted subtransaction, or stored by a previous run).
 */
static void
store_record(RecordInserter *ins, CaptureBuffer *buf, BufferedRecord *hdr,
			 const char *body, uint32 *position)
{
	int			i;

	if (TransactionIdIsValid(buf->xid))
	{
		for (i = 0; i < buf->naborted; i++)
			if (buf->aborted[i] == hdr->subxid)
				return;
		hdr->commit_lsn = buf->commit_lsn;
		hdr->commit_time = buf->commit_time;
		hdr->position = ++(*position);
		if (hdr->commit_lsn == last_lsn && hdr->position <= last_position)
			return;
	}
	inserter_add(ins, hdr, body);
	metrics_capture_stored(hdr->stream_id, hdr->len, hdr->exception != OS_RECORD_COMPLETE);
	ins->newest_lsn = hdr->commit_lsn;
	ins->newest_position = hdr->position;
}

/* Stores the records of one buffer, oldest first: spilled, then in memory. */
static void
store_buffer(RecordInserter *ins, CaptureBuffer *buf)
{
	char	   *body = NULL;
	Size		body_cap = 0;
	char	   *p;
	char	   *end;
	uint32		position = 0;

	if (buf->file)
	{
		BufferedRecord hdr;

		if (BufFileSeek(buf->file, 0, 0, SEEK_SET) != 0)
			elog(ERROR, "could not rewind capture spill file");
		while (BufFileRead(buf->file, &hdr, sizeof(hdr)) == sizeof(hdr))
		{
			if (hdr.len + 1 > body_cap)
			{
				body_cap = Max(hdr.len + 1, 2 * body_cap);
				body = body ? repalloc(body, body_cap) : palloc(body_cap);
			}
			if (BufFileRead(buf->file, body, hdr.len) != hdr.len)
				elog(ERROR, "could not read capture spill file");
			store_record(ins, buf, &hdr, body, &position);
		}
	}
	p = buf->mem.data;
	end = buf->mem.data + buf->mem.len;
	while (p < end)
	{
		BufferedRecord hdr;

		memcpy(&hdr, p, sizeof(hdr));
		store_record(ins, buf, &hdr, p + sizeof(hdr), &position);
		p += sizeof(hdr) + hdr.len;
	}
	if (body)
		pfree(body);
}

bool
capture_buffer_store(Oid partition, XLogRecPtr *newest_lsn,
					 uint32 *newest_position)
{
	RecordInserter ins;
	ListCell   *lc;
	int			i;
	HASHCTL		ctl;

	memset(&ins, 0, sizeof(ins));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(StreamStored);
	ctl.hcxt = CurrentMemoryContext;
	ins.stored = hash_create("orders_stream records stored per stream", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ins.rel = table_open(partition, RowExclusiveLock);
	if (RelationGetDescr(ins.rel)->natts != RECORD_STORE_NATTS)
		elog(ERROR, "unexpected layout of stream partition \"%s\"",
			 RelationGetRelationName(ins.rel));
	ins.estate = CreateExecutorState();
	ins.rri = makeNode(ResultRelInfo);
	InitResultRelInfo(ins.rri, ins.rel, 1, NULL, 0);
	ExecOpenIndices(ins.rri, false);
	ins.bistate = GetBulkInsertState();
	ins.cid = GetCurrentCommandId(true);
	ins.captured_at = GetCurrentTransactionStartTimestamp();
	ins.batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
										  "orders_stream insert batch",
										  ALLOCSET_DEFAULT_SIZES);

	foreach(lc, pending)
		store_buffer(&ins, lfirst(lc));
	store_buffer(&ins, current);
	inserter_flush(&ins);
	store_counts(&ins);

	for (i = 0; i < CAPTURE_INSERT_BATCH && ins.slots[i]; i++)
		ExecDropSingleTupleTableSlot(ins.slots[i]);
	FreeBulkInsertState(ins.bistate);
	ExecCloseIndices(ins.rri);
	FreeExecutorState(ins.estate);
	table_close(ins.rel, NoLock);
	MemoryContextDelete(ins.batch_cxt);
	hash_destroy(ins.stored);
	*newest_lsn = ins.newest_lsn;
	*newest_position = ins.newest_position;
	return ins.newest_lsn != InvalidXLogRecPtr;
}

void
capture_buffer_init(MemoryContext cxt)
{
	HASHCTL		ctl;

	BufferContext = cxt;
	current = buffer_create(InvalidTransactionId);
	ctl.keysize = sizeof(TransactionId);
	ctl.entrysize = sizeof(StreamedEntry);
	ctl.hcxt = cxt;
	streamed = hash_create("orders_stream streamed transactions", 16, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

bool
capture_buffer_has_records(void)
{
	return pending != NIL || current->nrecords > 0;
}

Size
capture_buffer_bytes(void)
{
	return pending_bytes;
}

void
capture_buffer_set_stored(XLogRecPtr lsn, uint32 position)
{
	last_lsn = lsn;
	last_position = position;
}
