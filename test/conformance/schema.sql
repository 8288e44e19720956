-- test/conformance/schema.sql: the tables whose stream records check.mjs
-- verifies, and, in schema conf, an independent SQL derivation of the values
-- that each record's images must unmarshall to.
--
-- Expected values are "tagged JSON", the JSON form of what
-- @aws-sdk/util-dynamodb's unmarshall(image, {wrapNumbers: true}) returns:
--   string -> "..."            number (N) -> {"$n": "<decimal text>"}
--   bytes (B) -> {"$b": "<base64>"}        BOOL -> true/false, NULL -> null
--   list (L) -> [...]          map (M) -> {"$m": {...}}
--   SS/NS/BS -> {"$ss": [...]} / {"$ns": [...]} / {"$bs": [...]}
-- They are computed with to_char / to_jsonb / encode and fixed GUCs, never
-- with the output plugin's code.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION orders_stream;

-- ------------------------------------------------------------- the types --
CREATE TYPE order_status AS ENUM ('pending', 'shipped', 'delivered', 'ünïcødé ✓');
CREATE TYPE geo AS (lat double precision, lon double precision);
CREATE TYPE address AS (street text, city varchar(40), zip char(5), geo geo, lines text[]);
CREATE DOMAIN positive_amount AS numeric(12, 2) CHECK (VALUE > 0);
CREATE DOMAIN email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');

CREATE TABLE every_type (
	id              int PRIMARY KEY,
	c_smallint      smallint,
	c_int           int,
	c_bigint        bigint,
	c_numeric       numeric,
	c_numeric_10_4  numeric(10, 4),
	c_real          real,
	c_double        double precision,
	c_money         money,
	c_bool          boolean,
	c_text          text,
	c_varchar       varchar(20),
	c_char          char(6),
	c_name          name,
	c_uuid          uuid,
	c_enum          order_status,
	c_xml           xml,
	c_inet          inet,
	c_cidr          cidr,
	c_macaddr       macaddr,
	c_date          date,
	c_timestamp     timestamp,
	c_timestamptz   timestamptz,
	c_time          time,
	c_timetz        timetz,
	c_interval      interval,
	c_bytea         bytea,
	c_json          json,
	c_jsonb         jsonb,
	c_int_arr       int[],
	c_text_arr      text[],
	c_int_2d        int[][],
	c_float_arr     double precision[],
	c_tstz_arr      timestamptz[],
	c_bytea_arr     bytea[],
	c_address       address,
	c_address_arr   address[],
	c_amount        positive_amount,
	c_email         email,
	c_int4range     int4range,
	c_point         point,
	c_varbit        bit varying(16),
	c_big           text,
	c_tags          text[],     -- set column: SS
	c_scores        numeric[],  -- set column: NS
	c_blobs         bytea[]     -- set column: BS
);
-- keep the 100 kB value out of line and uncompressed: updates that do not
-- touch it then carry an "unchanged TOAST datum" the plugin must resolve
ALTER TABLE every_type ALTER COLUMN c_big SET STORAGE EXTERNAL;

-- one table per other view type; keys of type S+N, N and B
CREATE TABLE keys_only (pk text, sk int, v text, PRIMARY KEY (pk, sk));
CREATE TABLE new_only (id bigint PRIMARY KEY, v text, n numeric, j jsonb);
CREATE TABLE old_only (id bytea PRIMARY KEY, v text, d date);
-- a document column: item's members are the item's attributes
CREATE TABLE documents (id text PRIMARY KEY, qty int, item jsonb);

-- numbers of every type at DynamoDB's limits and beyond, and random ones
-- (the property test of changes.sql); ns is a set column (NS)
CREATE TABLE numbers (id int PRIMARY KEY, n numeric, f8 double precision, f4 real,
	m money, i8 bigint, j jsonb, js json, ns numeric[], fa double precision[]);

-- a table without a stream: must never show up
CREATE TABLE no_stream (id int PRIMARY KEY, v text);

-- ---------------------------------------------- expected-value functions --
CREATE SCHEMA conf;

