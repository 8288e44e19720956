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

/*
 * Its rows per stream, kept in stream_counts (20_records.sql) by whoever
 * inserts or deletes them (capture, failover.c, maintenance, an
 * administrator), so that stream_status never counts them.
 */
CREATE FUNCTION orders_stream_internal.count_capture_exceptions()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		UPDATE orders_stream.stream_counts SET capture_exceptions = 0 WHERE capture_exceptions <> 0;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO orders_stream.stream_counts AS c (stream_id, capture_exceptions)
		SELECT n.stream_id, count(*) FROM changed n GROUP BY n.stream_id
		ON CONFLICT (stream_id) DO UPDATE SET capture_exceptions = c.capture_exceptions + excluded.capture_exceptions;
	ELSE
		UPDATE orders_stream.stream_counts c SET capture_exceptions = c.capture_exceptions - o.n
		  FROM (SELECT d.stream_id, count(*) AS n FROM changed d GROUP BY d.stream_id) o
		 WHERE c.stream_id = o.stream_id;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER count_inserted AFTER INSERT ON orders_stream.capture_exceptions
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
CREATE TRIGGER count_deleted AFTER DELETE ON orders_stream.capture_exceptions
	REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
CREATE TRIGGER count_truncated AFTER TRUNCATE ON orders_stream.capture_exceptions
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
