/*-------------------------------------------------------------------------
 * capture.c
 *	  The capture worker: owns the database's logical slot, decodes WAL
 *	  through the orders_stream output plugin, and appends the records to
 *	  orders_stream.records exactly once.
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
#include "utils/memutils.h"
#include "utils/pg_lsn.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
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

/* One buffered record: this header, then len bytes of JSON. */
typedef struct BufferedRecord
{
	int64		stream_id;
	char		sequence_number[OS_SEQUENCE_NUMBER_LEN + 1];
	char		event_name[8];
	int32		key_hash;
	uint32		len;
	OsRecordException exception;
	uint64		full_size;		/* with an exception */
} BufferedRecord;

typedef struct CaptureBuffer
{
	StringInfoData mem;			/* serialized records not yet spilled */
	BufFile    *file;			/* spilled records, oldest first */
	int64		nrecords;
	Size		bytes;
} CaptureBuffer;

/*
 * Worker state: these live for the worker's life, their allocations in
 * CaptureContext; everything else a pass allocates goes in
 * CaptureLoopContext, reset every pass, so the worker's memory stays flat.
 */
static MemoryContext CaptureContext = NULL;
static MemoryContext CaptureLoopContext = NULL;
static CaptureBuffer buffer;
static char *database_name = NULL;
static char last_sequence_number[OS_SEQUENCE_NUMBER_LEN + 1];
/* The SequenceNumber of the newest buffered record. */
static char newest_buffered[OS_SEQUENCE_NUMBER_LEN + 1];

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

/* ---- the buffer ---- */

static void
buffer_reset(void)
{
	if (buffer.file)
		BufFileClose(buffer.file);
	buffer.file = NULL;
	resetStringInfo(&buffer.mem);
	buffer.nrecords = 0;
	buffer.bytes = 0;
}

static void
buffer_spill(void)
{
	if (buffer.file == NULL)
	{
		/*
		 * This runs in the write callback, where CurrentMemoryContext is the
		 * output plugin's per-change context, reset after every change: the
		 * BufFile (and the segment array it grows) must outlive the change.
		 */
		MemoryContext old = MemoryContextSwitchTo(CaptureContext);

		buffer.file = BufFileCreateTemp(true);
		MemoryContextSwitchTo(old);
	}
	BufFileWrite(buffer.file, buffer.mem.data, buffer.mem.len);
	resetStringInfo(&buffer.mem);
}

static void
capture_prepare_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
					  TransactionId xid, bool last_write)
{
	resetStringInfo(ctx->out);
}

/*
 * Buffers one record, unless a previous run stored it already.  Runs inside
 * the replay of a transaction: no table access here.
 */
static void
capture_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
			  TransactionId xid, bool last_write)
{
	const OsRecordInfo *info = os_current_record(ctx);
	BufferedRecord hdr;

	if (strcmp(info->sequence_number, last_sequence_number) <= 0)
		return;

	memset(&hdr, 0, sizeof(hdr));
	hdr.stream_id = info->stream_id;
	memcpy(hdr.sequence_number, info->sequence_number, sizeof(hdr.sequence_number));
	strlcpy(hdr.event_name, info->event_name, sizeof(hdr.event_name));
	hdr.key_hash = info->key_hash;
	hdr.exception = info->exception;
	hdr.full_size = info->full_size;
	hdr.len = ctx->out->len;
	appendBinaryStringInfo(&buffer.mem, (char *) &hdr, sizeof(hdr));
	appendBinaryStringInfo(&buffer.mem, ctx->out->data, ctx->out->len);
	buffer.nrecords++;
	memcpy(newest_buffered, hdr.sequence_number, sizeof(newest_buffered));
	buffer.bytes += sizeof(hdr) + ctx->out->len;
	if (buffer.mem.len > CAPTURE_MEMORY_LIMIT)
		buffer_spill();
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
	values[0] = Int64GetDatum(hdr->stream_id);
	values[1] = CStringGetTextDatum(hdr->sequence_number);
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
	Datum		values[2];

	inserter_flush(ins);
	CommandCounterIncrement();
	if (plan == NULL)
	{
		Oid			argtypes[2] = {INT8OID, TEXTOID};

		plan = SPI_prepare("UPDATE orders_stream.streams s "
						   "SET closing_sequence_number = $2, "
						   "ending_sequence_number = COALESCE(GREATEST("
						   "(SELECT pg_catalog.max(r.sequence_number) FROM orders_stream.records r "
						   "WHERE r.stream_id OPERATOR(pg_catalog.=) $1 "
						   "AND r.sequence_number OPERATOR(pg_catalog.<) $2), "
						   "(SELECT t.trimmed_through FROM orders_stream.stream_trim t "
						   "WHERE t.stream_id OPERATOR(pg_catalog.=) $1 "
						   "AND t.trimmed_through OPERATOR(pg_catalog.<) $2)), $2) "
						   "WHERE s.stream_id OPERATOR(pg_catalog.=) $1 "
						   "AND s.closing_sequence_number IS NULL",
						   2, argtypes);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the shard close");
	}
	values[0] = Int64GetDatum(hdr->stream_id);
	values[1] = CStringGetTextDatum(hdr->sequence_number);
	if (SPI_execute_plan(plan, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not close the shard of stream %lld",
			 (long long) hdr->stream_id);
	CommandCounterIncrement();
}

static void
inserter_add(RecordInserter *ins, BufferedRecord *hdr, const char *json)
{
	TupleTableSlot *slot;
	MemoryContext old;

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
	/* columns: stream_id, sequence_number, captured_at, record, key_hash */
	slot->tts_values[0] = Int64GetDatum(hdr->stream_id);
	slot->tts_values[1] = CStringGetTextDatum(hdr->sequence_number);
	slot->tts_values[2] = TimestampTzGetDatum(ins->captured_at);
	slot->tts_values[3] = PointerGetDatum(cstring_to_text_with_len(json, hdr->len));
	slot->tts_values[4] = Int32GetDatum(hdr->key_hash);
	memset(slot->tts_isnull, false, sizeof(bool) * 5);
	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);

	if (hdr->exception != OS_RECORD_COMPLETE)
		store_exception(hdr);
	if (++ins->nslots == CAPTURE_INSERT_BATCH)
		inserter_flush(ins);
}

