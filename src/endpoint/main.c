/*-------------------------------------------------------------------------
 * main.c
 *	  orders_stream_endpoint: options, the configuration file, signals.
 *
 *	  Signals are blocked in every thread and taken here by sigwait():
 *	  SIGHUP reloads the access keys; SIGTERM and SIGINT stop accepting
 *	  connections, let the requests in flight finish (up to
 *	  --shutdown-timeout), then close everything and exit 0.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http.h"
#include "keys.h"
#include "pool.h"

EndpointConfig ep_config = {
	.listen_address = "127.0.0.1",
	.port = EP_DEFAULT_PORT,
	.conninfo = "dbname=postgres user=orders_stream_endpoint",
	.pool_size = 4,
	.max_clients = 1024,
	.max_clients_per_address = 32,
	.request_deadline_s = 10,
	.max_request_bytes = 65536,
	.statement_timeout_ms = 30000,
	.pool_wait_ms = 10000,
	.idle_timeout_s = 60,
	.clock_skew_s = 300,
	.region = NULL,
	.keys_refresh_s = 60,
	.shutdown_timeout_s = 30,
	.log_level = EP_LOG_INFO,
	.request_log_level = EP_LOG_INFO,
};

static const struct option long_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"listen", required_argument, NULL, 'l'},
	{"port", required_argument, NULL, 'p'},
	{"db", required_argument, NULL, 'd'},
	{"pool-size", required_argument, NULL, 1},
	{"max-clients", required_argument, NULL, 2},
	{"max-request-bytes", required_argument, NULL, 3},
	{"request-timeout", required_argument, NULL, 4},
	{"pool-wait", required_argument, NULL, 5},
	{"idle-timeout", required_argument, NULL, 6},
	{"clock-skew", required_argument, NULL, 7},
	{"region", required_argument, NULL, 8},
	{"keys-refresh", required_argument, NULL, 9},
	{"shutdown-timeout", required_argument, NULL, 10},
	{"log-level", required_argument, NULL, 11},
	{"request-log-level", required_argument, NULL, 12},
	{"max-clients-per-address", required_argument, NULL, 13},
	{"request-deadline", required_argument, NULL, 14},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0}
};

static void
usage(void)
{
	printf("orders_stream_endpoint serves the DynamoDB Streams API of orders_stream over HTTP\n"
		   "(AWS JSON 1.0, SigV4), for AWS SDKs, the AWS CLI and KCL-style consumers.\n\n"
		   "Usage:\n  orders_stream_endpoint [OPTION]...\n\n"
		   "Options (each also a line \"name = value\" of the --config file; flags win):\n"
		   "  -c, --config=FILE            read options from FILE\n"
		   "  -l, --listen=ADDRESS         IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
		   "  -p, --port=PORT              TCP port (default %d)\n"
		   "  -d, --db=CONNINFO            libpq connection string\n"
		   "                               (default \"dbname=postgres user=orders_stream_endpoint\")\n"
		   "      --pool-size=N            database connections for requests (default 4)\n"
		   "      --max-clients=N          concurrent HTTP connections (default 1024)\n"
		   "      --max-clients-per-address=N  concurrent HTTP connections from one client\n"
		   "                               address (default 32)\n"
		   "      --request-deadline=S     close a connection whose request (headers and body)\n"
		   "                               has not arrived S seconds after the connection\n"
		   "                               opened or its previous answer (default 10)\n"
		   "      --max-request-bytes=N    largest request body; larger is 413 (default 65536)\n"
		   "      --request-timeout=MS     statement_timeout of a request (default 30000)\n"
		   "      --pool-wait=MS           longest wait for a free connection; then 503 (default 10000)\n"
		   "      --idle-timeout=S         close a connection idle for S seconds while its\n"
		   "                               answer is sent (default 60)\n"
		   "      --clock-skew=S           accepted difference of X-Amz-Date and now (default 300)\n"
		   "      --region=REGION          accept only signatures scoped to REGION (default: any)\n"
		   "      --keys-refresh=S         reload the access keys every S seconds, besides on\n"
		   "                               NOTIFY and SIGHUP (default 60)\n"
		   "      --shutdown-timeout=S     on SIGTERM, wait up to S seconds for requests (default 30)\n"
		   "      --log-level=LEVEL        debug, info, warning, error or none (default info)\n"
		   "      --request-log-level=LEVEL  level of the one line per request (default info)\n"
		   "  -h, --help                   show this help, then exit\n"
		   "  -V, --version                show the version, then exit\n\n"
		   "Signals: SIGHUP reloads the access keys; SIGTERM and SIGINT shut down gracefully.\n"
		   "Access keys: SELECT * FROM orders_stream.create_access_key('a_role');\n",
		   EP_DEFAULT_PORT);
}

static int
parse_int(const char *name, const char *value, int min, int max)
{
	char	   *end;
	long		v = strtol(value, &end, 10);

	if (*value == '\0' || *end != '\0' || v < min || v > max)
	{
		fprintf(stderr, "orders_stream_endpoint: invalid value \"%s\" for %s: must be an integer between %d and %d\n",
				value, name, min, max);
		exit(2);
	}
	return (int) v;
}

static EndpointLogLevel
parse_level(const char *name, const char *value)
{
	EndpointLogLevel level = ep_parse_log_level(value);

	if ((int) level < 0)
	{
		fprintf(stderr, "orders_stream_endpoint: invalid value \"%s\" for %s: must be debug, info, warning, error or none\n",
				value, name);
		exit(2);
	}
	return level;
}

/* one option, from a flag (by its getopt code) or a configuration line */
static void
set_option(int code, const char *name, const char *value)
{
	switch (code)
	{
		case 'l':
			ep_config.listen_address = pg_strdup(value);
			break;
		case 'p':
			ep_config.port = parse_int(name, value, 1, 65535);
			break;
		case 'd':
			ep_config.conninfo = pg_strdup(value);
			break;
		case 1:
			ep_config.pool_size = parse_int(name, value, 1, 1000);
			break;
		case 2:
			ep_config.max_clients = parse_int(name, value, 1, 100000);
			break;
		case 3:
			ep_config.max_request_bytes = parse_int(name, value, 1024, 1 << 30);
			break;
		case 4:
			ep_config.statement_timeout_ms = parse_int(name, value, 0, INT_MAX);
			break;
		case 5:
			ep_config.pool_wait_ms = parse_int(name, value, 0, INT_MAX);
			break;
		case 6:
			ep_config.idle_timeout_s = parse_int(name, value, 1, 86400);
			break;
		case 7:
			ep_config.clock_skew_s = parse_int(name, value, 1, 86400);
			break;
		case 8:
			ep_config.region = pg_strdup(value);
			break;
		case 9:
			ep_config.keys_refresh_s = parse_int(name, value, 1, 86400);
			break;
		case 10:
			ep_config.shutdown_timeout_s = parse_int(name, value, 0, 86400);
			break;
		case 11:
			ep_config.log_level = parse_level(name, value);
			break;
		case 12:
			ep_config.request_log_level = parse_level(name, value);
			break;
		case 13:
			ep_config.max_clients_per_address = parse_int(name, value, 1, 100000);
			break;
		case 14:
			ep_config.request_deadline_s = parse_int(name, value, 1, 86400);
			break;
	}
}

