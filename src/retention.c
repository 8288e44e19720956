/*-------------------------------------------------------------------------
 * retention.c
 *	  Partitions of orders_stream.record_store, one per orders_stream.partition_interval
 *	  of capture time: created hours ahead by maintenance, and dropped whole
 *	  once older than orders_stream.retention, so trimming costs
 *	  O(partitions) whatever the number of records.
 *
 * The partition DDL itself is SQL (orders_stream_internal.ensure_partition and
 * orders_stream_internal.maintain_partitions in the install script); this file calls
 * it from the worker, between capture passes, and finds the partition a pass
 * stores into.  Storing never creates a partition: that DDL locks
 * record_store, and capture must never wait on a lock, least of all one a
 * reader's open transaction can keep it waiting on.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "housekeeping.h"
#include "retention.h"

/* The partition of the last pass, and the capture times it covers. */
static Oid	current_partition = InvalidOid;
static TimestampTz current_lower = 0;
static TimestampTz current_upper = 0;

Oid
retention_partition_for_now(void)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	bool		isnull;

	if (OidIsValid(current_partition) && now >= current_lower && now < current_upper &&
		get_rel_relkind(current_partition) == RELKIND_RELATION)
		return current_partition;

	if (SPI_execute("SELECT p.partition::pg_catalog.oid, p.lower_bound, p.upper_bound "
					"FROM orders_stream.partitions p "
					"WHERE p.lower_bound OPERATOR(pg_catalog.<=) pg_catalog.now() "
					"AND pg_catalog.now() OPERATOR(pg_catalog.<) p.upper_bound",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read orders_stream.partitions");

	/*
	 * Maintenance keeps partitions hours ahead: none covers now only after
	 * hours of warnings that it could not create them.  Creating one here
	 * would wait for every reader's transaction (and queue new readers
	 * behind it); ending the worker instead keeps the records in the slot,
	 * and the next worker maintains first thing.
	 */
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no partition of orders_stream.record_store holds capture time %s",
						timestamptz_to_str(now)),
				 errhint("Maintenance creates partitions hours ahead; see its earlier warnings. "
						 "Capture resumes from its slot once a partition exists.")));
	current_partition = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 1, &isnull));
	current_lower = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 2, &isnull));
	current_upper = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 3, &isnull));
	return current_partition;
}

static void
maintain_partitions(void *arg)
{
	int64	   *dropped = arg;
	bool		isnull;

	if (SPI_execute("SELECT orders_stream_internal.maintain_partitions()", false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not maintain stream partitions");
	*dropped = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Maintenance is housekeeping: when it fails (a partition something else
 * depends on, an event trigger refusing CREATE TABLE, a timeout...), it
 * says so and capture goes on (housekeeping.c).
 */
void
retention_maintain(void)
{
	int64		dropped = 0;

	pgstat_report_activity(STATE_RUNNING, "maintaining stream partitions");
	housekeeping_run(maintain_partitions, &dropped, "maintain stream partitions",
					 "Capture goes on; maintenance is tried again in 10 seconds.");

	/*
	 * Maintenance read and changed catalogs as of now (the partitions it
	 * created or dropped): flush those entries before decoding reads the
	 * catalogs as of older changes.  Every 10 seconds, so the cost is small.
	 */
	InvalidateSystemCaches();
	if (dropped > 0)
		ereport(LOG,
				(errmsg("orders_stream dropped %lld expired stream partition(s)",
						(long long) dropped)));
	pgstat_report_activity(STATE_IDLE, NULL);
}
