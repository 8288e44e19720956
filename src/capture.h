/*-------------------------------------------------------------------------
 * capture.h
 *	  The capture worker: decodes WAL through the orders_stream output plugin
 *	  and appends the records to orders_stream.records, exactly once.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_CAPTURE_H
#define ORDERS_STREAM_CAPTURE_H

#include "postgres.h"

/* Installs the shared-memory hooks; from _PG_init. */
extern void capture_install_shmem_hooks(void);

/* Registers the static worker started with the server. */
extern void capture_register_static_worker(void);

/* Starts a capture worker now unless one runs; true if one runs or starts. */
extern bool capture_launch(void);

/* Wakes the capture worker, if one runs. */
extern void capture_wakeup(void);

/* Wakes the capture worker at the commit of every writing transaction. */
extern void capture_register_commit_wakeup(void);

/* Name of the capture slot of the current database. */
extern char *capture_slot_name(void);

extern PGDLLEXPORT void orders_stream_capture_main(Datum arg);

#endif							/* ORDERS_STREAM_CAPTURE_H */
