/*-------------------------------------------------------------------------
 * main.c
 *	  orders_stream_endpoint: options, the configuration file, signals.
 *
 *	  Signals are blocked in every thread and taken here from a signalfd:
 *	  SIGHUP reloads the access keys; SIGTERM and SIGINT stop accepting
 *	  connections, let the requests in flight finish (up to
 *	  --shutdown-timeout), then close everything and exit 0.  The access
 *	  key thread giving up (keys.c) shuts down the same way, exit 1.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <microhttpd.h>

#include "libpq-fe.h"
#include "pqexpbuffer.h"

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

/* an option: a flag, and a "name = value" line of the configuration file */
typedef enum OptionKind
{
	OPTION_STRING,
	OPTION_INT,
	OPTION_LEVEL
} OptionKind;

typedef struct EndpointOption
{
	const char *name;
	char		short_name;		/* '\0' if none */
	OptionKind	kind;
	size_t		offset;			/* of the value in EndpointConfig */
	int			min;			/* OPTION_INT's bounds */
	int			max;
} EndpointOption;

#define OPTION(name, short_name, kind, field, min, max) \
	{name, short_name, kind, offsetof(EndpointConfig, field), min, max}

static const EndpointOption options[] = {
	OPTION("listen", 'l', OPTION_STRING, listen_address, 0, 0),
	OPTION("port", 'p', OPTION_INT, port, 1, 65535),
	OPTION("db", 'd', OPTION_STRING, conninfo, 0, 0),
	OPTION("pool-size", '\0', OPTION_INT, pool_size, 1, 1000),
	OPTION("max-clients", '\0', OPTION_INT, max_clients, 1, 100000),
	OPTION("max-request-bytes", '\0', OPTION_INT, max_request_bytes, 1024, 1 << 30),
	OPTION("request-timeout", '\0', OPTION_INT, statement_timeout_ms, 0, INT_MAX),
	OPTION("pool-wait", '\0', OPTION_INT, pool_wait_ms, 0, INT_MAX),
	OPTION("idle-timeout", '\0', OPTION_INT, idle_timeout_s, 1, 86400),
	OPTION("clock-skew", '\0', OPTION_INT, clock_skew_s, 1, 86400),
	OPTION("region", '\0', OPTION_STRING, region, 0, 0),
	OPTION("keys-refresh", '\0', OPTION_INT, keys_refresh_s, 1, 86400),
	OPTION("shutdown-timeout", '\0', OPTION_INT, shutdown_timeout_s, 0, 86400),
	OPTION("log-level", '\0', OPTION_LEVEL, log_level, 0, 0),
	OPTION("request-log-level", '\0', OPTION_LEVEL, request_log_level, 0, 0),
	OPTION("max-clients-per-address", '\0', OPTION_INT, max_clients_per_address, 1, 100000),
	OPTION("request-deadline", '\0', OPTION_INT, request_deadline_s, 1, 86400),
	OPTION("metrics-listen", '\0', OPTION_STRING, metrics_listen, 0, 0),
	OPTION("metrics-role", '\0', OPTION_STRING, metrics_role, 0, 0),
};

/* getopt's code of options[i]: its short name, or 256 + i */
#define OPTION_CODE(i) (options[i].short_name ? options[i].short_name : 256 + (i))

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
		   "      --metrics-listen=ADDRESS:PORT  also serve GET /metrics there, without\n"
		   "                               authentication, as --metrics-role (default: only\n"
		   "                               SigV4-signed GET /metrics on --listen, as the key's role)\n"
		   "      --metrics-role=ROLE      the role unauthenticated scrapes run as: they see\n"
		   "                               the metrics of the streams it may read\n"
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

