/*-------------------------------------------------------------------------
 * capture.c
 *	  The capture worker: owns the database's logical slot, decodes WAL
 *	  through the orders_stream output plugin, and appends the records to
 *	  orders_stream.record_store (in their stored form, see record_store.c)
 *	  exactly once.
 *
 * Decoding runs in-process, the way walsender and logicalfuncs.c drive it,
 * with one decoding context kept alive between passes.  (Streaming from a
 * walsender through libpq would copy every record through a socket and
 * parse it again; in-process, the write callback gets the record and its
 * metadata straight from the plugin.)  The write callback only buffers: it
 * runs inside the replay of a transaction, under a historic snapshot, where
 * no table may be written.  After the replay returns, the buffered records
 * and the worker's high-water SequenceNumber are written in ONE transaction,
 * and the slot is confirmed only after that commit.  A restart re-decodes
 * from the slot's confirmed position and drops every record whose
 * SequenceNumber is at or below the stored one, so a crash at any instant
 * neither loses nor duplicates a record.
 *
 * The buffer spills to a temporary file past a few megabytes, so a huge
 * transaction costs disk, not memory; the reorder buffer spills on its own
 * (logical_decoding_work_mem).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/slot.h"
#include "storage/buffile.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "capture.h"
#include "workers.h"
#include "compat.h"
#include "orders_stream.h"
#include "output_plugin.h"
#include "retention.h"

/* Records kept in memory before the buffer spills to a temporary file. */
#define CAPTURE_MEMORY_LIMIT	(4 * 1024 * 1024)
/* Records buffered before a pass stores them, even if WAL remains. */
#define CAPTURE_FLUSH_BYTES		(64 * 1024 * 1024)
/* Columns of orders_stream.record_store. */
#define RECORD_STORE_NATTS		7
/* Tuples per table_multi_insert call. */
#define CAPTURE_INSERT_BATCH	1000
/*
 * Shortest time between two passes.  Every pass that stores records is a
 * transaction with its own WAL flush; under a stream of small commits, a
 * pass per commit would cost more than the commits.  Gathering for a few
 * milliseconds stores them together and keeps commit-to-record latency
 * well under the 10 ms median target.
 */
#define CAPTURE_GATHER_MS		5
/* How long a freshly launched worker waits for CREATE EXTENSION to commit. */
#define EXTENSION_WAIT_MS		10000
/* Longest time between two checks that the extension is still there. */
#define EXTENSION_CHECK_MS		1000

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

/*
 * Worker state: these live for the worker's life, their allocations in
 * CaptureContext; everything else a pass allocates goes in
 * CaptureLoopContext, reset every pass, so the worker's memory stays flat.
 */
static MemoryContext CaptureContext = NULL;
static MemoryContext CaptureLoopContext = NULL;
/* records of whole transactions, after those of pending */
static CaptureBuffer *current = NULL;
/* buffers to store, in commit order, before current */
static List *pending = NIL;
/* bytes in current and pending */
static Size pending_bytes = 0;
/* buffers of the streamed transactions in progress, by xid */
static HTAB *streamed = NULL;
static char *database_name = NULL;
/*
 * Set when a schema may have been created or dropped (DROP EXTENSION drops
 * the extension's): the extension is looked up again.  Looking it up on every
 * pass took a tenth of the worker's time under a stream of small commits.
 */
static bool namespaces_changed = true;

/* The position (commit LSN, position) of the newest stored record. */
static XLogRecPtr last_lsn = InvalidXLogRecPtr;
static uint32 last_position = 0;

/*
 * The slot belongs to one incarnation of the extension: WAL written before a
 * DROP EXTENSION cannot be decoded after it (the streams catalog it refers
 * to is gone), so a re-created extension gets a new slot.
 */
char *
capture_slot_name_for(Oid extension)
{
	return psprintf("orders_stream_%u_%u", MyDatabaseId, extension);
}

