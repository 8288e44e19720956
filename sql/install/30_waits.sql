/*
 * The capture slot's name, from the one C function that names it
 * (capture_slot.c): for the stream_status view, which PUBLIC reads.
 */
CREATE FUNCTION orders_stream.capture_slot_name()
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_capture_slot_name'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION orders_stream.wait_for_slot(timeout interval DEFAULT '30s')
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_wait_for_slot'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.wait_for_slot(interval) IS
'Waits until the capture worker has created the slot of this database (after CREATE EXTENSION); returns the slot name';

CREATE FUNCTION orders_stream.wait_for_capture(timeout interval DEFAULT '30s')
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'orders_stream_wait_for_capture'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.wait_for_capture(interval) IS
'Waits until every change committed before the call is in orders_stream.records';

