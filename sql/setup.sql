--
-- setup: the extension, and the helpers every other test uses.
--
-- Stream records carry values that change from run to run: eventID,
-- SequenceNumber, ApproximateCreationDateTime and the stream label (creation
-- time) in eventSourceARN.  os_fetch() consumes the changes of a slot into
-- os_records; the view os_last shows the last fetch with those values masked
-- ("<eventID>", "<SequenceNumber>", "<ApproximateCreationDateTime>",
-- ".../stream/<label>"), and os_check() asserts their format and order.
--
CREATE EXTENSION orders_stream;
-- to check SequenceNumbers against the commit records of the WAL
CREATE EXTENSION pg_walinspect;
-- the capture worker creates its slot once CREATE EXTENSION has committed;
-- streams can be enabled from then on
SELECT orders_stream.wait_for_slot() IS NOT NULL AS capture_slot_ready;
SELECT extname, extversion, orders_stream.library_version(), nspname, getdatabaseencoding() AS encoding
FROM pg_extension JOIN pg_namespace n ON n.oid = extnamespace
WHERE extname = 'orders_stream';

-- the stream label of an ARN, DynamoDB's StreamLabel format, in UTC
CREATE FUNCTION os_mask_arn(arn text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
AS $$
	SELECT regexp_replace(arn, '/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$', '/stream/<label>')
$$;

-- a record with its volatile values replaced by placeholders
CREATE FUNCTION os_mask(rec jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT
AS $$
	SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set(rec,
		'{eventID}', '"<eventID>"'),
		'{dynamodb,SequenceNumber}', '"<SequenceNumber>"'),
		'{dynamodb,ApproximateCreationDateTime}', '"<ApproximateCreationDateTime>"'),
		'{eventSourceARN}', to_jsonb(os_mask_arn(rec->>'eventSourceARN')))
$$;

-- the records of the last os_fetch(), raw and parsed
CREATE TABLE os_records (
	n		bigint PRIMARY KEY,		-- order of the record in the slot's output
	lsn		pg_lsn NOT NULL,		-- LSN of the change
	xid		bigint NOT NULL,
	raw		text NOT NULL,
	rec		jsonb NOT NULL,
	fetched_at timestamptz NOT NULL
);

-- consumes the changes of a slot into os_records; returns how many records
CREATE FUNCTION os_fetch(slot name) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
	count bigint;
BEGIN
	DELETE FROM os_records;
	INSERT INTO os_records
		SELECT c.n, c.lsn, c.xid::text::bigint, c.data, c.data::jsonb, clock_timestamp()
		FROM pg_logical_slot_get_changes(slot, NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n);
	GET DIAGNOSTICS count = ROW_COUNT;
	RETURN count;
END
$$;

-- the last fetch, masked, one record per row
CREATE VIEW os_last AS
	SELECT n,
		rec->>'eventName' AS event,
		rec->'dynamodb'->'Keys' AS keys,
		rec->'dynamodb'->'NewImage' AS new_image,
		rec->'dynamodb'->'OldImage' AS old_image,
		(rec->'dynamodb'->>'SizeBytes')::bigint AS size,
		rec->'dynamodb'->>'StreamViewType' AS view_type,
		os_mask_arn(rec->>'eventSourceARN') AS arn,
		os_mask(rec) AS record
	FROM os_records;

-- the attributes of each image of the last fetch, one per row
CREATE VIEW os_attributes AS
	SELECT n, event, image, a.key AS attr, a.value
	FROM os_last,
		LATERAL (VALUES ('Keys', keys), ('NewImage', new_image), ('OldImage', old_image)) AS i(image, img),
		LATERAL jsonb_each(img) AS a;