char *
capture_slot_name(void)
{
	return capture_slot_name_for(get_extension_oid("orders_stream", false));
}

/* Drops this database's capture slots of other incarnations of the extension. */
static void
drop_stale_slots(Oid extension)
{
	char	   *prefix = psprintf("orders_stream_%u_", MyDatabaseId);
	char	   *current = OidIsValid(extension) ? capture_slot_name_for(extension) : NULL;
	List	   *stale = NIL;
	ListCell   *lc;
	int			i;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (slot->in_use &&
			strncmp(NameStr(slot->data.name), prefix, strlen(prefix)) == 0 &&
			(current == NULL || strcmp(NameStr(slot->data.name), current) != 0))
			stale = lappend(stale, pstrdup(NameStr(slot->data.name)));
	}
	LWLockRelease(ReplicationSlotControlLock);

	foreach(lc, stale)
	{
		ReplicationSlotDrop(lfirst(lc), true);
		ereport(LOG,
				(errmsg("orders_stream capture dropped replication slot \"%s\" of a dropped extension",
						(char *) lfirst(lc))));
	}
	list_free_deep(stale);
}

/* ---- the buffers ---- */

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
	MemoryContext old = MemoryContextSwitchTo(CaptureContext);
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
		MemoryContext old = MemoryContextSwitchTo(CaptureContext);

		if (buf->file == NULL)
			buf->file = BufFileCreateTemp(true);
		BufFileWrite(buf->file, buf->mem.data, buf->mem.len);
		resetStringInfo(&buf->mem);
		MemoryContextSwitchTo(old);
	}
}

/* Forgets every buffered record: they have been stored. */
static void
buffers_reset(void)
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

/* Forgets the streamed transactions in progress (their WAL is decoded again). */
static void
streamed_reset(void)
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

static void
capture_prepare_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
					  TransactionId xid, bool last_write)
{
	resetStringInfo(ctx->out);
}

/*
 * Buffers one record, unless a previous run stored it already, or handles
 * the end of a streamed (sub)transaction.  Runs inside the replay of a
 * transaction: no table access here.
 */
static void
capture_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
			  TransactionId xid, bool last_write)
{
	const OsRecordInfo *info = os_current_record(ctx);
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
					MemoryContextAlloc(CaptureContext, sizeof(TransactionId) * buf->maxaborted);
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
}

/*
 * The capture_exceptions row of a record stored incomplete, in the
 * transaction that stores the record: exactly once, as the records.
 */
