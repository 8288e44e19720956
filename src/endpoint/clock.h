/*-------------------------------------------------------------------------
 * clock.h
 *	  Deadlines and intervals of orders_stream_endpoint, on CLOCK_MONOTONIC:
 *	  the wall clock can jump (NTP, an operator), and a timeout must not.
 *	  Only SigV4's X-Amz-Date check and the log's timestamps read the wall
 *	  clock.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_CLOCK_H
#define ORDERS_STREAM_CLOCK_H

#include <pthread.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC, from an arbitrary start. */
extern int64 ep_clock_ms(void);

/* ms from now, as an absolute time for a condition made by ep_cond_init. */
extern void ep_clock_deadline(struct timespec *deadline, int64 ms);

/* A condition variable whose timed waits run on CLOCK_MONOTONIC. */
extern bool ep_cond_init(pthread_cond_t *cond);

#endif							/* ORDERS_STREAM_CLOCK_H */
