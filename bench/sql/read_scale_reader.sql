-- bench/sql/read_scale_reader.sql: a pgbench script (-M extended, as
-- "reader"): one consumer of the shard, one GetRecords page of 1,000 a
-- transaction, following NextShardIterator.  Client c starts after record
-- :start + c * :gap of bench/read_scale.sh's load (keys: sql/read_scale_load.sql),
-- and starts there again after a short page (the end of the stream).
-- Variables (-D): arn, shard, l0, start, gap, have=0.  The pages are read
-- as jsonb whatever type the API answers (a no-op while it is jsonb).
\if :have = 0
\set pos :l0 + 8 * (:start + :client_id * :gap)
SELECT orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', :arn::text,
		'ShardId', :shard::text, 'ShardIteratorType', 'AFTER_SEQUENCE_NUMBER',
		'SequenceNumber', lpad(:pos::text, 20, '0') || '0000000001'))::jsonb->>'ShardIterator' AS it \gset
\endif
SELECT r->>'NextShardIterator' AS it, (jsonb_array_length(r->'Records') = 1000)::int AS have
  FROM CAST(orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator', :it::text, 'Limit', 1000))
			AS jsonb) r \gset
