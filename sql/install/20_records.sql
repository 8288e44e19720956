/*
 * The retained stream, stored compactly: per record only what varies from
 * record to record (record_store.c), under a 12-byte sequence key that sorts
 * as its SequenceNumber.  The view orders_stream.records (40_read_api.sql)
 * and the read API add back the rest of each DynamoDB record.  Partitioned
 * by capture time; maintenance creates partitions hours ahead and drops
 * whole partitions once they are older than orders_stream.retention
 * (maintain_partitions, 26_stream_state.sql).  The capture worker appends
 * to the current partition directly (heap multi-insert), so this layout is
 * fixed: see capture.c.
 */
CREATE TABLE orders_stream.record_store (
	stream_id	bigint NOT NULL,
	captured_at timestamptz NOT NULL,
	/* hash_bytes() of the text of dynamodb.Keys: a delivery lane's share */
	key_hash	integer NOT NULL,
	size_bytes	integer NOT NULL,	/* dynamodb.SizeBytes */
	sequence_key bytea NOT NULL,	/* orders_stream.sequence_key(SequenceNumber) */
	event_name	text NOT NULL,
	/* the members of "dynamodb" before SequenceNumber, as JSON text */
	body		text NOT NULL,
	/* a REMOVE by the TTL worker: the record carries AWS's userIdentity */
	ttl_delete	boolean NOT NULL
) PARTITION BY RANGE (captured_at);

CREATE INDEX record_store_stream_sequence ON orders_stream.record_store (stream_id, sequence_key);

/* The sequence key of a SequenceNumber ('' for ''), and back. */
CREATE FUNCTION orders_stream.sequence_key(sequence_number text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'orders_stream_sequence_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION orders_stream.sequence_text(sequence_key bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_sequence_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/*
 * The DynamoDB record of a row of record_store, given its stream's ARN and
 * view type.  Callable by anyone (the records view and the read API run as
 * their caller), so it refuses what is no stored record's and its result is
 * checked to be JSON.
 */
CREATE FUNCTION orders_stream.record_json(stream_arn text, view_type text,
										  sequence_key bytea, event_name text,
										  body text, size_bytes integer,
										  ttl_delete boolean)
RETURNS json
AS 'MODULE_PATHNAME', 'orders_stream_record_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/* The same without the check of its result, for delivery, which reads record_store itself. */
CREATE FUNCTION orders_stream_internal.stored_record_json(stream_arn text, view_type text,
														  sequence_key bytea, event_name text,
														  body text, size_bytes integer,
														  ttl_delete boolean)
RETURNS json
AS 'MODULE_PATHNAME', 'orders_stream_stored_record_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE orders_stream.partitions (
	partition	regclass PRIMARY KEY,
	lower_bound timestamptz NOT NULL,
	upper_bound timestamptz NOT NULL
);

/*
 * Where retention has trimmed each stream: trimmed_key is the sequence key
 * of its newest trimmed record (trimmed_through its SequenceNumber, '' for
 * none).  Every record of the stream up to it has expired and no read path
 * shows it; every later one is retained.  Maintenance moves it forward as
 * records expire (trim_streams), so reading the trim point costs one row,
 * whatever the length of the stream.
 */
CREATE TABLE orders_stream.stream_trim (
	stream_id	bigint PRIMARY KEY,
	trimmed_through text COLLATE "C" NOT NULL,
	trimmed_key bytea NOT NULL DEFAULT ''
);

/* The capture worker's high-water mark, written with the records it stores. */
CREATE TABLE orders_stream.capture_progress (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	sequence_number text COLLATE "C" NOT NULL DEFAULT '',
	lsn			pg_lsn NOT NULL DEFAULT '0/0',
	updated_at	timestamptz
);
INSERT INTO orders_stream.capture_progress DEFAULT VALUES;

/*
 * No privilege for PUBLIC on any of these: roles read records through the
 * views and functions of the read API (40_read_api.sql, 45_streams_api.sql),
 * which read these tables as their owner and show a caller only the streams
 * orders_stream.readable_streams says it may read.  So no ordinary role can
 * lock a partition or take a lock stronger than ACCESS SHARE on
 * record_store, and maintenance never needs one that conflicts with ACCESS
 * SHARE to add a partition (ensure_partition).
 */
REVOKE ALL ON orders_stream.record_store, orders_stream.partitions,
	orders_stream.stream_trim, orders_stream.capture_progress FROM PUBLIC;