static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* "name = value" lines; '#' starts a comment; value may be in single quotes */
static void
read_config(const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[4096];
	int			lineno = 0;

	if (f == NULL)
	{
		fprintf(stderr, "orders_stream_endpoint: could not open configuration file \"%s\": %s\n",
				path, strerror(errno));
		exit(2);
	}
	while (fgets(line, sizeof(line), f))
	{
		char	   *eq;
		char	   *name;
		char	   *value;
		int			code = 0;

		lineno++;
		if (line[0] != '\'' && strchr(line, '#') && !strchr(line, '\''))
			*strchr(line, '#') = '\0';
		name = trim(line);
		if (*name == '\0')
			continue;
		eq = strchr(name, '=');
		if (eq == NULL)
		{
			fprintf(stderr, "orders_stream_endpoint: %s:%d: expected \"name = value\"\n", path, lineno);
			exit(2);
		}
		*eq = '\0';
		value = trim(eq + 1);
		name = trim(name);
		if (value[0] == '\'' && strlen(value) >= 2 && value[strlen(value) - 1] == '\'')
		{
			value[strlen(value) - 1] = '\0';
			value++;
		}
		for (const struct option *o = long_options; o->name; o++)
			if (strcmp(o->name, name) == 0 && o->has_arg == required_argument && o->val != 'c')
				code = o->val;
		if (code == 0)
		{
			fprintf(stderr, "orders_stream_endpoint: %s:%d: unknown option \"%s\"\n", path, lineno, name);
			exit(2);
		}
		set_option(code, name, value);
	}
	fclose(f);
}

