/*-------------------------------------------------------------------------
 * compat.h
 *	  Every PostgreSQL-version difference orders_stream cares about.
 *
 * orders_stream targets PostgreSQL 15; the checks below keep a build on
 * another major version from failing in obscure ways.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_COMPAT_H
#define ORDERS_STREAM_COMPAT_H

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "orders_stream supports PostgreSQL 15"
#endif

#endif							/* ORDERS_STREAM_COMPAT_H */
