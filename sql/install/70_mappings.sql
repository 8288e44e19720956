/* ---- Event source mappings: delivering the stream to aggregator functions ---- */

/*
 * One row per mapping: its configuration (AWS's parameters).  Its delivery
 * state is in its lanes (event_source_mapping_lanes).  Rows are written only
 * by the extension's functions; a role reads its own through the view
 * orders_stream.event_source_mappings.
 *
 * The mapping's owner is the owner of its anchor, a sequence in
 * orders_stream_internal made for the mapping: PostgreSQL's shared
 * dependencies then make DROP ROLE refuse while the role owns mappings, DROP
 * OWNED BY remove them (see on_sql_drop) and REASSIGN OWNED hand them over.
 */
CREATE TABLE orders_stream_internal.event_source_mappings (
	uuid		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	stream_id	bigint NOT NULL,
	event_source_arn text NOT NULL,
	function_oid oid NOT NULL,
	function_name text NOT NULL,
	anchor		oid NOT NULL UNIQUE,
	search_path text NOT NULL,
	batch_size	integer NOT NULL CHECK (batch_size BETWEEN 1 AND 10000),
	maximum_batching_window_in_seconds integer NOT NULL
		CHECK (maximum_batching_window_in_seconds BETWEEN 0 AND 300),
	starting_position text NOT NULL CHECK (starting_position IN ('TRIM_HORIZON', 'LATEST')),
	bisect_batch_on_function_error boolean NOT NULL,
	maximum_retry_attempts integer NOT NULL CHECK (maximum_retry_attempts BETWEEN -1 AND 10000),
	maximum_record_age_in_seconds integer NOT NULL
		CHECK (maximum_record_age_in_seconds = -1 OR maximum_record_age_in_seconds BETWEEN 60 AND 604800),
	parallelization_factor integer NOT NULL CHECK (parallelization_factor BETWEEN 1 AND 10),
	tumbling_window_in_seconds integer NOT NULL DEFAULT 0
		CHECK (tumbling_window_in_seconds BETWEEN 0 AND 900),
	filter_criteria jsonb,
	/* MetricsConfig: {"Metrics": ["EventCount"]} shows the event counts (85_metrics.sql) */
	metrics_config jsonb,
	function_response_types text[] NOT NULL
		CHECK (function_response_types <@ ARRAY['ReportBatchItemFailures']),
	enabled		boolean NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_modified timestamptz NOT NULL DEFAULT now(),
	/* where StartingPosition put the first lanes: delivery starts after it */
	checkpoint	text COLLATE "C" NOT NULL,
	installation uuid NOT NULL DEFAULT orders_stream_internal.installation_id()
);

/* one mapping per (stream, function), as AWS: check_no_conflict() says it nicely first */
CREATE UNIQUE INDEX event_source_mappings_stream_function
	ON orders_stream_internal.event_source_mappings (stream_id, function_oid);

REVOKE ALL ON orders_stream_internal.event_source_mappings FROM PUBLIC;

/*
 * What a role reads: its own mappings (and those of roles it is a member
 * of).  A view that reads the table as its owner, so that PUBLIC has no
 * privilege on the table itself (no lock on it an ordinary role could hold);
 * the filter runs before any caller's function sees a row (security_barrier).
 */
CREATE VIEW orders_stream.event_source_mappings WITH (security_barrier) AS
SELECT m.* FROM orders_stream_internal.event_source_mappings m
 WHERE pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
							   WHERE c.oid OPERATOR(pg_catalog.=) m.anchor), 'USAGE');
REVOKE ALL ON orders_stream.event_source_mappings FROM PUBLIC;
GRANT SELECT ON orders_stream.event_source_mappings TO PUBLIC;

/*
 * The lanes of a mapping (ParallelizationFactor): a record belongs to lane
 * ((uint32) key_hash) % lanes, so one item's records stay in one lane, in
 * SequenceNumber order.  Each lane has its own checkpoint and retry/bisect
 * state, which the delivery worker serving it updates in the same
 * transaction as its function's effects.
 *
 * Changing the factor starts a new epoch at a boundary SequenceNumber (the
 * newest record stored at the change, or the furthest checkpoint): the
 * lanes of the old epoch deliver their records up to it (epoch_end) and are
 * then DRAINED; the lanes of the new epoch start after it, once every lane
 * of the older epochs is drained.  So an item's records are never
 * reordered or delivered twice, whichever lane they move to.
 */
CREATE TABLE orders_stream.event_source_mapping_lanes (
	mapping_uuid uuid NOT NULL REFERENCES orders_stream_internal.event_source_mappings (uuid) ON DELETE CASCADE,
	epoch		integer NOT NULL,
	lane		integer NOT NULL,
	lanes		integer NOT NULL CHECK (lanes BETWEEN 1 AND 10),
	epoch_end	text COLLATE "C",
	state		text NOT NULL DEFAULT 'READY'
		CHECK (state IN ('READY', 'BACKOFF', 'BISECTING', 'STALLED', 'WAITING_EPOCH', 'DRAINED')),
	checkpoint	text COLLATE "C" NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz,
	bisect_stack text[] COLLATE "C" NOT NULL DEFAULT '{}',
	invoke_counts integer[] NOT NULL DEFAULT '{}',	/* invocations of each pending half's records */
	/* the lane's tumbling window, saved with its checkpoint (see src/window.c) */
	window_start timestamptz,			/* of the open or last window; NULL before the first */
	window_state jsonb,					/* of the open window; NULL while none is open */
	window_terminated_early boolean NOT NULL DEFAULT false,	/* its final invocation is next */
	invocations bigint NOT NULL DEFAULT 0,
	errors		bigint NOT NULL DEFAULT 0,
	retries		bigint NOT NULL DEFAULT 0,
	failures	bigint NOT NULL DEFAULT 0,
	records_processed bigint NOT NULL DEFAULT 0,
	last_error	text,
	last_processing_result text,
	last_invoked_at timestamptz,
	updated_at	timestamptz,
	PRIMARY KEY (mapping_uuid, epoch, lane),
	CHECK (lane >= 0 AND lane < lanes)
);
REVOKE ALL ON orders_stream.event_source_mapping_lanes FROM PUBLIC;

