-- bench/sql/read_scale_check.sql: one GetRecords page of iterator :'it', as
-- a client would parse it.  Prints the number of records, whether every one
-- is a well-formed DynamoDB Streams record of a NEW_IMAGE stream with the
-- SequenceNumbers strictly increasing, the first and last SequenceNumber and
-- the NextShardIterator.
SELECT orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator', :'it', 'Limit', 1000)) AS page \gset
SELECT count(*), coalesce(bool_and(well_formed AND (prev IS NULL OR seq > prev)), true),
	   coalesce(min(seq), '-'), coalesce(max(seq), '-'), (:'page'::jsonb)->>'NextShardIterator'
  FROM (SELECT e->'dynamodb'->>'SequenceNumber' AS seq,
			   lag(e->'dynamodb'->>'SequenceNumber') OVER (ORDER BY o) AS prev,
			   e->>'eventID' ~ '^[0-9a-f]{32}$' AND e->>'eventName' IN ('INSERT', 'MODIFY', 'REMOVE')
			   AND e->>'eventVersion' = '1.1' AND e->>'eventSource' = 'aws:dynamodb'
			   AND jsonb_typeof(e->'awsRegion') = 'string'
			   AND e->'dynamodb'->>'SequenceNumber' ~ '^\d{21,40}$'
			   AND jsonb_typeof(e->'dynamodb'->'ApproximateCreationDateTime') = 'number'
			   AND jsonb_typeof(e->'dynamodb'->'SizeBytes') = 'number'
			   AND e->'dynamodb'->>'StreamViewType' = 'NEW_IMAGE'
			   AND jsonb_typeof(e->'dynamodb'->'Keys') = 'object'
			   AND jsonb_typeof(e->'dynamodb'->'NewImage') = 'object' AS well_formed
		  FROM jsonb_array_elements((:'page'::jsonb)->'Records') WITH ORDINALITY AS x(e, o)) r;