-- the streams under test: view type, set columns, still enabled?
CREATE TABLE conf.tables (
	tbl         text PRIMARY KEY,
	view_type   text NOT NULL,
	set_columns name[] NOT NULL DEFAULT '{}',
	document_column name,
	enabled     boolean NOT NULL DEFAULT true
);

-- Can a DynamoDB number hold v?  At most 38 significant digits (leading and
-- trailing zeros do not count), zero or 1E-130 <= |v| < 1E+126.
CREATE FUNCTION conf.fits(v numeric) RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT v::text NOT IN ('NaN', 'Infinity', '-Infinity') AND (v = 0 OR (
		abs(v) >= 1e-130 AND abs(v) < 1e126 AND
		length(trim(BOTH '0' FROM replace(trim_scale(abs(v))::text, '.', ''))) <= 38))
$$;
-- N: the decimal value (check.mjs compares values, and checks the text is
-- canonical on its own); what DynamoDB cannot hold is S with numeric's text
CREATE FUNCTION conf.n(v numeric) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT CASE WHEN conf.fits(v) THEN jsonb_build_object('$n', v::text)
	            ELSE to_jsonb(v::text) END
$$;
-- real/double: the shortest text that reads back exactly (extra_float_digits
-- 1), its value as N, or that text as S if DynamoDB cannot hold it
CREATE FUNCTION conf.f8(v double precision) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT
SET extra_float_digits = 1 AS $$
	SELECT CASE WHEN v::text NOT IN ('NaN', 'Infinity', '-Infinity') AND conf.fits(v::text::numeric)
	            THEN jsonb_build_object('$n', v::text) ELSE to_jsonb(v::text) END
$$;
CREATE FUNCTION conf.f4(v real) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT
SET extra_float_digits = 1 AS $$
	SELECT CASE WHEN v::text NOT IN ('NaN', 'Infinity', '-Infinity') AND conf.fits(v::text::numeric)
	            THEN jsonb_build_object('$n', v::text) ELSE to_jsonb(v::text) END
$$;
-- S: the type's output text (format's %s calls the output function: char(n)
-- keeps its padding, unlike a cast to text)
CREATE FUNCTION conf.s(v anyelement) RETURNS jsonb LANGUAGE sql STABLE STRICT
SET datestyle = 'ISO, YMD' SET intervalstyle = 'iso_8601' SET timezone = 'UTC' SET extra_float_digits = 1 AS $$
	SELECT to_jsonb(format('%s', v))
