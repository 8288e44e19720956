-- Commit -> visible latency of the records stored since SequenceNumber
-- :before, for orders_streamed: commit timestamp of the transaction that stored
-- the record minus commit timestamp of the order's transaction (both from
-- track_commit_timestamp, same clock).  Also commit -> captured_at (the
-- start of the storing transaction), and how many storing transactions.
WITH lat AS (
	SELECT 1000 * extract(epoch FROM pg_xact_commit_timestamp(r.xmin) - pg_xact_commit_timestamp(o.xmin)) AS visible_ms,
	       1000 * extract(epoch FROM r.captured_at - pg_xact_commit_timestamp(o.xmin)) AS captured_ms,
	       r.xmin AS store_xid
	  FROM orders_stream.records r
	  JOIN orders_streamed o ON o.id = (r.record -> 'dynamodb' -> 'Keys' -> 'id' ->> 'N')::bigint
	 WHERE r.sequence_number > :'before'
	   AND r.stream_id = (SELECT stream_id FROM orders_stream.streams WHERE relid = 'orders_streamed'::regclass)
)
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY visible_ms)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY visible_ms)::numeric, 2),
       round(percentile_cont(0.999) WITHIN GROUP (ORDER BY visible_ms)::numeric, 2),
       round(max(visible_ms)::numeric, 2),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY captured_ms)::numeric, 2),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY captured_ms)::numeric, 2),
       count(*),
       count(DISTINCT store_xid::text)
  FROM lat;
