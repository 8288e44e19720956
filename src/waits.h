/*-------------------------------------------------------------------------
 * waits.h
 *	  Helpers for scripts and tests: wait for the capture slot, wait for
 *	  capture to reach "now"; and starting the workers.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_WAITS_H
#define ORDERS_STREAM_WAITS_H

/* Errors unless this is orders_stream.database. */
extern void os_check_capture_database(void);

#endif							/* ORDERS_STREAM_WAITS_H */
