/*
 * Partitions created or attached after enable_stream need what enable_stream
 * gave the others: REPLICA IDENTITY FULL and the TRUNCATE guard.  A dropped
 * table's stream is disabled, as DynamoDB disables the stream of a deleted
 * table.
 */
CREATE FUNCTION orders_stream.streamed_root(relid oid)
RETURNS boolean
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT EXISTS (SELECT 1 FROM orders_stream.streams s
					WHERE s.relid = streamed_root.relid AND s.disabled_at IS NULL)
$$;

CREATE FUNCTION orders_stream.on_table_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cmd		record;
	root	regclass;
	part	regclass;
BEGIN
	FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
		root := pg_partition_root(cmd.objid);
		CONTINUE WHEN root IS NULL OR NOT orders_stream.streamed_root(root);
		-- each statement below fires this trigger again; the conditions end it
		FOR part IN SELECT t.relid FROM pg_partition_tree(root) t JOIN pg_class c ON c.oid = t.relid
					 WHERE c.relreplident <> 'f' LOOP
			EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', part);
		END LOOP;
		FOR part IN SELECT t.relid FROM pg_partition_tree(root) t
					 WHERE NOT EXISTS (SELECT 1 FROM pg_trigger g
										WHERE g.tgrelid = t.relid AND g.tgname = 'orders_stream_truncate_guard') LOOP
			EXECUTE format('CREATE TRIGGER orders_stream_truncate_guard BEFORE TRUNCATE ON %s '
						   'FOR EACH STATEMENT EXECUTE FUNCTION orders_stream.truncate_guard()', part);
		END LOOP;
	END LOOP;
END
$$;

CREATE EVENT TRIGGER orders_stream_partitions ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION orders_stream.on_table_ddl();

CREATE FUNCTION orders_stream.disable_dropped_streams(relids oid[])
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	UPDATE orders_stream.streams SET disabled_at = now()
	 WHERE relid = ANY (relids) AND disabled_at IS NULL
$$;

CREATE FUNCTION orders_stream.on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream.disable_dropped_streams(array_agg(objid))
	   FROM pg_event_trigger_dropped_objects()
	  WHERE object_type = 'table' AND NOT is_temporary;
END
$$;

CREATE EVENT TRIGGER orders_stream_dropped_tables ON sql_drop
	WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION orders_stream.on_sql_drop();

