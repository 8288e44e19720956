--
-- types: how each PostgreSQL type becomes a DynamoDB attribute value.
--   S     text-like types, uuid, enum, inet, ranges... (any type without a
--         better match, by its output function under fixed settings);
--         date YYYY-MM-DD, timestamp YYYY-MM-DDTHH:MM:SS[.ffffff],
--         timestamptz the same in UTC with Z, time, timetz (+HH:MM), interval
--         ISO 8601 (P1Y2M3DT4H5M6S), infinities "infinity"/"-infinity",
--         NaN and infinite numbers "NaN"/"Infinity"/"-Infinity"
--   N     integers, numeric, real and double precision (shortest exact), money,
--         as DynamoDB's canonical decimal (no exponent, no leading or trailing
--         zeros, no negative zero: see numbers.sql); numbers DynamoDB cannot
--         hold (over 38 digits, out of range) are S with the type's text
--   BOOL  boolean
--   NULL  SQL NULL, and JSON null
--   B     bytea, base64
--   M, L  json/jsonb objects and arrays (recursively), composite types (M),
--         arrays (L, nested per dimension)
--   domains as their base type
--
\pset format unaligned
SET client_min_messages = warning;
CREATE TYPE ty_mood AS ENUM ('sad', 'happy');
CREATE TYPE ty_point AS (x int, label text, tags text[]);
CREATE DOMAIN ty_qty AS int CHECK (VALUE > 0);
CREATE DOMAIN ty_code AS text;
CREATE TABLE ty_values (
	id int PRIMARY KEY,
	c_text text, c_varchar varchar(10), c_char char(4), c_name name, c_qchar "char",
	c_uuid uuid, c_enum ty_mood, c_inet inet, c_cidr cidr, c_macaddr macaddr,
	c_bit bit(4), c_varbit varbit, c_xml xml,
	c_date date, c_ts timestamp, c_tstz timestamptz, c_time time, c_timetz timetz,
	c_interval interval,
	c_int2 smallint, c_int4 int, c_int8 bigint, c_numeric numeric, c_real real,
	c_double double precision, c_money money,
	c_bool bool, c_bytea bytea, c_json json, c_jsonb jsonb,
	c_int_array int[], c_text_2d text[], c_composite ty_point,
	c_domain ty_qty, c_domain_text ty_code,
	c_range int4range, c_tstzrange tstzrange, c_point point
);
CREATE TABLE ty_keys (day date, at timestamptz, PRIMARY KEY (day, at));
-- attribute names that JSON must escape
CREATE TABLE ty_names ("quo""te" int PRIMARY KEY, "back\slash" text);
SELECT os_mask_arn(orders_stream.enable_stream('ty_values', 'NEW_IMAGE')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('ty_keys', 'KEYS_ONLY')) AS arn;
SELECT os_mask_arn(orders_stream.enable_stream('ty_names')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('types', 'orders_stream');
-- ordinary values
INSERT INTO ty_values VALUES (1,
	E'quote " backslash \\ newline \n tab \t é €', 'abc', 'ab', 'a name', 'x',
	'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', '192.168.0.1/24', '10.1.0.0/16', '08:00:2b:01:02:03',
	B'1010', B'101', '<a>b</a>',
	'2026-01-02', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.5+02', '13:14:15.25', '13:14:15+05:30',
	'1 year 2 months 3 days 4 hours 5 minutes 6 seconds',
	-32768, 2147483647, -9223372036854775808, 12345.6789, 1.5,
	0.1, 12.34,
	true, '\xdeadbeef', '{"b": [1, "two", null, true, {"c": 1.50}], "a": {}, "a2": []}',
	'[1, 2.5e3, "x", false, null, [[]], {"k": "v"}]',
	'{1,NULL,3}', '{{a,b},{c,d}}', ROW(1, 'p', '{x,y}'),
	5, 'code',
	'[1,10)', '[2026-01-01 00:00+02, 2026-01-02 00:00+02)', '(1.5,-2)');
-- empty, zero and infinite values
INSERT INTO ty_values (id, c_text, c_bytea, c_date, c_ts, c_tstz, c_time, c_timetz,
	c_interval, c_numeric, c_real, c_double, c_bool, c_int_array, c_json, c_jsonb,
	c_int4, c_money)
VALUES (2, '', '', 'infinity', '-infinity', 'infinity', '00:00', '00:00:00-08',
	'0', 'NaN', 'Infinity', '-Infinity', false, '{}', '"str"', '3',
	0, 0);
INSERT INTO ty_values (id, c_composite, c_double, c_int_array, c_interval, c_json,
	c_jsonb, c_money, c_numeric, c_real, c_ts, c_tstz)
VALUES (3, ROW(NULL, NULL, NULL), 1e20, '[0:1]={7,8}', '-1 year -2 mons +3 days -04:05:06', 'null',
	'true', '-1.5', '-Infinity', 'NaN', '2026-01-02 03:04:05', '1999-12-31 23:59:59.999999-05');
INSERT INTO ty_values (id, c_double, c_real, c_numeric, c_int8, c_text_2d, c_jsonb, c_json, c_timetz)
VALUES (4, 1.0::float8 / 3, 1e-7, 0.000100, 0, '{}', '{"z": {"y": [{"x": null}]}, "a": "A"}',
	'{"k": 1, "k": 2}', '23:59:59.999+00');
-- NULL everywhere
INSERT INTO ty_values (id) VALUES (5);
INSERT INTO ty_keys VALUES ('2026-01-02', '2026-01-02 03:04:05-07');
INSERT INTO ty_names VALUES (1, 'x');
SELECT os_fetch('types');
SELECT * FROM os_check();
SELECT attr, value FROM os_attributes WHERE n = 1 AND image = 'NewImage' ORDER BY attr COLLATE "C";
SELECT attr, value FROM os_attributes WHERE n = 2 AND image = 'NewImage'
	AND attr IN ('id', 'c_text', 'c_bytea', 'c_date', 'c_ts', 'c_tstz', 'c_time', 'c_timetz',
		'c_interval', 'c_numeric', 'c_real', 'c_double', 'c_bool', 'c_int_array', 'c_json', 'c_jsonb',
		'c_int4', 'c_money')
ORDER BY attr COLLATE "C";
SELECT attr, value FROM os_attributes WHERE n = 3 AND image = 'NewImage'
	AND attr IN ('id', 'c_composite', 'c_double', 'c_int_array', 'c_interval', 'c_json',
		'c_jsonb', 'c_money', 'c_numeric', 'c_real', 'c_ts', 'c_tstz')
ORDER BY attr COLLATE "C";
SELECT attr, value FROM os_attributes WHERE n = 4 AND image = 'NewImage'
	AND attr IN ('id', 'c_double', 'c_real', 'c_numeric', 'c_int8', 'c_text_2d', 'c_jsonb', 'c_json', 'c_timetz')
ORDER BY attr COLLATE "C";
-- every column is in NewImage, as NULL when it is NULL
SELECT count(*) AS attributes, count(*) FILTER (WHERE value = '{"NULL": true}') AS nulls
FROM os_attributes WHERE n = 5 AND image = 'NewImage';
SELECT event, keys, new_image, old_image FROM os_last WHERE n = 6;
SELECT keys, new_image, substring(raw FROM '"NewImage":\{[^}]*\}[^}]*\}\}') AS raw_new_image
FROM os_last JOIN os_records USING (n) WHERE n = 7;
SELECT pg_drop_replication_slot('types');
-- a mapping's function gets each record as the jsonb of the record's JSON,
-- byte for byte what the jsonb type makes of it (events are built without
-- jsonb_in): equal, the same text, and found by key; through the filter path
-- (ty_names) as well; with more than 32 keys (ty_values) and elements (c_int_array)
-- and control characters, whose escapes jsonb decodes
CREATE TABLE ty_events (seq text, record jsonb);
CREATE FUNCTION ty_sink(event jsonb) RETURNS jsonb LANGUAGE sql AS $$
	INSERT INTO ty_events SELECT r#>>'{dynamodb,SequenceNumber}', r
	  FROM jsonb_array_elements(event->'Records') r;
	SELECT NULL::jsonb
$$;
SELECT orders_stream.create_event_source_mapping('ty_values', 'ty_sink(jsonb)', batch_size => 4,
	starting_position => 'TRIM_HORIZON') AS m1 \gset
SELECT orders_stream.create_event_source_mapping('ty_names', 'ty_sink(jsonb)', batch_size => 4,
	starting_position => 'TRIM_HORIZON',
	filter_criteria => '{"Filters": [{"Pattern": "{\"eventName\": [\"INSERT\", \"REMOVE\"]}"}]}') AS m2 \gset
INSERT INTO ty_values (id, c_text, c_int_array) VALUES (6, E'ctl \x01 \x1f del \x7f', ARRAY(SELECT generate_series(1, 40)));
DELETE FROM ty_names;
SELECT orders_stream.wait_for_mapping(:'m1', '60s') IS NOT NULL AS caught_up,
	   orders_stream.wait_for_mapping(:'m2', '60s') IS NOT NULL AS caught_up;
SELECT count(*) AS records,
	   count(*) FILTER (WHERE e.record = r.record::jsonb) AS equal,
	   count(*) FILTER (WHERE e.record::text = r.record::jsonb::text) AS same_text,
	   count(*) FILTER (WHERE e.record #>> '{dynamodb,Keys}' = r.record::jsonb #>> '{dynamodb,Keys}') AS same_keys
  FROM ty_events e JOIN orders_stream.records r ON r.sequence_number = e.seq;
SELECT e.record #>> '{dynamodb,NewImage,c_text,S}' = E'ctl \x01 \x1f del \x7f' AS decoded,
	   jsonb_array_length(e.record #> '{dynamodb,NewImage,c_int_array,L}') AS elements,
	   e.record #>> '{dynamodb,NewImage,c_int_array,L,39,N}' AS last,
	   (SELECT count(*) FROM jsonb_object_keys(e.record #> '{dynamodb,NewImage}')) AS attributes
  FROM ty_events e WHERE e.record #>> '{dynamodb,Keys,id,N}' = '6';
SELECT e.record->>'eventName' AS event, e.record #> '{dynamodb,Keys}' AS keys
  FROM ty_events e WHERE e.record #> '{dynamodb,Keys}' ? 'quo"te' ORDER BY e.seq;
SELECT orders_stream.delete_event_source_mapping(:'m1') IS NOT NULL AS deleted,
	   orders_stream.delete_event_source_mapping(:'m2') IS NOT NULL AS deleted;
