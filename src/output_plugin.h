/*-------------------------------------------------------------------------
 * output_plugin.h
 *	  The "orders_stream" logical decoding output plugin.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_OUTPUT_PLUGIN_H
#define ORDERS_STREAM_OUTPUT_PLUGIN_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "replication/logical.h"

#include "record_store.h"

/* Why a record was stored incomplete (a capture_exceptions row). */
typedef enum OsRecordException
{
	OS_RECORD_COMPLETE = 0,
	OS_RECORD_IMAGES_DROPPED,	/* over max_record_size: Keys only */
	OS_RECORD_KEYS_DROPPED		/* even its Keys were over it: no Keys */
} OsRecordException;

/*
 * What the plugin knows of the record it is writing, beyond its JSON: an
 * in-process consumer (the capture worker) reads it from its write callback
 * through output_plugin_current_record().
 */
typedef struct OsRecordInfo
{
	int64		stream_id;
	/*
	 * In a streamed transaction (xid, the top-level one; subxid, the one the
	 * change belongs to) the commit is not known yet: sequence_number,
	 * commit_time, commit_lsn and position are not valid, except in COMMIT.
	 */
	bool		streamed;
	TransactionId xid;
	TransactionId subxid;
	char		sequence_number[OS_SEQUENCE_NUMBER_LEN + 1];
	TimestampTz commit_time;
	XLogRecPtr	commit_lsn;
	uint32		position;		/* in the transaction, from 1 */
	const char *event_name;
	int64		size_bytes;		/* SizeBytes */
	int32		key_hash;		/* hash_bytes() of the Keys object's JSON */
	bool		ttl_delete;		/* a REMOVE by the TTL worker: userIdentity */
	OsRecordException exception;
	Size		full_size;		/* with an exception: the full record's
								 * length in bytes is at least this */
} OsRecordInfo;

/*
 * The event_name of a CLOSE event: not a record, but the end of the shard of
 * stream_id at sequence_number (the commit of the disabling transaction).
 */
#define OS_CLOSE_EVENT "CLOSE"

/* Events of a streamed transaction: subxid aborted, or xid committed. */
#define OS_STREAM_ABORT_EVENT "ABORT"
#define OS_STREAM_COMMIT_EVENT "COMMIT"

/*
 * The plugin's options (booleans, off by default); the capture worker sets
 * both.  close-events: CLOSE events.  stored-bodies: each record's stored
 * body (record_store.c), without its ApproximateCreationDateTime, rather
 * than the whole record, and large transactions streamed.
 */
#define OUTPUT_PLUGIN_CLOSE_EVENTS	"close-events"
#define OUTPUT_PLUGIN_STORED_BODIES	"stored-bodies"

extern const OsRecordInfo *output_plugin_current_record(LogicalDecodingContext *ctx);

/* The capture_exceptions.reason of an exception. */
extern const char *output_plugin_exception_reason(OsRecordException exception);

#endif							/* ORDERS_STREAM_OUTPUT_PLUGIN_H */