static void
store_exception(BufferedRecord *hdr)
{
	static SPIPlanPtr plan = NULL;
	Datum		values[5];
	char		seq[OS_SEQUENCE_NUMBER_LEN + 1];

	if (plan == NULL)
	{
		Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID};

		plan = SPI_prepare("INSERT INTO orders_stream.capture_exceptions "
						   "(stream_id, sequence_number, event_name, reason, record_size) "
						   "VALUES ($1, $2, $3, $4, $5)",
						   5, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the capture exception insert");
	}
	os_format_sequence_number(seq, hdr->commit_lsn, hdr->position);
	values[0] = Int64GetDatum(hdr->stream_id);
	values[1] = CStringGetTextDatum(seq);
	values[2] = CStringGetTextDatum(hdr->event_name);
	values[3] = CStringGetTextDatum(os_record_exception_reason(hdr->exception));
	values[4] = Int64GetDatum((int64) hdr->full_size);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_INSERT)
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
	Datum		values[3];
	char		seq[OS_SEQUENCE_NUMBER_LEN + 1];
	bytea	   *key = palloc(VARHDRSZ + OS_SEQUENCE_KEY_LEN);

	inserter_flush(ins);
	CommandCounterIncrement();
	if (plan == NULL)
	{
		Oid			argtypes[3] = {INT8OID, TEXTOID, BYTEAOID};

		plan = SPI_prepare("UPDATE orders_stream.streams s "
						   "SET closing_sequence_number = $2, "
						   "ending_sequence_number = COALESCE(GREATEST("
						   "(SELECT orders_stream.sequence_text(r.sequence_key) "
						   "FROM orders_stream.record_store r "
						   "WHERE r.stream_id OPERATOR(pg_catalog.=) $1 "
						   "AND r.sequence_key OPERATOR(pg_catalog.<) $3 "
						   "ORDER BY r.sequence_key DESC LIMIT 1), "
						   "(SELECT t.trimmed_through FROM orders_stream.stream_trim t "
						   "WHERE t.stream_id OPERATOR(pg_catalog.=) $1 "
						   "AND t.trimmed_through OPERATOR(pg_catalog.<) $2)), $2) "
						   "WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
						   "AND s.closing_sequence_number IS NULL",
						   3, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the shard close");
	}
	os_format_sequence_number(seq, hdr->commit_lsn, hdr->position);
	SET_VARSIZE(key, VARHDRSZ + OS_SEQUENCE_KEY_LEN);
	os_sequence_key(VARDATA(key), hdr->commit_lsn, hdr->position);
	values[0] = Int64GetDatum(hdr->stream_id);
	values[1] = CStringGetTextDatum(seq);
	values[2] = PointerGetDatum(key);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
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
	os_append_creation_time(&buf, hdr->commit_time);
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
	os_sequence_key(VARDATA(key), hdr->commit_lsn, hdr->position);
	/* the columns of orders_stream.record_store (20_records.sql) */
	slot->tts_values[0] = Int64GetDatum(hdr->stream_id);
	slot->tts_values[1] = TimestampTzGetDatum(ins->captured_at);
	slot->tts_values[2] = Int32GetDatum(hdr->key_hash);
	slot->tts_values[3] = Int32GetDatum(hdr->size_bytes);
	slot->tts_values[4] = PointerGetDatum(key);
	slot->tts_values[5] = CStringGetTextDatum(hdr->event_name);
	slot->tts_values[6] = PointerGetDatum(stored_body(hdr, body));
	memset(slot->tts_isnull, false, sizeof(bool) * RECORD_STORE_NATTS);
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);

	if (hdr->exception != OS_RECORD_COMPLETE)
		store_exception(hdr);
	if (++ins->nslots == CAPTURE_INSERT_BATCH)
		inserter_flush(ins);
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

/*
 * Stores every buffered record; returns false if there was none to store
 * (all of aborted subtransactions), else sets the newest one's position.
 */
static bool
store_buffered_records(Oid partition, XLogRecPtr *newest_lsn,
					   uint32 *newest_position)
{
	RecordInserter ins;
	ListCell   *lc;
	int			i;

	memset(&ins, 0, sizeof(ins));
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

	for (i = 0; i < CAPTURE_INSERT_BATCH && ins.slots[i]; i++)
		ExecDropSingleTupleTableSlot(ins.slots[i]);
	FreeBulkInsertState(ins.bistate);
	ExecCloseIndices(ins.rri);
	FreeExecutorState(ins.estate);
	table_close(ins.rel, NoLock);
	MemoryContextDelete(ins.batch_cxt);
	*newest_lsn = ins.newest_lsn;
	*newest_position = ins.newest_position;
	return ins.newest_lsn != InvalidXLogRecPtr;
}

/*
 * GetSnapshotData() leaves the XIDs of processes flagged
 * PROC_IN_LOGICAL_DECODING (set by ReplicationSlotAcquire) out of every
 * snapshot: such processes are not supposed to write.  This one does,
 * between decoding passes, so while it runs a transaction of its own the
 * flag must be off; otherwise concurrent readers take its uncommitted rows
 * (records, and the catalog rows of new partitions) for rows of a finished
 * transaction that did not commit, mark them HEAP_XMIN_INVALID, and the rows
 * are lost for good once it commits.
 */
