/*-------------------------------------------------------------------------
 * capture.h
 *	  The capture worker: decodes WAL through the orders_stream output plugin
 *	  and appends the records to orders_stream.record_store, exactly once.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_CAPTURE_H
#define ORDERS_STREAM_CAPTURE_H

#include "postgres.h"

/*
 * From _PG_init: every transaction that wrote wakes the capture worker at
 * its commit.
 */
extern void capture_register_wakeups(void);

extern PGDLLEXPORT void orders_stream_capture_main(Datum arg);

#endif							/* ORDERS_STREAM_CAPTURE_H */
