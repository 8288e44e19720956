/*-------------------------------------------------------------------------
 * orders_stream.c
 *	  The GUCs every part of orders_stream reads (orders_stream.h).  The
 *	  library's entry point, which defines them, is shared_library_init.c.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "utils/guc.h"
#include "utils/memutils.h"

#include "compat.h"
#include "orders_stream.h"

char	   *orders_stream_region = NULL;
char	   *orders_stream_account_id = NULL;
bool		orders_stream_allow_truncate = false;
char	   *orders_stream_database = NULL;
int			orders_stream_retention = 86400;
int			orders_stream_partition_interval = 3600;
int			orders_stream_capture_naptime = 1000;
int			orders_stream_decoding_work_mem = 16384;
int			orders_stream_retry_base_delay = 1000;
int			orders_stream_retry_max_delay = 60000;
int			orders_stream_function_timeout = 300000;
int			orders_stream_max_record_size = 6 * 1024 * 1024;
int			orders_stream_function_timeout_grace = 5000;
int			orders_stream_max_batch_size_bytes = 6 * 1024 * 1024;
int			orders_stream_ttl_naptime = 5000;
int			orders_stream_ttl_batch_size = 500;
int			orders_stream_ttl_batch_timeout = 1000;
int			orders_stream_max_delivery_workers = 4;

/* AWS account ids are twelve digits. */
static bool
check_account_id(char **newval, void **extra, GucSource source)
{
	const char *p;

	for (p = *newval; *p; p++)
		if (!isdigit((unsigned char) *p))
			break;
	if (*p != '\0' || p - *newval != 12)
	{
		GUC_check_errdetail("An AWS account id is exactly twelve digits, such as 000000000000.");
		return false;
	}
	return true;
}

/* Region names go into ARNs: lower-case letters, digits and dashes. */
static bool
check_region(char **newval, void **extra, GucSource source)
{
	const char *p;

	for (p = *newval; *p; p++)
		if (!(islower((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '-'))
			break;
	if (*p != '\0' || p == *newval)
	{
		GUC_check_errdetail("A region is lower-case letters, digits and dashes, such as eu-west-1.");
		return false;
	}
	return true;
}

void
orders_stream_define_settings(void)
{
	DefineCustomStringVariable("orders_stream.region",
							   "AWS region shown in stream ARNs and records (awsRegion).",
							   NULL,
							   &orders_stream_region,
							   "local",
							   PGC_SUSET, 0,
							   check_region, NULL, NULL);
	DefineCustomStringVariable("orders_stream.account_id",
							   "AWS account id shown in stream ARNs.",
							   NULL,
							   &orders_stream_account_id,
							   "000000000000",
							   PGC_SUSET, 0,
							   check_account_id, NULL, NULL);
	DefineCustomBoolVariable("orders_stream.allow_truncate",
							 "Allows TRUNCATE of tables with a stream (no REMOVE records are emitted).",
							 NULL,
							 &orders_stream_allow_truncate,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("orders_stream.database",
							   "Database in which the orders_stream workers run.",
							   NULL,
							   &orders_stream_database,
							   "postgres",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.retention",
							"How long stream records are kept.",
							NULL,
							&orders_stream_retention,
							86400, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.partition_interval",
							"Span of capture time held by one partition of orders_stream.record_store.",
							NULL,
							&orders_stream_partition_interval,
							3600, 1, 86400,
							PGC_POSTMASTER, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.capture_naptime",
							"Longest sleep of the capture worker between passes when no commit wakes it.",
							NULL,
							&orders_stream_capture_naptime,
							1000, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("orders_stream.decoding_work_mem",
							"Memory the capture worker's reorder buffer may use before it streams the largest transaction (at most logical_decoding_work_mem).",
							NULL,
							&orders_stream_decoding_work_mem,
							16384, 64, MAX_KILOBYTES,
							PGC_POSTMASTER, GUC_UNIT_KB,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.retry_base_delay",
							"Delay before the first retry of a failed batch; each further retry doubles it.",
							NULL,
							&orders_stream_retry_base_delay,
							1000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.retry_max_delay",
							"Longest delay between retries of a failed batch.",
							NULL,
							&orders_stream_retry_max_delay,
							60000, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.function_timeout",
							"Longest run of one invocation of a mapping's function (0 = no limit); a longer one fails.",
							NULL,
							&orders_stream_function_timeout,
							300000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.function_timeout_grace",
							"How long a function may go on after the cancel at orders_stream.function_timeout before its process is terminated.",
							"A function that catches the cancel (query_canceled) is ended this long after it: the delivery worker exits and restarts, and the invocation counts as a failed attempt.",
							&orders_stream_function_timeout_grace,
							5000, 100, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.max_batch_size_bytes",
							"Largest event (sum of its records' JSON) handed to a mapping's function; a larger record goes alone.",
							NULL,
							&orders_stream_max_batch_size_bytes,
							6 * 1024 * 1024, 1024, 256 * 1024 * 1024,
							PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("orders_stream.max_delivery_workers",
							"Most delivery workers running at once; each serves one lane of a mapping at a time.",
							"They are background workers: max_worker_processes must leave room for them, the capture worker and the delivery launcher.",
							&orders_stream_max_delivery_workers,
							4, 1, 1024,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	/*
	 * The cap keeps a record's rendering (at most seven times the limit, see
	 * record.c) under the 1 GB allocation limit.
	 */
	DefineCustomIntVariable("orders_stream.max_record_size",
							"Largest stream record; a larger one is stored with its Keys only, and logged in orders_stream.capture_exceptions.",
							NULL,
							&orders_stream_max_record_size,
							6 * 1024 * 1024, 4096, (int) (MaxAllocSize / 8),
							PGC_SIGHUP, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("orders_stream.ttl_naptime",
							"Sleep of the time to live worker between passes when no table has a backlog of expired rows.",
							NULL,
							&orders_stream_ttl_naptime,
							5000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.ttl_batch_size",
							"Most rows the time to live worker deletes in one transaction.",
							NULL,
							&orders_stream_ttl_batch_size,
							500, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("orders_stream.ttl_batch_timeout",
							"Longest transaction of the time to live worker; a longer one is cancelled and the next batch is halved.",
							NULL,
							&orders_stream_ttl_batch_timeout,
							1000, 10, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("orders_stream");
}
