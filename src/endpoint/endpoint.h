/*-------------------------------------------------------------------------
 * endpoint.h
 *	  orders_stream_endpoint: the DynamoDB Streams API over HTTP (AWS JSON
 *	  1.0), SigV4-authenticated, answered by orders_stream.dynamodb_streams_text().
 *
 * Threads: libmicrohttpd runs one thread per client connection and calls
 * http.c, whose sweeper thread closes connections past their request
 * deadline; keys.c keeps the access keys in memory from a connection of its
 * own; pool.c lends the request threads libpq connections; main.c parses
 * the options and waits for signals.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_ENDPOINT_H
#define ORDERS_STREAM_ENDPOINT_H

#include "postgres_fe.h"

typedef enum EndpointLogLevel
{
	EP_LOG_DEBUG,
	EP_LOG_INFO,
	EP_LOG_WARNING,
	EP_LOG_ERROR,
	EP_LOG_NONE
} EndpointLogLevel;

typedef struct EndpointConfig
{
	char	   *listen_address;	/* IPv4 or IPv6 address to bind */
	int			port;
	char	   *conninfo;		/* libpq connection string */
	int			pool_size;		/* libpq connections for requests */
	int			max_clients;	/* concurrent HTTP connections */
	int			max_clients_per_address;	/* ... from one client address */
	int			request_deadline_s; /* a request's headers and body arrive */
	int			max_request_bytes;	/* largest request body */
	int			statement_timeout_ms;	/* per request, in the database */
	int			pool_wait_ms;	/* longest wait for a free connection */
	int			idle_timeout_s; /* an idle HTTP connection is closed */
	int			clock_skew_s;	/* accepted |X-Amz-Date - now| */
	char	   *region;			/* required credential scope region, or NULL */
	int			keys_refresh_s; /* reload of the access keys, besides NOTIFY */
	int			shutdown_timeout_s; /* SIGTERM: wait for requests in flight */
	EndpointLogLevel log_level;
	EndpointLogLevel request_log_level; /* of the one line per request */
	char	   *metrics_listen; /* ADDRESS:PORT of unauthenticated GET /metrics, or NULL */
	char	   *metrics_role;	/* the role those scrapes run as */
} EndpointConfig;

/* the options: set by main() before any thread starts, read-only after */
extern EndpointConfig ep_config;

extern void ep_log(EndpointLogLevel level, const char *fmt,...) pg_attribute_printf(2, 3);
extern EndpointLogLevel ep_parse_log_level(const char *name);

#define EP_DEFAULT_PORT 8100
#define EP_SERVICE "dynamodb"
#define EP_TARGET_PREFIX "DynamoDBStreams_20120810."

#endif							/* ORDERS_STREAM_ENDPOINT_H */
