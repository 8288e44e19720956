/*
 * Time to Live (ttl_api.c, ttl_worker.c): the tables whose expired rows the TTL worker
 * deletes, one row per table, written by update_time_to_live as the
 * extension's owner.  search_path is the enabling call's: the worker's
 * deletes run with it, as the table's owner, for the owner's triggers.
 */
CREATE TABLE orders_stream.time_to_live (
	relid		regclass PRIMARY KEY,	/* regclass: a dump names the table, a restore finds it */
	attnum		smallint NOT NULL,
	search_path text NOT NULL,
	enabled_at	timestamptz NOT NULL DEFAULT now(),
	/*
	 * The attribute's name when TTL was enabled: a restore finds the
	 * attribute by it (column numbers change when a dump recreates a table
	 * that had dropped columns).  See attribute_of_ttl_row() below.
	 */
	attribute_name name
);

REVOKE ALL ON orders_stream.time_to_live FROM PUBLIC;

/*
 * update_time_to_live inserts the attribute by number: the name is added
 * here.  A restore (COPY of the dumped row) brings the name and the
 * number of the dumped table: the number is looked up by the name; a row
 * whose attribute is gone is left out, with a warning.
 */
CREATE FUNCTION orders_stream_internal.attribute_of_ttl_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.attribute_name IS NULL THEN
		NEW.attribute_name := (SELECT a.attname FROM pg_attribute a
								WHERE a.attrelid = NEW.relid AND a.attnum = NEW.attnum);
		RETURN NEW;
	END IF;
	NEW.attnum := (SELECT a.attnum FROM pg_attribute a
					WHERE a.attrelid = NEW.relid AND a.attname = NEW.attribute_name AND NOT a.attisdropped);
	IF NEW.attnum IS NULL THEN
		RAISE WARNING 'TimeToLive of table % not restored: it has no column "%"', NEW.relid, NEW.attribute_name
			USING HINT = 'Enable it again with orders_stream.update_time_to_live().';
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER attribute_of_ttl_row BEFORE INSERT ON orders_stream.time_to_live
	FOR EACH ROW EXECUTE FUNCTION orders_stream_internal.attribute_of_ttl_row();

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
