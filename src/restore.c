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

#include "executor/spi.h"

#include "housekeeping.h"
#include "restore.h"

/*
 * Only rows restored before the server started: the worker also starts at
 * CREATE EXTENSION, which is where a restore begins, and must not resume a
 * restore still loading its tables (their rows would be captured as new
 * changes).
 */
static void
resume_streams(void *arg)
{
	uint64	   *resumed = arg;

	if (SPI_execute("SELECT FROM orders_stream_internal.restored"
					" WHERE restored_at OPERATOR(pg_catalog.<) pg_catalog.pg_postmaster_start_time() LIMIT 1",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read orders_stream_internal.restored");
	if (SPI_processed > 0 &&
		SPI_execute("SELECT FROM orders_stream.resume_restored_streams()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not resume the restored streams");
	*resumed = SPI_processed;
}

/*
 * A stream that cannot be resumed (its table's lock held, say) must not stop
 * capture: see housekeeping.c.
 */
void
restore_resume_streams(void)
{
	uint64		resumed = 0;

	housekeeping_run(resume_streams, &resumed, "resume the restored streams",
					 "Capture goes on; run SELECT * FROM orders_stream.resume_restored_streams(); once the cause is fixed.");
	if (resumed > 0)
		ereport(LOG,
				(errmsg("orders_stream resumed %llu restored stream(s) as new streams",
						(unsigned long long) resumed)));
}
