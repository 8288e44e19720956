/*-------------------------------------------------------------------------
 * delivery_mapping.c
 *	  The mapping and lane rows: loading a lane with its mapping's
 *	  configuration, and saving the outcome of a step with the optimistic
 *	  xmin checks (neither row is locked while the function runs); and a
 *	  new mapping's owner anchor.
 *
 * Every query here runs in a delivery worker, whose search_path is
 * pg_catalog, pg_temp; they are schema-qualified all the same, and kept as
 * saved plans: a worker runs them for every batch.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "delivery_internal.h"
#include "orders_stream.h"
#include "security.h"

/* The stored states' names, as event_source_mapping_lanes.state holds them. */
static const char *const lane_state_names[] = {
	[LANE_READY] = "READY",
	[LANE_BACKOFF] = "BACKOFF",
	[LANE_BISECTING] = "BISECTING",
	[LANE_STALLED] = "STALLED",
	[LANE_WAITING_EPOCH] = "WAITING_EPOCH",
	[LANE_DRAINED] = "DRAINED"
};

static LaneState
lane_state_from_name(const char *name)
{
	int			i;

	for (i = 0; i < lengthof(lane_state_names); i++)
		if (strcmp(lane_state_names[i], name) == 0)
			return (LaneState) i;
	elog(ERROR, "unknown lane state \"%s\"", name);
	return LANE_READY;			/* keep compiler quiet */
}

SPIPlanPtr
delivery_plan(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes,
			  int cursor_options)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, cursor_options);

		if (plan == NULL)
			elog(ERROR, "could not prepare delivery query: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep delivery query plan");
		*cache = plan;
	}
	return *cache;
}

static SPIPlanPtr load_plan = NULL;
static SPIPlanPtr lock_plan = NULL;
static SPIPlanPtr save_plan = NULL;
static SPIPlanPtr error_plan = NULL;

/*
 * Runs a lane query, prepared and kept on first use, whose $1, $2 and $3
 * are the lane's mapping, epoch and lane; any result but expected is an
 * error that names the lane.
 */
static void
run_lane_query(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
			   Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(delivery_plan(plan, sql, nargs, argtypes, 0),
									  values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "query of lane %d.%d of event source mapping %s failed: %s",
			 DatumGetInt32(values[1]), DatumGetInt32(values[2]),
			 TextDatumGetCString(values[0]), SPI_result_code_string(rc));
}

/*
 * The row of a lane and its mapping (see delivery_mapping_load_lane()), or
 * NULL.
 */
static HeapTuple
read_lane_row(const LaneKey *key)
{
	Oid			argtypes[3] = {TEXTOID, INT4OID, INT4OID};
	Datum		values[3];

	values[0] = CStringGetTextDatum(key->mapping);
	values[1] = Int32GetDatum(key->epoch);
	values[2] = Int32GetDatum(key->lane);
	run_lane_query(&load_plan,
				   "SELECT m.stream_id, m.event_source_arn, s.shard_id, s.relid, "
				   "m.function_oid, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) m.anchor), "
				   "m.search_path, m.function_name, "
				   "m.batch_size, m.maximum_batching_window_in_seconds, "
				   "m.bisect_batch_on_function_error, m.maximum_retry_attempts, "
				   "m.maximum_record_age_in_seconds, "
				   "'ReportBatchItemFailures' OPERATOR(pg_catalog.=) ANY (m.function_response_types), "
				   "l.checkpoint, l.attempts, l.bisect_stack, m.enabled, l.next_attempt_at, "
				   "m.filter_criteria, m.xmin::pg_catalog.text::pg_catalog.int8, "
				   "l.xmin::pg_catalog.text::pg_catalog.int8, l.lanes, l.epoch_end, l.state, "
				   "EXISTS (SELECT FROM orders_stream.event_source_mapping_lanes o "
				   "  WHERE o.mapping_uuid OPERATOR(pg_catalog.=) l.mapping_uuid "
				   "    AND o.epoch OPERATOR(pg_catalog.<) l.epoch "
				   "    AND o.state OPERATOR(pg_catalog.<>) 'DRAINED'), "
				   "m.tumbling_window_in_seconds, l.window_start, l.window_state, "
				   "l.window_terminated_early, l.invoke_counts "
				   "FROM orders_stream_internal.event_source_mappings m "
				   "JOIN orders_stream.streams s ON s.stream_id OPERATOR(pg_catalog.=) m.stream_id "
				   "JOIN orders_stream.event_source_mapping_lanes l ON l.mapping_uuid OPERATOR(pg_catalog.=) m.uuid "
				   "WHERE m.uuid OPERATOR(pg_catalog.=) $1::pg_catalog.uuid "
				   "AND l.epoch OPERATOR(pg_catalog.=) $2 AND l.lane OPERATOR(pg_catalog.=) $3",
				   3, argtypes, values, NULL, SPI_OK_SELECT);
	return SPI_processed > 0 ? SPI_tuptable->vals[0] : NULL;
}

