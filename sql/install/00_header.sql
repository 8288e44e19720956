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
 * CREATE EXTENSION uses schema orders_stream if it exists already.  The owner
 * of a schema may drop or add objects in it, so one that a role other than a
 * superuser created beforehand would hand that role the extension's API (the
 * class of CVE-2022-2625).
 */
DO $$
DECLARE
	owner name;
BEGIN
	SELECT r.rolname INTO owner
	  FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	 WHERE n.nspname OPERATOR(pg_catalog.=) 'orders_stream' AND NOT r.rolsuper;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "orders_stream" is owned by role "%", who is not a superuser', owner
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop the schema, or give it to a superuser with ALTER SCHEMA orders_stream OWNER TO, after checking what is in it.';
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
 * Whether a role may read a table's stream: SELECT on the table, and no
 * row-level security in its way (stream records are whole rows; per-record
 * policy evaluation is out of scope).  Table owners (unless FORCE ROW LEVEL
 * SECURITY), superusers and BYPASSRLS roles bypass policies.
 */
CREATE FUNCTION orders_stream_internal.may_read(role oid, relid oid)
RETURNS boolean
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT coalesce(pg_catalog.bool_and(
		pg_catalog.has_table_privilege(role, c.oid, 'SELECT')
		AND (NOT c.relrowsecurity OR r.rolsuper OR r.rolbypassrls
			 OR (NOT c.relforcerowsecurity AND pg_catalog.pg_has_role(role, c.relowner, 'USAGE')))), false)
	  FROM pg_catalog.pg_class c, pg_catalog.pg_roles r
	 WHERE c.oid OPERATOR(pg_catalog.=) may_read.relid AND r.oid OPERATOR(pg_catalog.=) may_read.role;
END;
