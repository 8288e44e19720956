/*
 * ---- Access keys of the DynamoDB Streams endpoint ----
 *
 * orders_stream_endpoint (src/endpoint/) verifies AWS Signature Version 4
 * requests and runs each as the role its access key maps to.  SigV4 is an
 * HMAC keyed by the secret itself, so the endpoint must hold the secrets:
 * they live in orders_stream_internal.access_keys, which only the
 * extension's owner can read, and reach the endpoint through
 * orders_stream_internal.endpoint_access_keys(), which only the role
 * orders_stream_endpoint can execute.
 *
 * orders_stream_endpoint is NOINHERIT: it is made a member of each role
 * that has a key, so that it may SET ROLE to it, but it never uses those
 * roles' privileges as itself; as itself it can do nothing but read the
 * keys.  Superusers and roles that may act as the endpoint never get keys.
 */

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint') THEN
		CREATE ROLE orders_stream_endpoint NOLOGIN NOINHERIT;
	END IF;
END
$$;
COMMENT ON ROLE orders_stream_endpoint IS
'The DynamoDB Streams endpoint of orders_stream: reads the access keys, SET ROLE to the roles they map to (NOINHERIT: no rights of its own)';

CREATE TABLE orders_stream_internal.access_keys (
	access_key_id	text PRIMARY KEY,
	secret_access_key text NOT NULL,
	/* the role, by OID and by name: a dropped role's OID reused by a new role does not inherit its keys */
	role_oid		regrole NOT NULL,	/* regrole: a dump names the role, a restore finds it */
	role_name		name NOT NULL,
	created_by		name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON orders_stream_internal.access_keys FROM PUBLIC;

/* The endpoint role, checked before it is trusted with a membership: no rights of its own. */
CREATE FUNCTION orders_stream_internal.check_endpoint_role()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint';
	IF NOT FOUND OR r.rolinherit OR r.rolsuper OR r.rolbypassrls OR r.rolcreaterole THEN
		RAISE EXCEPTION 'role "orders_stream_endpoint" must exist and be NOINHERIT, NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE'
			USING ERRCODE = 'invalid_role_specification',
				  HINT = 'ALTER ROLE orders_stream_endpoint NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEROLE: the endpoint must not use the rights of the roles it serves as itself.';
	END IF;
END
$$;

/*
 * A new access key for a role: the caller must be that role, or hold ADMIN
 * OPTION on it (as for GRANT of the role).  Returns the secret once; it is
 * never shown again.
 */
CREATE FUNCTION orders_stream_internal.create_access_key(caller oid, caller_search_path text,
	role regrole, OUT access_key_id text, OUT secret_access_key text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	IF role IS NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', 'role must not be null',
			'Pass the role the key acts as: orders_stream.create_access_key(''reader'').');
	END IF;
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) role;
	IF caller OPERATOR(pg_catalog.<>) r.oid
	   AND NOT pg_catalog.pg_has_role(caller, r.oid, 'MEMBER WITH ADMIN OPTION') THEN
		RAISE EXCEPTION 'permission denied to create an access key for role "%"', r.rolname
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A role creates its own keys; others need ADMIN OPTION on the role.';
	END IF;
	IF r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint'
	   OR pg_catalog.pg_has_role(r.oid, 'orders_stream_endpoint', 'MEMBER') THEN
		RAISE EXCEPTION 'role "%" cannot have an access key', r.rolname
			USING ERRCODE = 'invalid_role_specification',
				  DETAIL = 'Requests signed with a key run as its role; superusers and roles that may act as orders_stream_endpoint never do.',
				  HINT = 'Create a key for an ordinary role that has SELECT on the streamed tables.';
	END IF;
	PERFORM orders_stream_internal.check_endpoint_role();

	/* AWS's shapes: a 20-character key id, a 40-character secret, from a strong random source */
	access_key_id := 'AKOS' OPERATOR(pg_catalog.||) pg_catalog.upper(pg_catalog.substr(
		pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 1, 16));
	secret_access_key := pg_catalog.substr(pg_catalog.translate(pg_catalog.encode(pg_catalog.sha256(
		pg_catalog.convert_to(pg_catalog.gen_random_uuid()::text OPERATOR(pg_catalog.||)
							  pg_catalog.gen_random_uuid()::text, 'UTF8')), 'base64'), E'=\n', ''), 1, 40);
	INSERT INTO orders_stream_internal.access_keys
		(access_key_id, secret_access_key, role_oid, role_name, created_by)
	VALUES (access_key_id, secret_access_key, r.oid, r.rolname,
			pg_catalog.pg_get_userbyid(caller));
	IF NOT pg_catalog.pg_has_role('orders_stream_endpoint', r.oid, 'MEMBER') THEN
		EXECUTE pg_catalog.format('GRANT %I TO orders_stream_endpoint', r.rolname);
	END IF;
	PERFORM pg_catalog.pg_notify('orders_stream_access_keys', '');