static void
set_logical_decoding_flag(bool on)
{
	LWLockAcquire(ProcArrayLock, LW_EXCLUSIVE);
	if (on)
		MyProc->statusFlags |= PROC_IN_LOGICAL_DECODING;
	else
		MyProc->statusFlags &= ~PROC_IN_LOGICAL_DECODING;
	ProcGlobal->statusFlags[MyProc->pgxactoff] = MyProc->statusFlags;
	LWLockRelease(ProcArrayLock);
}

/*
 * The worker's storing transactions commit asynchronously (see
 * orders_stream_capture_main), so the slot is confirmed past what a pass
 * stored only once that commit is flushed: until then, the decoded position
 * of the newest pass that stored, and where its commit record ends.
 */
static XLogRecPtr unflushed_decoded = InvalidXLogRecPtr;
static XLogRecPtr unflushed_commit_end = InvalidXLogRecPtr;

static void
confirm_decoded(XLogRecPtr decoded)
{
	if (decoded != InvalidXLogRecPtr &&
		decoded > MyReplicationSlot->data.confirmed_flush)
	{
		LogicalConfirmReceivedLocation(decoded);
		ReplicationSlotMarkDirty();
	}
}

/*
 * Stores what the buffer holds and the new high-water SequenceNumber in one
 * transaction, then confirms the slot up to what has been decoded and is
 * durably stored.
 */
static void
flush_and_confirm(LogicalDecodingContext *ctx)
{
	XLogRecPtr	decoded = ctx->reader->EndRecPtr;
	XLogRecPtr	flushed;

	if (pending != NIL || current->nrecords > 0)
	{
		char		newest[OS_SEQUENCE_NUMBER_LEN + 1];
		Oid			partition;
		XLogRecPtr	newest_lsn;
		uint32		newest_position;
		bool		stored;

		pgstat_report_activity(STATE_RUNNING, "storing stream records");
		set_logical_decoding_flag(false);
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();

		partition = retention_partition_for_now();
		stored = store_buffered_records(partition, &newest_lsn, &newest_position);
		os_format_sequence_number(newest, newest_lsn, newest_position);
		if (stored)
		{
			static SPIPlanPtr plan = NULL;
			Datum		values[2];

			if (plan == NULL)
			{
				Oid			argtypes[2] = {TEXTOID, LSNOID};

				plan = SPI_prepare("UPDATE orders_stream.capture_progress "
								   "SET sequence_number = $1, lsn = $2, updated_at = now()",
								   2, argtypes);
				if (plan == NULL || SPI_keepplan(plan) != 0)
					elog(ERROR, "could not prepare the capture progress update");
			}
			values[0] = CStringGetTextDatum(newest);
			values[1] = LSNGetDatum(decoded);
			if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE ||
				SPI_processed != 1)
				elog(ERROR, "could not update orders_stream.capture_progress");
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(CaptureLoopContext);
		set_logical_decoding_flag(true);

		buffers_reset();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (stored)
		{
			last_lsn = newest_lsn;
			last_position = newest_position;
			worker_wakeup(OS_WORKER_DELIVERY);

			/* what an earlier pass stored may be durable by now */
			if (unflushed_commit_end != InvalidXLogRecPtr &&
				unflushed_commit_end <= GetFlushRecPtr(NULL))
				confirm_decoded(unflushed_decoded);
			unflushed_decoded = decoded;
			unflushed_commit_end = XactLastCommitEnd;
		}
	}

	flushed = GetFlushRecPtr(NULL);
	if (unflushed_commit_end != InvalidXLogRecPtr)
	{
		if (unflushed_commit_end > flushed)
			return;
		unflushed_commit_end = InvalidXLogRecPtr;
	}
	confirm_decoded(decoded);
}

/*
 * Before the worker sleeps: flushes what it stored and confirms the slot,
 * so that wait_for_capture() and the slot do not wait for the WAL writer.
 * Busy, it finds its commits flushed by the next writers' before it checks.
 */
