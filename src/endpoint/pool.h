/*-------------------------------------------------------------------------
 * pool.h
 *	  A fixed pool of libpq connections lent to request threads.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_POOL_H
#define ORDERS_STREAM_POOL_H

#include "libpq-fe.h"

typedef struct PoolSlot PoolSlot;

/* A new connection: --db, application_name orders_stream_endpoint unless it sets one */
extern PGconn *ep_connect(void);

/* The pool, empty: connections open on first use.  False (logged) if it cannot be made. */
extern bool pool_init(void);

/* Closes the connections and frees the pool. */
extern void pool_close(void);

/* A free slot, waiting up to --pool-wait; NULL if none came free. */
extern PoolSlot *pool_acquire(void);
extern void pool_release(PoolSlot *slot);

/*
 * The slot's connection, connected (again, if reconnect or if it was lost);
 * NULL if the database cannot be reached now.
 */
extern PGconn *pool_connection(PoolSlot *slot, bool reconnect);

#endif							/* ORDERS_STREAM_POOL_H */
