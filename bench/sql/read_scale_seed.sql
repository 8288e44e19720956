-- bench/sql/read_scale_seed.sql: turns the :seed records capture stored for
-- orders into the templates of bench/read_scale.sh's load, then removes them
-- (the load's sequence keys follow theirs, its capture times precede theirs).
-- Prints whether the seed is as expected (:seed records, each body starting
-- with ApproximateCreationDateTime, then Keys), and the commit LSN of the
-- newest one (a number): the load's keys start after it.
INSERT INTO orders (item, quantity)
	SELECT (ARRAY['coffee', 'tea', 'mug', 'beans'])[g % 4 + 1] || '-' || g % 1000, g % 7 + 1
	  FROM generate_series(1, :seed) g;
SELECT orders_stream.wait_for_capture('30min') IS NOT NULL AS captured \gset
-- the body without its leading ApproximateCreationDateTime, which the load sets
CREATE TABLE read_scale_seed AS
SELECT row_number() OVER (ORDER BY sequence_key) AS i, key_hash, size_bytes, event_name,
	   substr(body, strpos(body, ',"Keys":')) AS rest, ttl_delete,
	   body ~ '^"ApproximateCreationDateTime":\d+,"Keys":' AS shaped
  FROM orders_stream.record_store;
SELECT count(*) = :seed AND bool_and(shaped) AS seed_ok FROM read_scale_seed \gset
SELECT substr(orders_stream.sequence_text(sequence_key), 1, 20)::numeric AS l0
  FROM orders_stream.record_store ORDER BY sequence_key DESC LIMIT 1 \gset
SELECT 'TRUNCATE ' || string_agg(DISTINCT tableoid::regclass::text, ', ') AS truncate
  FROM orders_stream.record_store \gset
:truncate;
SELECT :'seed_ok', :l0;
