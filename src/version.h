/*-------------------------------------------------------------------------
 * version.h
 *	  The library's version and the extension's installed one: the workers
 *	  and the SQL functions that need both to agree check them here.
 *
 * A leaf: it uses no other module of orders_stream.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_VERSION_H
#define ORDERS_STREAM_VERSION_H

#include "postgres.h"

/*
 * The library's version: the control file's default_version when it was
 * built (the Makefile passes it).
 */
#define VERSION_LIBRARY ORDERS_STREAM_VERSION

/*
 * The installed version of the extension in this database (palloc'd), or
 * NULL if it is not installed.  Needs a transaction.
 */
extern char *version_installed(void);

/*
 * Orders two versions of the form N.N...: negative, zero or positive as a
 * is older than, the same as or newer than b.
 */
extern int	version_compare(const char *a, const char *b);

/*
 * Raises ERROR unless the installed version is the library's: for the SQL
 * functions that depend on objects of the library's version, or that wait
 * for the workers, which do nothing until the versions agree.
 */
extern void version_require_installed(const char *function);

#endif							/* ORDERS_STREAM_VERSION_H */
