/*-------------------------------------------------------------------------
 * ttl.h
 *	  Time to Live: DynamoDB's UpdateTimeToLive / DescribeTimeToLive and the
 *	  background worker that deletes expired rows.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_TTL_H
#define ORDERS_STREAM_TTL_H

#include "postgres.h"

#include "fmgr.h"

/* The TTL worker's main function (a kind of workers.c). */
extern PGDLLEXPORT void orders_stream_ttl_main(Datum arg);

#endif							/* ORDERS_STREAM_TTL_H */
