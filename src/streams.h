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
 * The enabled stream of relid, read from orders_stream.streams by a catalog
 * scan (no SQL, no search_path): its stream_id, its ARN in *arn and its
 * key_columns in *keys when those are not NULL; 0 if it has none.
 */
extern int64 os_enabled_stream(Oid relid, char **arn, Datum *keys);

/*
 * The table whose stream captures relid's changes: relid itself or a
 * partitioned table it is a partition of; InvalidOid if none.  A detached
 * partition keeps its TRUNCATE guard, but not its stream.
 */
extern Oid	os_streamed_root(Oid relid);

#endif							/* ORDERS_STREAM_STREAMS_H */