/* one option's value, from a flag (named --name) or a configuration line (name) */
static void
set_option(const EndpointOption *option, const char *name, const char *value)
{
	void	   *field = (char *) &ep_config + option->offset;

	switch (option->kind)
	{
		case OPTION_STRING:
			*(char **) field = pg_strdup(value);
			break;
		case OPTION_INT:
			*(int *) field = parse_int(name, value, option->min, option->max);
			break;
		case OPTION_LEVEL:
			*(EndpointLogLevel *) field = parse_level(name, value);
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

/*
 * One configuration line, as postgresql.conf reads one: "name = value",
 * the value bare or in single quotes ('' for a quote inside), '#' outside
 * quotes starting a comment.  *name is NULL for a blank or comment line;
 * NULL, or what is wrong with the line.
 */
static const char *
parse_config_line(char *line, char **name, char **value)
{
	char	   *eq = line + strcspn(line, "=#");
	char	   *p;
	char	   *in;
	char	   *out;

	*name = NULL;
	if (*eq != '=')
	{
		*eq = '\0';
		return *trim(line) == '\0' ? NULL : "expected \"name = value\"";
	}
	*eq = '\0';
	*name = trim(line);
	if (**name == '\0')
		return "expected \"name = value\"";
	p = eq + 1;
	p += strspn(p, " \t");
	if (*p != '\'')
	{
		p[strcspn(p, "#")] = '\0';
		*value = trim(p);
		return NULL;
	}
	/* the quoted value, unquoted in place: out stays behind in */
	*value = out = p;
	for (in = p + 1;; in++)
	{
		if (*in == '\0' || *in == '\n' || *in == '\r')
			return "unterminated quoted value";
		if (in[0] == '\'' && in[1] != '\'')
			break;
		if (in[0] == '\'')
			in++;				/* '' is one quote */
		*out++ = *in;
	}
	*out = '\0';
	in += 1 + strspn(in + 1, " \t\r\n");
	if (*in != '\0' && *in != '#')
		return "unexpected text after the quoted value";
	return NULL;
}

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
		char	   *name;
		char	   *value;
		const char *error;
		const EndpointOption *option = NULL;

		lineno++;
		error = parse_config_line(line, &name, &value);
		if (error)
		{
			fprintf(stderr, "orders_stream_endpoint: %s:%d: %s\n", path, lineno, error);
			exit(2);
		}
		if (name == NULL)
			continue;
		for (int i = 0; i < lengthof(options); i++)
			if (strcmp(options[i].name, name) == 0)
				option = &options[i];
		if (option == NULL)
		{
			fprintf(stderr, "orders_stream_endpoint: %s:%d: unknown option \"%s\"\n", path, lineno, name);
			exit(2);
		}
		set_option(option, name, value);
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

/*
 * Flags, after the configuration file.  getopt's table is made from
 * options[], with --config, --help and --version; exits on --help,
 * --version or a wrong flag.
 */
static void
parse_flags(int argc, char **argv)
{
	static const struct option other_options[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}
	};
	struct option long_options[lengthof(options) + lengthof(other_options)];
	char		flag[64];
	int			c;

	for (int i = 0; i < lengthof(options); i++)
	{
		long_options[i].name = options[i].name;
		long_options[i].has_arg = required_argument;
		long_options[i].flag = NULL;
		long_options[i].val = OPTION_CODE(i);
	}
	memcpy(long_options + lengthof(options), other_options, sizeof(other_options));

	while ((c = getopt_long(argc, argv, "c:l:p:d:hV", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'h':
				usage();
				exit(0);
			case 'V':
				printf("orders_stream_endpoint 1.0 (libmicrohttpd %s)\n", MHD_get_version());
				exit(0);
			case 'c':
				break;
			case '?':
				fprintf(stderr, "Try \"orders_stream_endpoint --help\" for more information.\n");
				exit(2);
			default:
				for (int i = 0; i < lengthof(options); i++)
				{
					if (OPTION_CODE(i) != c)
						continue;
					snprintf(flag, sizeof(flag), "--%s", options[i].name);
					set_option(&options[i], flag, optarg);
				}
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "orders_stream_endpoint: unexpected argument \"%s\"\n", argv[optind]);
		exit(2);
	}
	/* scrapes without a key run as a role named on purpose, never as --db's user */
	if (ep_config.metrics_listen != NULL && ep_config.metrics_role == NULL)
	{
		fprintf(stderr, "orders_stream_endpoint: --metrics-listen needs --metrics-role\n");
		exit(2);
	}
}

/*
 * --db as the log shows it: each option it sets but a password (libpq's
 * dispchar "*").  Exits if libpq cannot read it, without libpq's message,
 * which may quote the string and its password.
 */
static char *
conninfo_for_log(void)
{
	char	   *error = NULL;
	PQconninfoOption *parsed = PQconninfoParse(ep_config.conninfo, &error);
	PQExpBufferData buf;

	if (parsed == NULL)
	{
		fprintf(stderr, "orders_stream_endpoint: invalid value for --db: %s\n",
				error ? "not a libpq connection string or URI" : "out of memory");
		PQfreemem(error);
		exit(2);
	}
	initPQExpBuffer(&buf);
	for (PQconninfoOption *o = parsed; o->keyword; o++)
		if (o->val && strchr(o->dispchar, '*') == NULL)
			appendPQExpBuffer(&buf, "%s%s=%s", buf.len > 0 ? " " : "", o->keyword, o->val);
	PQconninfoFree(parsed);
	if (PQExpBufferDataBroken(buf))
	{
		fprintf(stderr, "orders_stream_endpoint: out of memory\n");
		exit(2);
	}
	return buf.data;
}

/*
 * Takes signals (SIGHUP: reload the keys) until one asks for a stop: its
 * number; 0 if the access key thread gave up instead.
 */
static int
wait_for_stop(int signal_fd)
{
	struct pollfd pfd[2] = {
		{.fd = signal_fd, .events = POLLIN},
		{.fd = keys_failure_fd(), .events = POLLIN},
	};

	for (;;)
	{
		struct signalfd_siginfo si;

		if (poll(pfd, lengthof(pfd), -1) < 0)
		{
			if (errno == EINTR)
				continue;
			ep_log(EP_LOG_ERROR, "could not wait for signals: %s", strerror(errno));
			return 0;
		}
		if (pfd[1].revents != 0)
			return 0;
		if (read(signal_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGHUP)
			return (int) si.ssi_signo;
		ep_log(EP_LOG_INFO, "SIGHUP: reloading the access keys");
		keys_request_reload();
	}
}

/* Stops accepting, lets the requests in flight finish, closes everything. */
static void
shut_down(struct MHD_Daemon *daemon)
{
	int			listen_fd = MHD_quiesce_daemon(daemon);

	if (listen_fd >= 0)
		close(listen_fd);
	if (!http_wait_idle(ep_config.shutdown_timeout_s))
		ep_log(EP_LOG_WARNING, "%d requests still in flight after %d s: closing them",
			   http_in_flight(), ep_config.shutdown_timeout_s);
	http_stop(daemon);
	keys_stop();
	pool_close();
	ep_log(EP_LOG_INFO, "stopped");
}

/*
 * The pool, the HTTP daemon, then the access key thread: listening first,
 * a port that is taken fails the start before any database connection.
 * NULL (logged) if a part cannot start, once the parts before it are
 * undone.
 */
static struct MHD_Daemon *
start_serving(void)
{
	struct MHD_Daemon *daemon;

	raise_open_files_limit();
	if (!pool_init())
		return NULL;
	daemon = http_start();
	if (daemon == NULL)
	{
		pool_close();
		return NULL;
	}
	if (!keys_start())
	{
		http_stop(daemon);
		pool_close();
		return NULL;
	}
	return daemon;
}

int
main(int argc, char **argv)
{
	sigset_t	signals;
	int			signal_fd;
	char	   *db;
	struct MHD_Daemon *daemon;
	int			sig;

	/* the configuration file first, so that flags override it */
	for (int i = 1; i < argc; i++)
	{
		if (strncmp(argv[i], "--config=", 9) == 0)
			read_config(argv[i] + 9);
		else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
			read_config(argv[++i]);
	}
	parse_flags(argc, argv);
	db = conninfo_for_log();

	/* every thread inherits these blocked; only signal_fd takes them */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (signal_fd < 0)
	{
		ep_log(EP_LOG_ERROR, "could not create a signalfd: %s", strerror(errno));
		free(db);
		return 1;
	}

	daemon = start_serving();
	if (daemon == NULL)
	{
		close(signal_fd);
		free(db);
		return 1;
	}
	ep_log(EP_LOG_INFO, "listening on %s port %d, %d database connections, database \"%s\"",
		   ep_config.listen_address, ep_config.port, ep_config.pool_size, db);
	if (ep_config.metrics_listen != NULL)
		ep_log(EP_LOG_INFO, "serving GET /metrics without authentication on %s as role \"%s\"",
			   ep_config.metrics_listen, ep_config.metrics_role);

	sig = wait_for_stop(signal_fd);
	if (sig != 0)
		ep_log(EP_LOG_INFO, "%s: shutting down, %d requests in flight", strsignal(sig),
			   http_in_flight());
	else
		ep_log(EP_LOG_ERROR, "the access keys cannot be loaded: shutting down, %d requests in flight",
			   http_in_flight());
	shut_down(daemon);
	close(signal_fd);
	free(db);
	return sig != 0 ? 0 : 1;
}
