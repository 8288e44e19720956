/*-------------------------------------------------------------------------
 * streams.h
 *	  Enabling and disabling streams, and what keeps a streamed table
 *	  streamed: the TRUNCATE guard and the DDL event triggers.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_STREAMS_H
#define ORDERS_STREAM_STREAMS_H

#include "postgres.h"

/*
 * The enabled stream of relid, read from orders_stream.streams with the
 * current catalog snapshot: its stream_id, and its ARN in *arn if arn is
 * not NULL; 0 if it has none.
 */
extern int64 os_enabled_stream(Oid relid, char **arn);

#endif							/* ORDERS_STREAM_STREAMS_H */
