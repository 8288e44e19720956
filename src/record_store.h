/*-------------------------------------------------------------------------
 * record_store.h
 *	  The stored form of a stream record, and the DynamoDB record it stands
 *	  for.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_RECORD_STORE_H
#define ORDERS_STREAM_RECORD_STORE_H

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

/* 20 digits of commit LSN and 10 of position in the transaction */
#define OS_SEQUENCE_NUMBER_LEN 30
/* Past every SequenceNumber a record has: an upper bound for key scans */
#define OS_LAST_SEQUENCE_NUMBER "999999999999999999999999999999"

/* Bytes of a sequence key: the LSN and the position, big-endian. */
#define OS_SEQUENCE_KEY_LEN 12

/*
 * What a stored record lacks of its DynamoDB record: the constants of its
 * stream.  The output plugin keeps one per streamed relation; a reader builds
 * one per stream.
 */
typedef struct OsStreamEnvelope
{
	const char *arn;
	const char *view_type;
	char	   *arn_json;		/* the ARN as a JSON string */
	char	   *view_type_json; /* StreamViewType as a JSON string */
	char	   *region_json;	/* awsRegion (the ARN's) as a JSON string */
} OsStreamEnvelope;

/* Fills the JSON members of an envelope from arn and view_type. */
extern void record_envelope_init(OsStreamEnvelope *env, const char *arn,
							 const char *view_type);

/* Bytes of a record before its body (a record's eventName has 6 letters). */
extern Size record_envelope_prefix_len(const OsStreamEnvelope *env);

/* Appends "ApproximateCreationDateTime":<seconds>, to a body. */
extern void record_append_creation_time(StringInfo out, TimestampTz commit_time);

/* The length of what record_append_creation_time appends. */
extern Size record_creation_time_len(TimestampTz commit_time);

/* Formats a SequenceNumber from an LSN and a 1-based position. */
extern void record_format_sequence_number(char *dst, XLogRecPtr lsn, uint32 position);

/* The sequence key of an LSN and a position: sorts as the SequenceNumber. */
extern void record_sequence_key(char *dst, XLogRecPtr lsn, uint32 position);

/*
 * Appends the DynamoDB record of a stored body (see output_plugin.c for what
 * a body holds) to out.
 */
extern void record_append(StringInfo out, const OsStreamEnvelope *env,
							 const char *sequence_number, const char *event_name,
							 const char *body, int body_len, int64 size_bytes,
							 bool ttl_delete);

#endif							/* ORDERS_STREAM_RECORD_STORE_H */