static void
flush_before_sleep(LogicalDecodingContext *ctx)
{
	if (unflushed_commit_end == InvalidXLogRecPtr || MyLatch->is_set)
		return;
	XLogFlush(unflushed_commit_end);
	unflushed_commit_end = InvalidXLogRecPtr;
	confirm_decoded(ctx->reader->EndRecPtr);
}

/* Decodes everything flushed so far, storing as it goes. */
static void
decode_pass(LogicalDecodingContext *ctx)
{
	XLogRecPtr	end = GetFlushRecPtr(NULL);

	while (ctx->reader->EndRecPtr < end)
	{
		XLogRecord *record;
		char	   *errm = NULL;

		/*
		 * The WAL reader allocates its buffers lazily, and decoding keeps
		 * state, in CurrentMemoryContext: in the decoding context, which
		 * lives as long as they must (walsender and logicalfuncs.c keep a
		 * context for the whole decoding session the same way).
		 */
		MemoryContextSwitchTo(ctx->context);
		record = XLogReadRecord(ctx->reader, &errm);
		if (errm)
			elog(ERROR, "could not read WAL for capture: %s", errm);
		if (record != NULL)
			LogicalDecodingProcessRecord(ctx, ctx->reader);
		MemoryContextSwitchTo(CaptureLoopContext);
		if (pending_bytes >= CAPTURE_FLUSH_BYTES)
			flush_and_confirm(ctx);
		CHECK_FOR_INTERRUPTS();
	}
	flush_and_confirm(ctx);
}

/* ---- slot and prerequisites ---- */

static void
namespace_invalidated(Datum arg, int cacheid, uint32 hashvalue)
{
	namespaces_changed = true;
}

/* The commit LSN and position of a stored SequenceNumber; '' is before all. */
static void
parse_sequence_number(const char *seq, XLogRecPtr *lsn, uint32 *position)
{
	*lsn = InvalidXLogRecPtr;
	*position = 0;
	if (seq[0] == '\0')
		return;
	if (strlen(seq) != OS_SEQUENCE_NUMBER_LEN ||
		strspn(seq, "0123456789") != OS_SEQUENCE_NUMBER_LEN)
		elog(ERROR, "invalid SequenceNumber \"%s\" in orders_stream.capture_progress", seq);
	*lsn = strtou64(pnstrdup(seq, 20), NULL, 10);
	*position = (uint32) strtoul(seq + 20, NULL, 10);
}

static void
load_progress(void)
{
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT sequence_number FROM orders_stream.capture_progress",
					true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read orders_stream.capture_progress");
	parse_sequence_number(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						  &last_lsn, &last_position);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(CaptureLoopContext);
}

/* NULL if decoding can run here; otherwise why not, for one log line. */
static const char *
decoding_unavailable(char **hint)
{
	const char *setting = GetConfigOption("output_plugin_libraries", true, false);
	List	   *names = NIL;
	ListCell   *lc;
	bool		listed = false;

	if (wal_level < WAL_LEVEL_LOGICAL)
	{
		*hint = "Set wal_level = logical in postgresql.conf and restart the server.";
		return "wal_level is not logical";
	}
	/* only some builds (Debian's) restrict output plugins */
	if (setting == NULL)
		return NULL;
	if (SplitIdentifierString(pstrdup(setting), ',', &names))
		foreach(lc, names)
			if (strcmp(lfirst(lc), ORDERS_STREAM_PLUGIN) == 0)
				listed = true;
	if (!listed)
	{
		*hint = "Add orders_stream to output_plugin_libraries in postgresql.conf (e.g. output_plugin_libraries = 'pgoutput, test_decoding, orders_stream') and reload.";
		return "library \"orders_stream\" may not be used as an output plugin";
	}
	return NULL;
}

static bool
slot_exists(const char *name)
{
	return SearchNamedReplicationSlot(name, true) != NULL;
}

