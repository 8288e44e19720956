
/*
 * The library's version, to compare with pg_extension.extversion: the
 * workers wait while they differ (README "Upgrading").
 */
CREATE FUNCTION orders_stream.library_version()
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_library_version'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION orders_stream.library_version() IS
	'The version of the orders_stream library this server runs; pg_extension.extversion has the installed SQL''s.';
