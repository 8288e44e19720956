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

