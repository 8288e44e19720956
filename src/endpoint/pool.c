/*-------------------------------------------------------------------------
 * pool.c
 *	  A fixed pool of libpq connections, connected on first use and again
 *	  after the server went away (a restart, a failover), so that a client
 *	  retrying its request after a 503 finds the endpoint working again.
 *
 *	  Each connection runs as the endpoint's role with search_path pinned to
 *	  pg_catalog, pg_temp, UTF-8 as client encoding (answers are JSON,
 *	  whatever the database's encoding) and the request timeout as
 *	  statement_timeout; a request changes its role only for its own
 *	  transaction (SET LOCAL ROLE, see dispatch.c), so a connection goes back
 *	  to the pool as it came.  Only a request whose headers and body have
 *	  all arrived takes a connection (http.c), and gives it back before its
 *	  answer is sent: a slow client never holds one.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <errno.h>
#include <pthread.h>

#include "clock.h"
#include "pool.h"

struct PoolSlot
{
	PGconn	   *conn;
	bool		busy;
};

/* shared by every request thread, under pool_lock */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_freed;	/* on CLOCK_MONOTONIC: see pool_acquire */
static PoolSlot *slots;

bool
pool_init(void)
{
	if (!ep_cond_init(&pool_freed))
		return false;
	slots = pg_malloc0(sizeof(PoolSlot) * ep_config.pool_size);
	return true;
}

void
pool_close(void)
{
	pthread_mutex_lock(&pool_lock);
	for (int i = 0; i < ep_config.pool_size; i++)
		PQfinish(slots[i].conn);
	free(slots);
	slots = NULL;
	pthread_mutex_unlock(&pool_lock);
	pthread_cond_destroy(&pool_freed);
}

PoolSlot *
pool_acquire(void)
{
	struct timespec deadline;
	PoolSlot   *found = NULL;

	/* monotonic: a wall clock set back must not stretch --pool-wait */
	ep_clock_deadline(&deadline, ep_config.pool_wait_ms);
	pthread_mutex_lock(&pool_lock);
	for (;;)
	{
		/* a connected slot first, so that idle connections stay few */
		for (int i = 0; i < ep_config.pool_size && !found; i++)
			if (!slots[i].busy && slots[i].conn)
				found = &slots[i];
		for (int i = 0; i < ep_config.pool_size && !found; i++)
			if (!slots[i].busy)
				found = &slots[i];
		if (found)
		{
			found->busy = true;
			break;
		}
		if (pthread_cond_timedwait(&pool_freed, &pool_lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&pool_lock);
	return found;
}

void
pool_release(PoolSlot *slot)
{
	pthread_mutex_lock(&pool_lock);
	slot->busy = false;
	pthread_cond_signal(&pool_freed);
	pthread_mutex_unlock(&pool_lock);
}

/*
 * A server that crashed closes its sockets, and the endpoint answers 503
 * and reconnects; a host that vanished (a machine crash, a network cut)
 * closes nothing.  Without a bound, connecting to it would wait for the
 * kernel's TCP timeouts and a request, or the access keys' LISTEN
 * connection, for ever: give up connecting after 10 s, and probe an idle
 * connection after 10 s so that a dead peer is noticed within 25 s.  Set
 * before the --conninfo string, which may override them.
 */
PGconn *
ep_connect(void)
{
	const char *const keywords[] = {
		"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
		"dbname", "fallback_application_name", NULL
	};
	const char *const values[] = {
		"10", "10", "5", "3",
		ep_config.conninfo, "orders_stream_endpoint", NULL
	};

	return PQconnectdbParams(keywords, values, 1);
}

PGconn *
pool_connection(PoolSlot *slot, bool reconnect)
{
	PGresult   *res;
	char	   *setup;

	if (slot->conn && PQstatus(slot->conn) == CONNECTION_OK && !reconnect)
		return slot->conn;
	PQfinish(slot->conn);
	slot->conn = ep_connect();
	if (PQstatus(slot->conn) != CONNECTION_OK)
	{
		ep_log(EP_LOG_WARNING, "could not connect to the database: %s",
			   PQerrorMessage(slot->conn));
		PQfinish(slot->conn);
		slot->conn = NULL;
		return NULL;
	}
	setup = psprintf("SET search_path = pg_catalog, pg_temp; SET client_encoding = 'UTF8'; "
					 "SET statement_timeout = %d",
					 ep_config.statement_timeout_ms);
	res = PQexec(slot->conn, setup);
	free(setup);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		ep_log(EP_LOG_WARNING, "could not set up a database connection: %s",
			   PQerrorMessage(slot->conn));
		PQclear(res);
		PQfinish(slot->conn);
		slot->conn = NULL;
		return NULL;
	}
	PQclear(res);
	ep_log(EP_LOG_DEBUG, "database connection opened (server process %d)",
		   PQbackendPID(slot->conn));
	return slot->conn;
}
