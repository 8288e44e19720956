-- bench/sql/read_scale_reader.sql: a pgbench script (-M extended, as
-- "reader"): one consumer of the shard, one GetRecords page of 1,000 a
-- transaction, following NextShardIterator.  Client c starts after record
-- :start + c * :gap of bench/read_scale.sh's load (keys: sql/read_scale_load.sql),
-- and starts there again after a short page (the end of the stream).
-- Variables (-D): arn, shard, l0, start, gap, have=0.  The pages are read
-- as text, as the endpoint reads and serves them (get_records_text(): the
-- response and its number of records); NextShardIterator is the text's
-- last member, and neither an ARN nor base64 has a '"'.
\if :have = 0
\set pos :l0 + 8 * (:start + :client_id * :gap)
SELECT orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', :arn::text,
		'ShardId', :shard::text, 'ShardIteratorType', 'AFTER_SEQUENCE_NUMBER',
		'SequenceNumber', lpad(:pos::text, 20, '0') || '0000000001'))::jsonb->>'ShardIterator' AS it \gset
\endif
SELECT left(split_part(p.response, '"NextShardIterator":"', 2), -2) AS it, (p.record_count = 1000)::int AS have
  FROM orders_stream.get_records_text(:it::text, 1000) p \gset
