/*
 * The role the records view reads record_store as: its owner.  No login,
 * and no privilege but SELECT on record_store and streams, granted below.
 * A view reads its tables as its owner, and row security applies to that
 * owner: so the policy below applies to every read of the view, whoever
 * reads it, superusers included, and no role can read record_store
 * directly unless granted SELECT on it, and then under the same policy
 * (PUBLIC has no privilege on it, and a BYPASSRLS role none either).  Roles are the cluster's: the first database's CREATE EXTENSION
 * creates it, the others' find it; it is refused unless it is as created
 * here, since its members could replace the view that every reader runs.
 * DROP EXTENSION leaves it (DROP ROLE orders_stream_reader once no
 * database has the extension).
 */
DO $$
DECLARE
	r			pg_catalog.pg_roles;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'orders_stream_reader';
	IF NOT FOUND THEN
		CREATE ROLE orders_stream_reader NOLOGIN NOINHERIT;
	ELSIF r.rolcanlogin OR r.rolsuper OR r.rolbypassrls OR r.rolcreaterole OR r.rolcreatedb
		  OR r.rolreplication OR r.rolinherit
		  OR EXISTS (SELECT FROM pg_catalog.pg_auth_members m
					  WHERE r.oid OPERATOR(pg_catalog.=) ANY (ARRAY[m.roleid, m.member])) THEN
		RAISE EXCEPTION 'role "orders_stream_reader" exists already, and not as orders_stream creates it'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'It owns the view orders_stream.records: it must have no login, no attribute, no member and no role.',
				  HINT = 'ALTER ROLE orders_stream_reader NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS, and revoke its memberships; or drop it if no database has the extension.';
	END IF;
END
$$;

GRANT SELECT ON orders_stream.record_store, orders_stream.streams TO orders_stream_reader;

/*
 * What a read through the view sees of record_store: everything, for a
 * superuser caller (the stream of a dropped table, or a subscriber's
 * records, whose tables are the publisher's); for any other, the records
 * of the streams the caller may read (readable_streams, whose rule runs as
 * the caller: CURRENT_USER) and of those only the ones inside the
 * retention.  Not "may read record_store": pg_read_all_data may, and it
 * does not bypass the source tables' row security.  Every part is computed
 * once per query (InitPlans).  As security quals, they are applied before
 * any function of the caller's query sees a row, unless that function is
 * leakproof.  For every role (TO PUBLIC): a role granted SELECT on
 * record_store reads it under the same rule.
 */
ALTER TABLE orders_stream.record_store ENABLE ROW LEVEL SECURITY;
CREATE POLICY readable_retained ON orders_stream.record_store
	FOR SELECT
	USING ((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
		   OR (stream_id OPERATOR(pg_catalog.=) ANY (ARRAY(
				   SELECT rs.stream_id FROM orders_stream.readable_streams rs WHERE rs.readable))
			   AND captured_at OPERATOR(pg_catalog.>=) (SELECT pg_catalog.now() OPERATOR(pg_catalog.-)
					   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)));

/*
 * The stored records as DynamoDB records, each whole (record_store.c adds
 * back what record_store does not keep): the only way a role reads them.
 * Read as orders_stream_reader, under the policy above: a caller sees the
 * retained records of the streams it may read (all of them, if a
 * superuser).  No ORDER BY and no security
 * barrier, so that the planner plans a caller's query with the view as if
 * it read record_store: WHERE stream_id = ... AND sequence_key > ...
 * ORDER BY sequence_key LIMIT n is an index range read of one stream in
 * order, stopped at the LIMIT, at any length of the stream (a barrier view,
 * or one with an ORDER BY, is planned on its own, for all its rows).  The
 * order of the index is (stream_id, sequence_key): ask for it.
 */
CREATE VIEW orders_stream.records AS
SELECT r.stream_id,
	   orders_stream.sequence_text(r.sequence_key) AS sequence_number,
	   r.captured_at,
	   orders_stream.record_json(s.stream_arn, s.view_type, r.sequence_key,
								 r.event_name, r.body, r.size_bytes, r.ttl_delete) AS record,
	   r.key_hash,
	   r.sequence_key
  FROM orders_stream.record_store r
  JOIN orders_stream.streams s ON s.stream_id OPERATOR(pg_catalog.=) r.stream_id
 /*
  * Shut, not open, if the rule above no longer applies: if a superuser gave
  * the view an owner that bypasses row security (REASSIGN OWNED BY
  * orders_stream_reader, which no event trigger sees), or turned
  * record_store's off.  Checked once per query.
  */
 WHERE (SELECT t.relrowsecurity FROM pg_catalog.pg_class t
		 WHERE t.oid OPERATOR(pg_catalog.=) 'orders_stream.record_store'::pg_catalog.regclass::pg_catalog.oid)
   AND (SELECT NOT (o.rolsuper OR o.rolbypassrls) FROM pg_catalog.pg_roles o
		 WHERE o.oid OPERATOR(pg_catalog.=) (
			   SELECT v.relowner FROM pg_catalog.pg_class v
				WHERE v.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('orders_stream.records')::pg_catalog.oid));
ALTER VIEW orders_stream.records OWNER TO orders_stream_reader;
/* 1.1's was a security barrier: the update replaces it */
ALTER VIEW orders_stream.records RESET (security_barrier);
GRANT SELECT ON orders_stream.records TO PUBLIC;
