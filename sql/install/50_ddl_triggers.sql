/*
 * Partitions created or attached after enable_stream need what enable_stream
 * gave the others: REPLICA IDENTITY FULL and the TRUNCATE guard.  A dropped
 * table's stream is disabled, as DynamoDB disables the stream of a deleted
 * table; a dropped mapping owner anchor (DROP OWNED) removes its mapping.
 * Both run as the role that ran the DDL, in C: they read the catalogs
 * directly and write orders_stream's tables as the extension's owner, with a
 * pinned search_path.
 */
CREATE FUNCTION orders_stream_internal.on_table_ddl()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'orders_stream_on_table_ddl'
LANGUAGE C;

CREATE EVENT TRIGGER orders_stream_partitions ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION orders_stream_internal.on_table_ddl();

CREATE FUNCTION orders_stream_internal.on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'orders_stream_on_sql_drop'
LANGUAGE C;

CREATE EVENT TRIGGER orders_stream_dropped_tables ON sql_drop
	WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP SEQUENCE')
	EXECUTE FUNCTION orders_stream_internal.on_sql_drop();
