/* ---- Event source mappings: delivering the stream to aggregator functions ---- */

/*
 * One row per mapping: its configuration (AWS's parameters) and its delivery
 * state, which the delivery worker updates in the same transaction as the
 * function's effects.  Roles see and change only their own mappings (row
 * level security); the delivery state columns are the worker's alone.
 */
CREATE TABLE orders_stream.event_source_mappings (
	uuid		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	stream_id	bigint NOT NULL,
	event_source_arn text NOT NULL,
	function_oid oid NOT NULL,
	function_name text NOT NULL,
	owner_oid	oid NOT NULL,
	search_path text NOT NULL,
	/* the ranges of check_range(), also for direct INSERTs and UPDATEs */
	batch_size	integer NOT NULL CHECK (batch_size BETWEEN 1 AND 10000),
	maximum_batching_window_in_seconds integer NOT NULL
		CHECK (maximum_batching_window_in_seconds BETWEEN 0 AND 300),
	starting_position text NOT NULL CHECK (starting_position IN ('TRIM_HORIZON', 'LATEST')),
	bisect_batch_on_function_error boolean NOT NULL,
	maximum_retry_attempts integer NOT NULL CHECK (maximum_retry_attempts BETWEEN -1 AND 10000),
	maximum_record_age_in_seconds integer NOT NULL
		CHECK (maximum_record_age_in_seconds = -1 OR maximum_record_age_in_seconds BETWEEN 60 AND 604800),
	parallelization_factor integer NOT NULL CHECK (parallelization_factor BETWEEN 1 AND 10),
	filter_criteria jsonb,
	function_response_types text[] NOT NULL
		CHECK (function_response_types <@ ARRAY['ReportBatchItemFailures']),
	enabled		boolean NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_modified timestamptz NOT NULL DEFAULT now(),
	checkpoint	text COLLATE "C" NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz,
	bisect_stack text[] COLLATE "C" NOT NULL DEFAULT '{}',
	invocations bigint NOT NULL DEFAULT 0,
	errors		bigint NOT NULL DEFAULT 0,
	retries		bigint NOT NULL DEFAULT 0,
	failures	bigint NOT NULL DEFAULT 0,
	records_processed bigint NOT NULL DEFAULT 0,
	last_error	text,
	last_processing_result text NOT NULL DEFAULT 'No records processed',
	last_invoked_at timestamptz
);

ALTER TABLE orders_stream.event_source_mappings ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_mappings ON orders_stream.event_source_mappings
	USING (pg_has_role(owner_oid, 'USAGE'))
	WITH CHECK (owner_oid = (SELECT oid FROM pg_roles WHERE rolname = current_user));
REVOKE ALL ON orders_stream.event_source_mappings FROM PUBLIC;
GRANT SELECT, DELETE ON orders_stream.event_source_mappings TO PUBLIC;
GRANT INSERT, UPDATE (function_oid, function_name, batch_size, maximum_batching_window_in_seconds,
	bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds,
	parallelization_factor, function_response_types, enabled, filter_criteria, last_modified)
	ON orders_stream.event_source_mappings TO PUBLIC;
GRANT INSERT (uuid, stream_id, event_source_arn, owner_oid, search_path, starting_position, checkpoint)
	ON orders_stream.event_source_mappings TO PUBLIC;

/* The on-failure destination: one row per batch given up on. */
CREATE TABLE orders_stream.failures (
	failure_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mapping_uuid uuid NOT NULL,
	owner_oid	oid NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	condition	text NOT NULL,
	payload		jsonb NOT NULL,
	records		jsonb NOT NULL,
	sqlstate	text,
	message		text,
	detail		text,
	hint		text,
	context		text,
	redriven_at timestamptz,
	redrive_result text
);
CREATE INDEX failures_mapping ON orders_stream.failures (mapping_uuid);

ALTER TABLE orders_stream.failures ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_failures ON orders_stream.failures USING (pg_has_role(owner_oid, 'USAGE'));
REVOKE ALL ON orders_stream.failures FROM PUBLIC;
GRANT SELECT, DELETE ON orders_stream.failures TO PUBLIC;
-- redrive_failures() locks the rows it replays
GRANT UPDATE (redriven_at, redrive_result) ON orders_stream.failures TO PUBLIC;

/*
 * The enabled stream of a table, or the stream of an ARN, for a mapping.
 * The caller resolves a table name with its own search_path (tbl).
 */
