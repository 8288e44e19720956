/*-------------------------------------------------------------------------
 * json_check.h
 *	  Whether a text is JSON, as json_in() decides it, in one pass
 *	  (json_check.c).
 *
 * A leaf: it uses no other module of orders_stream.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_JSON_CHECK_H
#define ORDERS_STREAM_JSON_CHECK_H

#include "postgres.h"

extern bool json_check(const char *data, int len);

#endif							/* ORDERS_STREAM_JSON_CHECK_H */
