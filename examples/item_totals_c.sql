-- examples/item_totals_c.sql: the item_totals aggregator in C
-- (examples/orders_stream_item_totals.c, built and installed by the Makefile).
-- Needs the item_totals table of examples/item_totals.sql.

CREATE FUNCTION item_totals_aggregator_c(event jsonb)
RETURNS jsonb
AS 'orders_stream_item_totals', 'item_totals_aggregator'
LANGUAGE C STRICT;
