/*-------------------------------------------------------------------------
 * keys.h
 *	  The access keys of orders_stream_endpoint, in memory.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_KEYS_H
#define ORDERS_STREAM_KEYS_H

#define EP_SECRET_MAX 128
#define EP_ROLE_MAX 64

/* Starts the thread that loads the keys and keeps them current; false (logged) if it cannot. */
extern bool keys_start(void);

/*
 * A descriptor that becomes readable when the thread gave up for good (the
 * endpoint's role has rights of its own): the endpoint must then stop.
 */
extern int	keys_failure_fd(void);

/* Asks for a reload now (SIGHUP). */
extern void keys_request_reload(void);

/* Stops the thread and forgets the keys. */
extern void keys_stop(void);

/*
 * Copies the secret and role of a key into the buffers; false if there is
 * no such key.  Never touches the database.
 */
extern bool keys_lookup(const char *access_key_id, char *secret, char *role);

#endif							/* ORDERS_STREAM_KEYS_H */
