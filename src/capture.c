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
 * metadata straight from the plugin.)  The write callback only buffers (see
 * capture_buffer.c): it runs inside the replay of a transaction, under a
 * historic snapshot, where no table may be written.  After the replay
 * returns, the buffered records and the worker's high-water SequenceNumber
 * are written in ONE transaction, and the slot is confirmed only once that
 * commit is flushed.  A restart re-decodes from the slot's confirmed
 * position and drops every record whose SequenceNumber is at or below the
 * stored one, so a crash at any instant neither loses nor duplicates a
 * record.
 *
 * Past orders_stream.decoding_work_mem the reorder buffer streams the
 * largest transaction to the worker as it is decoded, rather than spilling
 * it; the buffers spill to temporary files, so a huge transaction costs
 * disk, not memory.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/slot.h"
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
#include "capture_buffer.h"
#include "capture_slot.h"
#include "compat.h"
#include "failover.h"
#include "metrics.h"
#include "orders_stream.h"
#include "output_plugin.h"
#include "restore.h"
#include "retention.h"
#include "workers.h"

/* Records buffered before a pass stores them, even if WAL remains. */
#define CAPTURE_FLUSH_BYTES		(64 * 1024 * 1024)
/*
 * Shortest time between two passes.  Every pass that stores records is a
 * transaction with its own WAL flush; under a stream of small commits, a
 * pass per commit would cost more than the commits.  Gathering for a few
 * milliseconds stores them together and keeps commit-to-record latency
 * well under the 10 ms median target.
 */
#define CAPTURE_GATHER_MS		5
/* At most this often, memory freed after a burst goes back to the system. */
#define CAPTURE_TRIM_MS			5000
/* How long the worker waits for the rest of a record cut by the flush. */
#define CAPTURE_PARTIAL_RECORD_MS	10
/* Longest time between two checks that the extension is still there. */
#define EXTENSION_CHECK_MS		1000

/*
 * Worker state: these live for the worker's life, their allocations in
 * CaptureContext; everything else a pass allocates goes in
 * CaptureLoopContext, reset every pass, so the worker's memory stays flat.
 */
static MemoryContext CaptureContext = NULL;
static MemoryContext CaptureLoopContext = NULL;
static char *database_name = NULL;
/*
 * Set when a schema may have been created or dropped (DROP EXTENSION drops
 * the extension's): the extension is looked up again.  Looking it up on every
 * pass took a tenth of the worker's time under a stream of small commits.
 */
static bool namespaces_changed = true;

/*
 * Wakes the capture worker after every transaction that wrote: the commit
 * record is flushed by then (with synchronous_commit), so the worker reads
 * it at once instead of at its next nap.
 */
static bool commit_wrote = false;

static void
capture_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			commit_wrote = TransactionIdIsValid(GetTopTransactionIdIfAny());
			break;
		case XACT_EVENT_COMMIT:
			if (commit_wrote)
				worker_nudge(OS_WORKER_CAPTURE);
			commit_wrote = false;
			break;
		default:
			commit_wrote = false;
			break;
	}
}

void
capture_register_wakeups(void)
{
	RegisterXactCallback(capture_xact_callback, NULL);
}