static void
store_buffered_records(Oid partition)
{
	RecordInserter ins;
	char	   *json = NULL;
	Size		json_cap = 0;
	char	   *p;
	char	   *end;
	int			i;

	memset(&ins, 0, sizeof(ins));
	ins.rel = table_open(partition, RowExclusiveLock);
	if (RelationGetDescr(ins.rel)->natts != 5)
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

	if (buffer.file)
	{
		BufferedRecord hdr;

		if (BufFileSeek(buffer.file, 0, 0, SEEK_SET) != 0)
			elog(ERROR, "could not rewind capture spill file");
		while (BufFileRead(buffer.file, &hdr, sizeof(hdr)) == sizeof(hdr))
		{
			if (hdr.len + 1 > json_cap)
			{
				json_cap = Max(hdr.len + 1, 2 * json_cap);
				json = json ? repalloc(json, json_cap) : palloc(json_cap);
			}
			if (BufFileRead(buffer.file, json, hdr.len) != hdr.len)
				elog(ERROR, "could not read capture spill file");
			inserter_add(&ins, &hdr, json);
		}
	}
	p = buffer.mem.data;
	end = buffer.mem.data + buffer.mem.len;
	while (p < end)
	{
		BufferedRecord hdr;

		memcpy(&hdr, p, sizeof(hdr));
		inserter_add(&ins, &hdr, p + sizeof(hdr));
		p += sizeof(hdr) + hdr.len;
	}
	inserter_flush(&ins);

	for (i = 0; i < CAPTURE_INSERT_BATCH && ins.slots[i]; i++)
		ExecDropSingleTupleTableSlot(ins.slots[i]);
	FreeBulkInsertState(ins.bistate);
	ExecCloseIndices(ins.rri);
	FreeExecutorState(ins.estate);
	table_close(ins.rel, NoLock);
	MemoryContextDelete(ins.batch_cxt);
	if (json)
		pfree(json);
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
 * Stores what the buffer holds and the new high-water SequenceNumber in one
 * transaction, then confirms the slot up to what has been decoded.
 */
static void
flush_and_confirm(LogicalDecodingContext *ctx)
{
	XLogRecPtr	decoded = ctx->reader->EndRecPtr;

	if (buffer.nrecords > 0)
	{
		char		newest[OS_SEQUENCE_NUMBER_LEN + 1];
		Oid			partition;

		memcpy(newest, newest_buffered, sizeof(newest));
		pgstat_report_activity(STATE_RUNNING, "storing stream records");
		set_logical_decoding_flag(false);
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();

		partition = retention_partition_for_now();
		store_buffered_records(partition);
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

		memcpy(last_sequence_number, newest, sizeof(newest));
		buffer_reset();
		worker_wakeup(OS_WORKER_DELIVERY);
		pgstat_report_activity(STATE_IDLE, NULL);
	}

	if (decoded != InvalidXLogRecPtr &&
		decoded > MyReplicationSlot->data.confirmed_flush)
	{
		LogicalConfirmReceivedLocation(decoded);
		ReplicationSlotMarkDirty();
	}
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
		if (buffer.bytes >= CAPTURE_FLUSH_BYTES)
			flush_and_confirm(ctx);
		CHECK_FOR_INTERRUPTS();
	}
	flush_and_confirm(ctx);
}

/* ---- slot and prerequisites ---- */

static void
load_progress(void)
{
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT sequence_number FROM orders_stream.capture_progress",
					true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read orders_stream.capture_progress");
	strlcpy(last_sequence_number,
			SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
			sizeof(last_sequence_number));
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

	CaptureContext = AllocSetContextCreate(TopMemoryContext,
										   "orders_stream capture",
										   ALLOCSET_DEFAULT_SIZES);
	CaptureLoopContext = AllocSetContextCreate(TopMemoryContext,
											   "orders_stream capture pass",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(CaptureContext);
	initStringInfo(&buffer.mem);
	last_sequence_number[0] = '\0';

	for (;;)
	{
		const char *unavailable;
		char	   *hint = NULL;
		Oid			extension;

		/*
		 * Each pass starts afresh, as pg_cron's loop does: whatever it
		 * allocates and does not need later goes in CaptureLoopContext.  The
		 * transactions of a pass leave TopMemoryContext current when they
		 * end, hence a switch back after each.
		 */
		MemoryContextSwitchTo(CaptureLoopContext);
		MemoryContextReset(CaptureLoopContext);
		CHECK_FOR_INTERRUPTS();

		extension = worker_extension_oid();
		MemoryContextSwitchTo(CaptureLoopContext);
		if (ctx != NULL && extension != ctx_extension)
		{
			/*
			 * The extension was dropped (and maybe created again): the slot's
			 * pending WAL refers to a streams catalog that is gone, and
			 * cannot be decoded any more.
			 */
			FreeDecodingContext(ctx);
			ctx = NULL;
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