/* The mapping's configuration, from read_lane_row()'s row. */
static void
read_mapping_columns(Mapping *m, HeapTuple tup)
{
	bool		isnull;
	Datum		datum = spi_datum(tup, 20, &isnull);

	if (!isnull)
		m->filter_criteria = DatumGetJsonbPCopy(datum);
	m->stream_id = DatumGetInt64(spi_datum(tup, 1, &isnull));
	m->stream_arn = spi_text(tup, 2);
	m->shard_id = spi_text(tup, 3);
	m->relid = DatumGetObjectId(spi_datum(tup, 4, &isnull));
	m->target.function = DatumGetObjectId(spi_datum(tup, 5, &isnull));
	/* the role the function runs as, and whose access is checked */
	m->target.owner = DatumGetObjectId(spi_datum(tup, 6, &isnull));
	m->target.search_path = spi_text(tup, 7);
	m->function_name = spi_text(tup, 8);
	m->batch_size = DatumGetInt32(spi_datum(tup, 9, &isnull));
	m->window_secs = DatumGetInt32(spi_datum(tup, 10, &isnull));
	m->bisect = DatumGetBool(spi_datum(tup, 11, &isnull));
	m->max_retries = DatumGetInt32(spi_datum(tup, 12, &isnull));
	m->max_age_secs = DatumGetInt32(spi_datum(tup, 13, &isnull));
	m->report_item_failures = DatumGetBool(spi_datum(tup, 14, &isnull));
}

