--
-- windows: tumbling windows (tumbling_window_in_seconds), as AWS Lambda's
-- for DynamoDB streams.  An invocation's event carries, besides Records,
-- window {start, end}, state, shardId, eventSourceARN,
-- isFinalInvokeForWindow and isWindowTerminatedEarly; the function returns
-- {"state": {...}}; a final invocation without records ends each window.
--
SET client_min_messages = warning;
\set VERBOSITY terse
CREATE TABLE worders (id text PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('worders', 'NEW_IMAGE') IS NOT NULL AS enabled;

-- every event an invocation that succeeded got (failed ones roll back)
CREATE TABLE wevents (i serial PRIMARY KEY, mapping text NOT NULL, event jsonb NOT NULL);
-- the state counts records; pad (bytes) makes it large
CREATE FUNCTION wstate(event jsonb, tag text, pad int DEFAULT 0) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO wevents (mapping, event) VALUES (tag, event);
	RETURN jsonb_build_object('state', jsonb_build_object(
		'n', coalesce((event#>>'{state,n}')::int, 0) + jsonb_array_length(event->'Records'))
		|| CASE WHEN pad > 0 THEN jsonb_build_object('pad',
				repeat('x', pad * (coalesce((event#>>'{state,n}')::int, 0) + jsonb_array_length(event->'Records'))))
		   ELSE '{}' END);
END
$$;
CREATE FUNCTION wsink(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT wstate(event, 'sink') $$;

-- waits until the mapping's window is closed and n events were logged
CREATE FUNCTION wwait(m uuid, tag text, n int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '60s';
BEGIN
	PERFORM orders_stream.wait_for_mapping(m, '60s');
	LOOP
		IF (SELECT count(*) FROM wevents WHERE mapping = tag) >= n
		   AND NOT EXISTS (SELECT FROM orders_stream.event_source_mapping_lanes
						   WHERE mapping_uuid = m AND window_state IS NOT NULL) THEN
			RETURN true;
		END IF;
		IF clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'mapping % logged % events, not %; window %', m,
				(SELECT count(*) FROM wevents WHERE mapping = tag), n,
				(SELECT array_agg(row(window_start, window_state, last_error)) FROM orders_stream.event_source_mapping_lanes WHERE mapping_uuid = m);
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;

-- the events of a mapping, their volatile parts checked and left out
CREATE VIEW wlog AS
SELECT e.mapping, e.i,
	   jsonb_array_length(e.event->'Records') AS records,
	   (e.event->'state') - 'pad'::text AS state,
	   pg_catalog.length(e.event->'state'->>'pad') AS pad,
	   e.event->'isFinalInvokeForWindow' AS final,
	   e.event->'isWindowTerminatedEarly' AS early,
	   (SELECT array_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(e.event) k) AS members,
	   e.event#>>'{window,start}' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
		   AND e.event#>>'{window,end}' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$' AS window_format,
	   extract(epoch FROM (e.event#>>'{window,end}')::timestamptz
						  - (e.event#>>'{window,start}')::timestamptz) AS window_secs,
	   (SELECT bool_and((r#>>'{dynamodb,ApproximateCreationDateTime}')::numeric
						BETWEEN extract(epoch FROM (e.event#>>'{window,start}')::timestamptz)
							AND extract(epoch FROM (e.event#>>'{window,end}')::timestamptz) - 1)
		  FROM jsonb_array_elements(e.event->'Records') r) AS records_in_window,
	   e.event->>'shardId' = (SELECT s.shard_id FROM orders_stream.streams s
							  WHERE s.relid = 'worders'::regclass AND s.disabled_at IS NULL) AS shard_ok,
	   os_mask_arn(e.event->>'eventSourceARN') AS arn
  FROM wevents e;

-- the range is AWS's: 0 (no windows) to 900 seconds
SELECT orders_stream.create_event_source_mapping('worders', 'wsink(jsonb)',
	starting_position => 'TRIM_HORIZON', tumbling_window_in_seconds => 901);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.create_event_source_mapping('worders', 'wsink(jsonb)',
	starting_position => 'TRIM_HORIZON', tumbling_window_in_seconds => -1);
\echo :LAST_ERROR_SQLSTATE

-- batches of 2 in 1-second windows: 3 orders in one transaction are one
-- window (one commit time); its final invocation has the accumulated state
SELECT orders_stream.create_event_source_mapping('worders', 'wsink(jsonb)', batch_size => 2,
	starting_position => 'LATEST', tumbling_window_in_seconds => 1) AS m \gset
SELECT orders_stream.get_event_source_mapping(:'m')->'TumblingWindowInSeconds' AS tumbling;
INSERT INTO worders VALUES ('o1', 'coffee', 1), ('o2', 'tea', 2), ('o3', 'coffee', 3);
SELECT wwait(:'m', 'sink', 3);
-- the next orders (committed after the first window's end) are a new window
INSERT INTO worders VALUES ('o4', 'mug', 4), ('o5', 'tea', 5);
SELECT wwait(:'m', 'sink', 5);
SELECT i, records, state, final, early, members, window_format, window_secs, records_in_window,
	   shard_ok, arn
  FROM wlog WHERE mapping = 'sink' ORDER BY i;
-- windows follow each other, and each final invocation has its window's
SELECT count(DISTINCT e.event->'window') AS windows,
	   bool_and(e.event->'window' = (SELECT f.event->'window' FROM wevents f
									  WHERE f.mapping = 'sink' AND f.i >= e.i
										AND (f.event->>'isFinalInvokeForWindow')::boolean
									  ORDER BY f.i LIMIT 1)) AS final_same_window
  FROM wevents e WHERE e.mapping = 'sink';
SELECT (SELECT e.event#>>'{window,start}' FROM wevents e WHERE e.i = 1)
	   < (SELECT e.event#>>'{window,start}' FROM wevents e WHERE e.i = 4) AS later_window;
SELECT records_processed, invocations, failures, last_error FROM orders_stream.event_source_mapping_status
 WHERE uuid = :'m';

-- a failing final invocation holds the mapping until it succeeds, whatever
-- maximum_retry_attempts says (it has no records to give up on), as in Lambda
CREATE TABLE wfail (fail boolean NOT NULL);
INSERT INTO wfail VALUES (true);
CREATE FUNCTION wfinal(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF (event->>'isFinalInvokeForWindow')::boolean AND (SELECT fail FROM wfail) THEN
		RAISE EXCEPTION 'the final invocation fails';
	END IF;
	RETURN wstate(event, 'final');
END
$$;
SELECT orders_stream.create_event_source_mapping('worders', 'wfinal(jsonb)',
	starting_position => 'LATEST', tumbling_window_in_seconds => 1,
	maximum_retry_attempts => 0) AS mf \gset
INSERT INTO worders VALUES ('o12', 'tea', 12), ('o13', 'mug', 13);
DO $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '60s';
BEGIN
	WHILE (SELECT errors < 2 FROM orders_stream.event_source_mapping_status
			WHERE function = 'wfinal(jsonb)'::regprocedure) LOOP
		IF clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'the final invocation was not retried';
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;
SELECT s.state, s.failures, s.last_error, l.window_state AS state_kept
  FROM orders_stream.event_source_mapping_status s
  JOIN orders_stream.event_source_mapping_lanes l ON l.mapping_uuid = s.uuid
 WHERE s.uuid = :'mf';
UPDATE wfail SET fail = false;
SELECT wwait(:'mf', 'final', 2);
SELECT records, state, final, early FROM wlog WHERE mapping = 'final' ORDER BY i;
SELECT orders_stream.delete_event_source_mapping(:'mf') IS NOT NULL AS deleted;

-- a response without a state object is a failed invocation, as in Lambda
CREATE FUNCTION wnostate(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{"batchItemFailures": []}'::jsonb $$;
SELECT orders_stream.create_event_source_mapping('worders', 'wnostate(jsonb)',
	starting_position => 'LATEST', tumbling_window_in_seconds => 60,
	maximum_retry_attempts => 0) AS mn \gset
INSERT INTO worders VALUES ('o6', 'tea', 6);
SELECT orders_stream.wait_for_mapping(:'mn', '60s') IS NOT NULL AS caught_up;
SELECT condition, sqlstate, message, jsonb_array_length(records) AS records
  FROM orders_stream.failures WHERE mapping_uuid = :'mn';
SELECT orders_stream.delete_event_source_mapping(:'mn') IS NOT NULL AS deleted;

-- a state over 1 MB: the window is terminated early (its final invocation
-- gets the state as it was), then goes on with a fresh state; every record
-- counts once
CREATE FUNCTION wbig(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT wstate(event, 'big', 400000) $$;
SELECT orders_stream.create_event_source_mapping('worders', 'wbig(jsonb)', batch_size => 1,
	starting_position => 'LATEST', tumbling_window_in_seconds => 1) AS mb \gset
INSERT INTO worders VALUES ('o7', 'tea', 7), ('o8', 'tea', 8), ('o9', 'tea', 9), ('o10', 'tea', 10);
SELECT wwait(:'mb', 'big', 6);
SELECT row_number() OVER (ORDER BY i) AS n, records, state, pad, final, early
  FROM wlog WHERE mapping = 'big' ORDER BY i;
SELECT errors, failures, last_error FROM orders_stream.event_source_mapping_status WHERE uuid = :'mb';
SELECT orders_stream.delete_event_source_mapping(:'mb') IS NOT NULL AS deleted;

-- a fresh state over 1 MB is a failed invocation like any other
CREATE FUNCTION whuge(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT wstate(event, 'huge', 1100000) $$;
SELECT orders_stream.create_event_source_mapping('worders', 'whuge(jsonb)', batch_size => 1,
	starting_position => 'LATEST', tumbling_window_in_seconds => 60,
	maximum_retry_attempts => 0) AS mh \gset
INSERT INTO worders VALUES ('o11', 'tea', 11);
SELECT orders_stream.wait_for_mapping(:'mh', '60s') IS NOT NULL AS caught_up;
SELECT condition, sqlstate, message, jsonb_array_length(records) AS records
  FROM orders_stream.failures WHERE mapping_uuid = :'mh';
SELECT orders_stream.delete_event_source_mapping(:'mh') IS NOT NULL AS deleted;

-- with lanes, each lane has its own window and state, saved with its
-- checkpoint; on a factor change, the old lanes end their open windows at
-- once (a final invocation each, long before the 900-second window's end),
-- then drain, and the new lanes start with no window
CREATE FUNCTION wlanes(event jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT wstate(event, 'lanes') $$;
SELECT orders_stream.create_event_source_mapping('worders', 'wlanes(jsonb)',
	starting_position => 'LATEST', tumbling_window_in_seconds => 900,
	parallelization_factor => 2) AS ml \gset
INSERT INTO worders SELECT 'l' || i, 'pen', i FROM generate_series(1, 20) i;
SELECT orders_stream.wait_for_mapping(:'ml', '60s') IS NOT NULL AS caught_up;
SELECT count(*) AS open_windows, sum((window_state->>'n')::int) AS counted,
	   count(DISTINCT window_start) AS window_starts
  FROM orders_stream.event_source_mapping_lanes
 WHERE mapping_uuid = :'ml' AND window_state IS NOT NULL;
SELECT count(*) FILTER (WHERE final::boolean) AS finals FROM wlog WHERE mapping = 'lanes';
SELECT orders_stream.update_event_source_mapping(:'ml', parallelization_factor => 1)->'ParallelizationFactor' AS factor;
SELECT wwait(:'ml', 'lanes', 4);
-- an old lane drains in the step after its final invocation; once all
-- have, the new lane starts
CREATE FUNCTION wdrained(m uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '60s';
BEGIN
	WHILE EXISTS (SELECT FROM orders_stream.event_source_mapping_lanes
				   WHERE mapping_uuid = m
					 AND ((epoch = 0 AND state <> 'DRAINED') OR (epoch = 1 AND state = 'WAITING_EPOCH'))) LOOP
		IF clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'the old lanes of mapping % did not drain, or the new one did not start, within 60 s', m;
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
	RETURN true;
END
$$;
SELECT wdrained(:'ml');
SELECT count(*) AS finals, sum((state->>'n')::int) AS total, bool_or(early::boolean) AS early,
	   bool_and(records = 0) AS no_records, bool_and(shard_ok) AS shard_ok
  FROM wlog WHERE mapping = 'lanes' AND final::boolean;
SELECT count(DISTINCT (event->'window')) AS windows FROM wevents WHERE mapping = 'lanes';
SELECT epoch, lane, state, window_start IS NOT NULL AS had_window, window_state
  FROM orders_stream.event_source_mapping_lanes WHERE mapping_uuid = :'ml' ORDER BY epoch, lane;
SELECT orders_stream.delete_event_source_mapping(:'ml') IS NOT NULL AS deleted;

-- AWS's documents: TumblingWindowInSeconds in CreateEventSourceMapping and
-- ListEventSourceMappings; 0 turns windows off and drops an open window
SELECT orders_stream."CreateEventSourceMapping"(jsonb_build_object(
	'EventSourceArn', (SELECT stream_arn FROM orders_stream.streams WHERE relid = 'worders'::regclass),
	'FunctionName', 'wnostate', 'StartingPosition', 'LATEST', 'Enabled', false,
	'TumblingWindowInSeconds', 120))->'TumblingWindowInSeconds' AS created;
SELECT m->'TumblingWindowInSeconds' AS listed
  FROM jsonb_array_elements(orders_stream."ListEventSourceMappings"("FunctionName" => 'wnostate')->'EventSourceMappings') m;
SELECT orders_stream."CreateEventSourceMapping"(jsonb_build_object(
	'EventSourceArn', (SELECT stream_arn FROM orders_stream.streams WHERE relid = 'worders'::regclass),
	'FunctionName', 'whuge', 'StartingPosition', 'LATEST', 'TumblingWindowInSeconds', '2 minutes'));
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.update_event_source_mapping(:'m', tumbling_window_in_seconds => 0)->'TumblingWindowInSeconds' AS off;
SELECT bool_and(window_state IS NULL) AS no_state FROM orders_stream.event_source_mapping_lanes WHERE mapping_uuid = :'m';
SELECT orders_stream.update_event_source_mapping(:'m', tumbling_window_in_seconds => 1000);
\echo :LAST_ERROR_SQLSTATE
SELECT orders_stream.delete_event_source_mapping(:'m') IS NOT NULL AS deleted;
