/*
 * Records the capture worker stored incomplete, one row each, written in the
 * transaction that stores the record (exactly once, as the records): today
 * records larger than orders_stream.max_record_size, stored with their Keys
 * and without NewImage and OldImage.  record_size is a lower bound of the
 * full record's JSON length in bytes: rendering stops at the limit.  Also
 * capture gaps, see below.
 */
CREATE TABLE orders_stream.capture_exceptions (
	exception_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	stream_id	bigint NOT NULL,
	sequence_number text COLLATE "C" NOT NULL,
	event_name	text NOT NULL,
	reason		text NOT NULL,
	record_size bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	/*
	 * A capture gap (event_name 'GAP', see failover.c): changes of the stream
	 * committed from gap_start_lsn (inclusive) to gap_end_lsn (exclusive),
	 * from gap_start_time to gap_end_time, may be missing: the capture slot
	 * was lost.  NULL end: being recorded.
	 */
	gap_start_lsn pg_lsn,
	gap_end_lsn pg_lsn,
	gap_start_time timestamptz,
	gap_end_time timestamptz
);

CREATE INDEX capture_exceptions_stream ON orders_stream.capture_exceptions (stream_id, sequence_number);

REVOKE ALL ON orders_stream.capture_exceptions FROM PUBLIC;