/*
 * The delivery workers running and the lane each serves now, from shared
 * memory (NULL while idle): what pg_stat_activity's application_name of the
 * workers says to everyone, as rows.
 */
CREATE FUNCTION orders_stream.delivery_workers(OUT pid integer, OUT mapping_uuid uuid,
											   OUT epoch integer, OUT lane integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'orders_stream_delivery_workers'
LANGUAGE C VOLATILE;

/* The on-failure destination: one row per batch given up on. */
CREATE TABLE orders_stream_internal.failures (
	failure_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mapping_uuid uuid NOT NULL,
	lane		integer NOT NULL DEFAULT 0,
	owner_oid	regrole NOT NULL,	/* regrole: a dump names the role, a restore finds it */
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
CREATE INDEX failures_mapping ON orders_stream_internal.failures (mapping_uuid);

REVOKE ALL ON orders_stream_internal.failures FROM PUBLIC;

/* What a role reads of the failures: its own, as event_source_mappings. */
CREATE VIEW orders_stream.failures WITH (security_barrier) AS
SELECT f.* FROM orders_stream_internal.failures f
 WHERE pg_catalog.pg_has_role(f.owner_oid, 'USAGE');
REVOKE ALL ON orders_stream.failures FROM PUBLIC;
GRANT SELECT ON orders_stream.failures TO PUBLIC;

/*
 * A function's FunctionName in FunctionArn: schema--name.  A Lambda function
 * name is [a-zA-Z0-9-_]+ and has no dot: every other character of the
 * schema's or the function's name, and '-', becomes '-' and the two hex
 * digits of each of its UTF-8 bytes, so that '--' only ever separates the
 * two.  With no schema (a dropped function), the name alone.
 */
CREATE FUNCTION orders_stream.lambda_function_name(schema_name text, function_name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT string_agg(x.encoded, '--' ORDER BY x.k)
  FROM (SELECT n.k, string_agg(CASE WHEN c.ch ~ '^[A-Za-z0-9_]$' THEN c.ch
				ELSE regexp_replace(encode(convert_to(c.ch, 'UTF8'), 'hex'), '(..)', '-\1', 'g') END,
			'' ORDER BY c.i) AS encoded
		  FROM unnest(ARRAY[schema_name, function_name]) WITH ORDINALITY AS n(part, k),
			   regexp_split_to_table(n.part, '') WITH ORDINALITY AS c(ch, i)
		 GROUP BY n.k) x
$$;

/*
 * Back from a FunctionName or FunctionArn: the SQL name (schema.name, quoted
 * as needed) that lambda_function_name() encoded; any other name as it is,
 * without the ARN around it (a function's name alone, or SQL's schema.name).
 */
CREATE FUNCTION orders_stream.lambda_function_sql_name(function_name text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN a.f ~ '^([A-Za-z0-9_]|-[0-9a-f]{2})+--([A-Za-z0-9_]|-[0-9a-f]{2})+$' THEN
		(SELECT string_agg(quote_ident(convert_from(decode(
				(SELECT string_agg(coalesce(r.m[2], encode(convert_to(r.m[1], 'UTF8'), 'hex')), '' ORDER BY r.i)
				   FROM regexp_matches(s.p, '([A-Za-z0-9_])|-([0-9a-f]{2})', 'g') WITH ORDINALITY AS r(m, i)),
				'hex'), 'UTF8')), '.' ORDER BY s.k)
		   FROM unnest(string_to_array(a.f, '--')) WITH ORDINALITY AS s(p, k))
	   ELSE a.f END
  FROM (SELECT regexp_replace(function_name, '^arn:[^:]*:lambda:[^:]*:[^:]*:function:', '') AS f) a
$$;

/*
 * Mappings as their owners see them: AWS's EventSourceMappingConfiguration,
 * and the delivery counters.  The view reads the tables as its owner; the
 * filter runs as the caller, before any column is computed or any caller's
 * function sees a row (security_barrier).
 */
CREATE VIEW orders_stream.event_source_mapping_status WITH (security_barrier) AS
SELECT m.uuid,
	   m.function_name,
	   m.event_source_arn,
	   CASE WHEN NOT m.enabled THEN 'Disabled'
			WHEN l.retrying THEN 'Retrying'
			ELSE 'Enabled' END AS state,
	   l.checkpoint AS checkpoint_sequence_number,
	   /* what the records say, only while the owner may read them */
	   CASE WHEN o.reads THEN COALESCE(pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) (
			SELECT r.captured_at FROM orders_stream.record_store r
			 WHERE r.stream_id OPERATOR(pg_catalog.=) m.stream_id
			   AND r.sequence_key OPERATOR(pg_catalog.>) orders_stream.sequence_key(l.checkpoint)
			   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
				   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)
			 ORDER BY r.sequence_key LIMIT 1)) OPERATOR(pg_catalog.*) 1000)::bigint, 0) END
		   AS iterator_age_ms,
	   CASE WHEN o.reads THEN COALESCE((
			SELECT orders_stream.sequence_text(r.sequence_key) FROM orders_stream.record_store r
			 WHERE r.stream_id OPERATOR(pg_catalog.=) m.stream_id
			   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
				   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)
			 ORDER BY r.sequence_key DESC LIMIT 1), '') END
		   AS latest_sequence_number,
	   l.invocations,
	   l.records_processed,
	   l.errors,
	   l.retries,
	   l.failures,
	   l.last_error,
	   l.last_processing_result,
	   l.last_invoked_at,
	   o.owner::pg_catalog.regrole AS owner,
	   m.created_at,
	   m.function_oid::pg_catalog.regprocedure AS function,
	   pg_catalog.jsonb_build_object(
		'UUID', m.uuid,
		'EventSourceMappingArn', pg_catalog.format('arn:aws:lambda:%s:%s:event-source-mapping:%s',
							  pg_catalog.current_setting('orders_stream.region'),
							  pg_catalog.current_setting('orders_stream.account_id'), m.uuid),
		'EventSourceArn', m.event_source_arn,
		'FunctionArn', pg_catalog.format('arn:aws:lambda:%s:%s:function:%s',
							  pg_catalog.current_setting('orders_stream.region'),
							  pg_catalog.current_setting('orders_stream.account_id'),
							  (SELECT orders_stream.lambda_function_name(n.nspname, p.proname)
								 FROM pg_catalog.pg_proc p
								 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
								WHERE p.oid OPERATOR(pg_catalog.=) m.function_oid)),
		'BatchSize', m.batch_size,
		'MaximumBatchingWindowInSeconds', m.maximum_batching_window_in_seconds,
		'StartingPosition', m.starting_position,
		'BisectBatchOnFunctionError', m.bisect_batch_on_function_error,
		'MaximumRetryAttempts', m.maximum_retry_attempts,
		'MaximumRecordAgeInSeconds', m.maximum_record_age_in_seconds,
		'ParallelizationFactor', m.parallelization_factor,
		'TumblingWindowInSeconds', m.tumbling_window_in_seconds,
		'FunctionResponseTypes', pg_catalog.to_jsonb(m.function_response_types),
		'DestinationConfig', pg_catalog.jsonb_build_object('OnFailure',
			pg_catalog.jsonb_build_object('Destination', 'orders_stream.failures')),
		'State', CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END,
		'StateTransitionReason', 'USER_INITIATED',
		'LastModified', EXTRACT(epoch FROM m.last_modified),
		'LastProcessingResult', l.last_processing_result)
		OPERATOR(pg_catalog.||) CASE WHEN m.filter_criteria IS NULL THEN '{}'::pg_catalog.jsonb
				ELSE pg_catalog.jsonb_build_object('FilterCriteria', m.filter_criteria) END
		OPERATOR(pg_catalog.||) CASE WHEN m.metrics_config IS NULL THEN '{}'::pg_catalog.jsonb
				ELSE pg_catalog.jsonb_build_object('MetricsConfig', m.metrics_config) END
		   AS configuration,
	   l.lanes
  FROM orders_stream_internal.event_source_mappings m
  JOIN orders_stream.streams s ON s.stream_id OPERATOR(pg_catalog.=) m.stream_id,
	   /*
	    * The mapping's checkpoint is its slowest undrained lane's: every
	    * record up to it is delivered (a lane with nothing to do moves its
	    * checkpoint to the newest record of the stream).
	    */
	   LATERAL (SELECT pg_catalog.min(x.checkpoint) FILTER (WHERE x.state OPERATOR(pg_catalog.<>) 'DRAINED') AS checkpoint,
					   pg_catalog.bool_or(x.next_attempt_at IS NOT NULL) AS retrying,
					   pg_catalog.sum(x.invocations)::bigint AS invocations,
					   pg_catalog.sum(x.records_processed)::bigint AS records_processed,
					   pg_catalog.sum(x.errors)::bigint AS errors,
					   pg_catalog.sum(x.retries)::bigint AS retries,
					   pg_catalog.sum(x.failures)::bigint AS failures,
					   (pg_catalog.array_agg(x.last_error ORDER BY x.updated_at DESC)
						  FILTER (WHERE x.last_error IS NOT NULL))[1] AS last_error,
					   COALESCE((pg_catalog.array_agg(x.last_processing_result ORDER BY x.updated_at DESC)
						  FILTER (WHERE x.last_processing_result IS NOT NULL))[1], 'No records processed') AS last_processing_result,
					   pg_catalog.max(x.last_invoked_at) AS last_invoked_at,
					   pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						   'epoch', x.epoch, 'lane', x.lane, 'lanes', x.lanes, 'state', x.state,
						   'checkpoint', x.checkpoint, 'epoch_end', x.epoch_end,
						   'attempts', x.attempts, 'next_attempt_at', x.next_attempt_at,
						   'bisect_stack', x.bisect_stack, 'invoke_counts', x.invoke_counts,
						   'invocations', x.invocations,
						   'records_processed', x.records_processed, 'last_error', x.last_error,
						   'window_start', x.window_start, 'window_state', x.window_state,
						   'window_terminated_early', x.window_terminated_early,
						   'worker_pid', w.pid) ORDER BY x.epoch, x.lane) AS lanes
				  FROM orders_stream.event_source_mapping_lanes x
				  LEFT JOIN orders_stream.delivery_workers() w
					ON w.mapping_uuid OPERATOR(pg_catalog.=) x.mapping_uuid
				   AND w.epoch OPERATOR(pg_catalog.=) x.epoch AND w.lane OPERATOR(pg_catalog.=) x.lane
				 WHERE x.mapping_uuid OPERATOR(pg_catalog.=) m.uuid) l,
	   LATERAL (SELECT a.relowner AS owner,
					   orders_stream.may_read(a.relowner, s.relid, if_dropped => true) AS reads
				  FROM pg_catalog.pg_class a
				 WHERE a.oid OPERATOR(pg_catalog.=) m.anchor) o
 WHERE pg_catalog.pg_has_role(o.owner, 'USAGE');