END
$$;

CREATE FUNCTION orders_stream.create_access_key(role regrole,
	OUT access_key_id text, OUT secret_access_key text)
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.create_access_key(regrole) IS
'A new access key (id and secret) of the DynamoDB Streams endpoint; signed requests run as the role';

/*
 * Removes a key: by the key's role, a role with ADMIN OPTION on it, or
 * whoever created the key.  The endpoint drops it from its cache at once
 * (NOTIFY); with the role's last key, the endpoint's membership goes too.
 */
CREATE FUNCTION orders_stream_internal.revoke_access_key(caller oid, caller_search_path text,
	access_key_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k orders_stream_internal.access_keys;
BEGIN
	/* the right is a condition of the scan: a key the caller may not revoke is never locked */
	SELECT * INTO k FROM orders_stream_internal.access_keys a
	 WHERE a.access_key_id OPERATOR(pg_catalog.=) revoke_access_key.access_key_id
	   AND (caller OPERATOR(pg_catalog.=) a.role_oid
			OR pg_catalog.pg_get_userbyid(caller) OPERATOR(pg_catalog.=) a.created_by
			OR (EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) a.role_oid)
				AND pg_catalog.pg_has_role(caller, a.role_oid, 'MEMBER WITH ADMIN OPTION')))
	   FOR UPDATE;
	IF NOT FOUND THEN
		/* the same answer for a key that does not exist and one the caller may not see */
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('access key "%s" does not exist', access_key_id),
			'orders_stream.access_keys lists the keys of the roles you are a member of.');
	END IF;
	DELETE FROM orders_stream_internal.access_keys a
	 WHERE a.access_key_id OPERATOR(pg_catalog.=) k.access_key_id;
	IF NOT EXISTS (SELECT FROM orders_stream_internal.access_keys a
					WHERE a.role_oid OPERATOR(pg_catalog.=) k.role_oid)
	   AND EXISTS (SELECT FROM pg_catalog.pg_auth_members m, pg_catalog.pg_roles e
				    WHERE m.roleid OPERATOR(pg_catalog.=) k.role_oid
					  AND m.member OPERATOR(pg_catalog.=) e.oid
					  AND e.rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint') THEN
		EXECUTE pg_catalog.format('REVOKE %I FROM orders_stream_endpoint', k.role_name);
	END IF;
	PERFORM pg_catalog.pg_notify('orders_stream_access_keys', '');
END
$$;

CREATE FUNCTION orders_stream.revoke_access_key(access_key_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.revoke_access_key(text) IS
'Removes an access key of the DynamoDB Streams endpoint; requests signed with it are refused from then on';

/* The keys of the roles the caller is a member of, without their secrets. */
CREATE VIEW orders_stream.access_keys WITH (security_barrier) AS
SELECT k.access_key_id, k.role_name AS role, k.created_by, k.created_at
  FROM orders_stream_internal.access_keys k, pg_catalog.pg_roles r
 WHERE r.oid OPERATOR(pg_catalog.=) k.role_oid
   AND r.rolname OPERATOR(pg_catalog.=) k.role_name
   AND pg_catalog.pg_has_role(r.oid, 'MEMBER');
GRANT SELECT ON orders_stream.access_keys TO PUBLIC;

/*
 * What the endpoint loads into its cache (at start, on NOTIFY
 * orders_stream_access_keys, and every --keys-refresh): the keys whose role
 * still exists under its name, is no superuser, and the endpoint may SET
 * ROLE to.  Nothing at all while the endpoint role has rights of its own.
 */
CREATE FUNCTION orders_stream_internal.endpoint_access_keys(
	OUT access_key_id text, OUT secret_access_key text, OUT role_name name)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream_internal.check_endpoint_role();
	RETURN QUERY
	SELECT k.access_key_id, k.secret_access_key, k.role_name
	  FROM orders_stream_internal.access_keys k, pg_catalog.pg_roles r
	 WHERE r.oid OPERATOR(pg_catalog.=) k.role_oid
	   AND r.rolname OPERATOR(pg_catalog.=) k.role_name
	   AND NOT r.rolsuper
	   AND pg_catalog.pg_has_role('orders_stream_endpoint', r.oid, 'MEMBER');
END
$$;

REVOKE ALL ON FUNCTION orders_stream_internal.endpoint_access_keys() FROM PUBLIC;
GRANT USAGE ON SCHEMA orders_stream_internal TO orders_stream_endpoint;
GRANT EXECUTE ON FUNCTION orders_stream_internal.endpoint_access_keys() TO orders_stream_endpoint;
