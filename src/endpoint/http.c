/*-------------------------------------------------------------------------
 * http.c
 *	  AWS's JSON 1.0 protocol over libmicrohttpd: POST / with X-Amz-Target
 *	  DynamoDBStreams_20120810.<Operation> and a JSON body, signed with
 *	  SigV4.  The order of the checks is AWS's: size, then authentication,
 *	  then the request itself; nothing reaches the database before the
 *	  signature has been verified against a key held in memory (keys.c).
 *
 *	  libmicrohttpd runs a thread per connection, so a request waiting for
 *	  the database holds only its own connection and every other client keeps
 *	  being answered.  Slow and hostile clients are bounded three ways:
 *	  --max-clients connections in all, --max-clients-per-address from one
 *	  client address (so that one address cannot take them all), and a
 *	  deadline: each request's headers and body must have arrived within
 *	  --request-deadline seconds of the connection's opening or of its
 *	  previous answer.  libmicrohttpd's own timeout (--idle-timeout) restarts
 *	  on every byte, so a client trickling a byte at a time would never meet
 *	  it; a sweeper thread enforces the deadline instead, by shutting the
 *	  socket down, which libmicrohttpd's thread then sees as the client
 *	  leaving.  A database connection is taken only once a request has
 *	  arrived whole (dispatch.c), so no slow client ever holds one.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "clock.h"
#include "dispatch.h"
#include "http.h"
#include "json.h"
#include "keys.h"
#include "sigv4.h"

#define NS_SERVICE "com.amazon.coral.service"
#define HEALTHY "healthy: orders_stream_endpoint "
#define METRICS_PATH "/metrics"
/* Prometheus' text exposition format */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define JSON_CONTENT_TYPE "application/x-amz-json-1.0"

/* One request, across the calls of the access handler */
typedef struct Request
{
	char	   *body;
	size_t		len;
	size_t		cap;
	bool		too_large;
	struct timespec start;
} Request;

/* A growing list of name/value pairs, filled by libmicrohttpd's iterator */
typedef struct Pairs
{
	SigV4Header *items;
	int			n;
	int			cap;
} Pairs;

/*
 * One client connection, from its accept to its close: whether it is still
 * receiving a request, and since when.  Kept in a list for the sweeper; an
 * entry leaves the list (libmicrohttpd's close notification) before the
 * socket is closed, so the sweeper only ever shuts down a live socket.
 */
typedef struct Conn
{
	struct Conn *prev;
	struct Conn *next;
	int			fd;
	bool		receiving;		/* headers or body of a request still due */
	bool		shut;			/* shut down by the sweeper */
	struct timespec since;		/* opened, or its previous answer sent */
	char		addr[INET6_ADDRSTRLEN];
} Conn;

/* the connections and the sweeper's state, under conns_lock */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sweeper_wake;	/* on CLOCK_MONOTONIC */
static Conn *conns;
static bool sweeper_stop;
static pthread_t sweeper;

/* how often the sweeper looks: the deadline's precision */
#define SWEEP_INTERVAL_MS 200

/* requests received and not yet answered; flight_done when none is left */
/* The daemon of --metrics-listen, or NULL; its handler's cls is metrics_only. */
static struct MHD_Daemon *metrics_daemon;
static bool metrics_only = true;

static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_done;	/* on CLOCK_MONOTONIC */
static int	in_flight;

int
http_in_flight(void)
{
	int			n;

	pthread_mutex_lock(&flight_lock);
	n = in_flight;
	pthread_mutex_unlock(&flight_lock);
	return n;
}

bool
http_wait_idle(int timeout_s)
{
	struct timespec deadline;
	bool		idle;

	ep_clock_deadline(&deadline, (int64) timeout_s * 1000);
	pthread_mutex_lock(&flight_lock);
	while (in_flight > 0)
		if (pthread_cond_timedwait(&flight_done, &flight_lock, &deadline) == ETIMEDOUT)
			break;
	idle = in_flight == 0;
	pthread_mutex_unlock(&flight_lock);
	return idle;
}

