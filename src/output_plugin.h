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
} OsRecordInfo;

extern const OsRecordInfo *os_current_record(LogicalDecodingContext *ctx);

/* Formats a SequenceNumber from an LSN and a 1-based position. */
extern void os_format_sequence_number(char *dst, XLogRecPtr lsn, uint32 position);

#endif							/* ORDERS_STREAM_OUTPUT_PLUGIN_H */
