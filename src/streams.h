/*-------------------------------------------------------------------------
 * streams.h
 *	  Enabling and disabling streams, and what a streamed table needs:
 *	  REPLICA IDENTITY FULL and the TRUNCATE guard (ddl_guard.c keeps them
 *	  on new partitions).
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_STREAMS_H
#define ORDERS_STREAM_STREAMS_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
#include "utils/array.h"
#include "utils/relcache.h"

/*
 * The enabled stream of relid, read from orders_stream.streams by a catalog
 * scan (no SQL, no search_path): its stream_id, its ARN in *arn and its
 * key_columns in *keys when those are not NULL; 0 if it has none.
 */
extern int64 streams_enabled_stream(Oid relid, char **arn, Datum *keys);

/*
 * The table whose stream captures relid's changes: relid itself or a
 * partitioned table it is a partition of; InvalidOid if none.  A detached
 * partition keeps its TRUNCATE guard, but not its stream.
 */
extern Oid	streams_streamed_root(Oid relid);

/*
 * The primary key columns of rel in key order, as a name[] (a stream's
 * key_columns); NULL if rel has no primary key.
 */
extern ArrayType *streams_primary_key(Relation rel);

/*
 * REPLICA IDENTITY FULL and the TRUNCATE guard on root and every partition
 * under it (locked in lockmode), where missing, as the current user; SPI
 * connected by the caller.  Returns those tables, root first.
 */
extern List *streams_prepare_tree(Oid root, LOCKMODE lockmode);

/*
 * Marks relid's enabled stream, if any, disabled now, as the extension's
 * owner; SPI connected by the caller.
 */
extern void streams_mark_disabled(Oid relid);

#endif							/* ORDERS_STREAM_STREAMS_H */
