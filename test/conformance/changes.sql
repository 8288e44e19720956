-- test/conformance/changes.sql: the changes whose records are checked.  Run
-- after the slot exists, each statement in its own transaction unless shown.

\set ON_ERROR_STOP 1
-- Session settings that must not leak into the records (the plugin decodes
-- in another session anyway; conf.* pins its own settings).
SET datestyle = 'SQL, DMY';
SET timezone = 'America/St_Johns';
SET intervalstyle = 'sql_standard';
SET extra_float_digits = -3;
SET bytea_output = 'escape';

-- 1: an ordinary row, every column set
INSERT INTO every_type VALUES (
	1, 12, 42, 9007199254740993, 12345.678901, 3.1416, 1.5, 0.1, 1234.56, true,
	'hello', 'varchar value', 'ab', 'a name', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
	'shipped', '<order id="1"><item>mug</item></order>',
	'192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
	'2026-11-27', '2026-11-27 10:53:13.5', '2026-11-27 10:53:13.123456+01', '10:53:13.25', '10:53:13+05:30',
	'1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds',
	'\x0001feff'::bytea,
	'{"a": 1, "b": [true, false, null, "x", 1.5e3], "c": {"d": {"e": "deep"}}}',
	'{"qty": 3, "price": 9.99, "tags": ["a", "b"], "nested": {"list": [[1, 2], [3]], "empty": {}, "none": null}}',
	'{1,2,3}', '{"x","y z","with \"quote\""}', '{{1,2},{3,4}}', '{1.5,-0.25,1e+20}',
	'{"2026-01-01 00:00:00+00","2026-06-30 23:59:59.999+02"}', '{"\\x00","\\xdeadbeef"}',
	ROW('1 Main St', 'Springfield', '12345', ROW(40.7128, -74.006), '{"floor 2","door b"}'),
	ARRAY[ROW('a', 'b', 'c', NULL, '{}')::address, NULL],
	19.99, 'someone@example.com', '[1,10)', '(1.5,2)', B'1011',
	'short big', '{red,green,blue}', '{1,2.5,100}', '{"\\x01","\\x0203"}'
);

-- 2: all nullable columns NULL
INSERT INTO every_type (id) VALUES (2);

-- 3: edge values
INSERT INTO every_type VALUES (
	3, -32768, -2147483648, 9223372036854775807,
	'-123456789012345678901234567890.123456789', 'NaN', '-0', '1e+20', '-92233720368547758.08', false,
	E'quote " backslash \\ newline \n tab \t cr \r ctrl \x01 \x1f del \x7f — 日本語 🚀 é (e\u0301) \u2028 end',
	'', '', 'üñí', '00000000-0000-0000-0000-000000000000',
	'ünïcødé ✓', '<a>&amp;&lt;</a>',
	'::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff',
	'infinity', '-infinity', 'infinity', '00:00:00', '23:59:59.999999-03',
	'-1 years -2 months +3 days -04:05:06.789',
	''::bytea,
	'"just a string"', '[]',
	'{}', '{NULL,"",NULL}', '{{1,NULL},{NULL,4}}', '{NaN,Infinity,-Infinity,0.3333333333333333}',
	'{}', '{NULL}',
	ROW(NULL, NULL, NULL, NULL, NULL),
	'{}',
	0.01, 'a@b', 'empty', '(0.1,-2.5e-07)', B'',
	'x', '{dup,dup,other}', '{5,5,-1.25}', '{"\\x00","\\x00","\\xff"}'
);

-- 4: a 100 kB value (stored out of line, uncompressed), unicode in it
INSERT INTO every_type (id, c_text, c_big, c_double, c_real, c_date, c_timestamp, c_timestamptz, c_jsonb, c_json)
SELECT 4, 'big row', '🚀 ' || string_agg(md5(i::text), '') || ' end', 0.3333333333333333, 3.4028235e38,
       '0001-01-01', '1999-12-31 23:59:59.000001', '1970-01-01 00:00:00+00',
       '123.450', 'true'
FROM generate_series(1, 3200) i;

-- 5..7: to be deleted, re-keyed, and updated to the same values
INSERT INTO every_type (id, c_text, c_int) VALUES (5, 'to be deleted', 5), (6, 'to be re-keyed', 6), (7, 'unchanged', 7);

