/*-------------------------------------------------------------------------
 * restore.c
 *	  What the capture worker does at the first start of a restored database.
 *
 * pg_dump keeps the configuration and leaves the records out; a restore
 * holds the rows of streams and event_source_mappings aside, since their
 * OIDs are the dumped database's (95_backup.sql).  The first start of the
 * server after the restore makes them live again: a new stream per stream
 * that was enabled, its mappings pointed at it.  The SQL function does the work, so
 * that an administrator who restored into a running server calls the same.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "restore.h"

void
restore_resume_streams(void)
{
	MemoryContext cxt;
	ResourceOwner owner;
	volatile uint64 resumed = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());

	/*
	 * A stream that cannot be resumed (its table's lock held, say) must not
	 * stop capture: an ERROR would end the worker, and each new one would
	 * fail the same way.  Hence a subtransaction, as in retention.c.
	 */
	cxt = CurrentMemoryContext;
	owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		SPI_connect();
		/*
		 * Only rows restored before the server started: the worker also
		 * starts at CREATE EXTENSION, which is where a restore begins, and
		 * must not resume a restore still loading its tables (their rows
		 * would be captured as new changes).
		 */
		if (SPI_execute("SELECT FROM orders_stream_internal.restored"
						" WHERE restored_at OPERATOR(pg_catalog.<) pg_catalog.pg_postmaster_start_time() LIMIT 1",
						true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read orders_stream_internal.restored");
		if (SPI_processed > 0 &&
			SPI_execute("SELECT FROM orders_stream.resume_restored_streams()", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not resume the restored streams");
		resumed = SPI_processed;
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("orders_stream could not resume the restored streams: %s", edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 errhint("Capture goes on; run SELECT * FROM orders_stream.resume_restored_streams(); once the cause is fixed.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (resumed > 0)
		ereport(LOG,
				(errmsg("orders_stream resumed %llu restored stream(s) as new streams",
						(unsigned long long) resumed)));
}