static enum MHD_Result
collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	Pairs	   *p = cls;

	if (p->n == p->cap)
	{
		p->cap = Max(16, 2 * p->cap);
		p->items = pg_realloc(p->items, sizeof(SigV4Header) * p->cap);
	}
	p->items[p->n].name = key;
	p->items[p->n].value = value;
	p->n++;
	return MHD_YES;
}

/* DynamoDB's request ids: 52 characters of A-Z0-9 */
static void
request_id(char *out)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char bytes[52];

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		memset(bytes, 0, sizeof(bytes));
	for (int i = 0; i < 52; i++)
		out[i] = alphabet[bytes[i] % 36];
	out[52] = '\0';
}

static void
client_address(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = info ? info->client_addr : NULL;

	strlcpy(out, "-", len);
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, out, len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, out, len);
}

/* Starts (receiving) or stops the request deadline of c's connection */
static void
set_receiving(struct MHD_Connection *c, bool receiving)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	Conn	   *conn = info ? info->socket_context : NULL;

	if (conn == NULL)
		return;
	pthread_mutex_lock(&conns_lock);
	conn->receiving = receiving;
	clock_gettime(CLOCK_MONOTONIC, &conn->since);
	pthread_mutex_unlock(&conns_lock);
}

static enum MHD_Result
send_response(struct MHD_Connection *c, Request *req, EpResponse *resp,
			  const char *content_type, const char *key_id, const char *role,
			  const char *operation)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char		rid[53];
	char		addr[INET6_ADDRSTRLEN];
	struct timespec end;
	size_t		out_len = strlen(resp->body);

	request_id(rid);
	r = MHD_create_response_from_buffer(out_len, resp->body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
	{
		/* out of memory: the body is still ours, and the connection is closed */
		free(resp->body);
		resp->body = NULL;
		ep_log(EP_LOG_ERROR, "could not create the answer of a request: out of memory");
		return MHD_NO;
	}
	resp->body = NULL;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) != MHD_YES ||
		MHD_add_response_header(r, "x-amzn-RequestId", rid) != MHD_YES)
	{
		MHD_destroy_response(r);
		ep_log(EP_LOG_ERROR, "could not create the answer of a request: out of memory");
		return MHD_NO;
	}
	ret = MHD_queue_response(c, resp->status, r);
	MHD_destroy_response(r);

	clock_gettime(CLOCK_MONOTONIC, &end);
	client_address(c, addr, sizeof(addr));
	ep_log(ep_config.request_log_level,
		   "request %s key=%s role=%s op=%s status=%d%s%s in=%zu out=%zu ms=%.1f id=%s",
		   addr, key_id[0] ? key_id : "-", role[0] ? role : "-",
		   operation[0] ? operation : "-", resp->status,
		   resp->type[0] ? " error=" : "", resp->type, req->len, out_len,
		   (end.tv_sec - req->start.tv_sec) * 1e3 + (end.tv_nsec - req->start.tv_nsec) / 1e6,
		   rid);
	return ret;
}

