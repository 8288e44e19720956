/*-------------------------------------------------------------------------
 * log.c
 *	  Log lines of orders_stream_endpoint, on stderr (journald under systemd):
 *	  "<UTC time> <level> <message>", one write per line, so that lines of
 *	  concurrent requests never interleave.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warning", "error", "none"};

EndpointLogLevel
ep_parse_log_level(const char *name)
{
	for (int i = 0; i < lengthof(level_names); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (EndpointLogLevel) i;
	return (EndpointLogLevel) -1;
}

void
ep_log(EndpointLogLevel level, const char *fmt,...)
{
	char		line[4096];
	struct timeval tv;
	struct tm	tm;
	size_t		n;
	size_t		m;
	int			len;
	va_list		ap;

	if (level < ep_config.log_level || level >= EP_LOG_NONE)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03dZ %s ",
				  (int) (tv.tv_usec / 1000), level_names[level]);
	va_start(ap, fmt);
	len = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	m = Min(n + Max(len, 0), sizeof(line) - 2);
	/* libpq's messages end in, and may hold, newlines: one line per entry */
	for (; n < m; n++)
		if (line[n] == '\n')
			line[n] = ' ';
	while (n > 0 && line[n - 1] == ' ')
		n--;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;					/* nowhere left to report it */
}
