-- examples/item_totals.sql: the seed's aggregator, the Lambda function that
-- keeps item_totals up to date from the orders stream, as PL/pgSQL.
--
-- It receives the Lambda event {"Records": [...]} and applies each record:
-- INSERT adds the new quantity, MODIFY the difference, REMOVE subtracts the
-- old one.  MODIFY and REMOVE need the old image (a NEW_AND_OLD_IMAGES
-- stream); with NEW_IMAGE, as in the seed, only INSERTs count.
-- An order with a negative quantity is a poison record: the function fails,
-- as a Lambda handler would throw.

CREATE TABLE item_totals (
	item  text PRIMARY KEY,
	total bigint NOT NULL
);

CREATE FUNCTION item_totals_aggregator(event jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	poison jsonb;
BEGIN
	SELECT r INTO poison
	  FROM jsonb_array_elements(event->'Records') AS r
	 WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::numeric < 0
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'order % has a negative quantity', poison#>>'{dynamodb,Keys,id,S}'
			USING HINT = 'Fix the order; then orders_stream.redrive_failures() replays it.';
	END IF;

	INSERT INTO item_totals AS t (item, total)
	SELECT item, sum(delta)
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
			   AND r#> '{dynamodb,OldImage}' IS NOT NULL) AS d
	 GROUP BY item
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total;
	RETURN NULL;
END
$$;
