-- bench/sql/read_scale_load.sql: records :lo to :hi of bench/read_scale.sh's
-- load of :n records into the stream :sid, from the seed's templates (record
-- g is seed record (g - 1) % :seed + 1).  Record g is captured at
-- :t0 + (g - 1) * :span / :n (epoch seconds; its ApproximateCreationDateTime
-- says the same second) and committed alone at LSN :l0 + 8 g (its
-- SequenceNumber: that LSN, position 1, as capture numbers a one-row
-- transaction), so sequence order is capture-time order, every key follows
-- the seed's, and every one precedes what capture stores next, as long as
-- the load itself writes more than 8 bytes of WAL per record (checked).
INSERT INTO orders_stream.record_store
SELECT :sid, to_timestamp(:t0 + (g - 1) * :span / :n), s.key_hash, s.size_bytes,
	   orders_stream.sequence_key(lpad((:l0 + 8 * g)::text, 20, '0') || '0000000001'),
	   s.event_name,
	   '"ApproximateCreationDateTime":' || floor(:t0 + (g - 1) * :span / :n)::bigint || s.rest,
	   s.ttl_delete
  FROM generate_series(:lo::bigint, :hi::bigint) g
  JOIN read_scale_seed s ON s.i = (g - 1) % :seed + 1;