/*
 * A descriptor per client connection and per database connection, and a
 * few more: raise the soft limit of open files as far as the hard limit
 * allows, so that --max-clients is what bounds the connections.
 */
static void
raise_open_files_limit(void)
{
	struct rlimit rl;
	rlim_t		need = (rlim_t) ep_config.max_clients + ep_config.pool_size + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need) ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
		ep_log(EP_LOG_WARNING, "open files are limited to %llu, fewer than --max-clients needs (%llu)",
			   (unsigned long long) rl.rlim_cur, (unsigned long long) need);
}

int
main(int argc, char **argv)
{
	sigset_t	signals;
	struct MHD_Daemon *daemon;
	int			c;
	int			sig;

	/* the configuration file first, so that flags override it */
	for (int i = 1; i < argc; i++)
	{
		if (strncmp(argv[i], "--config=", 9) == 0)
			read_config(argv[i] + 9);
		else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
			read_config(argv[++i]);
	}
	while ((c = getopt_long(argc, argv, "c:l:p:d:hV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				usage();
				return 0;
			case 'V':
				printf("orders_stream_endpoint 1.0 (libmicrohttpd %s)\n", MHD_get_version());
				return 0;
			case 'c':
				break;
			case '?':
				fprintf(stderr, "Try \"orders_stream_endpoint --help\" for more information.\n");
				return 2;
			default:
				set_option(c, argv[optind - 1], optarg);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "orders_stream_endpoint: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}

	/* every thread inherits these blocked; only sigwait() below takes them */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	raise_open_files_limit();
	pool_init();
	keys_start();
	daemon = http_start();
	if (daemon == NULL)
		return 1;
	ep_log(EP_LOG_INFO, "listening on %s port %d, %d database connections, database \"%s\"",
		   ep_config.listen_address, ep_config.port, ep_config.pool_size, ep_config.conninfo);

	for (;;)
	{
		if (sigwait(&signals, &sig) != 0)
			continue;
		if (sig == SIGHUP)
		{
			ep_log(EP_LOG_INFO, "SIGHUP: reloading the access keys");
			keys_request_reload();
			continue;
		}
		break;
	}

	ep_log(EP_LOG_INFO, "%s: shutting down, %d requests in flight", strsignal(sig), http_in_flight());
	{
		int			listen_fd = MHD_quiesce_daemon(daemon);
		time_t		deadline = time(NULL) + ep_config.shutdown_timeout_s;

		if (listen_fd >= 0)
			close(listen_fd);
		while (http_in_flight() > 0 && time(NULL) < deadline)
			usleep(20000);
		if (http_in_flight() > 0)
			ep_log(EP_LOG_WARNING, "%d requests still in flight after %d s: closing them",
				   http_in_flight(), ep_config.shutdown_timeout_s);
	}
	http_stop(daemon);
	keys_stop();
	pool_close();
	ep_log(EP_LOG_INFO, "stopped");
	return 0;
}