GRANT SELECT ON orders_stream.event_source_mapping_status TO PUBLIC;

/* ---- internal helpers: they run as the extension's owner, for a caller ---- */

/*
 * The stream of a mapping's event source: a stream ARN, or a table with an
 * enabled stream (tbl, resolved in the caller's search_path), that the
 * caller may read.
 */
CREATE FUNCTION orders_stream_internal.resolve_event_source(caller oid, event_source text, tbl regclass,
	OUT stream_id bigint, OUT stream_arn text, OUT relid oid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF event_source LIKE 'arn:%' THEN
		SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
		  FROM orders_stream.streams s WHERE s.stream_arn = event_source;
		IF NOT FOUND THEN
			PERFORM orders_stream.aws_error('ResourceNotFoundException',
				pg_catalog.format('stream "%s" does not exist', event_source),
				'orders_stream.list_streams() shows the stream ARNs of this database.');
		END IF;
	ELSE
		IF tbl IS NULL THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('event_source "%s" is neither a table nor a stream ARN', event_source),
				'Pass a table with an enabled stream, or a stream ARN from orders_stream.list_streams().');
		END IF;
		SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
		  FROM orders_stream.streams s WHERE s.relid = tbl AND s.disabled_at IS NULL;
		IF NOT FOUND THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('table "%s" has no enabled stream', tbl),
				format('Enable one first: SELECT orders_stream.enable_stream(%L, ''NEW_IMAGE'');', tbl::text));
		END IF;
	END IF;
	/* checked before anything else is computed from the stream */
	IF NOT orders_stream.may_read(caller, relid) THEN
		PERFORM orders_stream.aws_error('AccessDeniedException',
			pg_catalog.format('permission denied to read stream "%s"', stream_arn),
			'A mapping reads the stream as its creator, who needs SELECT on the table and, if it has row-level security, to bypass it.');
	END IF;