-- updates of several kinds
UPDATE every_type SET c_int = 43, c_tags = '{green,red,yellow}', c_jsonb = c_jsonb || '{"qty": 4}' WHERE id = 1;
UPDATE every_type SET c_text = 'now set', c_bool = true, c_numeric = 0 WHERE id = 2;
UPDATE every_type SET c_int = 1 WHERE id = 4;                      -- c_big is an unchanged TOAST datum
UPDATE every_type SET c_text = c_text, c_int = c_int WHERE id = 7; -- no-op: no record
UPDATE every_type SET id = 60 WHERE id = 6;                        -- REMOVE 6, INSERT 60
DELETE FROM every_type WHERE id = 5;

-- several changes in one transaction, with a rolled back savepoint
BEGIN;
INSERT INTO every_type (id, c_text) VALUES (8, 'in a transaction');
UPDATE every_type SET c_text = 'changed twice' WHERE id = 8;
SAVEPOINT s;
INSERT INTO every_type (id, c_text) VALUES (9, 'rolled back');
UPDATE every_type SET c_text = 'rolled back too' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
UPDATE every_type SET c_real = 0.1 WHERE id = 8;
COMMIT;

-- a rolled back transaction: no records
BEGIN;
INSERT INTO every_type (id, c_text) VALUES (10, 'never committed');
DELETE FROM every_type WHERE id = 1;
ROLLBACK;

-- a large transaction (spills: logical_decoding_work_mem = 64kB)
BEGIN;
INSERT INTO every_type (id, c_int, c_text, c_tags, c_timestamptz)
SELECT i, i * 2, repeat('row ' || i || ' ', 20), ARRAY['t' || (i % 3), 't' || (i % 5)], '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 second'
FROM generate_series(100, 299) i;
UPDATE every_type SET c_int = c_int + 1 WHERE id BETWEEN 100 AND 299 AND id % 2 = 0;
DELETE FROM every_type WHERE id BETWEEN 100 AND 299 AND id % 3 = 0;
COMMIT;

-- KEYS_ONLY: keys S + N
INSERT INTO keys_only VALUES ('p1', 1, 'a'), ('p1', 2, 'b'), ('p2', 1, 'c');
UPDATE keys_only SET v = 'b2' WHERE pk = 'p1' AND sk = 2;
UPDATE keys_only SET sk = 3 WHERE pk = 'p2';                       -- key change
DELETE FROM keys_only WHERE pk = 'p1' AND sk = 1;

-- NEW_IMAGE: key N (bigint)
INSERT INTO new_only VALUES (1, 'one', 1.10, '{"k": [1, "2", {"3": null}]}'), (-9223372036854775808, 'min', NULL, 'null');
UPDATE new_only SET n = 2.20, j = '[]' WHERE id = 1;
DELETE FROM new_only WHERE id = -9223372036854775808;

-- OLD_IMAGE: key B
INSERT INTO old_only VALUES ('\x01', 'one', '2026-11-27'), ('\xff00', 'two', NULL);
UPDATE old_only SET v = 'uno' WHERE id = '\x01';
DELETE FROM old_only WHERE id = '\xff00';

-- a document column: DynamoDB JSON of every type (numbers and binaries to
-- canonical form, duplicates in sets), plain JSON, a mixed document (plain),
-- members named like a column (the column wins) or like the document, NULL,
-- an empty object, an array; then updates, a key change and a delete
INSERT INTO documents VALUES ('typed', 1, '{"name": {"S": "pen"}, "price": {"N": "01.50"},
	"tags": {"SS": ["b", "a", "b"]}, "nums": {"NS": ["1", "1.0", "2E0", "-0.5"]},
	"blob": {"B": "AQI="}, "bins": {"BS": ["AQ==", "AQ==", "/w=="]}, "ok": {"BOOL": false},
	"none": {"NULL": true}, "empty": {"S": ""}, "big": {"N": "9007199254740993"},
	"addr": {"M": {"city": {"S": "Oslo"}, "zip": {"N": "0150"}, "geo": {"L": [{"N": "59.9"}, {"N": "10.75"}]}}},
	"list": {"L": [{"S": "x"}, {"N": "2"}, {"L": []}, {"M": {}}, {"SS": ["s"]}]}}'),
	('plain', 2, '{"name": "pen", "price": 1.50, "tags": ["a", "b"], "addr": {"city": "Oslo", "n": [1, 2.5]},
	"ok": true, "none": null}'),
	('mixed', 3, '{"name": {"S": "pen"}, "count": 3, "n": {"N": "abc"}}'),
	('clash', 4, '{"qty": {"N": "99"}, "id": {"S": "other"}, "item": {"S": "self"}, "color": {"S": "red"}}'),
	('null', 5, NULL), ('empty', 6, '{}'), ('array', 7, '[1, {"S": "x"}, "y"]');
