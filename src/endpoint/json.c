/*-------------------------------------------------------------------------
 * json.c
 *	  Request bodies checked before they reach the database, and request
 *	  data echoed back made valid UTF-8.
 *
 *	  The jsonb input function recurses once per level of nesting: a signed
 *	  body of 30 KB nested 15,000 deep exceeds max_stack_depth there, a
 *	  server error for what is the client's fault.  So the endpoint scans
 *	  each body itself first, iteratively, and answers what AWS answers for
 *	  a body it cannot read: 400 SerializationException.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <ctype.h>

#include "json.h"

int
ep_utf8_char(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	int			n;
	unsigned char lo = 0x80,
				hi = 0xBF;		/* bounds of the second byte */

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F;			/* no surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;			/* nothing past U+10FFFF */
	}
	else
		return 0;
	if (len < (size_t) n || s[1] < lo || s[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return n;
}

void
ep_json_append_string(PQExpBuffer buf, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		left = strlen(s);

	appendPQExpBufferChar(buf, '"');
	while (left > 0)
	{
		int			n = ep_utf8_char(p, left);

		if (*p == '"' || *p == '\\')
			appendPQExpBuffer(buf, "\\%c", *p);
		else if (*p == '\n')
			appendPQExpBufferStr(buf, "\\n");
		else if (*p < 0x20 || *p == 0x7F)
			appendPQExpBuffer(buf, "\\u%04x", *p);
		else if (n == 0)
			appendPQExpBufferStr(buf, "\\ufffd");
		else
			appendBinaryPQExpBuffer(buf, (const char *) p, n);
		n = Max(n, 1);
		p += n;
		left -= n;
	}
	appendPQExpBufferChar(buf, '"');
}

/* A scan of one body: where it is, and the message of the first error */
typedef struct JsonScan
{
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	char	   *msg;
	size_t		msglen;
} JsonScan;

static bool
fail(JsonScan *js, const char *what)
{
	snprintf(js->msg, js->msglen, "the request body is not a JSON document: %s at byte %zu",
			 what, (size_t) (js->p - js->start));
	return false;
}

static void
skip_space(JsonScan *js)
{
	while (js->p < js->end &&
		   (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r'))
		js->p++;
}

static bool
scan_string(JsonScan *js)
{
	js->p++;					/* the opening quote */
	while (js->p < js->end)
	{
		unsigned char c = *js->p;
		int			n;

		if (c == '"')
		{
			js->p++;
			return true;
		}
		if (c < 0x20)
			return fail(js, "a control character in a string");
		if (c == '\\')
		{
			if (js->p + 1 >= js->end)
				break;
			c = js->p[1];
			if (c == 'u')
			{
				if (js->end - js->p < 6 ||
					!isxdigit(js->p[2]) || !isxdigit(js->p[3]) ||
					!isxdigit(js->p[4]) || !isxdigit(js->p[5]))
					return fail(js, "an invalid \\u escape");
				js->p += 6;
			}
			else if (strchr("\"\\/bfnrt", c) != NULL && c != '\0')
				js->p += 2;
			else
				return fail(js, "an invalid escape");
			continue;
		}
		n = ep_utf8_char(js->p, js->end - js->p);
		if (n == 0)
			return fail(js, "a byte sequence that is no UTF-8");
		js->p += n;
	}
	return fail(js, "an unterminated string");
}

static bool
scan_digits(JsonScan *js)
{
	const unsigned char *from = js->p;

	while (js->p < js->end && isdigit(*js->p))
		js->p++;
	return js->p > from;
}

static bool
scan_scalar(JsonScan *js)
{
	static const char *const literals[] = {"true", "false", "null"};
	unsigned char c = *js->p;

	if (c == '"')
		return scan_string(js);
	if (c == '-' || isdigit(c))
	{
		if (c == '-')
			js->p++;
		if (js->p < js->end && *js->p == '0')
			js->p++;
		else if (!scan_digits(js))
			return fail(js, "an invalid number");
		if (js->p < js->end && *js->p == '.')
		{
			js->p++;
			if (!scan_digits(js))
				return fail(js, "an invalid number");
		}
		if (js->p < js->end && (*js->p == 'e' || *js->p == 'E'))
		{
			js->p++;
			if (js->p < js->end && (*js->p == '+' || *js->p == '-'))
				js->p++;
			if (!scan_digits(js))
				return fail(js, "an invalid number");
		}
		return true;
	}
	for (int i = 0; i < lengthof(literals); i++)
	{
		size_t		n = strlen(literals[i]);

		if ((size_t) (js->end - js->p) >= n && memcmp(js->p, literals[i], n) == 0)
		{
			js->p += n;
			return true;
		}
	}
	return fail(js, "an unexpected character");
}

bool
ep_json_check(const char *body, size_t len, char *msg, size_t msglen)
{
	/* the open containers, innermost last: '{' or '[' */
	char		open[EP_JSON_MAX_DEPTH];
	int			depth = 0;
	enum
	{
		VALUE, VALUE_OR_CLOSE, MEMBER, MEMBER_OR_CLOSE, AFTER_VALUE
	}			state = VALUE;
	JsonScan	js = {(const unsigned char *) body, (const unsigned char *) body,
	(const unsigned char *) body + len, msg, msglen};

	for (;;)
	{
		skip_space(&js);
		switch (state)
		{
			case VALUE_OR_CLOSE:
				if (js.p < js.end && *js.p == ']')
				{
					js.p++;
					depth--;
					state = AFTER_VALUE;
					break;
				}
				/* FALLTHROUGH */
			case VALUE:
				if (js.p >= js.end)
					return fail(&js, "a value expected");
				if (*js.p == '{' || *js.p == '[')
				{
					if (depth == EP_JSON_MAX_DEPTH)
					{
						snprintf(msg, msglen, "the request body nests objects and arrays deeper than %d levels",
								 EP_JSON_MAX_DEPTH);
						return false;
					}
					open[depth++] = *js.p;
					state = *js.p == '{' ? MEMBER_OR_CLOSE : VALUE_OR_CLOSE;
					js.p++;
					break;
				}
				if (!scan_scalar(&js))
					return false;
				state = AFTER_VALUE;
				break;
			case MEMBER_OR_CLOSE:
				if (js.p < js.end && *js.p == '}')
				{
					js.p++;
					depth--;
					state = AFTER_VALUE;
					break;
				}
				/* FALLTHROUGH */
			case MEMBER:
				if (js.p >= js.end || *js.p != '"')
					return fail(&js, "a member name expected");
				if (!scan_string(&js))
					return false;
				skip_space(&js);
				if (js.p >= js.end || *js.p != ':')
					return fail(&js, "':' expected");
				js.p++;
				state = VALUE;
				break;
			case AFTER_VALUE:
				if (depth == 0)
				{
					if (js.p < js.end)
						return fail(&js, "more than one value");
					return true;
				}
				if (js.p < js.end && *js.p == ',')
				{
					js.p++;
					state = open[depth - 1] == '{' ? MEMBER : VALUE;
				}
				else if (js.p < js.end && *js.p == (open[depth - 1] == '{' ? '}' : ']'))
				{
					js.p++;
					depth--;
				}
				else
					return fail(&js, open[depth - 1] == '{' ? "',' or '}' expected" : "',' or ']' expected");
				break;
		}
	}
}
