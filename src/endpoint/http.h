/*-------------------------------------------------------------------------
 * http.h
 *	  The HTTP side of orders_stream_endpoint (libmicrohttpd).
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_HTTP_H
#define ORDERS_STREAM_HTTP_H

struct MHD_Daemon;

/* Listens on --listen:--port, and on --metrics-listen if set; NULL (logged) if it cannot. */
extern struct MHD_Daemon *http_start(void);

/* Stops the deadline thread, then the daemon (closing every connection). */
extern void http_stop(struct MHD_Daemon *d);

/* Requests received and not yet answered and sent. */
extern int	http_in_flight(void);

/* Waits until no request is in flight, or timeout_s has passed: whether none is. */
extern bool http_wait_idle(int timeout_s);

#endif							/* ORDERS_STREAM_HTTP_H */
