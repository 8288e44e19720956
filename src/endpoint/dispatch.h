/*-------------------------------------------------------------------------
 * dispatch.h
 *	  One authenticated request through orders_stream.dynamodb_streams_text().
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_DISPATCH_H
#define ORDERS_STREAM_DISPATCH_H

/* An HTTP answer: status, JSON body (malloc'd), exception name for the log */
typedef struct EpResponse
{
	int			status;
	char	   *body;
	char		type[96];
} EpResponse;

/* AWS's error body, {"__type": "<namespace>#<name>", "message": ...} */
extern void ep_error(EpResponse *resp, int status, const char *ns,
					 const char *name, const char *message);

/*
 * Runs the operation of X-Amz-Target on the request body as role, on a
 * pooled connection; fills resp with DynamoDB Streams' answer.
 */
extern void dispatch_request(const char *role, const char *target,
							 const char *body, EpResponse *resp);

/*
 * GET /metrics: orders_stream.prometheus_metrics() as role; on success, the
 * body is Prometheus' text exposition format.
 */
extern void dispatch_metrics(const char *role, EpResponse *resp);

#endif							/* ORDERS_STREAM_DISPATCH_H */
