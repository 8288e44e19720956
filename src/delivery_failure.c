/*-------------------------------------------------------------------------
 * delivery_failure.c
 *	  Batches given up on: the orders_stream_internal.failures row with the Lambda
 *	  OnFailure document, and the errors that describe them.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/uuid.h"

#include "compat.h"
#include "delivery_internal.h"
#include "filter.h"
#include "orders_stream.h"
#include "workers.h"

char *
delivery_failure_describe(ErrorData *e)
{
	return psprintf("%s: %s", unpack_sql_state(e->sqlerrcode), e->message ? e->message : "");
}

/*
 * The function's name for messages, schema-qualified as in the
 * event_source_mapping_status view's function column.  Looked up by OID:
 * the mapping's function_name is the regprocedure text of its creator's
 * search_path, which this worker's search_path may not resolve.
 */
char *
delivery_failure_function_name(Mapping *m)
{
	char	   *name = get_func_name(m->target.function);
	char	   *nsp;

	if (name == NULL)
		return m->function_name;	/* dropped since */
	nsp = get_namespace_name(get_func_namespace(m->target.function));
	return (char *) quote_qualified_identifier(nsp, name);
}

/* The records [from, to) of a batch, as a JSON array. */
static char *
records_json(Batch *b, int from, int to)
{
	StringInfoData records;
	int			i;

	initStringInfo(&records);
	appendStringInfoChar(&records, '[');
	for (i = from; i < to; i++)
	{
		if (i > from)
			appendStringInfoChar(&records, ',');
		appendStringInfoString(&records, b->records[i]);
	}
	appendStringInfoChar(&records, ']');
	return records.data;
}

/*
 * The error's SQLSTATE, message, and detail, hint and context as lines of
 * one text (NULL if none), or nulls without an error.
 */
static void
error_columns(ErrorData *e, Datum *values, char *nulls)
{
	if (e == NULL)
	{
		nulls[0] = nulls[1] = nulls[2] = 'n';
		return;
	}
	values[0] = CStringGetTextDatum(unpack_sql_state(e->sqlerrcode));
	values[1] = CStringGetTextDatum(e->message ? e->message : "");
	if (e->detail || e->hint || e->context)
		values[2] = CStringGetTextDatum(psprintf("%s\n%s\n%s",
												 e->detail ? e->detail : "",
												 e->hint ? e->hint : "",
												 e->context ? e->context : ""));
	else
		nulls[2] = 'n';
}

/*
 * Writes the batch's records [from, to) to orders_stream_internal.failures with the
 * Lambda OnFailure document, as the on-failure destination does: a batch
 * is the lane's records only, so is its DDBStreamBatchInfo.
 */
void
delivery_failure_write(Mapping *m, Batch *b, int from, int to,
					   const char *condition, int invoke_count, ErrorData *e)
{
	Oid			argtypes[17] = {UUIDOID, OIDOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	INT4OID, TEXTOID, TEXTOID};
	Datum		values[17];
	char		nulls[17];
	char	   *proname = get_func_name(m->target.function);
	char	   *nspname = NULL;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = DirectFunctionCall1(uuid_in, CStringGetDatum(m->uuid));
	values[1] = ObjectIdGetDatum(m->target.owner);
	values[2] = CStringGetTextDatum(condition);
	/* functionArn's name (orders_stream.lambda_function_name): schema and name */
	if (proname != NULL)
		nspname = get_namespace_name(get_func_namespace(m->target.function));
	if (nspname != NULL)
		values[3] = CStringGetTextDatum(nspname);
	else
		nulls[3] = 'n';
	/* dropped since: the name the mapping has */
	values[16] = CStringGetTextDatum(proname != NULL ? proname : m->function_name);
	values[4] = CStringGetTextDatum(b->seqs[from]);
	values[5] = CStringGetTextDatum(b->seqs[to - 1]);
	values[6] = CStringGetTextDatum(records_json(b, from, to));
	values[7] = Int32GetDatum(invoke_count);
	values[8] = Int32GetDatum(to - from);
	values[9] = CStringGetTextDatum(m->shard_id);
	values[10] = CStringGetTextDatum(m->stream_arn);
	error_columns(e, values + 11, nulls + 11);
	values[14] = Int32GetDatum(m->lane);
	/* Lambda's functionError: null for a function that returned */
	if (e && !(e->context && strcmp(e->context, DELIVERY_RESPONSE_CONTEXT) == 0))
		values[15] = CStringGetTextDatum("Unhandled");
	else
		nulls[15] = 'n';

	if (SPI_execute_with_args(
							  "INSERT INTO orders_stream_internal.failures "
							  "(mapping_uuid, lane, owner_oid, condition, payload, records, sqlstate, message, detail, hint, context) "
							  "SELECT $1, $15, $2, $3, jsonb_build_object("
							  " 'requestContext', jsonb_build_object('requestId', gen_random_uuid(),"
							  "   'functionArn', format('arn:aws:lambda:%s:%s:function:%s',"
							  "      current_setting('orders_stream.region'), current_setting('orders_stream.account_id'),"
							  "      orders_stream.lambda_function_name($4, $17)),"
							  "   'condition', $3, 'approximateInvokeCount', $8),"
							  " 'responseContext', CASE WHEN $3 = 'RecordAgeExceeded' THEN jsonb_build_object('statusCode', 200, 'executedVersion', '$LATEST')"
							  "   ELSE jsonb_build_object('statusCode', 200, 'executedVersion', '$LATEST', 'functionError', $16) END,"
							  " 'version', '1.0',"
							  " 'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
							  " 'DDBStreamBatchInfo', jsonb_build_object('shardId', $10,"
							  "   'startSequenceNumber', $5, 'endSequenceNumber', $6,"
							  "   'approximateArrivalOfFirstRecord', to_char(to_timestamp((r.j->0->'dynamodb'->>'ApproximateCreationDateTime')::float8) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
							  "   'approximateArrivalOfLastRecord', to_char(to_timestamp((r.j->-1->'dynamodb'->>'ApproximateCreationDateTime')::float8) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
							  "   'batchSize', $9, 'streamArn', $11)),"
							  " r.j, $12, $13, split_part($14, E'\\n', 1), split_part($14, E'\\n', 2), "
							  " nullif(substr($14, length(split_part($14, E'\\n', 1)) + length(split_part($14, E'\\n', 2)) + 3), '') "
							  "FROM (SELECT $7::jsonb AS j) r",
							  17, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not write to orders_stream_internal.failures");
}

/* The error of an invocation whose worker did not survive it. */
ErrorData *
delivery_failure_killed_error(Mapping *m, const KilledInvocation *killed)
{
	ErrorData  *e = palloc0(sizeof(ErrorData));

	e->elevel = ERROR;
	if (killed->timed_out)
	{
		e->sqlerrcode = ERRCODE_QUERY_CANCELED;
		e->message = psprintf("function %s timed out after %d ms and ignored the cancel: its worker was terminated",
							  delivery_failure_function_name(m), killed->timeout_ms);
		e->hint = pstrdup("Let the function end when cancelled (do not catch query_canceled), or raise orders_stream.function_timeout.");
	}
	else
	{
		e->sqlerrcode = ERRCODE_ADMIN_SHUTDOWN;
		e->message = psprintf("the delivery worker exited while function %s ran",
							  delivery_failure_function_name(m));
	}
	return e;
}