/* Drops this database's capture slots of other incarnations of the extension. */
static void
drop_stale_slots(Oid extension)
{
	char	   *prefix = capture_slot_prefix();
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
 * WAL is read only up to where it is flushed, by a page reader that never
 * sleeps: read_local_xlog_page() sleeps in pg_usleep() until the WAL it
 * needs is flushed, and with the postmaster dead that WAL never is, so the
 * worker never noticed the death and kept the dead server's shared memory
 * attached: the server could not start again.  At the end of flushed WAL,
 * XLogReadRecord() returns NULL with no error and wal_end.end_of_wal set;
 * the reader keeps its position (a failed read leaves NextRecPtr alone) and
 * the worker waits on its latch, which exits on the postmaster's death.
 *
 * read_local_xlog_page_no_wait() reports through the reader's private_data,
 * which logical decoding sets to the decoding context but never reads.
 */
static ReadLocalXLogPageNoWaitPrivate wal_end;

/* The WAL routines of a decoding context, whose pages read_page reads. */
#define CAPTURE_WAL_ROUTINE(read_page) \
	XL_ROUTINE(.page_read = (read_page), \
			   .segment_open = wal_segment_open, \
			   .segment_close = wal_segment_close)

static void
use_flushed_wal_reader(LogicalDecodingContext *ctx)
{
	ctx->reader->private_data = &wal_end;
}

/*
 * Creating the slot must read up to a consistent point, which may not be
 * flushed yet: the waiting page reader of slot creation, on the latch.
 */
static int
read_flushed_page_waiting(XLogReaderState *state, XLogRecPtr targetPagePtr,
						  int reqLen, XLogRecPtr targetRecPtr, char *cur_page)
{
	for (;;)
	{
		int			count;

		wal_end.end_of_wal = false;
		count = read_local_xlog_page_no_wait(state, targetPagePtr, reqLen,
											 targetRecPtr, cur_page);
		if (!wal_end.end_of_wal)
			return count;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CAPTURE_PARTIAL_RECORD_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
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
 * The high-water SequenceNumber and the decoded position, in the transaction
 * that stores the records up to them.
 */
static void
save_progress(const char *newest, XLogRecPtr decoded)
{
	static SPIPlanPtr plan = NULL;
	const char *query = "UPDATE orders_stream.capture_progress "
		"SET sequence_number = $1, lsn = $2, updated_at = now()";
	Oid			argtypes[2] = {TEXTOID, LSNOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(newest);
	values[1] = LSNGetDatum(decoded);
	if (SPI_execute_plan(capture_buffer_kept_plan(&plan, query, 2, argtypes),
						 values, NULL, false, 0) != SPI_OK_UPDATE ||
		SPI_processed != 1)
		elog(ERROR, "could not update orders_stream.capture_progress");
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

	if (capture_buffer_has_records())
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
		stored = capture_buffer_store(partition, &newest_lsn, &newest_position);
		record_format_sequence_number(newest, newest_lsn, newest_position);
		if (stored)
			save_progress(newest, decoded);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		metrics_capture_flush();
		MemoryContextSwitchTo(CaptureLoopContext);
		set_logical_decoding_flag(true);

		capture_buffer_reset();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (stored)
		{
			capture_buffer_set_stored(newest_lsn, newest_position);
			capture_slot_note_stored();

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

/*
 * Decodes everything flushed so far, storing as it goes.  Returns false if
 * it stopped short, in the middle of a record whose end is not flushed yet.
 */
static bool
decode_pass(LogicalDecodingContext *ctx)
{
	XLogRecPtr	end = GetFlushRecPtr(NULL);
	bool		complete = true;

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
		wal_end.end_of_wal = false;
		record = XLogReadRecord(ctx->reader, &errm);
		if (record != NULL)
			LogicalDecodingProcessRecord(ctx, ctx->reader);
		MemoryContextSwitchTo(CaptureLoopContext);
		if (errm)
			elog(ERROR, "could not read WAL for capture: %s", errm);
		if (record == NULL)
		{
			/*
			 * A record that begins before the flushed end and ends after
			 * it: the reader keeps its position and reads it again, whole,
			 * in a later pass.
			 */
			if (!wal_end.end_of_wal)
				elog(ERROR, "could not read WAL for capture at %X/%X",
					 LSN_FORMAT_ARGS(ctx->reader->EndRecPtr));
			complete = false;
			break;
		}
		if (capture_buffer_bytes() >= CAPTURE_FLUSH_BYTES)
			flush_and_confirm(ctx);
		CHECK_FOR_INTERRUPTS();
	}
	flush_and_confirm(ctx);
	return complete;
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
	XLogRecPtr	lsn;
	uint32		position;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute("SELECT sequence_number FROM orders_stream.capture_progress",
					true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read orders_stream.capture_progress");
	parse_sequence_number(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						  &lsn, &position);
	capture_buffer_set_stored(lsn, position);
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
									CAPTURE_WAL_ROUTINE(read_flushed_page_waiting),
									NULL, NULL, NULL);
	use_flushed_wal_reader(ctx);
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
	List	   *options;

	/* the decoding context lives as long as the worker, in CaptureContext */
	MemoryContextSwitchTo(CaptureContext);
	options = list_make2(makeDefElem(OUTPUT_PLUGIN_CLOSE_EVENTS,
									 (Node *) makeString(pstrdup("on")), -1),
						 makeDefElem(OUTPUT_PLUGIN_STORED_BODIES,
									 (Node *) makeString(pstrdup("on")), -1));
	ReplicationSlotAcquire(name, true);
	ctx = CreateDecodingContext(InvalidXLogRecPtr, options, false,
								CAPTURE_WAL_ROUTINE(read_local_xlog_page_no_wait),
								capture_buffer_prepare_write, capture_buffer_write, NULL);
	use_flushed_wal_reader(ctx);
	XLogBeginRead(ctx->reader, MyReplicationSlot->data.restart_lsn);
	MemoryContextSwitchTo(CaptureLoopContext);
	load_progress();
	ereport(LOG,
			(errmsg("orders_stream capture started on slot \"%s\" in database \"%s\"",
					name, database_name)));
	return ctx;
}

/* ---- the worker's steps ---- */

/* What the worker's loop keeps between passes. */
typedef struct CaptureLoop
{
	LogicalDecodingContext *ctx;	/* NULL until the slot is open */
	Oid			ctx_extension;	/* the extension ctx decodes for */
	Oid			extension;		/* the extension now, or InvalidOid */
	bool		version_ok;		/* installed at the library's version */
	const char *unavailable_logged; /* why decoding cannot run, as logged */
	TimestampTz started;
	TimestampTz last_maintenance;
	TimestampTz last_extension_check;
} CaptureLoop;

/* Settings, memory contexts and callbacks, for the worker's life. */
static void
capture_setup(Datum arg)
{
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
	 * Anything done with them (a delivery's checkpoint) commits after them
	 * in WAL, which is flushed in order: it never survives a crash they do
	 * not survive.  This takes a WAL flush per
	 * pass off the worker, and off the latency of every record.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_OVERRIDE);
	worker_keep_heap();

	CaptureContext = AllocSetContextCreate(TopMemoryContext,
										   "orders_stream capture",
										   ALLOCSET_DEFAULT_SIZES);
	CaptureLoopContext = AllocSetContextCreate(TopMemoryContext,
											   "orders_stream capture pass",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(CaptureContext);
	capture_buffer_init(CaptureContext);
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_invalidated, (Datum) 0);
}

/*
 * Looks the extension up again when it may have changed, and lets go of a
 * slot that belongs to an extension dropped since.
 */
static void
check_extension(CaptureLoop *loop)
{
	/*
	 * Invalidations arrive with every transaction the worker runs (to store,
	 * to replay a decoded transaction), a DROP EXTENSION's among them; the
	 * timer is a safety net, and what notices an ALTER EXTENSION ... UPDATE
	 * (no cache of pg_extension is invalidated).
	 */
	if (namespaces_changed || !OidIsValid(loop->extension) ||
		TimestampDifferenceExceeds(loop->last_extension_check, GetCurrentTimestamp(),
								   EXTENSION_CHECK_MS))
	{
		namespaces_changed = false;
		loop->extension = worker_extension_oid(&loop->version_ok);
		MemoryContextSwitchTo(CaptureLoopContext);
		loop->last_extension_check = GetCurrentTimestamp();
	}
	if (loop->ctx != NULL &&
		(loop->extension != loop->ctx_extension || !loop->version_ok))
	{
		/*
		 * The extension was dropped (and maybe created again): the slot's
		 * pending WAL refers to a streams catalog that is gone, and cannot
		 * be decoded any more.  Or it was updated to a version other than
		 * the library's: decoding stops at the last stored record, and
		 * starts again from the slot, as after a restart, once the versions
		 * agree.
		 */
		FreeDecodingContext(loop->ctx);
		loop->ctx = NULL;
		capture_buffer_forget_streamed();
		ReplicationSlotRelease();
	}
	drop_stale_slots(loop->extension);
}

/* No extension: waits a little for CREATE EXTENSION to commit, or exits. */
static void
wait_for_extension(CaptureLoop *loop)
{
	/* just launched by CREATE EXTENSION: it may not have committed yet */
	if (!TimestampDifferenceExceeds(loop->started, GetCurrentTimestamp(),
									WORKER_EXTENSION_WAIT_MS))
	{
		worker_wait(100);
		return;
	}
	ereport(LOG,
			(errmsg("orders_stream capture stopping: extension \"orders_stream\" is not installed in database \"%s\"",
					database_name)));
	proc_exit(0);
}

/*
 * Whether decoding can run; if not, says why (once per reason) and sleeps
 * before the caller tries again.
 */
static bool
decoding_available(CaptureLoop *loop)
{
	char	   *hint = NULL;
	const char *unavailable = decoding_unavailable(&hint);

	if (unavailable == NULL)
	{
		loop->unavailable_logged = NULL;
		return true;
	}
	if (loop->unavailable_logged == NULL ||
		strcmp(unavailable, loop->unavailable_logged) != 0)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("orders_stream capture cannot start: %s", unavailable),
				 errhint("%s", hint)));
	loop->unavailable_logged = unavailable;
	worker_wait(10000);
	return false;
}

/* Creates the slot if it is missing; returns its name. */
static char *
ensure_slot(CaptureLoop *loop)
{
	char	   *slot_name = capture_slot_name_for(loop->extension);

	if (!slot_exists(slot_name))
	{
		/* failover: a lost slot is a visible gap (failover.c) */
		failover_open_gaps();
		create_slot(slot_name);
		MemoryContextSwitchTo(CaptureLoopContext);
	}
	return slot_name;
}

/*
 * The extension is installed at another version than the library's: no
 * decoding until an ALTER EXTENSION makes them agree.  The slot exists
 * meanwhile (created now if it is missing: a database created at the old
 * version under the new library), so that it keeps the WAL of every change
 * committed while the worker waits, and they are captured then.  Opening a
 * capture gap for a missing slot is the one SQL run before the versions
 * agree: without it, a lost slot's gap would go unrecorded.
 */
static void
wait_for_version(CaptureLoop *loop)
{
	(void) ensure_slot(loop);
	pgstat_report_activity(STATE_IDLE, "waiting for ALTER EXTENSION orders_stream UPDATE");
	worker_wait(WORKER_VERSION_WAIT_MS);
}

/* Creates the slot if it is missing, then starts decoding from it. */
static void
open_slot(CaptureLoop *loop)
{
	char	   *slot_name = ensure_slot(loop);

	/* failover: closes that gap, or one a crash left open */
	failover_close_gaps(slot_name);
	MemoryContextSwitchTo(CaptureLoopContext);
	/* a restored database's first start: its streams come back new */
	restore_resume_streams();
	MemoryContextSwitchTo(CaptureLoopContext);
	loop->ctx = start_decoding(slot_name);
	loop->ctx_extension = loop->extension;
}

/* Partitions ahead and behind, every ten seconds. */
static void
maintain_partitions(CaptureLoop *loop)
{
	if (!TimestampDifferenceExceeds(loop->last_maintenance, GetCurrentTimestamp(), 10000))
		return;
	set_logical_decoding_flag(false);
	retention_maintain();
	MemoryContextSwitchTo(CaptureLoopContext);
	set_logical_decoding_flag(true);
	loop->last_maintenance = GetCurrentTimestamp();
}

/* Decodes and stores what is flushed, then sleeps until woken. */
/*
 * A burst of changes (a backlog after a stall, a large transaction) raises
 * the heap's high-water mark, and glibc keeps what was freed below it:
 * once the worker has caught up, the memory is given back, so that the
 * worker's size shows what it holds, not the largest burst it ever saw.
 */
static void
release_freed_memory(void)
{
#ifdef __GLIBC__
	static TimestampTz last_trim = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (TimestampDifferenceExceeds(last_trim, now, CAPTURE_TRIM_MS))
	{
		malloc_trim(0);
		last_trim = now;
	}
#endif
}

static void
decode_and_sleep(LogicalDecodingContext *ctx)
{
	bool		complete;
	TimestampTz last_pass;
	long		secs;
	int			usecs;

	pgstat_report_activity(STATE_RUNNING, "decoding");
	complete = decode_pass(ctx);
	pgstat_report_activity(STATE_IDLE, NULL);
	last_pass = GetCurrentTimestamp();
	flush_before_sleep(ctx);
	if (complete)
		release_freed_memory();
	/* no commit need wake the worker for the rest of a cut record */
	worker_wait(complete ? orders_stream_capture_naptime : CAPTURE_PARTIAL_RECORD_MS);

	/* woken at once by a commit: let the next few gather first */
	TimestampDifference(last_pass, GetCurrentTimestamp(), &secs, &usecs);
	if (secs == 0 && usecs < CAPTURE_GATHER_MS * 1000)
		(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 CAPTURE_GATHER_MS - usecs / 1000, PG_WAIT_EXTENSION);
}

void
orders_stream_capture_main(Datum arg)
{
	CaptureLoop loop = {0};

	loop.started = GetCurrentTimestamp();
	capture_setup(arg);
	for (;;)
	{
		/*
		 * Each pass starts afresh, as pg_cron's loop does: whatever it
		 * allocates and does not need later goes in CaptureLoopContext.  The
		 * transactions of a pass leave TopMemoryContext current when they
		 * end, hence a switch back after each.
		 */
		MemoryContextSwitchTo(CaptureLoopContext);
		MemoryContextReset(CaptureLoopContext);
		CHECK_FOR_INTERRUPTS();

		check_extension(&loop);
		if (!OidIsValid(loop.extension))
		{
			wait_for_extension(&loop);
			continue;
		}
		if (!decoding_available(&loop))
			continue;
		if (!loop.version_ok)
		{
			wait_for_version(&loop);
			continue;
		}
		if (loop.ctx == NULL)
			open_slot(&loop);
		maintain_partitions(&loop);
		decode_and_sleep(loop.ctx);
	}
}
