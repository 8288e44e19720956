-- examples/window_totals.sql: item totals per tumbling window, the Lambda
-- tumbling-window handler of README's "Tumbling windows" as PL/pgSQL.
--
-- A mapping with tumbling_window_in_seconds delivers each window's records
-- in one or more batches: every invocation gets the window's state so far
-- (event.state, {} at first) and returns the new one, {"state": {...}};
-- here the state maps each item to its total in the window.  When the
-- window ends, a final invocation (event.isFinalInvokeForWindow, no
-- records) gets the whole state, and the function writes it to
-- window_item_totals.  A window whose state reached its 1 MB limit is
-- terminated early (event.isWindowTerminatedEarly): its final invocation
-- has the state so far, and the window goes on with a fresh state; with
-- parallelization_factor > 1 each lane has its own window and final
-- invocation: so totals are added, not replaced.
--
-- Records count as item_totals_aggregator counts them: INSERT adds the new
-- quantity, MODIFY the difference, REMOVE subtracts the old one (with a
-- NEW_AND_OLD_IMAGES stream).  State and effects commit with the lane's
-- checkpoint: each record counts in its window exactly once, crashes or not.

CREATE TABLE window_item_totals (
	window_start timestamptz NOT NULL,
	window_end   timestamptz NOT NULL,
	item         text NOT NULL,
	total        bigint NOT NULL,
	PRIMARY KEY (window_start, item)
);

CREATE FUNCTION window_totals_aggregator(event jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	state jsonb := coalesce(event->'state', '{}');
BEGIN
	IF (event->>'isFinalInvokeForWindow')::boolean THEN
		INSERT INTO window_item_totals AS t (window_start, window_end, item, total)
		SELECT (event#>>'{window,start}')::timestamptz, (event#>>'{window,end}')::timestamptz,
			   s.key, s.value::bigint
		  FROM jsonb_each_text(state) AS s
		ON CONFLICT (window_start, item) DO UPDATE SET total = t.total + excluded.total;
		RETURN jsonb_build_object('state', '{}'::jsonb);
	END IF;

	SELECT state || coalesce(jsonb_object_agg(d.item, coalesce((state->>d.item)::bigint, 0) + d.delta), '{}')
	  INTO state
	  FROM (SELECT item, sum(delta) AS delta
			  FROM (SELECT r#>>'{dynamodb,NewImage,item,S}' AS item,
						   (r#>>'{dynamodb,NewImage,quantity,N}')::bigint AS delta
					  FROM jsonb_array_elements(event->'Records') AS r
					 WHERE r#> '{dynamodb,NewImage}' IS NOT NULL
					   AND (r->>'eventName' = 'INSERT' OR r#> '{dynamodb,OldImage}' IS NOT NULL)
					UNION ALL
					SELECT r#>>'{dynamodb,OldImage,item,S}',
						   -(r#>>'{dynamodb,OldImage,quantity,N}')::bigint
					  FROM jsonb_array_elements(event->'Records') AS r
					 WHERE r->>'eventName' IN ('MODIFY', 'REMOVE')
					   AND r#> '{dynamodb,OldImage}' IS NOT NULL) AS c
			 GROUP BY item) AS d;
	RETURN jsonb_build_object('state', state);
END
$$;
