/*-------------------------------------------------------------------------
 * json.h
 *	  What the endpoint reads from and writes to clients as text: request
 *	  bodies checked before the database sees them, and request data echoed
 *	  in answers and log lines made valid UTF-8.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_JSON_H
#define ORDERS_STREAM_JSON_H

#include "pqexpbuffer.h"

/*
 * Deepest nesting of objects and arrays a request body may have.  No
 * DynamoDB Streams request nests deeper than 3; the bound keeps the jsonb
 * parser's recursion far from max_stack_depth.
 */
#define EP_JSON_MAX_DEPTH 64

/* Length of the valid UTF-8 character at s (at most len bytes), or 0. */
extern int	ep_utf8_char(const unsigned char *s, size_t len);

/*
 * Whether body is one JSON value in valid UTF-8 (RFC 8259), nested at most
 * EP_JSON_MAX_DEPTH deep; if not, msg says why, for the client.
 */
extern bool ep_json_check(const char *body, size_t len, char *msg, size_t msglen);

/*
 * s as a JSON string literal: quotes, backslashes and control characters
 * escaped, each byte that is no valid UTF-8 as U+FFFD.
 */
extern void ep_json_append_string(PQExpBuffer buf, const char *s);

#endif							/* ORDERS_STREAM_JSON_H */
