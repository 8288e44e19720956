/*-------------------------------------------------------------------------
 * waits.h
 *	  Helpers for scripts and tests: wait for the capture slot, wait for
 *	  capture to reach "now"; and starting the workers.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_WAITS_H
#define ORDERS_STREAM_WAITS_H

#include "access/xlogdefs.h"

/* Errors unless this is orders_stream.database. */
extern void os_check_capture_database(void);

/*
 * Where capture has stored changes up to: changes committed before a WAL
 * record at or below it are in the stream.
 */
extern XLogRecPtr os_capture_confirmed(void);

#endif							/* ORDERS_STREAM_WAITS_H */