END
$$;

/* Checks one parameter against its AWS range. */
CREATE FUNCTION orders_stream_internal.check_range(name text, value integer, low integer, high integer,
												   also_allowed integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL OR ((value < low OR value > high) AND value IS DISTINCT FROM also_allowed) THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('%s must be %sbetween %s and %s, got %s', name, CASE WHEN also_allowed IS NULL THEN '' ELSE also_allowed || ' or ' END, low, high, coalesce(value::text, 'NULL')),
			'The ranges are AWS Lambda''s for DynamoDB event sources.');
	END IF;
END
$$;

/* AWS's ranges and choices for every parameter of a mapping row. */
CREATE FUNCTION orders_stream_internal.check_mapping(m orders_stream_internal.event_source_mappings)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream_internal.check_range('batch_size', m.batch_size, 1, 10000);
	PERFORM orders_stream_internal.check_range('maximum_batching_window_in_seconds', m.maximum_batching_window_in_seconds, 0, 300);
	PERFORM orders_stream_internal.check_range('maximum_retry_attempts', m.maximum_retry_attempts, -1, 10000);
	PERFORM orders_stream_internal.check_range('maximum_record_age_in_seconds', m.maximum_record_age_in_seconds, 60, 604800, -1);
	PERFORM orders_stream_internal.check_range('parallelization_factor', m.parallelization_factor, 1, 10);
	PERFORM orders_stream_internal.check_range('tumbling_window_in_seconds', m.tumbling_window_in_seconds, 0, 900);
	IF m.function_response_types IS NULL OR NOT m.function_response_types <@ ARRAY['ReportBatchItemFailures'] THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('function_response_types must be empty or {ReportBatchItemFailures}, got %s', m.function_response_types),
			'ReportBatchItemFailures is the only response type of stream event sources.');
	END IF;
	IF m.metrics_config IS NOT NULL
	   AND (pg_catalog.jsonb_typeof(m.metrics_config) IS DISTINCT FROM 'object'
			OR EXISTS (SELECT FROM pg_catalog.jsonb_object_keys(m.metrics_config) k WHERE k OPERATOR(pg_catalog.<>) 'Metrics')
			OR pg_catalog.jsonb_typeof(m.metrics_config OPERATOR(pg_catalog.->) 'Metrics') IS DISTINCT FROM 'array'
			OR NOT (m.metrics_config OPERATOR(pg_catalog.->) 'Metrics') OPERATOR(pg_catalog.<@) '["EventCount"]') THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('metrics_config must be {"Metrics": []} or {"Metrics": ["EventCount"]}, got %s', m.metrics_config),
			'EventCount is the metrics group of stream event sources.');
	END IF;
	IF m.enabled IS NULL OR m.bisect_batch_on_function_error IS NULL THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			'enabled and bisect_batch_on_function_error must not be NULL',
			'Pass true or false.');
	END IF;
END
$$;

/*
 * Errors unless the function may be a mapping's target (one jsonb argument,
 * one value): src/security.c, which delivery checks before every call.
 */
CREATE FUNCTION orders_stream_internal.check_target(function_name regprocedure)
RETURNS void
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'orders_stream_check_target';

/*
 * The function must be a target and belong to the caller (or to a role the
 * caller is a member of), as an AWS mapping names a function of its own
 * account: a (stream, function) pair is unique, so a mapping of someone
 * else's function would squat its owner's pair.
 */
