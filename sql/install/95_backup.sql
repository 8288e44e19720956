/*
 * ---- Backup and restore (README "Backup and restore") ----
 *
 * pg_dump keeps the configuration: the tables and sequences marked below.
 * It leaves out the records (every partition of record_store is a member
 * of the extension, see ensure_partition) and what only means something
 * with them: lanes and their checkpoints, stream_trim, stream_counts,
 * capture_progress, capture_exceptions (but not its sequence).  As AWS
 * restores a table with a new stream, a restored database has new streams:
 * SequenceNumbers are positions in the WAL of the dumped cluster, so the
 * old stream could not go on with this cluster's, and its records are not
 * there.
 *
 * The rows of streams and event_source_mappings hold OIDs of the dumped
 * database.  A restore inserts them into a database where the same OIDs
 * may name other tables and functions: they must never be live there.  So
 * a row from another installation of the extension (installation_id()
 * differs) is held in orders_stream_internal.restored instead, and
 * resume_restored_streams() makes it live again by name, once the restore
 * is over: a new stream of the same table and view type, and the mappings
 * of the old one, with their UUIDs, pointed at the new stream from its
 * start.  The capture worker calls it at its first start after the restore
 * (for rows restored before the server started: a restore begins with
 * CREATE EXTENSION, which starts the worker too); the administrator calls
 * it after a pg_restore into a running server.  The sequences are dumped,
 * so no identifier comes back.
 */
CREATE TABLE orders_stream_internal.restored (
	kind		text NOT NULL CHECK (kind IN ('streams', 'event_source_mappings')),
	row			jsonb NOT NULL,
	restored_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON orders_stream_internal.restored FROM PUBLIC;

CREATE FUNCTION orders_stream_internal.hold_restored_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.installation IS DISTINCT FROM orders_stream_internal.installation_id() THEN
		INSERT INTO orders_stream_internal.restored (kind, row) VALUES (TG_TABLE_NAME, pg_catalog.to_jsonb(NEW));
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER hold_restored_row BEFORE INSERT ON orders_stream.streams
	FOR EACH ROW EXECUTE FUNCTION orders_stream_internal.hold_restored_row();
CREATE TRIGGER hold_restored_row BEFORE INSERT ON orders_stream_internal.event_source_mappings
	FOR EACH ROW EXECUTE FUNCTION orders_stream_internal.hold_restored_row();

/*
 * What pg_dump keeps.  Rows naming a role or table that no longer exists
 * are left out: regrole and regclass would print their bare OIDs, which a
 * restore would take for whatever has that OID there.
 */
SELECT pg_catalog.pg_extension_config_dump('orders_stream.streams', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream.streams_stream_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.event_source_mappings', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.failures',
	'WHERE owner_oid::pg_catalog.oid IN (SELECT r.oid FROM pg_catalog.pg_roles r)');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.failures_failure_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream.capture_exceptions_exception_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream.time_to_live',
	'WHERE relid::pg_catalog.oid IN (SELECT c.oid FROM pg_catalog.pg_class c)');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.access_keys',
	'WHERE role_name = (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = role_oid::pg_catalog.oid)');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.restored', '');

/* The table a stream's TableName names now (schema-qualified unless public), if exactly one. */
CREATE FUNCTION orders_stream_internal.table_of_stream_name(table_name text)
RETURNS regclass
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) 1 THEN pg_catalog.min(c.oid)::pg_catalog.regclass END
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
	   AND CASE WHEN n.nspname OPERATOR(pg_catalog.=) 'public' THEN c.relname::pg_catalog.text
			   ELSE n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname END
		   OPERATOR(pg_catalog.=) table_of_stream_name.table_name;
END;

/*
 * Makes the held rows live.  For each stream that was enabled: a new stream
 * of its table (new stream_id, label and ARN; the table's stream enabled
 * since the restore, if any), then each of its mappings, if its function
 * and owner still exist and the owner may still read the table and execute
 * the function: same UUID and settings, a new anchor owned by the same
 * role, lanes from the new stream's start (it holds every change from now
 * on).  What cannot come back is said in a WARNING and dropped.  One row
 * per resumed stream.
 */
CREATE FUNCTION orders_stream.resume_restored_streams(OUT restored_stream_arn text,
	OUT stream_arn text, OUT mappings integer)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h record;
	s orders_stream.streams;
	m orders_stream_internal.event_source_mappings;
	tbl regclass;
	guarded regclass;
	new_id bigint;
	owner oid;
	old_anchor regclass;
