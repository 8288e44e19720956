-- examples/demo_setup.sql: what the demos (demo.sql, cdk/demo.sql) start
-- from: short retries, the orders table and the item_totals aggregator.

-- Retries back off 1 s, 2 s, 4 s ... by default; ten of them would keep the
-- demo waiting for minutes, so shorten the schedule for this cluster.
ALTER SYSTEM SET orders_stream.retry_base_delay = '20ms';
ALTER SYSTEM SET orders_stream.retry_max_delay = '200ms';
SELECT pg_reload_conf();

CREATE TABLE orders (
	id       text PRIMARY KEY,
	item     text NOT NULL,
	quantity int NOT NULL
);

\ir item_totals.sql
