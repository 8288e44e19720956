/*-------------------------------------------------------------------------
 * security.h
 *	  The privilege boundary: SQL run by orders_stream's C code with a pinned
 *	  search_path, as the caller or as the extension's owner.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_SECURITY_H
#define ORDERS_STREAM_SECURITY_H

#include "postgres.h"

#include "storage/lockdefs.h"
#include "utils/relcache.h"

#define ORDERS_STREAM_INTERNAL_SCHEMA	"orders_stream_internal"

/*
 * Sets search_path = pg_catalog, pg_temp until security_unpin_search_path() (or
 * the end of the transaction, on error); returns the GUC nest level.
 */
extern int	security_pin_search_path(void);
extern void security_unpin_search_path(int nestlevel);

/* The owner of the extension's tables (the extension's owner). */
extern Oid	security_extension_owner(void);

/*
 * One statement through SPI (connected by the caller), under a pinned
 * search_path, as the current user or as the extension's owner; errors
 * unless SPI returns expected.  nulls as in SPI_execute_with_args.
 */
extern void security_spi_exec(const char *sql, int nargs, Oid *argtypes,
						Datum *values, const char *nulls, int expected);
extern void security_spi_exec_as_owner(const char *sql, int nargs, Oid *argtypes,
								 Datum *values, const char *nulls, int expected);

/*
 * Clears the session state user code (a mapping's function, a TTL delete's
 * triggers) may leave in a worker's session, where the next role's code
 * would find it, or the worker's own queries: what DISCARD ALL clears, but
 * settings (the caller rolls its GUC nest level back), the session user
 * (which user code cannot change) and LISTEN (refused in a background
 * worker).  Runs as the worker's user, inside a transaction.
 */
extern void security_reset_session_state(void);

/*
 * Becomes owner to run user code, as a security-restricted operation with
 * search_path (pg_temp last); returns the GUC nest level that undoes it.
 */
extern int	security_become_owner(Oid owner, const char *search_path,
								  int sec_context);
extern void security_end_owner(int nestlevel, Oid save_userid,
							   int save_sec_context);

/*
 * Opens a table the caller must own, checking ownership before locking it
 * (and again after): for API functions that take a table's OID.
 */
extern Relation security_open_owned_table(Oid relid, LOCKMODE lockmode, const char *hint);

/*
 * Whether role may read the stream of table relid: SELECT on the table, and
 * no row-level security in its way.  false for a role that does not exist;
 * if_dropped for a table that does not exist.  The one copy of the rule,
 * also SQL's orders_stream.may_read().
 */
extern bool security_may_read(Oid role, Oid relid, bool if_dropped);

/*
 * Errors unless function may be an event source mapping's target: a
 * function of one jsonb argument returning one value.  Also SQL's
 * orders_stream_internal.check_target().
 */
extern void security_check_target(Oid function);

#endif							/* ORDERS_STREAM_SECURITY_H */