CREATE FUNCTION orders_stream_internal.check_function(caller oid, function_name regprocedure)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream_internal.check_target(function_name);
	IF NOT pg_has_role(caller, (SELECT p.proowner FROM pg_proc p WHERE p.oid = function_name), 'USAGE') THEN
		PERFORM orders_stream.aws_error('AccessDeniedException',
			pg_catalog.format('function %s is not yours', function_name),
			'A mapping invokes a function owned by its creator (or by a role the creator is a member of).');
	END IF;
	IF NOT has_function_privilege(caller, function_name, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', function_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'The role creating a mapping must be allowed to execute its function.';
	END IF;
END
$$;

/*
 * FilterCriteria as stored: NULL for none ({} or no filters, which is how
 * AWS removes them), otherwise checked pattern by pattern.
 */
CREATE FUNCTION orders_stream_internal.normalize_filter_criteria(criteria jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF criteria IS NULL OR criteria = '{}'::jsonb OR criteria->'Filters' = '[]'::jsonb THEN
		RETURN NULL;
	END IF;
	PERFORM orders_stream_internal.check_filter_criteria(criteria);
	RETURN criteria;
END
$$;

/*
 * AWS allows one mapping per (event source, function).  The other mapping is
 * named only to a caller who may see it (a member of its owner): another
 * member of the function's owner learns only that the pair is taken.
 */
CREATE FUNCTION orders_stream_internal.check_no_conflict(caller oid, m orders_stream_internal.event_source_mappings)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other uuid;
	visible boolean;
BEGIN
	SELECT e.uuid, pg_has_role(caller, c.relowner, 'USAGE') INTO other, visible
	  FROM orders_stream_internal.event_source_mappings e
	  LEFT JOIN pg_class c ON c.oid = e.anchor
	 WHERE e.stream_id = m.stream_id AND e.function_oid = m.function_oid AND e.uuid <> m.uuid;
	IF FOUND AND visible THEN
		PERFORM orders_stream.aws_error('ResourceConflictException',
			pg_catalog.format('an event source mapping of stream "%s" to function %s exists already', m.event_source_arn, m.function_oid::regprocedure),
			pg_catalog.format('It is mapping %s: change it with orders_stream.update_event_source_mapping(), or delete it first.', other));
	ELSIF FOUND THEN
		PERFORM orders_stream.aws_error('ResourceConflictException',
			pg_catalog.format('an event source mapping of stream "%s" to function %s exists already', m.event_source_arn, m.function_oid::regprocedure),
			'Another role owns it: a stream has one mapping per function, and the roles sharing the function''s owner decide whose it is.');
	END IF;
END
$$;

/* A mapping the caller owns (or is a member of its owner), locked for a change. */
CREATE FUNCTION orders_stream_internal.mapping_for_change(caller oid, mapping uuid)
RETURNS orders_stream_internal.event_source_mappings
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream_internal.event_source_mappings;
BEGIN
	SELECT e.* INTO m FROM orders_stream_internal.event_source_mappings e
	  JOIN pg_class c ON c.oid = e.anchor
	 WHERE e.uuid = mapping AND pg_has_role(caller, c.relowner, 'USAGE');
	IF NOT FOUND THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('event source mapping %s does not exist', coalesce(mapping::text, 'NULL')),
			'orders_stream.list_event_source_mappings() lists the mappings you own.');
	END IF;
	RETURN m;
END
$$;

CREATE FUNCTION orders_stream_internal.configuration(mapping uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.configuration FROM orders_stream.event_source_mapping_status s
	 WHERE s.uuid OPERATOR(pg_catalog.=) configuration.mapping;
END;

/* Makes the anchor of a new mapping, owned by its owner (see the table). */
CREATE FUNCTION orders_stream_internal.create_anchor(mapping uuid, owner oid)
RETURNS oid
AS 'MODULE_PATHNAME', 'orders_stream_create_anchor'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION orders_stream_internal.launch_workers()
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_launch_workers'
LANGUAGE C VOLATILE;

/*
 * A new factor starts a new epoch of lanes (see event_source_mapping_lanes).
 * Called after the mapping row is updated: delivery transactions of the
 * mapping hold that row's lock when they save, so none is in progress, and
 * later ones see the new row and roll back.  The boundary is the newest
 * record of the stream now stored (every record not yet stored will have a
 * higher SequenceNumber: capture stores in commit order) or a lane's
 * checkpoint past it.
 */
CREATE FUNCTION orders_stream_internal.repartition(m orders_stream_internal.event_source_mappings, factor integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	last_epoch integer;
	boundary text COLLATE "C";
BEGIN
	/* in REPEATABLE READ, a lane saved since the snapshot is a serialization failure */
	PERFORM FROM orders_stream.event_source_mapping_lanes l WHERE l.mapping_uuid = m.uuid FOR UPDATE;
	SELECT max(l.epoch) INTO last_epoch FROM orders_stream.event_source_mapping_lanes l
	 WHERE l.mapping_uuid = m.uuid;
	boundary := greatest(m.checkpoint,
		(SELECT max(l.checkpoint) FROM orders_stream.event_source_mapping_lanes l WHERE l.mapping_uuid = m.uuid),
		(SELECT orders_stream.sequence_text(r.sequence_key) FROM orders_stream.record_store r
		  WHERE r.stream_id = m.stream_id ORDER BY r.sequence_key DESC LIMIT 1));
	UPDATE orders_stream.event_source_mapping_lanes l SET epoch_end = boundary
	 WHERE l.mapping_uuid = m.uuid AND l.epoch = last_epoch;
	INSERT INTO orders_stream.event_source_mapping_lanes (mapping_uuid, epoch, lane, lanes, checkpoint, state)
	SELECT m.uuid, last_epoch + 1, i, factor, boundary, 'WAITING_EPOCH'
	  FROM generate_series(0, factor - 1) AS i;
END
$$;

/* ---- the API: create, update, delete, list ---- */

CREATE FUNCTION orders_stream_internal.create_event_source_mapping(
	caller oid, caller_search_path text,
	event_source text, function_name regprocedure, batch_size integer, starting_position text,
	bisect_batch_on_function_error boolean, maximum_retry_attempts integer,
	maximum_record_age_in_seconds integer, maximum_batching_window_in_seconds integer,
	function_response_types text[], enabled boolean, parallelization_factor integer,
	filter_criteria jsonb, tumbling_window_in_seconds integer, metrics_config jsonb)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src record;
	tbl regclass;
	m orders_stream_internal.event_source_mappings;
BEGIN
	IF event_source IS NULL OR function_name IS NULL THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			'event_source and function_name are required',
			'Pass the streamed table (or its stream ARN) and the aggregator function.');
	END IF;
	IF event_source NOT LIKE 'arn:%' THEN
		/* a table name means what it means to the caller: its search_path, for this lookup only */
		/* nothing but these qualified calls runs under the caller's path */
		PERFORM pg_catalog.set_config('search_path', caller_search_path, true);
		BEGIN
			tbl := pg_catalog.to_regclass(event_source);
		EXCEPTION WHEN OTHERS THEN
			tbl := NULL;
		END;
		PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	END IF;
	src := orders_stream_internal.resolve_event_source(caller, event_source, tbl);
	PERFORM orders_stream_internal.check_function(caller, function_name);
	IF starting_position IS NULL OR starting_position NOT IN ('TRIM_HORIZON', 'LATEST') THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('starting_position must be TRIM_HORIZON or LATEST, got %s', coalesce(starting_position, 'NULL')),
			'DynamoDB event sources need a starting position, as in CDK''s startingPosition.');
	END IF;
	m.uuid := gen_random_uuid();
	m.stream_id := src.stream_id;
	m.event_source_arn := src.stream_arn;
	m.function_oid := function_name;
	m.function_name := function_name::text;
	m.search_path := caller_search_path;
	m.batch_size := batch_size;
	m.maximum_batching_window_in_seconds := maximum_batching_window_in_seconds;
	m.starting_position := starting_position;
	m.bisect_batch_on_function_error := bisect_batch_on_function_error;
	m.maximum_retry_attempts := maximum_retry_attempts;
	m.maximum_record_age_in_seconds := maximum_record_age_in_seconds;
	m.parallelization_factor := parallelization_factor;
	m.tumbling_window_in_seconds := tumbling_window_in_seconds;
	m.function_response_types := function_response_types;
	m.enabled := enabled;
	m.filter_criteria := orders_stream_internal.normalize_filter_criteria(filter_criteria);
	m.metrics_config := metrics_config;
	PERFORM orders_stream_internal.check_mapping(m);
	PERFORM orders_stream_internal.check_no_conflict(caller, m);
	m.anchor := orders_stream_internal.create_anchor(m.uuid, caller);
	m.checkpoint := CASE starting_position WHEN 'LATEST'
		THEN orders_stream.sequence_number(pg_current_wal_insert_lsn(), 0) ELSE '' END;
	m.created_at := now();
	m.last_modified := now();
	m.installation := orders_stream_internal.installation_id();
	INSERT INTO orders_stream_internal.event_source_mappings SELECT m.*;
	INSERT INTO orders_stream.event_source_mapping_lanes (mapping_uuid, epoch, lane, lanes, checkpoint)
	SELECT m.uuid, 0, i, m.parallelization_factor, m.checkpoint
	  FROM generate_series(0, m.parallelization_factor - 1) AS i;
	PERFORM orders_stream_internal.launch_workers();
	RETURN m.uuid;
END
$$;

/*
 * The API functions that write mappings are one C shim (security.c) that
 * calls orders_stream_internal.<same name>(caller, caller's search_path,
 * args...): a definer-rights function learns who called from the shim, and
 * nobody else can call it.
 */
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
	filter_criteria jsonb DEFAULT NULL,
	tumbling_window_in_seconds integer DEFAULT 0,
	metrics_config jsonb DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.create_event_source_mapping(text, regprocedure, integer, text, boolean, integer, integer, integer, text[], boolean, integer, jsonb, integer, jsonb) IS
'Delivers a stream in batches to a function taking the Lambda event (jsonb), like an AWS Lambda event source mapping; returns its UUID';

CREATE FUNCTION orders_stream_internal.update_event_source_mapping(
	caller oid, caller_search_path text,
	mapping uuid, function_name regprocedure, batch_size integer,
	bisect_batch_on_function_error boolean, maximum_retry_attempts integer,
	maximum_record_age_in_seconds integer, maximum_batching_window_in_seconds integer,
	function_response_types text[], enabled boolean, parallelization_factor integer,
	filter_criteria jsonb, tumbling_window_in_seconds integer, metrics_config jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream_internal.event_source_mappings := orders_stream_internal.mapping_for_change(caller, mapping);
	old_factor integer := m.parallelization_factor;
BEGIN
	IF function_name IS NOT NULL THEN
		PERFORM orders_stream_internal.check_function(caller, function_name);
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
	m.tumbling_window_in_seconds := coalesce(tumbling_window_in_seconds, m.tumbling_window_in_seconds);
	IF filter_criteria IS NOT NULL THEN
		m.filter_criteria := orders_stream_internal.normalize_filter_criteria(filter_criteria);
	END IF;
	m.metrics_config := coalesce(metrics_config, m.metrics_config);
	PERFORM orders_stream_internal.check_mapping(m);
	PERFORM orders_stream_internal.check_no_conflict(caller, m);

	UPDATE orders_stream_internal.event_source_mappings e SET
		function_oid = m.function_oid, function_name = m.function_name,
		batch_size = m.batch_size,
		bisect_batch_on_function_error = m.bisect_batch_on_function_error,
		maximum_retry_attempts = m.maximum_retry_attempts,
		maximum_record_age_in_seconds = m.maximum_record_age_in_seconds,
		maximum_batching_window_in_seconds = m.maximum_batching_window_in_seconds,
		function_response_types = m.function_response_types,
		enabled = m.enabled,
		parallelization_factor = m.parallelization_factor,
		tumbling_window_in_seconds = m.tumbling_window_in_seconds,
		filter_criteria = m.filter_criteria,
		metrics_config = m.metrics_config,
		last_modified = now()
	 WHERE e.uuid = mapping;
	IF m.tumbling_window_in_seconds = 0 THEN
		/* without windows, the lanes' open windows are dropped (no final invocation) */
		UPDATE orders_stream.event_source_mapping_lanes l
		   SET window_state = NULL, window_terminated_early = false
		 WHERE l.mapping_uuid = mapping
		   AND (l.window_state IS NOT NULL OR l.window_terminated_early);
	END IF;
	IF m.parallelization_factor <> old_factor THEN
		/* after the UPDATE: no delivery of the mapping is in progress now */
		PERFORM orders_stream_internal.repartition(m, m.parallelization_factor);
	END IF;
	PERFORM orders_stream_internal.launch_workers();
	RETURN orders_stream_internal.configuration(mapping);
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
	filter_criteria jsonb DEFAULT NULL,
	tumbling_window_in_seconds integer DEFAULT NULL,
	metrics_config jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream_internal.delete_event_source_mapping(caller oid, caller_search_path text,
																   mapping uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream_internal.event_source_mappings := orders_stream_internal.mapping_for_change(caller, mapping);
	config jsonb := orders_stream_internal.configuration(mapping);
BEGIN
	DELETE FROM orders_stream_internal.event_source_mappings e WHERE e.uuid = mapping;
	EXECUTE format('DROP SEQUENCE IF EXISTS %s', m.anchor::regclass);
	RETURN config || '{"State": "Deleting"}';
END
$$;

CREATE FUNCTION orders_stream.delete_event_source_mapping(mapping uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream.list_event_source_mappings(event_source text DEFAULT NULL,
														 function_name regprocedure DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	arn text := event_source;
	tbl regclass;
BEGIN
	IF event_source IS NOT NULL AND event_source OPERATOR(pg_catalog.!~~) 'arn:%' THEN
		/* the caller's search_path names the table: no SET clause, qualified names */
		tbl := pg_catalog.to_regclass(event_source);
		IF tbl IS NULL THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('event_source "%s" is neither a table nor a stream ARN', event_source),
				'Pass a table with an enabled stream, or a stream ARN from orders_stream.list_streams().');
		END IF;
		SELECT s.stream_arn INTO arn FROM orders_stream.readable_streams s
		 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.enabled;
		IF NOT FOUND THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('table "%s" has no enabled stream', tbl),
				pg_catalog.format('Enable one first: SELECT orders_stream.enable_stream(%L, ''NEW_IMAGE'');', tbl::text));
		END IF;
	END IF;
	RETURN QUERY
		SELECT s.configuration
		  FROM orders_stream.event_source_mapping_status s
		 WHERE (arn IS NULL OR s.event_source_arn OPERATOR(pg_catalog.=) arn)
		   AND (list_event_source_mappings.function_name IS NULL
				OR s.function OPERATOR(pg_catalog.=) list_event_source_mappings.function_name)
		 ORDER BY s.created_at, s.uuid;
END
$$;

CREATE FUNCTION orders_stream.get_event_source_mapping(mapping uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	config jsonb;
BEGIN
	SELECT s.configuration INTO config FROM orders_stream.event_source_mapping_status s
	 WHERE s.uuid OPERATOR(pg_catalog.=) mapping;
	IF NOT FOUND THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('event source mapping %s does not exist', coalesce(mapping::text, 'NULL')),
			'orders_stream.list_event_source_mappings() lists the mappings you own.');
	END IF;
	RETURN config;
END
$$;

COMMENT ON FUNCTION orders_stream.get_event_source_mapping(uuid) IS
'AWS GetEventSourceMapping: the EventSourceMappingConfiguration of a mapping you own';

/*
 * AWS ListEventSourceMappings: {"EventSourceMappings": [...], "NextMarker"}.
 * FunctionName is the function's name as in FunctionArn (schema--name), the
 * name alone, SQL's schema.name, or the FunctionArn; Marker is opaque (the last mapping's
 * creation time and UUID).  Runs as the caller: the view shows its mappings.
 */
CREATE FUNCTION orders_stream."ListEventSourceMappings"("EventSourceArn" text DEFAULT NULL,
	"FunctionName" text DEFAULT NULL, "Marker" text DEFAULT NULL, "MaxItems" integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lim integer := coalesce("MaxItems", 100);
	after_time numeric;
	after_uuid uuid;
	page jsonb[];
	last_time numeric;
	last_uuid uuid;
BEGIN
	IF lim OPERATOR(pg_catalog.<) 1 OR lim OPERATOR(pg_catalog.>) 10000 THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('MaxItems must be between 1 and 10000, got %s', lim));
	END IF;
	IF "Marker" IS NOT NULL THEN
		BEGIN
			after_time := pg_catalog.split_part("Marker", '/', 1)::numeric;
			after_uuid := pg_catalog.split_part("Marker", '/', 2)::uuid;
		EXCEPTION WHEN data_exception THEN
			after_time := NULL;
		END;
		IF after_time IS NULL OR after_uuid IS NULL THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('Marker "%s" is not one that ListEventSourceMappings returned', "Marker"));
		END IF;
	END IF;
	SELECT pg_catalog.array_agg(x.configuration ORDER BY x.t, x.uuid),
		   (pg_catalog.array_agg(x.t ORDER BY x.t DESC, x.uuid DESC))[1],
		   (pg_catalog.array_agg(x.uuid ORDER BY x.t DESC, x.uuid DESC))[1]
	  INTO page, last_time, last_uuid
	  FROM (SELECT s.configuration, s.uuid, EXTRACT(epoch FROM s.created_at) AS t
			  FROM orders_stream.event_source_mapping_status s
			 WHERE ("EventSourceArn" IS NULL OR s.event_source_arn OPERATOR(pg_catalog.=) "EventSourceArn")
			   AND ("FunctionName" IS NULL
					OR orders_stream.lambda_function_sql_name("FunctionName") OPERATOR(pg_catalog.||) '(jsonb)'
					   OPERATOR(pg_catalog.=) s.function::text
					OR "FunctionName" OPERATOR(pg_catalog.=) pg_catalog.split_part(
						pg_catalog.regexp_replace(s.configuration OPERATOR(pg_catalog.->>) 'FunctionArn', '^.*:function:', ''), '--', 2))
			   AND (after_time IS NULL OR (EXTRACT(epoch FROM s.created_at), s.uuid) OPERATOR(pg_catalog.>) (after_time, after_uuid))
			 ORDER BY 3, 2
			 LIMIT lim OPERATOR(pg_catalog.+) 1) x;
	IF pg_catalog.cardinality(page) OPERATOR(pg_catalog.>) lim THEN
		page := page[1:lim];
		SELECT EXTRACT(epoch FROM s.created_at), s.uuid INTO last_time, last_uuid
		  FROM orders_stream.event_source_mapping_status s
		 WHERE s.uuid OPERATOR(pg_catalog.=) (page[lim] OPERATOR(pg_catalog.->>) 'UUID')::uuid;
		RETURN pg_catalog.jsonb_build_object('EventSourceMappings', pg_catalog.to_jsonb(page),
			'NextMarker', last_time::text OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) last_uuid::text);
	END IF;
	RETURN pg_catalog.jsonb_build_object('EventSourceMappings', coalesce(pg_catalog.to_jsonb(page), '[]'::jsonb));
END
$$;

COMMENT ON FUNCTION orders_stream."ListEventSourceMappings"(text, text, text, integer) IS
'AWS ListEventSourceMappings: your mappings as {"EventSourceMappings": [...], "NextMarker": ...}';

/*
 * AWS CreateEventSourceMapping, the request document in, the configuration
 * out.  FunctionName (a name, schema--name or FunctionArn) names a function taking jsonb,
 * resolved in the caller's search_path like create_event_source_mapping's
 * arguments: so no SET clause here, and only qualified names and operators.
 */
CREATE FUNCTION orders_stream."CreateEventSourceMapping"(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	fn text := orders_stream.lambda_function_sql_name(request OPERATOR(pg_catalog.->>) 'FunctionName');
	proc pg_catalog.regprocedure;
	mapping uuid;
	batch_size int;
	bisect boolean;
	retries int;
	max_age int;
	window_secs int;
	response_types text[];
	enabled boolean;
	factor int;
	tumbling int;
BEGIN
	/* members of the wrong JSON type are AWS's InvalidParameterValueException, not a cast error */
	BEGIN
		batch_size := coalesce((request OPERATOR(pg_catalog.->>) 'BatchSize')::pg_catalog.int4, 100);
		bisect := coalesce((request OPERATOR(pg_catalog.->>) 'BisectBatchOnFunctionError')::pg_catalog.bool, false);
		retries := coalesce((request OPERATOR(pg_catalog.->>) 'MaximumRetryAttempts')::pg_catalog.int4, -1);
		max_age := coalesce((request OPERATOR(pg_catalog.->>) 'MaximumRecordAgeInSeconds')::pg_catalog.int4, -1);
		window_secs := coalesce((request OPERATOR(pg_catalog.->>) 'MaximumBatchingWindowInSeconds')::pg_catalog.int4, 0);
		response_types := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
			coalesce(request OPERATOR(pg_catalog.->) 'FunctionResponseTypes', '[]'::pg_catalog.jsonb)));
		enabled := coalesce((request OPERATOR(pg_catalog.->>) 'Enabled')::pg_catalog.bool, true);
		factor := coalesce((request OPERATOR(pg_catalog.->>) 'ParallelizationFactor')::pg_catalog.int4, 1);
		tumbling := coalesce((request OPERATOR(pg_catalog.->>) 'TumblingWindowInSeconds')::pg_catalog.int4, 0);
	EXCEPTION WHEN data_exception THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			'a member of the CreateEventSourceMapping request has the wrong type',
			'BatchSize and the other counts are integers, BisectBatchOnFunctionError and Enabled booleans, FunctionResponseTypes a list of strings ('
			OPERATOR(pg_catalog.||) SQLERRM OPERATOR(pg_catalog.||) ').');
	END;
	IF fn IS NOT NULL THEN
		proc := pg_catalog.to_regprocedure(fn OPERATOR(pg_catalog.||) '(jsonb)');
	END IF;
	IF proc IS NULL THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('function "%s" (taking jsonb) does not exist', fn),
			'FunctionName is a function f(event jsonb), by name, as schema--name or as FunctionArn.');
	END IF;
	/*
	 * two statements: get_event_source_mapping() is STABLE, so within the
	 * statement that creates the mapping it would read the snapshot before it
	 */
	mapping := orders_stream.create_event_source_mapping(
		request OPERATOR(pg_catalog.->>) 'EventSourceArn', proc,
		batch_size => batch_size,
		starting_position => request OPERATOR(pg_catalog.->>) 'StartingPosition',
		bisect_batch_on_function_error => bisect,
		maximum_retry_attempts => retries,
		maximum_record_age_in_seconds => max_age,
		maximum_batching_window_in_seconds => window_secs,
		function_response_types => response_types,
		enabled => enabled,
		parallelization_factor => factor,
		filter_criteria => request OPERATOR(pg_catalog.->) 'FilterCriteria',
		tumbling_window_in_seconds => tumbling,
		metrics_config => request OPERATOR(pg_catalog.->) 'MetricsConfig');
	RETURN orders_stream.get_event_source_mapping(mapping);