$$;
CREATE FUNCTION conf.b(v bytea) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT jsonb_build_object('$b', translate(encode(v, 'base64'), E'\n', ''))
$$;
-- ISO 8601 with the fractional seconds' trailing zeros trimmed
CREATE FUNCTION conf.trim_frac(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT regexp_replace(t, '\.?0*$', '')
$$;
CREATE FUNCTION conf.d(v date) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT to_jsonb(CASE WHEN isfinite(v) THEN to_char(v, 'YYYY-MM-DD')
	                     WHEN v > '2000-01-01' THEN 'infinity' ELSE '-infinity' END)
$$;
CREATE FUNCTION conf.ts(v timestamp) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT to_jsonb(CASE WHEN isfinite(v) THEN conf.trim_frac(to_char(v, 'YYYY-MM-DD"T"HH24:MI:SS.US'))
	                     WHEN v > '2000-01-01' THEN 'infinity' ELSE '-infinity' END)
$$;
CREATE FUNCTION conf.tstz(v timestamptz) RETURNS jsonb LANGUAGE sql STABLE STRICT AS $$
	SELECT to_jsonb(CASE WHEN isfinite(v) THEN conf.trim_frac(to_char(v AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')) || 'Z'
	                     WHEN v > '2000-01-01' THEN 'infinity' ELSE '-infinity' END)
$$;
CREATE FUNCTION conf.t(v time) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT to_jsonb(conf.trim_frac(to_char('2000-01-01'::date + v, 'HH24:MI:SS.US')))
$$;
-- HH:MM:SS[.ffffff]+HH:MM (PostgreSQL prints +05 for whole hours)
CREATE FUNCTION conf.ttz(v timetz) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT to_jsonb(regexp_replace(v::text, '([+-]\d\d)$', '\1:00'))
$$;
CREATE FUNCTION conf.iv(v interval) RETURNS jsonb LANGUAGE sql STABLE STRICT
SET intervalstyle = 'iso_8601' AS $$
	SELECT to_jsonb(v::text)
$$;
-- json/jsonb: object -> M, array -> L, number -> N, the rest as is
CREATE FUNCTION conf.j(v jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	CASE jsonb_typeof(v)
	WHEN 'object' THEN
		RETURN jsonb_build_object('$m', coalesce((SELECT jsonb_object_agg(key, conf.j(value)) FROM jsonb_each(v)), '{}'));
	WHEN 'array' THEN
		RETURN coalesce((SELECT jsonb_agg(conf.j(e) ORDER BY o) FROM jsonb_array_elements(v) WITH ORDINALITY a(e, o)), '[]');
	WHEN 'number' THEN
		RETURN conf.n((v #>> '{}')::numeric);
	ELSE
		RETURN v;
	END CASE;
END
$$;
-- a DynamoDB JSON attribute value ({"S": ...}, {"N": "..."}, ...), checked
-- against DynamoDB's rules: a document of such values only is DynamoDB JSON
CREATE FUNCTION conf.is_av(v jsonb) RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
	t text;
	x jsonb;
BEGIN
	IF jsonb_typeof(v) <> 'object' OR (SELECT count(*) FROM jsonb_object_keys(v)) <> 1 THEN
		RETURN false;
	END IF;
	t := (SELECT k FROM jsonb_object_keys(v) k);
	x := v -> t;
	CASE t
	WHEN 'S' THEN RETURN jsonb_typeof(x) = 'string';
	WHEN 'N' THEN RETURN jsonb_typeof(x) = 'string' AND conf.is_n(x #>> '{}');
	WHEN 'B' THEN RETURN jsonb_typeof(x) = 'string' AND conf.is_b(x #>> '{}');
	WHEN 'BOOL' THEN RETURN jsonb_typeof(x) = 'boolean';
	WHEN 'NULL' THEN RETURN x = 'true';
	WHEN 'M' THEN RETURN jsonb_typeof(x) = 'object' AND (SELECT bool_and(conf.is_av(e)) IS NOT false FROM jsonb_each(x) AS m(k, e));
	WHEN 'L' THEN RETURN jsonb_typeof(x) = 'array' AND (SELECT bool_and(conf.is_av(e)) IS NOT false FROM jsonb_array_elements(x) e);
	WHEN 'SS', 'NS', 'BS' THEN
		RETURN jsonb_typeof(x) = 'array' AND jsonb_array_length(x) > 0 AND (SELECT bool_and(
			jsonb_typeof(e) = 'string' AND CASE t WHEN 'NS' THEN conf.is_n(e #>> '{}')
			                                      WHEN 'BS' THEN conf.is_b(e #>> '{}') ELSE true END)
			FROM jsonb_array_elements(x) e);
	ELSE RETURN false;
	END CASE;
END
$$;
CREATE FUNCTION conf.is_n(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	RETURN conf.fits(t::numeric);
EXCEPTION WHEN invalid_text_representation THEN
	RETURN false;
END
$$;
CREATE FUNCTION conf.is_b(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
	RETURN decode(t, 'base64') IS NOT NULL;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END
$$;
-- a valid attribute value as the unmarshalled, tagged value
CREATE FUNCTION conf.av(v jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
	t text := (SELECT k FROM jsonb_object_keys(v) k);
	x jsonb := v -> t;
BEGIN
	CASE t
	WHEN 'S' THEN RETURN x;
	WHEN 'N' THEN RETURN conf.n((x #>> '{}')::numeric);
	WHEN 'B' THEN RETURN conf.b(decode(x #>> '{}', 'base64'));
	WHEN 'BOOL' THEN RETURN x;
	WHEN 'NULL' THEN RETURN 'null';
	WHEN 'M' THEN RETURN jsonb_build_object('$m', coalesce((SELECT jsonb_object_agg(k, conf.av(e)) FROM jsonb_each(x) AS m(k, e)), '{}'));
	WHEN 'L' THEN RETURN coalesce((SELECT jsonb_agg(conf.av(e) ORDER BY o) FROM jsonb_array_elements(x) WITH ORDINALITY a(e, o)), '[]');
	WHEN 'SS' THEN RETURN jsonb_build_object('$ss', (SELECT jsonb_agg(DISTINCT e) FROM jsonb_array_elements(x) e));
	WHEN 'NS' THEN RETURN conf.ns(ARRAY(SELECT (e #>> '{}')::numeric FROM jsonb_array_elements(x) e));
	WHEN 'BS' THEN RETURN conf.bs(ARRAY(SELECT decode(e #>> '{}', 'base64') FROM jsonb_array_elements(x) e));
	END CASE;
END
$$;
-- a document column's attributes: DynamoDB JSON if every member is an
-- attribute value, else plain JSON; NULL: none; no object: one attribute
CREATE FUNCTION conf.doc(col text, v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN v IS NULL THEN '{}'
		WHEN jsonb_typeof(v) <> 'object' THEN jsonb_build_object(col, conf.j(v))
		WHEN (SELECT bool_and(conf.is_av(e)) IS NOT false FROM jsonb_each(v) AS m(k, e))
			THEN coalesce((SELECT jsonb_object_agg(k, conf.av(e)) FROM jsonb_each(v) AS m(k, e)), '{}')
		ELSE coalesce((SELECT jsonb_object_agg(k, conf.j(e)) FROM jsonb_each(v) AS m(k, e)), '{}')
	END
$$;
-- arrays whose elements to_jsonb already maps right (numbers, text, bool,
-- NaN/Infinity as strings), any number of dimensions: nested L
CREATE FUNCTION conf.a(v anyarray) RETURNS jsonb LANGUAGE sql STABLE STRICT
SET extra_float_digits = 1 AS $$
	SELECT conf.j(to_jsonb(v))
$$;
-- double precision arrays element by element: to_jsonb would turn 1e-300
-- into numeric's long text, where the element's S is the float's own text
CREATE FUNCTION conf.a_f8(v double precision[]) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT coalesce(jsonb_agg(coalesce(conf.f8(e), 'null') ORDER BY o), '[]') FROM unnest(v) WITH ORDINALITY u(e, o)
$$;
CREATE FUNCTION conf.a_tstz(v timestamptz[]) RETURNS jsonb LANGUAGE sql STABLE STRICT AS $$
	SELECT coalesce(jsonb_agg(coalesce(conf.tstz(e), 'null') ORDER BY o), '[]') FROM unnest(v) WITH ORDINALITY u(e, o)
$$;
CREATE FUNCTION conf.a_bytea(v bytea[]) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT coalesce(jsonb_agg(coalesce(conf.b(e), 'null') ORDER BY o), '[]') FROM unnest(v) WITH ORDINALITY u(e, o)
$$;
-- sets: distinct, sorted (check.mjs sorts again)
CREATE FUNCTION conf.ss(v text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT jsonb_build_object('$ss', coalesce(jsonb_agg(DISTINCT e), '[]')) FROM unnest(v) e
$$;
-- (members equal in value are one member; a member DynamoDB cannot hold
-- makes the column the plain list)
CREATE FUNCTION conf.ns(v numeric[]) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT CASE WHEN coalesce(bool_and(conf.fits(e)), true)
	            THEN jsonb_build_object('$ns', coalesce(jsonb_agg(DISTINCT trim_scale(e)::text), '[]'))
	            ELSE conf.a(v) END
	FROM unnest(v) e WHERE e IS NOT NULL
$$;
CREATE FUNCTION conf.bs(v bytea[]) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT jsonb_build_object('$bs', coalesce(jsonb_agg(DISTINCT translate(encode(e, 'base64'), E'\n', '')), '[]')) FROM unnest(v) e
$$;
-- composites: M keyed by attribute name (a NULL composite is NULL; one with
-- all attributes NULL is an M of NULLs)
CREATE FUNCTION conf.geo(v geo) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN to_jsonb(v) IS NULL THEN NULL ELSE
		jsonb_build_object('$m', jsonb_build_object('lat', conf.f8((v).lat), 'lon', conf.f8((v).lon))) END
$$;
CREATE FUNCTION conf.address(v address) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN to_jsonb(v) IS NULL THEN NULL ELSE
		jsonb_build_object('$m', jsonb_build_object(
			'street', conf.s((v).street), 'city', conf.s((v).city), 'zip', conf.s((v).zip),
			'geo', conf.geo((v).geo), 'lines', conf.a((v).lines))) END
$$;
CREATE FUNCTION conf.a_address(v address[]) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT coalesce(jsonb_agg(coalesce(conf.address(v[i]), 'null') ORDER BY i), '[]') FROM generate_subscripts(v, 1) i
$$;

-- the expected image of a row, per table (jsonb_build_object turns SQL NULL
-- into JSON null, i.e. {"NULL": true})
CREATE FUNCTION conf.image(r every_type) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', conf.n(r.id),
		'c_smallint', conf.n(r.c_smallint),
		'c_int', conf.n(r.c_int),
		'c_bigint', conf.n(r.c_bigint),
		'c_numeric', conf.n(r.c_numeric),
		'c_numeric_10_4', conf.n(r.c_numeric_10_4),
		'c_real', conf.f4(r.c_real),
		'c_double', conf.f8(r.c_double),
		'c_money', conf.n(r.c_money::numeric),
		'c_bool', to_jsonb(r.c_bool),
		'c_text', conf.s(r.c_text),
		'c_varchar', conf.s(r.c_varchar),
		'c_char', conf.s(r.c_char),
		'c_name', conf.s(r.c_name),
		'c_uuid', conf.s(r.c_uuid),
		'c_enum', conf.s(r.c_enum),
		'c_xml', conf.s(r.c_xml)
	) || jsonb_build_object(
		'c_inet', conf.s(r.c_inet),
		'c_cidr', conf.s(r.c_cidr),
		'c_macaddr', conf.s(r.c_macaddr),
		'c_date', conf.d(r.c_date),
		'c_timestamp', conf.ts(r.c_timestamp),
		'c_timestamptz', conf.tstz(r.c_timestamptz),
		'c_time', conf.t(r.c_time),
		'c_timetz', conf.ttz(r.c_timetz),
		'c_interval', conf.iv(r.c_interval),
		'c_bytea', conf.b(r.c_bytea),
		'c_json', conf.j(r.c_json::jsonb),
		'c_jsonb', conf.j(r.c_jsonb),
		'c_int_arr', conf.a(r.c_int_arr),
		'c_text_arr', conf.a(r.c_text_arr),
		'c_int_2d', conf.a(r.c_int_2d),
		'c_float_arr', conf.a(r.c_float_arr)
	) || jsonb_build_object(
		'c_tstz_arr', conf.a_tstz(r.c_tstz_arr),
		'c_bytea_arr', conf.a_bytea(r.c_bytea_arr),
		'c_address', conf.address(r.c_address),
		'c_address_arr', conf.a_address(r.c_address_arr),
		'c_amount', conf.n(r.c_amount),
		'c_email', conf.s(r.c_email),
		'c_int4range', conf.s(r.c_int4range),
		'c_point', conf.s(r.c_point),
		'c_varbit', conf.s(r.c_varbit),
		'c_big', conf.s(r.c_big),
		'c_tags', conf.ss(r.c_tags),
		'c_scores', conf.ns(r.c_scores),
		'c_blobs', conf.bs(r.c_blobs)
	)
$$;
CREATE FUNCTION conf.image(r keys_only) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('pk', conf.s(r.pk), 'sk', conf.n(r.sk), 'v', conf.s(r.v))
$$;
CREATE FUNCTION conf.image(r new_only) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', conf.n(r.id), 'v', conf.s(r.v), 'n', conf.n(r.n), 'j', conf.j(r.j))
$$;
CREATE FUNCTION conf.image(r old_only) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', conf.b(r.id), 'v', conf.s(r.v), 'd', conf.d(r.d))
$$;
CREATE FUNCTION conf.image(r numbers) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', conf.n(r.id), 'n', conf.n(r.n), 'f8', conf.f8(r.f8),
		'f4', conf.f4(r.f4), 'm', conf.n(r.m::numeric), 'i8', conf.n(r.i8), 'j', conf.j(r.j),
		'js', conf.j(r.js::jsonb), 'ns', conf.ns(r.ns), 'fa', conf.a_f8(r.fa))
$$;
-- columns win over members of the same name
CREATE FUNCTION conf.image(r documents) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT conf.doc('item', r.item) || jsonb_build_object('id', conf.s(r.id), 'qty', conf.n(r.qty))
$$;
CREATE FUNCTION conf.image(r no_stream) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', conf.n(r.id), 'v', conf.s(r.v))
$$;

-- every change, in order, with the expected images (a statement's AFTER ROW
-- triggers fire in the order its rows were changed; a rolled back change
-- rolls back its log entry too)
CREATE TABLE conf.log (
	n         bigserial PRIMARY KEY,
	tbl       text NOT NULL,
	op        text NOT NULL,
	streamed  boolean NOT NULL,  -- the table's stream was enabled then
	old_image jsonb,
	new_image jsonb
);
CREATE FUNCTION conf.log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	o jsonb;
	n jsonb;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		EXECUTE 'SELECT conf.image($1)' INTO o USING OLD;
	END IF;
	IF TG_OP IN ('INSERT', 'UPDATE') THEN
		EXECUTE 'SELECT conf.image($1)' INTO n USING NEW;
	END IF;
	INSERT INTO conf.log (tbl, op, streamed, old_image, new_image)
	VALUES (TG_TABLE_NAME, TG_OP,
	        coalesce((SELECT enabled FROM conf.tables WHERE tbl = TG_TABLE_NAME), false), o, n);
	RETURN NULL;
END
$$;
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON every_type FOR EACH ROW EXECUTE FUNCTION conf.log_change();
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON keys_only FOR EACH ROW EXECUTE FUNCTION conf.log_change();
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON new_only FOR EACH ROW EXECUTE FUNCTION conf.log_change();
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON old_only FOR EACH ROW EXECUTE FUNCTION conf.log_change();
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON numbers FOR EACH ROW EXECUTE FUNCTION conf.log_change();
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON documents FOR EACH ROW EXECUTE FUNCTION conf.log_change();
CREATE TRIGGER conf_log AFTER INSERT OR UPDATE OR DELETE ON no_stream FOR EACH ROW EXECUTE FUNCTION conf.log_change();

-- --------------------------------------------------------- the streams --
INSERT INTO conf.tables (tbl, view_type, set_columns, document_column) VALUES
	('every_type', 'NEW_AND_OLD_IMAGES', '{c_tags,c_scores,c_blobs}', NULL),
	('keys_only', 'KEYS_ONLY', '{}', NULL),
	('new_only', 'NEW_IMAGE', '{}', NULL),
	('old_only', 'OLD_IMAGE', '{}', NULL),
	('numbers', 'NEW_AND_OLD_IMAGES', '{ns}', NULL),
	('documents', 'NEW_AND_OLD_IMAGES', '{}', 'item');

SELECT t.tbl, orders_stream.enable_stream(t.tbl::regclass, t.view_type, t.set_columns, t.document_column) AS stream_arn
FROM conf.tables t ORDER BY t.tbl;

-- disable a stream, recording that the changes after it are not streamed
CREATE FUNCTION conf.disable(t text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	UPDATE conf.tables SET enabled = false WHERE tbl = t;
	RETURN orders_stream.disable_stream(t::regclass);
END
$$;

-- the expected images of a table's rows now
CREATE FUNCTION conf.final(t text) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
	r jsonb;
BEGIN
	EXECUTE format('SELECT coalesce(jsonb_agg(conf.image(x)), ''[]'') FROM %I x', t) INTO r;
	RETURN r;
END
$$;