/*
 * Assertions on the volatile values of the last fetch: every one must be true
 * (all true, and trivially so, when there are no records).
 *	 seq_format		SequenceNumber is 30 digits
 *	 seq_increasing	strictly increasing in output order
 *	 seq_commit		the 20-digit prefix is the same within a transaction and
 *					past the LSN of each change; the 10-digit suffix numbers
 *					the records of a transaction 1, 2, ...
 *	 seq_commit_lsn	the 20-digit prefix is the LSN of the transaction's commit
 *					record in the WAL
 *	 id_format		eventID is 32 lower-case hex digits
 *	 id_distinct	no two eventIDs are equal
 *	 id_md5			eventID = md5(eventSourceARN || '/' || SequenceNumber)
 *	 time_ok		ApproximateCreationDateTime is an integer, epoch seconds,
 *					within a minute of the fetch
 *	 arn_ok			eventSourceARN has the ARN format of this region and account
 *	 fixed_ok		eventVersion, eventSource, awsRegion, StreamViewType present
 */
CREATE FUNCTION os_check(
	OUT seq_format bool, OUT seq_increasing bool, OUT seq_commit bool, OUT seq_commit_lsn bool,
	OUT id_format bool, OUT id_distinct bool, OUT id_md5 bool,
	OUT time_ok bool, OUT arn_ok bool, OUT fixed_ok bool)
LANGUAGE sql
AS $$
	WITH r AS (
		SELECT n, lsn, xid, rec,
			rec->>'eventID' AS id,
			rec->'dynamodb'->>'SequenceNumber' AS seq,
			rec->'dynamodb'->'ApproximateCreationDateTime' AS t,
			rec->>'eventSourceARN' AS arn,
			fetched_at
		FROM os_records),
	s AS (
		SELECT r.*,
			lag(seq) OVER (ORDER BY n) AS prev_seq,
			left(seq, 20) AS prefix,
			substr(seq, 21)::bigint AS pos,
			row_number() OVER (PARTITION BY xid ORDER BY n) AS expected_pos
		FROM r WHERE seq ~ '^\d{30}$'),
	commits AS (
		SELECT w.xid::text::bigint AS xid, w.start_lsn
		FROM pg_get_wal_records_info(coalesce((SELECT min(lsn) FROM r), pg_current_wal_flush_lsn()),
									 pg_current_wal_flush_lsn()) AS w
		WHERE w.resource_manager = 'Transaction' AND w.record_type = 'COMMIT')
	SELECT
		coalesce(bool_and(seq IS NOT NULL AND seq ~ '^\d{30}$'), true),
		coalesce((SELECT bool_and(prev_seq IS NULL OR seq > prev_seq) FROM s), true),
		coalesce((SELECT bool_and(pos = expected_pos AND prefix::numeric > (lsn - '0/0'::pg_lsn))
				  FROM s), true)
			AND NOT EXISTS (SELECT FROM r GROUP BY xid HAVING count(DISTINCT left(seq, 20)) > 1),
		coalesce((SELECT bool_and(c.start_lsn IS NOT NULL AND s.prefix::numeric = c.start_lsn - '0/0'::pg_lsn)
				  FROM s LEFT JOIN commits c USING (xid)), true),
		coalesce(bool_and(id ~ '^[0-9a-f]{32}$'), true),
		count(DISTINCT id) = count(*),
		coalesce(bool_and(id = md5(arn || '/' || seq)), true),
		coalesce(bool_and(jsonb_typeof(t) = 'number' AND t::text ~ '^\d+$'
						  AND abs(t::text::numeric - extract(epoch FROM fetched_at)) < 60), true),
		coalesce(bool_and(arn ~ '^arn:aws:dynamodb:local:000000000000:table/[^/]+/stream/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$'), true),
		coalesce(bool_and(rec->>'eventVersion' = '1.1' AND rec->>'eventSource' = 'aws:dynamodb'
						  AND rec->>'awsRegion' = 'local'
						  AND rec->'dynamodb'->>'StreamViewType' IN ('KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES')
						  AND jsonb_typeof(rec->'dynamodb'->'SizeBytes') = 'number'), true)
	FROM r
$$;