END
$$;

COMMENT ON FUNCTION orders_stream."CreateEventSourceMapping"(jsonb) IS
'AWS CreateEventSourceMapping: the request document in, the EventSourceMappingConfiguration out';

CREATE FUNCTION orders_stream.wait_for_mapping(mapping uuid, timeout interval DEFAULT '30s')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
/* the status view takes longer to plan than to run: once per session */
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	m orders_stream.event_source_mapping_status;
	reached text;
	current_state text;
	target text;
	deadline timestamptz := clock_timestamp() + timeout;
BEGIN
	/*
	 * Not the status view: it reads record_store, whose lock, held while
	 * waiting for capture, would keep capture from adding the partition it
	 * may need to catch up.
	 */
	PERFORM FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
	IF NOT FOUND THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('event source mapping %s does not exist', coalesce(mapping::text, 'NULL')),
			'orders_stream.list_event_source_mappings() lists the mappings you own.');
	END IF;
	PERFORM orders_stream.wait_for_capture(timeout);
	SELECT s.latest_sequence_number INTO target
	  FROM orders_stream.event_source_mapping_status s WHERE s.uuid = mapping;
	IF target IS NULL THEN
		PERFORM orders_stream.aws_error('AccessDeniedException',
			pg_catalog.format('the owner of event source mapping %s may not read its stream', mapping),
			'The mapping stalls until its owner may SELECT the table again (and bypasses its row-level security).');
	END IF;
	/*
	 * Polled, so cheaply: only the columns it needs (the view computes the
	 * others only when asked), and not so often that the poll takes a
	 * noticeable share of a CPU from the delivery workers it waits for.
	 */
	LOOP
		SELECT s.checkpoint_sequence_number, s.state INTO reached, current_state
		  FROM orders_stream.event_source_mapping_status s WHERE s.uuid = mapping;
		IF reached >= target THEN
			RETURN reached;
		END IF;
		IF current_state = 'Disabled' THEN
			RAISE EXCEPTION 'event source mapping % is disabled', mapping
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = format('Enable it: SELECT orders_stream.update_event_source_mapping(%L, enabled => true);', mapping);
		END IF;
		IF clock_timestamp() > deadline THEN
			SELECT * INTO m FROM orders_stream.event_source_mapping_status s WHERE s.uuid = mapping;
			RAISE EXCEPTION 'event source mapping % did not reach SequenceNumber % within %', mapping, target, timeout
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('Its checkpoint is %s; last result: %s; last error: %s.',
									  nullif(m.checkpoint_sequence_number, ''), m.last_processing_result, m.last_error),
					  HINT = 'See orders_stream.event_source_mapping_status and orders_stream.failures.';
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;

CREATE FUNCTION orders_stream.redrive_failures(mapping uuid DEFAULT NULL, failure_ids bigint[] DEFAULT NULL)
RETURNS TABLE (failure_id bigint, result text)
AS 'MODULE_PATHNAME', 'orders_stream_redrive_failures'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.redrive_failures(uuid, bigint[]) IS
'Invokes the mapping function again with the records of your stored failures not yet redriven successfully, and records each outcome';
