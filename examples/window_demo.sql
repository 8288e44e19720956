-- examples/window_demo.sql: item totals per tumbling window, end to end.
-- Run by ./demo.sh examples/window_demo.sql in a throwaway cluster.
--
-- AWS (CDK):                                orders_stream:
--   Table "orders", stream NEW_AND_OLD_IMAGES  enable_stream('orders', 'NEW_AND_OLD_IMAGES')
--   Lambda with a tumbling-window handler     window_totals_aggregator(event jsonb)
--   DynamoEventSource { startingPosition:     create_event_source_mapping(...,
--     LATEST, batchSize: 3,                      starting_position => 'LATEST', batch_size => 3,
--     tumblingWindow: Duration.seconds(2) }      tumbling_window_in_seconds => 2)

\set ON_ERROR_STOP on

CREATE EXTENSION orders_stream;
SELECT orders_stream.wait_for_slot();

CREATE TABLE orders (
	id       text PRIMARY KEY,
	item     text NOT NULL,
	quantity int NOT NULL
);
SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES') AS stream_arn;

\ir window_totals.sql

SELECT orders_stream.create_event_source_mapping(
	'orders', 'window_totals_aggregator(jsonb)',
	batch_size => 3,
	starting_position => 'LATEST',
	tumbling_window_in_seconds => 2) AS mapping \gset

-- Waits until the mapping has processed every record and its window has
-- ended (its final invocation has run): a window ends a second after its
-- end once the stream is idle.
CREATE FUNCTION wait_for_window(m uuid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	deadline timestamptz := clock_timestamp() + interval '60s';
BEGIN
	PERFORM orders_stream.wait_for_mapping(m, '60s');
	WHILE EXISTS (SELECT FROM orders_stream.event_source_mapping_lanes
				 WHERE mapping_uuid = m AND window_state IS NOT NULL) LOOP
		IF clock_timestamp() > deadline THEN
			RAISE EXCEPTION 'the window of mapping % did not end within 60 s', m;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;

-- a first window: 7 orders, delivered in batches of 3, then one final
-- invocation with the window's totals
INSERT INTO orders
SELECT 'order-' || g, (ARRAY['coffee', 'tea', 'mug'])[g % 3 + 1], g % 4 + 1
  FROM generate_series(1, 7) AS g;
SELECT wait_for_window(:'mapping');

-- a later window (one transaction, one commit time): new orders, one more
-- coffee, and a cancelled order (a REMOVE takes its quantity off)
BEGIN;
INSERT INTO orders VALUES ('order-8', 'coffee', 5), ('order-9', 'tea', 1);
UPDATE orders SET quantity = quantity + 1 WHERE id = 'order-3';
DELETE FROM orders WHERE id = 'order-2';
COMMIT;
SELECT wait_for_window(:'mapping');

\echo window_item_totals, written by the final invocation of each window:
SELECT dense_rank() OVER (ORDER BY window_start) AS "window",
	   extract(epoch FROM window_end - window_start) AS seconds, item, total
  FROM window_item_totals ORDER BY window_start, item;

\echo the mapping (TumblingWindowInSeconds in its configuration):
SELECT configuration->'TumblingWindowInSeconds' AS tumbling_window_in_seconds,
	   invocations, records_processed, failures
  FROM orders_stream.event_source_mapping_status WHERE uuid = :'mapping';
