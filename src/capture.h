/*-------------------------------------------------------------------------
 * capture.h
 *	  The capture worker: decodes WAL through the orders_stream output plugin
 *	  and appends the records to orders_stream.record_store, exactly once.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_CAPTURE_H
#define ORDERS_STREAM_CAPTURE_H

#include "postgres.h"

/* Name of the capture slot of the current database (in a transaction). */
extern char *capture_slot_name(void);
extern char *capture_slot_name_for(Oid extension);

extern PGDLLEXPORT void orders_stream_capture_main(Datum arg);

#endif							/* ORDERS_STREAM_CAPTURE_H */
