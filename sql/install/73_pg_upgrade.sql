
/*
 * pg_upgrade keeps the OIDs of tables, sequences and roles, but the
 * functions of the upgraded cluster get new ones: a mapping's function_oid
 * then names no function, or another one.  At its start, before it serves
 * any lane, the delivery launcher binds each mapping whose function_name
 * names a function other than function_oid to that function again, by that
 * name (schema-qualified, as created), as resume_restored_streams() does
 * after a restore, and as AWS names a mapping's function: if its owner may
 * still execute it and it may be a target.  A mapping whose function is
 * not found by its name keeps its OID (a function renamed since).  Returns
 * the mappings bound again.
 */
CREATE FUNCTION orders_stream_internal.rebind_functions()
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT e.uuid, f.fn, c.relowner AS owner
			   FROM orders_stream_internal.event_source_mappings e
			  CROSS JOIN LATERAL (SELECT pg_catalog.to_regprocedure(e.function_name) AS fn) f
			   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.anchor
			  WHERE f.fn OPERATOR(pg_catalog.<>) e.function_oid
			  ORDER BY e.uuid FOR UPDATE OF e LOOP
		BEGIN
			PERFORM orders_stream_internal.check_function(m.owner, m.fn);
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'event source mapping % not bound to function %: %', m.uuid, m.fn, SQLERRM;
			CONTINUE;
		END;
		UPDATE orders_stream_internal.event_source_mappings e SET function_oid = m.fn
		 WHERE e.uuid OPERATOR(pg_catalog.=) m.uuid;
		RETURN NEXT m.uuid;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION orders_stream_internal.rebind_functions() FROM PUBLIC;