BEGIN
	LOCK TABLE orders_stream_internal.restored IN EXCLUSIVE MODE;
	/* new streams get new ids even if the restore has not set the sequence yet */
	PERFORM pg_catalog.setval('orders_stream.streams_stream_id_seq', x.last_id)
	   FROM (SELECT max((r.row->>'stream_id')::bigint) AS last_id FROM orders_stream_internal.restored r
			  WHERE r.kind = 'streams') x
	  WHERE x.last_id >= (SELECT q.last_value FROM orders_stream.streams_stream_id_seq q);
	FOR h IN SELECT * FROM orders_stream_internal.restored r
			  WHERE r.kind = 'streams' ORDER BY (r.row->>'stream_id')::bigint LOOP
		s := jsonb_populate_record(NULL::orders_stream.streams, h.row);
		restored_stream_arn := s.stream_arn;
		stream_arn := NULL;
		mappings := 0;
		tbl := orders_stream_internal.table_of_stream_name(s.table_name);
		IF s.disabled_at IS NOT NULL THEN
			NULL;				/* its records were all it had: not restored */
		ELSIF tbl IS NULL THEN
			RAISE WARNING 'stream "%" not resumed: table "%" does not exist', s.stream_arn, s.table_name;
		ELSE
			SELECT x.stream_id, x.stream_arn INTO new_id, stream_arn FROM orders_stream.streams x
			 WHERE x.relid = tbl AND x.disabled_at IS NULL;
			IF NOT FOUND THEN
				/*
				 * The dump restored the TRUNCATE guards with a normal
				 * dependency on their function, which would make DROP
				 * EXTENSION refuse: enable_stream puts them back as its own.
				 */
				FOR guarded IN SELECT tbl UNION SELECT t.relid FROM pg_partition_tree(tbl) t LOOP
					EXECUTE format('DROP TRIGGER IF EXISTS orders_stream_truncate_guard ON %s', guarded);
				END LOOP;
				stream_arn := orders_stream.enable_stream(tbl, s.view_type, s.set_columns, s.document_column);
				SELECT x.stream_id INTO new_id FROM orders_stream.streams x WHERE x.stream_arn = resume_restored_streams.stream_arn;
			END IF;
		END IF;

		FOR m IN SELECT (jsonb_populate_record(NULL::orders_stream_internal.event_source_mappings, r.row)).*
				   FROM orders_stream_internal.restored r
				  WHERE r.kind = 'event_source_mappings' AND (r.row->>'stream_id')::bigint = s.stream_id LOOP
			old_anchor := to_regclass(format('orders_stream_internal.%I', 'mapping_' || m.uuid));
			owner := (SELECT c.relowner FROM pg_class c WHERE c.oid = old_anchor);
			m.function_oid := to_regprocedure(m.function_name);
			IF old_anchor IS NOT NULL THEN
				EXECUTE format('DROP SEQUENCE %s', old_anchor);
			END IF;
			IF stream_arn IS NULL THEN
				IF s.disabled_at IS NULL THEN
					RAISE WARNING 'event source mapping % not restored: its stream "%" did not come back', m.uuid, s.stream_arn;
				ELSE
					RAISE WARNING 'event source mapping % not restored: its stream "%" was disabled, and its records are not restored', m.uuid, s.stream_arn;
				END IF;
			ELSIF owner IS NULL OR m.function_oid IS NULL THEN
				RAISE WARNING 'event source mapping % not restored: %', m.uuid,
					CASE WHEN owner IS NULL THEN 'its anchor sequence (and so its owner) was not restored'
						 ELSE format('function %s does not exist', m.function_name) END;
			ELSIF NOT orders_stream.may_read(owner, tbl)
				  OR NOT has_function_privilege(owner, m.function_oid, 'EXECUTE') THEN
				RAISE WARNING 'event source mapping % not restored: role "%" may no longer read table "%" or execute function %',
					m.uuid, pg_get_userbyid(owner), s.table_name, m.function_name;
			ELSIF EXISTS (SELECT FROM orders_stream_internal.event_source_mappings e
						   WHERE e.uuid = m.uuid OR (e.stream_id = new_id AND e.function_oid = m.function_oid)) THEN
				RAISE WARNING 'event source mapping % not restored: it, or a mapping of its stream to function %, exists already',
					m.uuid, m.function_name;
			ELSE
				m.stream_id := new_id;
				m.event_source_arn := stream_arn;
				m.anchor := orders_stream_internal.create_anchor(m.uuid, owner);
				m.checkpoint := '';
				m.last_modified := now();
				m.installation := orders_stream_internal.installation_id();
				INSERT INTO orders_stream_internal.event_source_mappings SELECT m.*;
				INSERT INTO orders_stream.event_source_mapping_lanes (mapping_uuid, epoch, lane, lanes, checkpoint)
				SELECT m.uuid, 0, i, m.parallelization_factor, ''
				  FROM generate_series(0, m.parallelization_factor - 1) AS i;
				mappings := mappings + 1;
			END IF;
		END LOOP;
		DELETE FROM orders_stream_internal.restored r
		 WHERE r.kind = 'event_source_mappings' AND (r.row->>'stream_id')::bigint = s.stream_id;
		DELETE FROM orders_stream_internal.restored r
		 WHERE r.kind = 'streams' AND (r.row->>'stream_id')::bigint = s.stream_id;
		IF stream_arn IS NOT NULL THEN
			RETURN NEXT;
		END IF;
	END LOOP;
	FOR m IN SELECT (jsonb_populate_record(NULL::orders_stream_internal.event_source_mappings, r.row)).*
			   FROM orders_stream_internal.restored r WHERE r.kind = 'event_source_mappings' LOOP
		RAISE WARNING 'event source mapping % not restored: its stream "%" is not in the dump', m.uuid, m.event_source_arn;
	END LOOP;
	DELETE FROM orders_stream_internal.restored;
	PERFORM orders_stream_internal.launch_workers();
END
$$;

REVOKE ALL ON FUNCTION orders_stream.resume_restored_streams(),
	orders_stream_internal.hold_restored_row(),
	orders_stream_internal.table_of_stream_name(text) FROM PUBLIC;

COMMENT ON FUNCTION orders_stream.resume_restored_streams() IS
'After a restore: a new stream for each restored enabled stream, and its event source mappings pointed at it';
