/*-------------------------------------------------------------------------
 * keys.c
 *	  The access keys, loaded from orders_stream_internal.endpoint_access_keys()
 *	  by a thread with a database connection of its own, kept current by
 *	  LISTEN orders_stream_access_keys (create_access_key and
 *	  revoke_access_key notify; not on a hot standby) and a periodic reload.
 *
 *	  Requests look their key up here, never in the database: a request with
 *	  an unknown key or a bad signature is refused before any SQL runs.
 *
 *	  A database that cannot be reached is retried every second (logged): it
 *	  comes back by itself.  A role with rights of its own does not: the
 *	  loader then stops and says so on keys_failure_fd(), and main() shuts
 *	  the endpoint down in order, exit status 1.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "libpq-fe.h"

#include "clock.h"
#include "keys.h"
#include "pool.h"

/* how long the loader waits before it connects again */
#define RETRY_MS 1000

typedef struct AccessKey
{
	char	   *id;
	char	   *secret;
	char	   *role;
} AccessKey;

/* the cache: shared by the loader thread (writer) and the request threads */
static pthread_rwlock_t keys_lock = PTHREAD_RWLOCK_INITIALIZER;
static AccessKey *keys;
static int	nkeys;

static pthread_t loader;
static atomic_bool stopping;
static atomic_bool reload_requested;

/* eventfds: a stop or a reload for the loader; the loader's failure for main */
static int	wake_fd = -1;
static int	failed_fd = -1;

static void
free_keys(AccessKey *k, int n)
{
	for (int i = 0; i < n; i++)
	{
		explicit_bzero(k[i].secret, strlen(k[i].secret));
		free(k[i].id);
		free(k[i].secret);
		free(k[i].role);
	}
	free(k);
}

static int
compare_keys(const void *a, const void *b)
{
	return strcmp(((const AccessKey *) a)->id, ((const AccessKey *) b)->id);
}

/*
 * The endpoint's role must have no rights of its own: it is a member of
 * every role it serves, which NOINHERIT keeps from lending it their
 * privileges, and NOCREATEROLE keeps from granting itself any other role.
 * Anything else is a configuration to fix, not to run with:
 * false, logged.
 */