static void
answer(struct MHD_Connection *c, const char *url, const char *method,
	   Request *req, EpResponse *resp, char *key_id, char *role, char *operation)
{
	Pairs		headers = {0};
	Pairs		query = {0};
	SigV4Request sreq;
	SigV4Auth	auth;
	SigV4Status status;
	char		secret[EP_SECRET_MAX];
	char		msg[512];
	const char *target;

	if (req->too_large)
	{
		snprintf(msg, sizeof(msg), "Request size exceeds the endpoint's limit of %d bytes",
				 ep_config.max_request_bytes);
		ep_error(resp, 413, NS_SERVICE, "SerializationException", msg);
		return;
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &headers);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &query);
	sreq.method = method;
	sreq.path = url;
	sreq.query = query.items;
	sreq.nquery = query.n;
	sreq.headers = headers.items;
	sreq.nheaders = headers.n;
	sreq.body = req->body;
	sreq.body_len = req->len;

	status = sigv4_parse(&sreq, &auth, time(NULL), ep_config.clock_skew_s,
						 ep_config.region, msg, sizeof(msg));
	strlcpy(key_id, auth.access_key_id, sizeof(auth.access_key_id));
	if (status == SIGV4_MISSING)
		ep_error(resp, 400, NS_SERVICE, "MissingAuthenticationTokenException", msg);
	else if (status == SIGV4_INCOMPLETE)
		ep_error(resp, 400, NS_SERVICE, "IncompleteSignatureException", msg);
	else if (status == SIGV4_INVALID)
		ep_error(resp, 400, NS_SERVICE, "InvalidSignatureException", msg);
	else if (!keys_lookup(auth.access_key_id, secret, role))
		ep_error(resp, 400, NS_SERVICE, "UnrecognizedClientException",
				 "The security token included in the request is invalid.");
	else if (!sigv4_verify(&sreq, &auth, secret))
	{
		role[0] = '\0';
		ep_error(resp, 400, NS_SERVICE, "InvalidSignatureException",
				 "The request signature we calculated does not match the signature you provided. "
				 "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.");
	}
	else if (req->len > 0 && !ep_json_check(req->body, req->len, msg, sizeof(msg)))
		ep_error(resp, 400, NS_SERVICE, "SerializationException", msg);
	else if (strcmp(method, "GET") == 0)
	{
		strlcpy(operation, "metrics", 64);
		dispatch_metrics(role, resp);
	}
	else
	{
		target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
		if (target == NULL)
			target = "";
		strlcpy(operation,
				strncmp(target, EP_TARGET_PREFIX, strlen(EP_TARGET_PREFIX)) == 0 ?
				target + strlen(EP_TARGET_PREFIX) : target, 64);
		dispatch_request(role, target, req->len > 0 ? req->body : "{}", resp);
	}
	explicit_bzero(secret, sizeof(secret));
	free(headers.items);
	free(query.items);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size,
	   void **con_cls)
{
	Request    *req = *con_cls;
	EpResponse	resp = {0};
	char		key_id[129] = "";
	char		role[EP_ROLE_MAX] = "";
	char		operation[64] = "";

	if (req == NULL)
	{
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
													 MHD_HTTP_HEADER_CONTENT_LENGTH);

		req = pg_malloc0(sizeof(Request));
		clock_gettime(CLOCK_MONOTONIC, &req->start);
		req->too_large = cl && strtoll(cl, NULL, 10) > ep_config.max_request_bytes;
		*con_cls = req;
		pthread_mutex_lock(&flight_lock);
		in_flight++;
		pthread_mutex_unlock(&flight_lock);
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		/* read and dropped past the limit: the answer is 413 either way */
		if (!req->too_large && req->len + *upload_data_size > (size_t) ep_config.max_request_bytes)
			req->too_large = true;
		if (!req->too_large)
		{
			if (req->len + *upload_data_size + 1 > req->cap)
			{
				req->cap = Max(2 * req->cap, req->len + *upload_data_size + 1);
				req->body = pg_realloc(req->body, req->cap);
			}
			memcpy(req->body + req->len, upload_data, *upload_data_size);
			req->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* the request has arrived whole: the deadline no longer runs */
	set_receiving(c, false);
	if (req->body == NULL)
		req->body = pg_malloc0(1);
	req->body[req->len] = '\0';

	if (strcmp(method, "GET") == 0 && strcmp(url, METRICS_PATH) == 0)
	{
		/* signed on --listen, as the key's role; on --metrics-listen, as --metrics-role */
		if (cls == &metrics_only)
			dispatch_metrics(ep_config.metrics_role, &resp);
		else
			answer(c, url, method, req, &resp, key_id, role, operation);
		return send_response(c, req, &resp,
							 resp.status == 200 ? METRICS_CONTENT_TYPE : JSON_CONTENT_TYPE,
							 key_id, role, operation);
	}
	if (cls == &metrics_only)
	{
		ep_error(&resp, 404, NS_SERVICE, "UnknownOperationException",
				 "Only GET " METRICS_PATH " is served here");
		return send_response(c, req, &resp, JSON_CONTENT_TYPE, key_id, role, operation);
	}
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
	{
		/* DynamoDB's health check answer, for load balancers */
		resp.status = 200;
		resp.body = pg_strdup(HEALTHY);
		return send_response(c, req, &resp, "text/plain", key_id, role, operation);
	}
	if (strcmp(method, "POST") != 0)
	{
		ep_error(&resp, 405, NS_SERVICE, "UnknownOperationException",
				 "Only POST requests are operations");
		return send_response(c, req, &resp, JSON_CONTENT_TYPE, key_id, role, operation);
	}
	answer(c, url, method, req, &resp, key_id, role, operation);
	return send_response(c, req, &resp, JSON_CONTENT_TYPE, key_id, role, operation);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
		  enum MHD_RequestTerminationCode toe)
{
	Request    *req = *con_cls;

	if (req == NULL)
		return;
	free(req->body);
	free(req);
	*con_cls = NULL;
	pthread_mutex_lock(&flight_lock);
	if (--in_flight == 0)
		pthread_cond_broadcast(&flight_done);
	pthread_mutex_unlock(&flight_lock);
	/* the next request on this connection has its own deadline, from now */
	set_receiving(c, true);
}

/* libmicrohttpd's notification of a connection opened or closed */
static void
notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
				  enum MHD_ConnectionNotificationCode toe)
{
	Conn	   *conn = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		conn = pg_malloc0(sizeof(Conn));
		conn->fd = info ? info->connect_fd : -1;
		conn->receiving = true;
		clock_gettime(CLOCK_MONOTONIC, &conn->since);
		client_address(c, conn->addr, sizeof(conn->addr));
		pthread_mutex_lock(&conns_lock);
		conn->next = conns;
		if (conns)
			conns->prev = conn;
		conns = conn;
		pthread_mutex_unlock(&conns_lock);
		*socket_context = conn;
	}
	else if (conn != NULL)
	{
		pthread_mutex_lock(&conns_lock);
		if (conn->prev)
			conn->prev->next = conn->next;
		else
			conns = conn->next;
		if (conn->next)
			conn->next->prev = conn->prev;
		pthread_mutex_unlock(&conns_lock);
		free(conn);
		*socket_context = NULL;
	}
}

