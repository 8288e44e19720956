/*-------------------------------------------------------------------------
 * retention.h
 *	  Partitions of orders_stream.record_store: created ahead, dropped behind.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_RETENTION_H
#define ORDERS_STREAM_RETENTION_H

#include "postgres.h"

/*
 * The partition that holds records captured now (the current transaction's
 * start); an ERROR if maintenance has not created it.  Inside a
 * transaction, with SPI connected.
 */
extern Oid	retention_partition_for_now(void);

/* Creates partitions ahead and drops expired ones, in its own transaction. */
extern void retention_maintain(void);

#endif							/* ORDERS_STREAM_RETENTION_H */