static bool
check_role(PGconn *conn)
{
	PGresult   *res = PQexec(conn,
							 "SELECT r.rolname, r.rolsuper OR r.rolinherit OR r.rolbypassrls OR r.rolcreaterole "
							 "FROM pg_catalog.pg_roles r "
							 "WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER");

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		strcmp(PQgetvalue(res, 0, 1), "t") == 0)
	{
		ep_log(EP_LOG_ERROR, "role \"%s\" has rights of its own: the endpoint runs only as a NOINHERIT, NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE role "
			   "(hint: connect as orders_stream_endpoint, which CREATE EXTENSION orders_stream creates)",
			   PQgetvalue(res, 0, 0));
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

static void
close_fds(void)
{
	if (wake_fd >= 0)
		close(wake_fd);
	if (failed_fd >= 0)
		close(failed_fd);
	wake_fd = failed_fd = -1;
}

static bool
load(PGconn *conn)
{
	PGresult   *res = PQexec(conn,
							 "SELECT k.access_key_id, k.secret_access_key, k.role_name "
							 "FROM orders_stream_internal.endpoint_access_keys() k");
	AccessKey  *fresh;
	AccessKey  *old;
	int			n,
				nold;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		ep_log(EP_LOG_ERROR, "could not load the access keys: %s", PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	n = PQntuples(res);
	fresh = pg_malloc0(sizeof(AccessKey) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		fresh[i].id = pg_strdup(PQgetvalue(res, i, 0));
		fresh[i].secret = pg_strdup(PQgetvalue(res, i, 1));
		fresh[i].role = pg_strdup(PQgetvalue(res, i, 2));
		explicit_bzero(PQgetvalue(res, i, 1), strlen(PQgetvalue(res, i, 1)));
	}
	PQclear(res);
	qsort(fresh, n, sizeof(AccessKey), compare_keys);

	pthread_rwlock_wrlock(&keys_lock);
	old = keys;
	nold = nkeys;
	keys = fresh;
	nkeys = n;
	pthread_rwlock_unlock(&keys_lock);
	if (old)
		free_keys(old, nold);
	ep_log(n != nold ? EP_LOG_INFO : EP_LOG_DEBUG, "access keys loaded: %d", n);
	return true;
}

/* A connection that listens, keys loaded; NULL to retry, or *fatal not to. */
static PGconn *
connect_listen(bool *fatal)
{
	PGconn	   *conn = ep_connect();
	PGresult   *res;

	*fatal = false;
	if (PQstatus(conn) != CONNECTION_OK)
	{
		ep_log(EP_LOG_WARNING, "access keys: could not connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	if (!check_role(conn))
	{
		*fatal = true;
		PQfinish(conn);
		return NULL;
	}
	/* a hot standby cannot LISTEN (nor would it hear the primary's NOTIFY) */
	res = PQexec(conn, "SELECT pg_catalog.pg_is_in_recovery()");
	if (PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		ep_log(EP_LOG_INFO, "access keys: the server is a standby, keys are reloaded every %d s",
			   ep_config.keys_refresh_s);
	else
	{
		PQclear(res);
		res = PQexec(conn, "LISTEN orders_stream_access_keys");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			ep_log(EP_LOG_WARNING, "access keys: LISTEN failed: %s", PQerrorMessage(conn));
			PQclear(res);
			PQfinish(conn);
			return NULL;
		}
	}
	PQclear(res);
	if (!load(conn))
	{
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * Sleeps until sock (if not -1) is readable, a stop or a reload is asked
 * for, or timeout_ms have passed.
 */
static void
wait_for(int sock, int64 timeout_ms)
{
	struct pollfd pfd[2] = {
		{.fd = wake_fd, .events = POLLIN},
		{.fd = sock, .events = POLLIN},
	};
	eventfd_t	ignored;

	(void) poll(pfd, sock >= 0 ? 2 : 1, (int) Max(timeout_ms, 0));
	(void) eventfd_read(wake_fd, &ignored);
}

static void *
loader_main(void *arg)
{
	PGconn	   *conn = NULL;
	int64		loaded_at = 0;

	while (!atomic_load(&stopping))
	{
		bool		notified = false;
		bool		fatal;
		PGnotify   *n;

		if (conn == NULL)
		{
			conn = connect_listen(&fatal);
			if (fatal)
			{
				(void) eventfd_write(failed_fd, 1);
				break;
			}
			if (conn == NULL)
			{
				wait_for(-1, RETRY_MS);
				continue;
			}
			loaded_at = ep_clock_ms();
		}
		wait_for(PQsocket(conn),
				 loaded_at + ep_config.keys_refresh_s * 1000L - ep_clock_ms());
		if (!PQconsumeInput(conn))
		{
			ep_log(EP_LOG_WARNING, "access keys: connection lost: %s", PQerrorMessage(conn));
			PQfinish(conn);
			conn = NULL;
			continue;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			notified = true;
			PQfreemem(n);
		}
		if (notified || atomic_exchange(&reload_requested, false) ||
			ep_clock_ms() - loaded_at >= ep_config.keys_refresh_s * 1000L)
		{
			if (!load(conn) && PQstatus(conn) != CONNECTION_OK)
			{
				PQfinish(conn);
				conn = NULL;
				continue;
			}
			loaded_at = ep_clock_ms();
		}
	}
	PQfinish(conn);
	return arg;
}

bool
keys_start(void)
{
	int			rc;

	wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	failed_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (wake_fd < 0 || failed_fd < 0)
	{
		ep_log(EP_LOG_ERROR, "could not create an eventfd for the access key thread: %s", strerror(errno));
		close_fds();
		return false;
	}
	rc = pthread_create(&loader, NULL, loader_main, NULL);
	if (rc != 0)
	{
		ep_log(EP_LOG_ERROR, "could not start the access key thread: %s", strerror(rc));
		close_fds();
		return false;
	}
	return true;
}

int
keys_failure_fd(void)
{
	return failed_fd;
}

void
keys_request_reload(void)
{
	atomic_store(&reload_requested, true);
	(void) eventfd_write(wake_fd, 1);
}

void
keys_stop(void)
{
	atomic_store(&stopping, true);
	(void) eventfd_write(wake_fd, 1);
	pthread_join(loader, NULL);
	close_fds();
	pthread_rwlock_wrlock(&keys_lock);
	if (keys)
		free_keys(keys, nkeys);
	keys = NULL;
	nkeys = 0;
	pthread_rwlock_unlock(&keys_lock);
}

bool
keys_lookup(const char *access_key_id, char *secret, char *role)
{
	AccessKey	probe = {.id = (char *) access_key_id};
	AccessKey  *found;
	bool		ok = false;

	pthread_rwlock_rdlock(&keys_lock);
	found = keys ? bsearch(&probe, keys, nkeys, sizeof(AccessKey), compare_keys) : NULL;
	if (found && strlen(found->secret) < EP_SECRET_MAX && strlen(found->role) < EP_ROLE_MAX)
	{
		strcpy(secret, found->secret);
		strcpy(role, found->role);
		ok = true;
	}
	pthread_rwlock_unlock(&keys_lock);
	return ok;
}