CREATE FUNCTION orders_stream.resolve_event_source(event_source text, tbl regclass,
	OUT stream_id bigint, OUT stream_arn text, OUT relid oid)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF event_source LIKE 'arn:%' THEN
		SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
		  FROM orders_stream.streams s WHERE s.stream_arn = event_source;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'ResourceNotFoundException: stream "%" does not exist', event_source
				USING ERRCODE = 'undefined_object',
					  HINT = 'orders_stream.list_streams() shows the stream ARNs of this database.';
		END IF;
		RETURN;
	END IF;
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'InvalidParameterValueException: event_source "%" is neither a table nor a stream ARN', event_source
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass a table with an enabled stream, or a stream ARN from orders_stream.list_streams().';
	END IF;
	SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
	  FROM orders_stream.streams s WHERE s.relid = tbl AND s.disabled_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'InvalidParameterValueException: table "%" has no enabled stream', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = format('Enable one first: SELECT orders_stream.enable_stream(%L, ''NEW_IMAGE'');', tbl::text);
	END IF;
END
$$;

/* Checks one parameter against its AWS range. */
CREATE FUNCTION orders_stream.check_range(name text, value integer, low integer, high integer,
										  also_allowed integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL OR ((value < low OR value > high) AND value IS DISTINCT FROM also_allowed) THEN
		RAISE EXCEPTION 'InvalidParameterValueException: % must be %between % and %, got %',
			name, CASE WHEN also_allowed IS NULL THEN '' ELSE also_allowed || ' or ' END,
			low, high, coalesce(value::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The ranges are AWS Lambda''s for DynamoDB event sources.';
	END IF;
END
$$;

CREATE FUNCTION orders_stream.check_function(function_name regprocedure)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	p pg_proc;
BEGIN
	SELECT * INTO p FROM pg_proc WHERE oid = function_name;
	IF p.pronargs <> 1 OR p.proargtypes[0] <> 'jsonb'::regtype OR p.proretset OR p.prokind <> 'f' THEN
		RAISE EXCEPTION 'InvalidParameterValueException: function % cannot be an event source mapping target', function_name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'It must take exactly one jsonb argument (the event {"Records": [...]}) and return a single value.',
				  HINT = 'Declare it as FUNCTION f(event jsonb) RETURNS jsonb (or void).';
	END IF;
	IF NOT has_function_privilege(function_name, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', function_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'The role creating a mapping must be allowed to execute its function.';
	END IF;
END
$$;

CREATE FUNCTION orders_stream.check_response_types(types text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF types IS NULL OR NOT types <@ ARRAY['ReportBatchItemFailures'] THEN
		RAISE EXCEPTION 'InvalidParameterValueException: function_response_types must be empty or {ReportBatchItemFailures}, got %', types
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'ReportBatchItemFailures is the only response type of stream event sources.';
	END IF;
END
$$;

/*
 * FilterCriteria as stored: NULL for none ({} or no filters, which is how
 * AWS removes them), otherwise checked pattern by pattern.
 */
CREATE FUNCTION orders_stream.normalize_filter_criteria(criteria jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF criteria IS NULL OR criteria = '{}'::jsonb OR criteria->'Filters' = '[]'::jsonb THEN
		RETURN NULL;
	END IF;
	PERFORM orders_stream.check_filter_criteria(criteria);
	RETURN criteria;
END
$$;

/* AWS's EventSourceMappingConfiguration of a mapping row. */
CREATE FUNCTION orders_stream.mapping_configuration(m orders_stream.event_source_mappings)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
		'UUID', m.uuid,
		'EventSourceArn', m.event_source_arn,
		'FunctionArn', format('arn:aws:lambda:%s:%s:function:%s',
							  current_setting('orders_stream.region'),
							  current_setting('orders_stream.account_id'), m.function_oid::regproc),
		'BatchSize', m.batch_size,
		'MaximumBatchingWindowInSeconds', m.maximum_batching_window_in_seconds,
		'StartingPosition', m.starting_position,
		'BisectBatchOnFunctionError', m.bisect_batch_on_function_error,
		'MaximumRetryAttempts', m.maximum_retry_attempts,
		'MaximumRecordAgeInSeconds', m.maximum_record_age_in_seconds,
		'ParallelizationFactor', m.parallelization_factor,
		'FunctionResponseTypes', to_jsonb(m.function_response_types),
		'DestinationConfig', jsonb_build_object('OnFailure',
			jsonb_build_object('Destination', 'orders_stream.failures')),
		'State', CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END,
		'StateTransitionReason', 'USER_INITIATED',
		'LastModified', extract(epoch FROM m.last_modified),
		'LastProcessingResult', m.last_processing_result)
		|| CASE WHEN m.filter_criteria IS NULL THEN '{}'::jsonb
				ELSE jsonb_build_object('FilterCriteria', m.filter_criteria) END
$$;

CREATE FUNCTION orders_stream.create_event_source_mapping(
	event_source text,
	function_name regprocedure,
	batch_size integer DEFAULT 100,
	starting_position text DEFAULT NULL,
	bisect_batch_on_function_error boolean DEFAULT false,
	maximum_retry_attempts integer DEFAULT -1,
	maximum_record_age_in_seconds integer DEFAULT -1,
	maximum_batching_window_in_seconds integer DEFAULT 0,
	function_response_types text[] DEFAULT '{}',
	enabled boolean DEFAULT true,
	parallelization_factor integer DEFAULT 1,
	filter_criteria jsonb DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	src record;
	id uuid := gen_random_uuid();
BEGIN
	IF event_source IS NULL OR function_name IS NULL THEN
		RAISE EXCEPTION 'InvalidParameterValueException: event_source and function_name are required'
			USING ERRCODE = 'null_value_not_allowed',
				  HINT = 'Pass the streamed table (or its stream ARN) and the aggregator function.';
	END IF;
	src := orders_stream.resolve_event_source(event_source,
		CASE WHEN event_source LIKE 'arn:%' THEN NULL ELSE to_regclass(event_source) END);
	IF NOT coalesce(has_table_privilege(src.relid, 'SELECT'), false) THEN
		RAISE EXCEPTION 'AccessDeniedException: permission denied to read stream "%"', src.stream_arn
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A mapping reads the stream as its creator, who needs SELECT on the table.';
	END IF;
	PERFORM orders_stream.check_function(function_name);
	PERFORM orders_stream.check_range('batch_size', batch_size, 1, 10000);
	PERFORM orders_stream.check_range('maximum_batching_window_in_seconds', maximum_batching_window_in_seconds, 0, 300);
	PERFORM orders_stream.check_range('maximum_retry_attempts', maximum_retry_attempts, -1, 10000);
	PERFORM orders_stream.check_range('maximum_record_age_in_seconds', maximum_record_age_in_seconds, 60, 604800, -1);
	PERFORM orders_stream.check_range('parallelization_factor', parallelization_factor, 1, 10);
	PERFORM orders_stream.check_response_types(function_response_types);
	filter_criteria := orders_stream.normalize_filter_criteria(filter_criteria);
	IF starting_position IS NULL OR starting_position NOT IN ('TRIM_HORIZON', 'LATEST') THEN
		RAISE EXCEPTION 'InvalidParameterValueException: starting_position must be TRIM_HORIZON or LATEST, got %',
			coalesce(starting_position, 'NULL')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'DynamoDB event sources need a starting position, as in CDK''s startingPosition.';
	END IF;
	IF enabled IS NULL OR bisect_batch_on_function_error IS NULL THEN
		RAISE EXCEPTION 'InvalidParameterValueException: enabled and bisect_batch_on_function_error must not be NULL'
			USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass true or false.';
	END IF;

	INSERT INTO orders_stream.event_source_mappings
		(uuid, stream_id, event_source_arn, function_oid, function_name, owner_oid, search_path,
		 batch_size, maximum_batching_window_in_seconds, starting_position,
		 bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds,
		 parallelization_factor, function_response_types, enabled, filter_criteria, checkpoint)
	VALUES (id, src.stream_id, src.stream_arn, function_name, function_name::text,
			(SELECT oid FROM pg_roles WHERE rolname = current_user),
			current_setting('search_path'),
			batch_size, maximum_batching_window_in_seconds, starting_position,
			bisect_batch_on_function_error, maximum_retry_attempts, maximum_record_age_in_seconds,
			parallelization_factor, function_response_types, enabled, filter_criteria,
			CASE starting_position WHEN 'LATEST'
				THEN orders_stream.sequence_number(pg_current_wal_insert_lsn(), 0) ELSE '' END);
	PERFORM orders_stream.launch_workers();
	RETURN id;
END
$$;

COMMENT ON FUNCTION orders_stream.create_event_source_mapping(text, regprocedure, integer, text, boolean, integer, integer, integer, text[], boolean, integer, jsonb) IS
'Delivers a stream in batches to a function taking the Lambda event (jsonb), like an AWS Lambda event source mapping; returns its UUID';

CREATE FUNCTION orders_stream.mapping_for_change(mapping uuid)
RETURNS orders_stream.event_source_mappings
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings;
BEGIN
	SELECT * INTO m FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'ResourceNotFoundException: event source mapping % does not exist', coalesce(mapping::text, 'NULL')
			USING ERRCODE = 'undefined_object',
				  HINT = 'orders_stream.list_event_source_mappings() lists the mappings you own.';
	END IF;
	RETURN m;
END
$$;

CREATE FUNCTION orders_stream.update_event_source_mapping(
	mapping uuid,
	function_name regprocedure DEFAULT NULL,
	batch_size integer DEFAULT NULL,
	bisect_batch_on_function_error boolean DEFAULT NULL,
	maximum_retry_attempts integer DEFAULT NULL,
	maximum_record_age_in_seconds integer DEFAULT NULL,
	maximum_batching_window_in_seconds integer DEFAULT NULL,
	function_response_types text[] DEFAULT NULL,
	enabled boolean DEFAULT NULL,
	parallelization_factor integer DEFAULT NULL,
	filter_criteria jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings := orders_stream.mapping_for_change(mapping);
BEGIN
	IF function_name IS NOT NULL THEN
		PERFORM orders_stream.check_function(function_name);
		m.function_oid := function_name;
		m.function_name := function_name::text;
	END IF;
	m.batch_size := coalesce(batch_size, m.batch_size);
	m.bisect_batch_on_function_error := coalesce(bisect_batch_on_function_error, m.bisect_batch_on_function_error);
	m.maximum_retry_attempts := coalesce(maximum_retry_attempts, m.maximum_retry_attempts);
	m.maximum_record_age_in_seconds := coalesce(maximum_record_age_in_seconds, m.maximum_record_age_in_seconds);
	m.maximum_batching_window_in_seconds := coalesce(maximum_batching_window_in_seconds, m.maximum_batching_window_in_seconds);
	m.function_response_types := coalesce(function_response_types, m.function_response_types);
	m.enabled := coalesce(enabled, m.enabled);
	m.parallelization_factor := coalesce(parallelization_factor, m.parallelization_factor);
	IF filter_criteria IS NOT NULL THEN
		m.filter_criteria := orders_stream.normalize_filter_criteria(filter_criteria);
	END IF;
	PERFORM orders_stream.check_range('batch_size', m.batch_size, 1, 10000);
	PERFORM orders_stream.check_range('maximum_batching_window_in_seconds', m.maximum_batching_window_in_seconds, 0, 300);
	PERFORM orders_stream.check_range('maximum_retry_attempts', m.maximum_retry_attempts, -1, 10000);
	PERFORM orders_stream.check_range('maximum_record_age_in_seconds', m.maximum_record_age_in_seconds, 60, 604800, -1);
	PERFORM orders_stream.check_range('parallelization_factor', m.parallelization_factor, 1, 10);
	PERFORM orders_stream.check_response_types(m.function_response_types);

	UPDATE orders_stream.event_source_mappings e SET
		function_oid = m.function_oid, function_name = m.function_name,
		batch_size = m.batch_size,
		bisect_batch_on_function_error = m.bisect_batch_on_function_error,
		maximum_retry_attempts = m.maximum_retry_attempts,
		maximum_record_age_in_seconds = m.maximum_record_age_in_seconds,
		maximum_batching_window_in_seconds = m.maximum_batching_window_in_seconds,
		function_response_types = m.function_response_types,
		enabled = m.enabled,
		parallelization_factor = m.parallelization_factor,
		filter_criteria = m.filter_criteria,
		last_modified = now()
	 WHERE e.uuid = mapping
	RETURNING * INTO m;
	PERFORM orders_stream.launch_workers();
	RETURN orders_stream.mapping_configuration(m);
END
$$;

CREATE FUNCTION orders_stream.delete_event_source_mapping(mapping uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings := orders_stream.mapping_for_change(mapping);
BEGIN
	DELETE FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
	RETURN orders_stream.mapping_configuration(m) || '{"State": "Deleting"}';
END
$$;

CREATE FUNCTION orders_stream.list_event_source_mappings(event_source text DEFAULT NULL,
														 function_name regprocedure DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	arn text;
BEGIN
	IF event_source IS NOT NULL THEN
		arn := (orders_stream.resolve_event_source(event_source,
			CASE WHEN event_source LIKE 'arn:%' THEN NULL ELSE to_regclass(event_source) END)).stream_arn;
	END IF;
	RETURN QUERY
		SELECT orders_stream.mapping_configuration(m)
		  FROM orders_stream.event_source_mappings m
		 WHERE (arn IS NULL OR m.event_source_arn = arn)
		   AND (list_event_source_mappings.function_name IS NULL
				OR m.function_oid = list_event_source_mappings.function_name)
		 ORDER BY m.created_at, m.uuid;
END
$$;

/* The newest SequenceNumber of a stream, for wait_for_mapping and the status view. */
CREATE FUNCTION orders_stream.stream_head(stream_id bigint)
RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(max(r.sequence_number), '') FROM orders_stream.records r
	 WHERE r.stream_id = stream_head.stream_id
$$;

/* Arrival time of the oldest record a mapping has not processed yet. */
CREATE FUNCTION orders_stream.oldest_pending(stream_id bigint, checkpoint text)
RETURNS timestamptz
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT r.captured_at FROM orders_stream.records r
	 WHERE r.stream_id = oldest_pending.stream_id
	   AND r.sequence_number > oldest_pending.checkpoint
	   AND r.captured_at >= now() - orders_stream.retention_interval()
	 ORDER BY r.sequence_number LIMIT 1
$$;

CREATE VIEW orders_stream.event_source_mapping_status AS
SELECT m.uuid,
	   m.function_name,
	   m.event_source_arn,
	   CASE WHEN NOT m.enabled THEN 'Disabled'
			WHEN m.next_attempt_at IS NOT NULL THEN 'Retrying'
			ELSE 'Enabled' END AS state,
	   m.checkpoint AS checkpoint_sequence_number,
	   coalesce(floor(extract(epoch FROM now() - orders_stream.oldest_pending(m.stream_id, m.checkpoint)) * 1000)::bigint, 0)
		   AS iterator_age_ms,
	   m.invocations,
	   m.records_processed,
	   m.errors,
	   m.retries,
	   m.failures,
	   m.last_error,
	   m.last_processing_result,
	   m.last_invoked_at
  FROM orders_stream.event_source_mappings m
 -- the view reads as its owner, past row-level security: filter as the caller
 WHERE pg_has_role(m.owner_oid, 'USAGE');

GRANT SELECT ON orders_stream.event_source_mapping_status TO PUBLIC;

CREATE FUNCTION orders_stream.wait_for_mapping(mapping uuid, timeout interval DEFAULT '30s')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream.event_source_mappings := orders_stream.mapping_for_change(mapping);
	target text;
	deadline timestamptz := clock_timestamp() + timeout;
BEGIN
	PERFORM orders_stream.wait_for_capture(timeout);
	target := orders_stream.stream_head(m.stream_id);
	LOOP
		SELECT * INTO m FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
		IF m.checkpoint >= target THEN
			RETURN m.checkpoint;
		END IF;
		IF NOT m.enabled THEN
			RAISE EXCEPTION 'event source mapping % is disabled', mapping
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = format('Enable it: SELECT orders_stream.update_event_source_mapping(%L, enabled => true);', mapping);
		END IF;
		IF clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'event source mapping % did not reach SequenceNumber % within %', mapping, target, timeout
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('Its checkpoint is %s; last result: %s; last error: %s.',
									  nullif(m.checkpoint, ''), m.last_processing_result, m.last_error),
					  HINT = 'See orders_stream.event_source_mapping_status and orders_stream.failures.';
		END IF;
		PERFORM pg_sleep(0.005);
	END LOOP;
END
$$;

CREATE FUNCTION orders_stream.launch_workers()
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_launch_workers'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream.redrive_failures(mapping uuid DEFAULT NULL, failure_ids bigint[] DEFAULT NULL)
RETURNS TABLE (failure_id bigint, result text)
AS 'MODULE_PATHNAME', 'orders_stream_redrive_failures'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.redrive_failures(uuid, bigint[]) IS
'Invokes the mapping function again with the records of stored failures not yet redriven successfully, and records each outcome';

