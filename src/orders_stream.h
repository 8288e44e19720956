/*-------------------------------------------------------------------------
 * orders_stream.h
 *	  GUCs and names shared by every part of orders_stream.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_H
#define ORDERS_STREAM_H

#define ORDERS_STREAM_SCHEMA	"orders_stream"
#define ORDERS_STREAM_PLUGIN	"orders_stream"
/* the replication origin of the TTL worker's transactions (ttl_worker.c) */
#define ORDERS_STREAM_TTL_ORIGIN	"orders_stream_ttl"

/* GUCs */
extern char *orders_stream_region;
extern char *orders_stream_account_id;
extern bool orders_stream_allow_truncate;
extern char *orders_stream_database;
extern int	orders_stream_retention;	/* seconds */
extern int	orders_stream_partition_interval;	/* seconds */
extern int	orders_stream_capture_naptime;	/* milliseconds */
extern int	orders_stream_decoding_work_mem;	/* kB */
extern int	orders_stream_retry_base_delay; /* milliseconds */
extern int	orders_stream_retry_max_delay;	/* milliseconds */
extern int	orders_stream_function_timeout; /* milliseconds, 0 = none */
extern int	orders_stream_max_record_size;	/* bytes */
extern int	orders_stream_function_timeout_grace;	/* milliseconds */
extern int	orders_stream_max_batch_size_bytes; /* bytes */
extern int	orders_stream_ttl_naptime;	/* milliseconds */
extern int	orders_stream_ttl_batch_size;	/* rows */
extern int	orders_stream_ttl_batch_timeout;	/* milliseconds */
extern int	orders_stream_max_delivery_workers;

/* Defines the GUCs above; from _PG_init. */
extern void orders_stream_define_settings(void);

#endif							/* ORDERS_STREAM_H */
