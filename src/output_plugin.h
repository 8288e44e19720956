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

/* 20 digits of commit LSN and 10 of position in the transaction */
#define OS_SEQUENCE_NUMBER_LEN 30

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
 * through os_current_record().
 */
typedef struct OsRecordInfo
{
	int64		stream_id;
	char		sequence_number[OS_SEQUENCE_NUMBER_LEN + 1];
	TimestampTz commit_time;
	XLogRecPtr	commit_lsn;
	const char *event_name;
	int32		key_hash;		/* hash_bytes() of the Keys JSON as rendered */
	OsRecordException exception;
	Size		full_size;		/* with an exception: the full record's
								 * length in bytes is at least this */
} OsRecordInfo;

/*
 * The event_name of a CLOSE event: not a record, but the end of the shard of
 * stream_id at sequence_number (the commit of the disabling transaction).
 */
#define OS_CLOSE_EVENT "CLOSE"

/* Asks the plugin for CLOSE events; the capture worker does. */
extern void os_emit_stream_closes(LogicalDecodingContext *ctx);

extern const OsRecordInfo *os_current_record(LogicalDecodingContext *ctx);

/* The capture_exceptions.reason of an exception. */
extern const char *os_record_exception_reason(OsRecordException exception);

/* Formats a SequenceNumber from an LSN and a 1-based position. */
extern void os_format_sequence_number(char *dst, XLogRecPtr lsn, uint32 position);

#endif							/* ORDERS_STREAM_OUTPUT_PLUGIN_H */
