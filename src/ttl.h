/*-------------------------------------------------------------------------
 * ttl.h
 *	  Time to Live: what its API (ttl_api.c, UpdateTimeToLive and
 *	  DescribeTimeToLive) and its worker (ttl_worker.c, which deletes expired
 *	  rows) share.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_TTL_H
#define ORDERS_STREAM_TTL_H

#include "postgres.h"

#include "fmgr.h"

/* The TTL worker's main function (a kind of workers.c). */
extern PGDLLEXPORT void orders_stream_ttl_main(Datum arg);

/*
 * Whether the worker can expire rows by an attribute of type typid: a
 * timestamptz or a number of epoch seconds (integer, bigint, numeric,
 * double precision), or a domain over one.
 */
extern bool ttl_worker_can_expire(Oid typid);

#endif							/* ORDERS_STREAM_TTL_H */