static void
create_slot(const char *name)
{
	LogicalDecodingContext *ctx;

	pgstat_report_activity(STATE_RUNNING, "creating capture slot");
	ReplicationSlotCreate(name, true, RS_EPHEMERAL, false);
	ctx = CreateInitDecodingContext(ORDERS_STREAM_PLUGIN, NIL, false,
									InvalidXLogRecPtr,
									XL_ROUTINE(.page_read = read_local_xlog_page,
											   .segment_open = wal_segment_open,
											   .segment_close = wal_segment_close),
									NULL, NULL, NULL);
	/* waits for the transactions running now to finish */
	DecodingContextFindStartpoint(ctx);
	FreeDecodingContext(ctx);
	ReplicationSlotPersist();
	ReplicationSlotRelease();
	ereport(LOG,
			(errmsg("orders_stream capture created replication slot \"%s\"", name)));
}

static LogicalDecodingContext *
start_decoding(const char *name)
{
	LogicalDecodingContext *ctx;

	/* the decoding context lives as long as the worker, in CaptureContext */
	MemoryContextSwitchTo(CaptureContext);
	ReplicationSlotAcquire(name, true);
	ctx = CreateDecodingContext(InvalidXLogRecPtr, NIL, false,
								XL_ROUTINE(.page_read = read_local_xlog_page,
										   .segment_open = wal_segment_open,
										   .segment_close = wal_segment_close),
								capture_prepare_write, capture_write, NULL);
	os_emit_stream_closes(ctx);
	os_emit_stored_bodies(ctx);
	XLogBeginRead(ctx->reader, MyReplicationSlot->data.restart_lsn);
	MemoryContextSwitchTo(CaptureLoopContext);
	load_progress();
	ereport(LOG,
			(errmsg("orders_stream capture started on slot \"%s\" in database \"%s\"",
					name, database_name)));
	return ctx;
}

