/*
 * Time to Live (ttl.c): the tables whose expired rows the TTL worker
 * deletes, one row per table, written by update_time_to_live as the
 * extension's owner.  search_path is the enabling call's: the worker's
 * deletes run with it, as the table's owner, for the owner's triggers.
 */
CREATE TABLE orders_stream.time_to_live (
	relid		oid PRIMARY KEY,
	attnum		smallint NOT NULL,
	search_path text NOT NULL,
	enabled_at	timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON orders_stream.time_to_live FROM PUBLIC;

/* As the caller, who must own the table. */
CREATE FUNCTION orders_stream.update_time_to_live(source regclass, attribute_name name,
												  enabled boolean)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_update_time_to_live'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.update_time_to_live(regclass, name, boolean) IS
'UpdateTimeToLive: enables or disables the deletion of expired rows of a table; returns AWS''s TimeToLiveSpecification';

CREATE FUNCTION orders_stream.describe_time_to_live(source regclass)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_describe_time_to_live'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION orders_stream.describe_time_to_live(regclass) IS
'DescribeTimeToLive: {"TimeToLiveDescription": {"TimeToLiveStatus": ..., "AttributeName": ...}}';
