/*
 * This installation of the extension: a new id at each CREATE EXTENSION,
 * never dumped.  Rows of streams and event_source_mappings carry the id of
 * the installation that made them, so that rows a restore brings back from
 * another one are told apart (95_backup.sql) and never act on this
 * database's objects under the OIDs of the dumped one.
 */
CREATE TABLE orders_stream_internal.installation (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	id			uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid()
);
INSERT INTO orders_stream_internal.installation DEFAULT VALUES;
REVOKE ALL ON orders_stream_internal.installation FROM PUBLIC;

CREATE FUNCTION orders_stream_internal.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT i.id FROM orders_stream_internal.installation i;
END;

/*
 * The streams catalog.  The output plugin reads it through the historic
 * snapshot of each change, so that a change is captured iff its table's stream
 * was enabled as of that change: hence user_catalog_table.  Written only by
 * C code running as the extension's owner; read by other roles through the
 * view orders_stream.readable_streams.
 */
CREATE TABLE orders_stream.streams (
	stream_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	relid		oid NOT NULL,
	table_name	text NOT NULL,
	view_type	text NOT NULL CHECK (view_type IN ('KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES')),
	stream_label text NOT NULL,
	stream_arn	text NOT NULL UNIQUE,
	shard_id	text NOT NULL,
	key_columns name[] NOT NULL,
	set_columns name[] NOT NULL DEFAULT '{}',
	/* a jsonb column whose members are attributes of the images (record.c) */
	document_column name,
	start_lsn	pg_lsn NOT NULL,
	created_at	timestamptz NOT NULL,
	disabled_at timestamptz,
	/*
	 * Set by the capture worker when it decodes the commit of the disable,
	 * in the transaction that stores the stream's last records: the
	 * position of that commit (every record of the shard is before it,
	 * every change committed after it is not in the shard), and the
	 * shard's EndingSequenceNumber, its last record (the closing position
	 * if it has none).  Disabled but not yet closed is DISABLING.
	 */
	closing_sequence_number text COLLATE "C",
	ending_sequence_number text COLLATE "C",
	installation uuid NOT NULL DEFAULT orders_stream_internal.installation_id()
) WITH (user_catalog_table = true);

CREATE UNIQUE INDEX streams_one_enabled_per_table
	ON orders_stream.streams (relid) WHERE disabled_at IS NULL;

REVOKE ALL ON orders_stream.streams FROM PUBLIC;

/*
 * enable_stream and disable_stream run as their caller for what the caller
 * must be allowed to do (ALTER TABLE, CREATE TRIGGER need ownership), and as
 * the extension's owner only to write orders_stream.streams.
 */
CREATE FUNCTION orders_stream.enable_stream(source regclass,
											view_type text DEFAULT 'NEW_AND_OLD_IMAGES',
											set_columns name[] DEFAULT '{}',
											document_column name DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_enable_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.enable_stream(regclass, text, name[], name) IS
'Enables a DynamoDB stream on a table with a primary key; returns the stream ARN';

CREATE FUNCTION orders_stream.disable_stream(source regclass)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_disable_stream'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.disable_stream(regclass) IS
'Disables the stream of a table; its records stay readable until they age out; returns the stream ARN';

/*
 * TRUNCATE would remove items without REMOVE records: refuse it unless the
 * user opts out.  Table owners need EXECUTE to create the trigger; it can
 * only run as a trigger.  The triggers depend on it automatically, so DROP
 * EXTENSION removes them.
 */
CREATE FUNCTION orders_stream.truncate_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'orders_stream_truncate_guard'
LANGUAGE C;

/*
 * SequenceNumber of an LSN and a position: 20 + 10 digits, see
 * output_plugin.c.  A position is a change's place in its transaction (a
 * uint32): anything else would render a string of another length, which
 * sorts wrongly among the real ones.
 */
CREATE FUNCTION orders_stream.sequence_number(lsn pg_lsn, change_position bigint DEFAULT 0)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF change_position < 0 OR change_position > 4294967295 THEN
		RAISE EXCEPTION 'change position % is out of range for a SequenceNumber', change_position
			USING ERRCODE = 'numeric_value_out_of_range',
				  HINT = 'A position is a change''s place in its transaction, from 0 to 4294967295.';
	END IF;
	RETURN lpad((lsn - '0/0'::pg_lsn)::text, 20, '0') || lpad(change_position::text, 10, '0');
END
$$;