/*
 * Closes every connection whose request is not in by its deadline.  The
 * shutdown wakes the connection's thread, which reads the end of the stream
 * and closes the connection as if the client had.
 */
static void *
sweep(void *arg)
{
	pthread_mutex_lock(&conns_lock);
	while (!sweeper_stop)
	{
		struct timespec now;
		struct timespec wake;

		clock_gettime(CLOCK_MONOTONIC, &now);
		for (Conn *conn = conns; conn; conn = conn->next)
		{
			double		age = (now.tv_sec - conn->since.tv_sec) +
				(now.tv_nsec - conn->since.tv_nsec) / 1e9;

			if (!conn->receiving || conn->shut || conn->fd < 0 ||
				age < ep_config.request_deadline_s)
				continue;
			shutdown(conn->fd, SHUT_RDWR);
			conn->shut = true;
			ep_log(EP_LOG_INFO, "closed a connection of %s: no complete request within %d s",
				   conn->addr, ep_config.request_deadline_s);
		}
		ep_clock_deadline(&wake, SWEEP_INTERVAL_MS);
		pthread_cond_timedwait(&sweeper_wake, &conns_lock, &wake);
	}
	pthread_mutex_unlock(&conns_lock);
	return NULL;
}

/*
 * libmicrohttpd's messages, at most one a second: clients decide how often
 * they come (a refused connection is one), and must not flood the log.
 */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int64 last;
	static int	skipped;
	int64		now = ep_clock_ms() / 1000;
	int			before;
	char		line[1024];

	pthread_mutex_lock(&lock);
	if (now == last)
	{
		skipped++;
		pthread_mutex_unlock(&lock);
		return;
	}
	last = now;
	before = skipped;
	skipped = 0;
	pthread_mutex_unlock(&lock);
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (before > 0)
		ep_log(EP_LOG_WARNING, "http: %s (%d more messages of libmicrohttpd not shown)", line, before);
	else
		ep_log(EP_LOG_WARNING, "http: %s", line);
}

