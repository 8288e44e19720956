-- bench/sql/read_scale_setup.sql: the table of bench/read_scale.sh (the
-- delivery benchmarks' orders, NEW_IMAGE stream), the item_totals
-- aggregator its many-readers mode delivers to, and "reader", an ordinary
-- role that may read orders: the role every read is timed as (the security
-- barrier path users take).
CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL,
					 created_at timestamptz NOT NULL DEFAULT clock_timestamp());
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE') IS NOT NULL AS stream;
\ir ../../examples/item_totals.sql
CREATE ROLE reader LOGIN;
GRANT SELECT ON orders TO reader;
