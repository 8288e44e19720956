/*
 * DDL that would break a stream is refused (see src/ddl_guard.c): changing
 * the primary key (its columns by name and order are the stream's key
 * schema), SET UNLOGGED, inheritance children, and partitions whose rows
 * would enter or leave the table without stream records (ATTACH, DETACH,
 * DROP of a partition).  In C, so that a caller's search_path cannot steer
 * it.
 */
CREATE FUNCTION orders_stream_internal.ddl_guard()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'orders_stream_ddl_guard'
LANGUAGE C;

CREATE EVENT TRIGGER orders_stream_ddl_guard ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
	EXECUTE FUNCTION orders_stream_internal.ddl_guard();

CREATE EVENT TRIGGER orders_stream_ddl_guard_start ON ddl_command_start
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION orders_stream_internal.ddl_guard();