/*
 * A daemon listening on address (IPv4 or IPv6) and port, its handler's cls
 * cls; NULL (logged) if it cannot listen.
 */
static struct MHD_Daemon *
start_daemon(const char *address, int port, void *cls)
{
	struct sockaddr_storage addr;
	struct MHD_Daemon *d;

	/* poll(), not select(): connections beyond FD_SETSIZE are served too */
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
		MHD_USE_ITC | MHD_USE_ERROR_LOG;

	memset(&addr, 0, sizeof(addr));
	if (inet_pton(AF_INET, address, &((struct sockaddr_in *) &addr)->sin_addr) == 1)
	{
		((struct sockaddr_in *) &addr)->sin_family = AF_INET;
		((struct sockaddr_in *) &addr)->sin_port = htons(port);
	}
	else if (inet_pton(AF_INET6, address, &((struct sockaddr_in6 *) &addr)->sin6_addr) == 1)
	{
		((struct sockaddr_in6 *) &addr)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *) &addr)->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	}
	else
	{
		ep_log(EP_LOG_ERROR, "invalid listen address \"%s\": give an IPv4 or IPv6 address",
			   address);
		return NULL;
	}
	d = MHD_start_daemon(flags, (uint16_t) port, NULL, NULL, handle, cls,
						 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) ep_config.max_clients,
						 MHD_OPTION_PER_IP_CONNECTION_LIMIT,
						 (unsigned int) ep_config.max_clients_per_address,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) ep_config.idle_timeout_s,
						 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
						 MHD_OPTION_NOTIFY_CONNECTION, notify_connection, NULL,
						 MHD_OPTION_END);
	if (d == NULL)
		ep_log(EP_LOG_ERROR, "could not listen on %s port %d", address, port);
	return d;
}

/* The daemon of --metrics-listen (ADDRESS:PORT, an IPv6 address in brackets). */
static struct MHD_Daemon *
start_metrics_daemon(void)
{
	char	   *address = pg_strdup(ep_config.metrics_listen);
	char	   *colon = strrchr(address, ':');
	char	   *end;
	long		port = colon ? strtol(colon + 1, &end, 10) : 0;
	struct MHD_Daemon *d = NULL;

	if (colon == NULL || colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		ep_log(EP_LOG_ERROR, "invalid --metrics-listen \"%s\": give ADDRESS:PORT",
			   ep_config.metrics_listen);
	else
	{
		char	   *host = address;

		*colon = '\0';
		if (host[0] == '[' && colon > host + 1 && colon[-1] == ']')
		{
			host++;
			colon[-1] = '\0';
		}
		d = start_daemon(host, (int) port, &metrics_only);
	}
	free(address);
	return d;
}

struct MHD_Daemon *
http_start(void)
{
	struct MHD_Daemon *d;
	int			rc;

	if (!ep_cond_init(&sweeper_wake) || !ep_cond_init(&flight_done))
		return NULL;
	d = start_daemon(ep_config.listen_address, ep_config.port, NULL);
	if (d == NULL)
		return NULL;
	if (ep_config.metrics_listen != NULL)
	{
		metrics_daemon = start_metrics_daemon();
		if (metrics_daemon == NULL)
		{
			MHD_stop_daemon(d);
			return NULL;
		}
	}
	rc = pthread_create(&sweeper, NULL, sweep, NULL);
	if (rc != 0)
	{
		ep_log(EP_LOG_ERROR, "could not start the request deadline thread: %s", strerror(rc));
		if (metrics_daemon != NULL)
			MHD_stop_daemon(metrics_daemon);
		MHD_stop_daemon(d);
		return NULL;
	}
	return d;
}

void
http_stop(struct MHD_Daemon *d)
{
	pthread_mutex_lock(&conns_lock);
	sweeper_stop = true;
	pthread_cond_signal(&sweeper_wake);
	pthread_mutex_unlock(&conns_lock);
	pthread_join(sweeper, NULL);
	if (metrics_daemon != NULL)
		MHD_stop_daemon(metrics_daemon);
	MHD_stop_daemon(d);
}