void
orders_stream_capture_main(Datum arg)
{
	LogicalDecodingContext *ctx = NULL;
	Oid			ctx_extension = InvalidOid;
	const char *unavailable_logged = NULL;
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz last_maintenance = 0;
	TimestampTz last_pass = 0;
	TimestampTz last_extension_check = 0;
	Oid			extension = InvalidOid;

	database_name = worker_start(OS_WORKER_CAPTURE, arg);
	/* this session is a superuser's: its own queries trust pg_catalog only */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

	/*
	 * The reorder buffer's memory is the worker's largest: bound it by
	 * orders_stream.decoding_work_mem rather than the server-wide
	 * logical_decoding_work_mem, so that a huge transaction spills early.
	 */
	if (orders_stream_decoding_work_mem < logical_decoding_work_mem)
		SetConfigOption("logical_decoding_work_mem",
						psprintf("%dkB", orders_stream_decoding_work_mem),
						PGC_USERSET, PGC_S_OVERRIDE);

	/*
	 * Mark this worker's transactions (the records it stores, its partition
	 * maintenance) as "do not replicate": the output plugin skips them
	 * (os_filter_by_origin), so that the worker does not decode its own
	 * writes again, which cost it as much as the capture of the changes it
	 * stored, and delayed later records meanwhile.
	 */
	replorigin_session_origin = DoNotReplicateId;

	/*
	 * The worker's transactions need not wait for their WAL flush: the
	 * records a pass stores are not lost by a crash before it, since the
	 * slot is confirmed past them only once they are flushed (see
	 * flush_and_confirm), and are stored again, identical, otherwise.
	 * Anything done with them durably (a delivery's checkpoint) flushes
	 * them first, WAL being flushed in order.  This takes a WAL flush per
	 * pass off the worker, and off the latency of every record.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_OVERRIDE);

	CaptureContext = AllocSetContextCreate(TopMemoryContext,
										   "orders_stream capture",
										   ALLOCSET_DEFAULT_SIZES);
	CaptureLoopContext = AllocSetContextCreate(TopMemoryContext,
											   "orders_stream capture pass",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(CaptureContext);
	current = buffer_create(InvalidTransactionId);
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(TransactionId);
		ctl.entrysize = sizeof(StreamedEntry);
		ctl.hcxt = CaptureContext;
		streamed = hash_create("orders_stream streamed transactions", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_invalidated, (Datum) 0);

	for (;;)
	{
		const char *unavailable;
		char	   *hint = NULL;

		/*
		 * Each pass starts afresh, as pg_cron's loop does: whatever it
		 * allocates and does not need later goes in CaptureLoopContext.  The
		 * transactions of a pass leave TopMemoryContext current when they
		 * end, hence a switch back after each.
		 */
		MemoryContextSwitchTo(CaptureLoopContext);
		MemoryContextReset(CaptureLoopContext);
		CHECK_FOR_INTERRUPTS();

		/*
		 * Invalidations arrive with every transaction the worker runs (to
		 * store, to replay a decoded transaction), a DROP EXTENSION's among
		 * them; the timer is a safety net.
		 */
		if (namespaces_changed || !OidIsValid(extension) ||
			TimestampDifferenceExceeds(last_extension_check, GetCurrentTimestamp(),
									   EXTENSION_CHECK_MS))
		{
			namespaces_changed = false;
			extension = worker_extension_oid();
			MemoryContextSwitchTo(CaptureLoopContext);
			last_extension_check = GetCurrentTimestamp();
		}
		if (ctx != NULL && extension != ctx_extension)
		{
			/*
			 * The extension was dropped (and maybe created again): the slot's
			 * pending WAL refers to a streams catalog that is gone, and
			 * cannot be decoded any more.
			 */
			FreeDecodingContext(ctx);
			ctx = NULL;
			streamed_reset();
			ReplicationSlotRelease();
		}
		drop_stale_slots(extension);

		if (!OidIsValid(extension))
		{
			/* just launched by CREATE EXTENSION: it may not have committed yet */
			if (!TimestampDifferenceExceeds(started, GetCurrentTimestamp(), EXTENSION_WAIT_MS))
			{
				worker_wait(100);
				continue;
			}
			ereport(LOG,
					(errmsg("orders_stream capture stopping: extension \"orders_stream\" is not installed in database \"%s\"",
							database_name)));
			proc_exit(0);
		}

		unavailable = decoding_unavailable(&hint);
		if (unavailable)
		{
			if (unavailable_logged == NULL || strcmp(unavailable, unavailable_logged) != 0)
				ereport(WARNING,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("orders_stream capture cannot start: %s", unavailable),
						 errhint("%s", hint)));
			unavailable_logged = unavailable;
			worker_wait(10000);
			continue;
		}
		unavailable_logged = NULL;

		if (ctx == NULL)
		{
			char	   *slot_name = capture_slot_name_for(extension);

			if (!slot_exists(slot_name))
			{
				create_slot(slot_name);
				MemoryContextSwitchTo(CaptureLoopContext);
			}
			ctx = start_decoding(slot_name);
			ctx_extension = extension;
		}

		if (TimestampDifferenceExceeds(last_maintenance, GetCurrentTimestamp(), 10000))
		{
			set_logical_decoding_flag(false);
			retention_maintain();
			MemoryContextSwitchTo(CaptureLoopContext);
			set_logical_decoding_flag(true);
			last_maintenance = GetCurrentTimestamp();
		}

		pgstat_report_activity(STATE_RUNNING, "decoding");
		decode_pass(ctx);
		pgstat_report_activity(STATE_IDLE, NULL);
		last_pass = GetCurrentTimestamp();
		flush_before_sleep(ctx);
		worker_wait(orders_stream_capture_naptime);

		/* woken at once by a commit: let the next few gather first */
		{
			long		secs;
			int			usecs;

			TimestampDifference(last_pass, GetCurrentTimestamp(), &secs, &usecs);
			if (secs == 0 && usecs < CAPTURE_GATHER_MS * 1000)
				(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 CAPTURE_GATHER_MS - usecs / 1000, PG_WAIT_EXTENSION);
		}
	}
}
