-- orders_stream: DynamoDB Streams for PostgreSQL.  This install script is
-- built by the Makefile from the files of sql/install, in name order.
--
-- Privilege model (README "Security"): schema orders_stream holds the API;
-- orders_stream_internal holds helpers that PUBLIC can neither see nor
-- execute.  PUBLIC has no INSERT, UPDATE, DELETE or TRUNCATE on any table
-- here.  Everything that runs as the extension's owner pins
-- search_path = pg_catalog, pg_temp and qualifies what it calls.

\echo Use "CREATE EXTENSION orders_stream" to load this file. \quit

/*
 * CREATE EXTENSION creates schema orders_stream (the control file's) only
 * if it does not exist; an existing one is used as it is.  Its owner could
 * rename it away and put a schema of its own in its place, whose objects
 * every superuser, worker and definer-rights function here would then
 * find by name (the CVE-2022-2625 class): refuse one that a role other
 * than a superuser owns, may create in, or has put anything into.
 */
DO $$
DECLARE
	nsp oid := (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'orders_stream');
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
				WHERE n.oid OPERATOR(pg_catalog.=) nsp AND NOT r.rolsuper)
	   OR EXISTS (SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
				   LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
				   WHERE n.oid OPERATOR(pg_catalog.=) nsp AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
					 AND NOT coalesce(r.rolsuper, false))
	   OR EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp)
	   OR EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp)
	   OR EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp)
	   OR EXISTS (SELECT FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp) THEN
		RAISE EXCEPTION 'schema "orders_stream" exists already, and a role that is no superuser owns it, may create in it, or has put objects into it'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop or rename that schema, then CREATE EXTENSION orders_stream creates its own.';
	END IF;
END
$$;

CREATE SCHEMA orders_stream_internal;
REVOKE ALL ON SCHEMA orders_stream_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA orders_stream TO PUBLIC;

/*
 * The retention, as an interval.  No SET clause, so that the planner inlines
 * it; its names are qualified instead.
 */
CREATE FUNCTION orders_stream_internal.retention_interval()
RETURNS interval
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval $$;

/*
 * Whether role may read the stream of table relid (src/security.c, the one
 * copy of the rule, which delivery checks too): SELECT on the table, and no
 * row-level security in its way.  if_dropped answers for a table that no
 * longer exists (a mapping keeps delivering its dropped table's records).
 * Public: the views that run it as their caller need it, and it tells no
 * more than has_table_privilege() and pg_class do.
 */
CREATE FUNCTION orders_stream.may_read(role oid, relid oid, if_dropped boolean DEFAULT false)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'orders_stream_may_read';

/* The same, for a role by name: a view knows its caller as CURRENT_USER. */
CREATE FUNCTION orders_stream.may_read(role name, relid oid, if_dropped boolean DEFAULT false)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'orders_stream_may_read_name';

/*
 * AWS's exceptions, raised the one way (src/aws_error.c): the name at the
 * head of the message, one SQLSTATE per exception, AWS's JSON error body in
 * the DETAIL.  Public: the API functions that run as their caller raise
 * through it, and so may an aggregator that wants AWS-shaped errors.
 */
CREATE FUNCTION orders_stream.aws_error(exception text, message text, hint text DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'orders_stream_aws_error';