/* The lane's progress and its window, from read_lane_row()'s row. */
static void
read_progress_columns(Mapping *m, HeapTuple tup)
{
	bool		isnull;
	bool		start_isnull;
	bool		state_isnull;
	Datum		datum;
	Datum		start = spi_datum(tup, 28, &start_isnull);
	Datum		state = spi_datum(tup, 29, &state_isnull);

	m->checkpoint = spi_text(tup, 15);
	m->attempts = DatumGetInt32(spi_datum(tup, 16, &isnull));
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			i;

		/* bisect_stack and invoke_counts: NOT NULL, one element per pending half */
		deconstruct_array(DatumGetArrayTypeP(spi_datum(tup, 17, &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (i = 0; i < n; i++)
			m->bisect_stack = lappend(m->bisect_stack, TextDatumGetCString(elems[i]));
		deconstruct_array(DatumGetArrayTypeP(spi_datum(tup, 31, &isnull)),
						  INT4OID, sizeof(int32), true, TYPALIGN_INT, &elems, &nulls, &n);
		for (i = 0; i < n; i++)
			m->invoke_counts = lappend_int(m->invoke_counts, DatumGetInt32(elems[i]));
	}
	datum = spi_datum(tup, 19, &isnull);
	m->next_attempt_at = isnull ? 0 : DatumGetTimestampTz(datum);
	window_load(&m->window, DatumGetInt32(spi_datum(tup, 27, &isnull)),
				start_isnull, start_isnull ? 0 : DatumGetTimestampTz(start),
				state_isnull ? NULL : DatumGetJsonbPCopy(state),
				DatumGetBool(spi_datum(tup, 30, &isnull)));
}

/*
 * Loads a lane and its mapping; NULL if either is gone, the mapping is
 * disabled or the lane drained.  Nothing is locked:
 * delivery_mapping_save_outcome() checks that neither row has changed since.
 */
Mapping *
delivery_mapping_load_lane(const LaneKey *key)
{
	HeapTuple	tup = read_lane_row(key);
	Mapping    *m;
	bool		isnull;
	Datum		datum;

	if (tup == NULL || !DatumGetBool(spi_datum(tup, 18, &isnull)))
		return NULL;
	m = palloc0(sizeof(Mapping));
	m->uuid = pstrdup(key->mapping);
	m->epoch = key->epoch;
	m->lane = key->lane;
	m->xmin = (TransactionId) DatumGetInt64(spi_datum(tup, 21, &isnull));
	m->lane_xmin = (TransactionId) DatumGetInt64(spi_datum(tup, 22, &isnull));
	m->lanes = DatumGetInt32(spi_datum(tup, 23, &isnull));
	datum = spi_datum(tup, 24, &isnull);
	m->epoch_end = isnull ? NULL : TextDatumGetCString(datum);
	m->state = lane_state_from_name(spi_text(tup, 25));
	m->older_epochs = DatumGetBool(spi_datum(tup, 26, &isnull));
	if (m->state == LANE_DRAINED)
		return NULL;
	read_mapping_columns(m, tup);
	read_progress_columns(m, tup);
	return m;
}

/*
 * Locks the mapping row FOR SHARE if it is still the one loaded (same
 * xmin) and nobody is changing it (SKIP LOCKED); false if not.
 */
static bool
lock_mapping_as_loaded(Mapping *m)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(m->uuid);
	values[1] = Int64GetDatum((int64) m->xmin);
	if (SPI_execute_plan(delivery_plan(&lock_plan,
									   "SELECT FROM orders_stream_internal.event_source_mappings "
									   "WHERE uuid OPERATOR(pg_catalog.=) $1::pg_catalog.uuid "
									   "AND xmin::pg_catalog.text::pg_catalog.int8 OPERATOR(pg_catalog.=) $2 "
									   "FOR SHARE SKIP LOCKED",
									   2, argtypes, 0),
						 values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not lock event source mapping %s", m->uuid);
	return SPI_processed > 0;
}

/* The parameters of the lane's UPDATE in delivery_mapping_save_outcome(). */
static void
outcome_values(Mapping *m, Outcome *o, Datum *values, char *nulls)
{
	Datum	   *stack;
	Datum	   *counts;
	ListCell   *lc;
	int			i = 0;

	memset(nulls, ' ', 20);
	stack = palloc(sizeof(Datum) * Max(list_length(o->bisect_stack), 1));
	foreach(lc, o->bisect_stack)
		stack[i++] = CStringGetTextDatum((char *) lfirst(lc));
	counts = palloc(sizeof(Datum) * Max(list_length(o->invoke_counts), 1));
	foreach(lc, o->invoke_counts)
		counts[foreach_current_index(lc)] = Int32GetDatum(lfirst_int(lc));

	values[0] = CStringGetTextDatum(m->uuid);
	values[1] = Int32GetDatum(m->epoch);
	values[2] = Int32GetDatum(m->lane);
	values[3] = Int64GetDatum((int64) m->lane_xmin);
	values[4] = CStringGetTextDatum(lane_state_names[o->state]);
	values[5] = CStringGetTextDatum(o->checkpoint);
	values[6] = Int32GetDatum(o->attempts);
	if (o->next_attempt_at)
		values[7] = TimestampTzGetDatum(o->next_attempt_at);
	else
		nulls[7] = 'n';
	values[8] = PointerGetDatum(construct_array(stack, i, TEXTOID, -1, false, TYPALIGN_INT));
	values[9] = Int32GetDatum(o->invocations);
	values[10] = Int32GetDatum(o->errors);
	values[11] = Int32GetDatum(o->retries);
	values[12] = Int32GetDatum(o->failures);
	values[13] = Int32GetDatum(o->processed);
	if (o->last_error)
		values[14] = CStringGetTextDatum(o->last_error);
	else
		nulls[14] = 'n';
	if (o->result)
		values[15] = CStringGetTextDatum(o->result);
	else
		nulls[15] = 'n';
	window_columns(&o->window, values + 16, nulls + 16);
	values[19] = PointerGetDatum(construct_array(counts, list_length(o->invoke_counts),
												 INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/*
 * Writes the outcome to the lane row, if the mapping row is still the one
 * loaded (same xmin) and nobody is changing it (SKIP LOCKED: an update or
 * delete in progress never makes the worker wait; FOR SHARE: the mapping's
 * other lanes saving at the same time do not count as changes), and the
 * lane row too is the one loaded.  Otherwise marks the mapping stale: the
 * caller rolls the whole batch back, function effects included, and the
 * next step sees the new configuration, or no lane.
 */
void
delivery_mapping_save_outcome(Mapping *m, Outcome *o)
{
	Oid			argtypes[20] = {TEXTOID, INT4OID, INT4OID, INT8OID, TEXTOID,
		TEXTOID, INT4OID, TIMESTAMPTZOID, TEXTARRAYOID, INT4OID, INT4OID,
		INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID,
	TIMESTAMPTZOID, JSONBOID, BOOLOID, INT4ARRAYOID};
	Datum		values[20];
	char		nulls[20];

	if (!lock_mapping_as_loaded(m))
	{
		m->stale = true;
		return;
	}
	outcome_values(m, o, values, nulls);
	run_lane_query(&save_plan,
				   "UPDATE orders_stream.event_source_mapping_lanes SET "
				   "state = $5, checkpoint = $6, attempts = $7, next_attempt_at = $8, bisect_stack = $9, "
				   "invocations = invocations OPERATOR(pg_catalog.+) $10, "
				   "errors = errors OPERATOR(pg_catalog.+) $11, "
				   "retries = retries OPERATOR(pg_catalog.+) $12, "
				   "failures = failures OPERATOR(pg_catalog.+) $13, "
				   "records_processed = records_processed OPERATOR(pg_catalog.+) $14, "
				   "last_error = COALESCE($15, last_error), "
				   "last_processing_result = COALESCE($16, last_processing_result), "
				   "last_invoked_at = CASE WHEN $10 OPERATOR(pg_catalog.>) 0 THEN pg_catalog.now() ELSE last_invoked_at END, "
				   "updated_at = CASE WHEN $16 IS NULL THEN updated_at ELSE pg_catalog.now() END, "
				   "window_start = $17, window_state = $18, window_terminated_early = $19, "
				   "invoke_counts = $20 "
				   "WHERE mapping_uuid OPERATOR(pg_catalog.=) $1::pg_catalog.uuid "
				   "AND epoch OPERATOR(pg_catalog.=) $2 AND lane OPERATOR(pg_catalog.=) $3 "
				   "AND xmin::pg_catalog.text::pg_catalog.int8 OPERATOR(pg_catalog.=) $4",
				   20, argtypes, values, nulls, SPI_OK_UPDATE);
	/* another process served the lane meanwhile: this batch must not count */
	if (SPI_processed == 0)
		m->stale = true;
}

/*
 * After an error outside the function's subtransaction (a bug, or a catalog
 * change under the mapping): shows it on the lane and holds the lane back
 * for orders_stream.retry_max_delay, so that it neither stops the worker
 * nor keeps the other lanes waiting.  In a transaction of its own.
 */
void
delivery_mapping_note_error(const LaneKey *key, const char *message)
{
	Oid			argtypes[5] = {TEXTOID, INT4OID, INT4OID, TEXTOID, INT4OID};
	Datum		values[5];

	values[0] = CStringGetTextDatum(key->mapping);
	values[1] = Int32GetDatum(key->epoch);
	values[2] = Int32GetDatum(key->lane);
	values[3] = CStringGetTextDatum(message);
	values[4] = Int32GetDatum(orders_stream_retry_max_delay);
	/* SKIP LOCKED: a change of the mapping in progress does not stop us */
	if (SPI_execute_plan(delivery_plan(&error_plan,
									   "UPDATE orders_stream.event_source_mapping_lanes SET "
									   "last_error = $4, last_processing_result = 'PROBLEM: Internal error', "
									   "state = 'BACKOFF', updated_at = pg_catalog.now(), "
									   "next_attempt_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) "
									   "  ($5 OPERATOR(pg_catalog.*) '1 ms'::pg_catalog.interval) "
									   "WHERE mapping_uuid OPERATOR(pg_catalog.=) (SELECT uuid FROM orders_stream_internal.event_source_mappings "
									   "  WHERE uuid OPERATOR(pg_catalog.=) $1::pg_catalog.uuid FOR SHARE SKIP LOCKED) "
									   "AND epoch OPERATOR(pg_catalog.=) $2 AND lane OPERATOR(pg_catalog.=) $3",
									   5, argtypes, 0),
						 values, NULL, false, 0) < 0)
		elog(WARNING, "could not record the error of event source mapping %s", key->mapping);
}

PG_FUNCTION_INFO_V1(orders_stream_create_anchor);

/*
 * The owner anchor of a new event source mapping (see 70_mappings.sql): a
 * sequence owned by the mapping's owner, which the extension's owner alone
 * can reach.  It depends automatically on the extension, so that DROP
 * EXTENSION takes it along.  Called by the extension's owner only.
 */
Datum
orders_stream_create_anchor(PG_FUNCTION_ARGS)
{
	char	   *mapping = DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(0)));
	Oid			owner = PG_GETARG_OID(1);
	char	   *name = psprintf("mapping_%s", mapping);
	char	   *qualified = quote_qualified_identifier(ORDERS_STREAM_INTERNAL_SCHEMA, name);
	Oid			anchor;
	ObjectAddress anchor_address;
	ObjectAddress extension;

	SPI_connect();
	security_spi_exec(psprintf("CREATE SEQUENCE %s", qualified),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	security_spi_exec(psprintf("ALTER SEQUENCE %s OWNER TO %s", qualified,
						 quote_identifier(GetUserNameFromId(owner, false))),
				0, NULL, NULL, NULL, SPI_OK_UTILITY);
	SPI_finish();
	anchor = get_relname_relid(name, get_namespace_oid(ORDERS_STREAM_INTERNAL_SCHEMA, false));
	ObjectAddressSet(anchor_address, RelationRelationId, anchor);
	ObjectAddressSet(extension, ExtensionRelationId, get_extension_oid("orders_stream", false));
	recordDependencyOn(&anchor_address, &extension, DEPENDENCY_AUTO);
	PG_RETURN_OID(anchor);
}
