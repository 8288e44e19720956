/*-------------------------------------------------------------------------
 * capture_buffer.h
 *	  The capture worker's record buffers, and storing them.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_CAPTURE_BUFFER_H
#define ORDERS_STREAM_CAPTURE_BUFFER_H

#include "access/xlogdefs.h"
#include "executor/spi.h"
#include "replication/logical.h"

/* Buffers live in cxt, for the worker's life. */
extern void capture_buffer_init(MemoryContext cxt);

/* The decoding context's prepare_write and write callbacks. */
extern void capture_buffer_prepare_write(LogicalDecodingContext *ctx,
										 XLogRecPtr lsn, TransactionId xid,
										 bool last_write);
extern void capture_buffer_write(LogicalDecodingContext *ctx, XLogRecPtr lsn,
								 TransactionId xid, bool last_write);

/* True if committed records wait to be stored; and their bytes. */
extern bool capture_buffer_has_records(void);
extern Size capture_buffer_bytes(void);

/*
 * Stores every committed record into a partition of
 * orders_stream.record_store, in the caller's transaction; returns false if
 * none was to be stored (all of aborted subtransactions, or stored by a
 * previous run), else sets the newest one's position.
 */
extern bool capture_buffer_store(Oid partition, XLogRecPtr *newest_lsn,
								 uint32 *newest_position);

/* Forgets the stored records, once their transaction committed. */
extern void capture_buffer_reset(void);

/* Forgets the streamed transactions in progress (decoding starts again). */
extern void capture_buffer_forget_streamed(void);

/* Records at or before this position are stored: they are skipped. */
extern void capture_buffer_set_stored(XLogRecPtr lsn, uint32 position);

/*
 * The plan of one of the worker's queries: prepared at the first call, then
 * kept in *plan for the worker's life.
 */
extern SPIPlanPtr capture_buffer_kept_plan(SPIPlanPtr *plan, const char *sql,
										   int nargs, Oid *argtypes);

#endif							/* ORDERS_STREAM_CAPTURE_BUFFER_H */
