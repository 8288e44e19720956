-- bench/sql/delivery_setup.sql: orders with a NEW_IMAGE stream, the two
-- item_totals aggregators of examples/, and a latency probe aggregator.
CREATE EXTENSION orders_stream;
SELECT orders_stream.wait_for_slot() IS NOT NULL AS slot;
CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL,
					 created_at timestamptz NOT NULL DEFAULT clock_timestamp());
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE') IS NOT NULL AS stream;
\ir ../../examples/item_totals.sql
\ir ../../examples/item_totals_c.sql
-- commit -> applied: the aggregator notes when it saw each order
CREATE TABLE applied (id bigint PRIMARY KEY, created_at timestamptz, applied_at timestamptz);
CREATE FUNCTION latency_probe(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	PERFORM item_totals_aggregator(event);
	INSERT INTO applied
	SELECT (r#>>'{dynamodb,Keys,id,N}')::bigint, (r#>>'{dynamodb,NewImage,created_at,S}')::timestamptz,
		   clock_timestamp()
	  FROM jsonb_array_elements(event->'Records') r;
	RETURN NULL;
END $$;
