/*-------------------------------------------------------------------------
 * failover.c
 *	  What the capture worker does when its slot is gone.
 *
 * PostgreSQL 15 does not carry logical slots to standbys: a promoted
 * standby has the records and capture_progress (WAL-logged, replicated) but
 * no capture slot, and a new slot decodes only what commits after its
 * creation.  Changes committed between the position capture_progress
 * records (everything before it is stored: it is written with the records)
 * and the new slot's start were replicated but are never captured.  They
 * are not lost silently: each stream open then gets a row in
 * orders_stream.capture_exceptions, event_name 'GAP', with the LSN range
 * and the time range of the changes that may be missing.
 *
 * The gap is opened before the slot is created and closed after, each in
 * its own transaction: a crash in between leaves an open gap, which the
 * next worker closes (it finds the slot, or creates it and opens nothing
 * new).  A slot dropped by hand, a cluster restored from a backup, or one
 * made by pg_upgrade (which carries no logical slot), are the same case and
 * are recorded the same way.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "replication/slot.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "failover.h"

void
failover_open_gaps(void)
{
	uint64		opened;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();

	/*
	 * Streams not closed yet (a closed shard has all its records), from
	 * what capture_progress says is stored, or from the stream's start.
	 */
	if (SPI_execute("INSERT INTO orders_stream.capture_exceptions"
					" (stream_id, sequence_number, event_name, reason, record_size, gap_start_lsn, gap_start_time)"
					" SELECT s.stream_id, orders_stream.sequence_number(g.lsn, 0), 'GAP',"
					" 'changes may be missing: the capture slot was lost (promotion of a standby, pg_upgrade, restore, or dropped by hand)',"
					" 0, g.lsn, g.at"
					" FROM orders_stream.streams s CROSS JOIN orders_stream.capture_progress p,"
					" LATERAL (SELECT CASE WHEN s.start_lsn OPERATOR(pg_catalog.>) p.lsn THEN s.start_lsn ELSE p.lsn END AS lsn,"
					"                 CASE WHEN s.start_lsn OPERATOR(pg_catalog.>) p.lsn OR p.updated_at IS NULL"
					"                      THEN s.created_at ELSE p.updated_at END AS at) g"
					" WHERE s.ending_sequence_number IS NULL"
					" AND NOT EXISTS (SELECT FROM orders_stream.capture_exceptions x"
					"  WHERE x.stream_id OPERATOR(pg_catalog.=) s.stream_id"
					"  AND x.event_name OPERATOR(pg_catalog.=) 'GAP' AND x.gap_end_lsn IS NULL)",
					false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not open capture gaps");
	opened = SPI_processed;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (opened > 0)
		ereport(LOG,
				(errmsg("orders_stream capture slot is missing while %llu stream(s) are open: recording a capture gap",
						(unsigned long long) opened)));
}

void
failover_close_gaps(const char *slot_name)
{
	ReplicationSlot *slot = SearchNamedReplicationSlot(slot_name, true);
	XLogRecPtr	slot_start;
	Oid			type = LSNOID;
	Datum		value;
	uint64		i;

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot_start = slot->data.confirmed_flush;
	SpinLockRelease(&slot->mutex);
	value = LSNGetDatum(slot_start);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();
	if (SPI_execute_with_args("UPDATE orders_stream.capture_exceptions x"
							  " SET gap_end_lsn = $1, gap_end_time = pg_catalog.now(),"
							  " reason = pg_catalog.format('changes committed from LSN %s to %s (%s to %s) were not captured:"
							  " the capture slot was lost (promotion of a standby, pg_upgrade, restore, or dropped by hand)',"
							  " x.gap_start_lsn, $1, x.gap_start_time, pg_catalog.now())"
							  " FROM orders_stream.streams s"
							  " WHERE s.stream_id OPERATOR(pg_catalog.=) x.stream_id"
							  " AND x.event_name OPERATOR(pg_catalog.=) 'GAP' AND x.gap_end_lsn IS NULL"
							  " RETURNING s.table_name, x.gap_start_lsn::pg_catalog.text, x.gap_start_time::pg_catalog.text",
							  1, &type, &value, NULL, false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not close capture gaps");
	for (i = 0; i < SPI_processed; i++)
		ereport(WARNING,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("orders_stream did not capture the changes of table \"%s\" committed from LSN %s to %X/%X",
						SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
						SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2),
						LSN_FORMAT_ARGS(slot_start)),
				 errdetail("The capture slot was lost (PostgreSQL 15 carries logical slots neither to a promoted standby nor through pg_upgrade); changes committed since %s are missing from the stream up to that position.",
						   SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3)),
				 errhint("orders_stream.capture_exceptions has the gap (event_name GAP); compare the table with its records for that range.")));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}