UPDATE documents SET item = item || '{"color": {"S": "blue"}}' WHERE id = 'clash';
UPDATE documents SET item = '{"name": {"S": "pencil"}, "qty": {"N": "5"}}' WHERE id = 'plain';
UPDATE documents SET qty = qty WHERE id = 'typed';                  -- no-op
UPDATE documents SET id = 'renamed' WHERE id = 'mixed';            -- key change
UPDATE documents SET item = NULL WHERE id = 'empty';
DELETE FROM documents WHERE id = 'array';

-- a table without a stream
INSERT INTO no_stream VALUES (1, 'not streamed');
UPDATE no_stream SET v = 'still not' WHERE id = 1;

-- changes after a stream is disabled are not captured
SELECT conf.disable('new_only') IS NOT NULL AS disabled;
INSERT INTO new_only VALUES (2, 'after disable', 3, NULL);
UPDATE new_only SET v = 'after disable' WHERE id = 1;

-- and the last word for every_type
UPDATE every_type SET c_interval = '1 day', c_timetz = '12:00:00+00', c_time = '12:00:00.5' WHERE id = 3;

-- numbers: DynamoDB's canonical form from every type, and the fallbacks (S)
-- for what a DynamoDB number cannot hold
INSERT INTO numbers (id, n, f8, f4, m, i8, j, js, ns, fa) VALUES
	(1, 1.50, 1e20, 1e-7, 12.30, 9007199254740993, '{"a": 1.50, "b": 1e20, "c": -0.0, "d": 1E-7}',
		'[0.000, 123.4500, 2.5e+3, 1e-130]', '{1.50,1.5,2,2.00,-0.0,0}', '{1e20,0.1,-0,9007199254740992}'),
	(2, 0.000, '-0', '-0', 0, 0, '[1e126, 0.1234567890123456789012345678901234567891]', '-0.10',
		'{1,NaN}', '{18446744073709551616,1e-300,5e-300}'),
	(3, -0.0, 1.7976931348623157e308, 3.4028235e38, -1.50, -9223372036854775808, '1e-131', '1e125',
		'{1,123456789012345678901234567890123456789}', '{1e125,1e-130}'),
	(4, 1e-130, 5e-324, '1e-45', '-92233720368547758.08', 1, '9.9999999999999999999999999999999999999e125', '0',
		'{1e-130,9.9999999999999999999999999999999999999e125}', NULL),
	(5, 1e-131, 1e-130, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL),
	(6, 1e126, 1e126, 'Infinity', NULL, NULL, NULL, NULL, NULL, NULL),
	(7, 9.9999999999999999999999999999999999999e125, 1e125, 16777217, NULL, NULL, NULL, NULL, NULL, NULL),
	(8, 123456789012345678901234567890123456789, 'NaN', 0.1, NULL, NULL, NULL, NULL, NULL, NULL),
	(9, 12345678901234567890123456789012345678, '-Infinity', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(10, 'NaN', 1.0::float8 / 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(11, '-Infinity', -1.2345e-5, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
-- the property test: random numerics of 1 to 45 digits and exponents
-- -150..150, random doubles of exponents -310..307, random reals (setseed:
-- the same values every run); each must come back as its value in canonical
-- form, or as S where DynamoDB cannot hold it
SELECT setseed(0.4242) IS NULL AS seeded;
INSERT INTO numbers (id, n, f8, f4, j)
SELECT 1000 + i, x.n, x.f8, x.f4, jsonb_build_array(x.n, x.n * 10)
FROM generate_series(1, 1500) AS i,
LATERAL (SELECT
	((CASE WHEN random() < 0.5 THEN '-' ELSE '' END) || d.digits || 'e' || (floor(random() * 301)::int - 150))::numeric AS n,
	(CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * (0.1 + random() * 0.9)
		* power(10::float8, floor(random() * 618)::int - 310) AS f8,
	((CASE WHEN random() < 0.5 THEN -1 ELSE 1 END) * (0.1 + random() * 0.9)
		* power(10::float8, floor(random() * 82)::int - 44))::real AS f4
	FROM (SELECT string_agg(floor(random() * 10)::int::text, '') AS digits
	      FROM generate_series(1, 1 + floor(random() * 45)::int + 0 * i)) AS d) AS x;
