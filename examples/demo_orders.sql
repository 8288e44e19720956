-- examples/demo_orders.sql: the orders the demos write: 20 orders, then a
-- poison order the aggregator rejects, then 7 more.
INSERT INTO orders
SELECT 'order-' || g, (ARRAY['coffee', 'tea', 'mug'])[g % 3 + 1], g % 4 + 1
  FROM generate_series(1, 20) AS g;
INSERT INTO orders VALUES ('order-poison', 'coffee', -5);
INSERT INTO orders
SELECT 'order-' || g, (ARRAY['coffee', 'tea', 'mug'])[g % 3 + 1], g % 4 + 1
  FROM generate_series(21, 27) AS g;
