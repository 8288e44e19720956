/*-------------------------------------------------------------------------
 * log.c
 *	  Log lines of orders_stream_endpoint, on stderr (journald under systemd):
 *	  "<UTC time> <level> <message>", one write per line, so that lines of
 *	  concurrent requests never interleave, in valid UTF-8 whatever bytes a
 *	  client sent.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

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
	char		msg[4096];
	char		line[4096 + 64];
	struct timeval tv;
	struct tm	tm;
	size_t		n;
	size_t		len;
	va_list		ap;

	if (level < ep_config.log_level || level >= EP_LOG_NONE)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - n, ".%03dZ %s ",
				  (int) (tv.tv_usec / 1000), level_names[level]);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	/*
	 * Messages echo request data (an access key id, a header) and libpq's
	 * messages end in, and may hold, newlines: one line per entry, in valid
	 * UTF-8, with every other byte shown as \xNN.
	 */
	len = strlen(msg);
	for (size_t i = 0; i < len && n < sizeof(line) - 5;)
	{
		unsigned char c = (unsigned char) msg[i];
		int			k = ep_utf8_char((const unsigned char *) msg + i, len - i);

		if (c == '\n' || c == '\t')
			line[n++] = ' ';
		else if (k == 0 || c < 0x20 || c == 0x7F)
			n += snprintf(line + n, 5, "\\x%02X", c);
		else
		{
			memcpy(line + n, msg + i, k);
			n += k;
		}
		i += Max(k, 1);
	}
	while (n > 0 && line[n - 1] == ' ')
		n--;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;					/* nowhere left to report it */
}
