/*-------------------------------------------------------------------------
 * housekeeping.h
 *	  The workers' housekeeping (capture's between passes, the delivery
 *	  launcher's at its start), which must never stop them.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_HOUSEKEEPING_H
#define ORDERS_STREAM_HOUSEKEEPING_H

#include "postgres.h"

/*
 * Runs work(arg) in a transaction of its own, with a snapshot and SPI
 * connected.  If it fails, the error is reported as a WARNING, "orders_stream
 * could not <what>: <the error>" with hint.
 */
extern void housekeeping_run(void (*work) (void *arg), void *arg,
							 const char *what, const char *hint);

#endif							/* ORDERS_STREAM_HOUSEKEEPING_H */
