--
-- numbers: every number is DynamoDB's canonical decimal text, whatever its
-- type (integers, numeric, real, double precision, money, json and jsonb
-- numbers, NS members) and whatever the session's settings: no exponent, no
-- leading zeros, no trailing zeros after the point (nor a bare point), no
-- "+", no negative zero.  What a DynamoDB number cannot hold -- NaN,
-- Infinity, -Infinity, more than 38 significant digits, a magnitude outside
-- 1E-130 .. 9.9999999999999999999999999999999999999E+125 -- is S holding the
-- type's text: numeric_out's for numeric and json/jsonb numbers, the
-- shortest round-trip digits for real and double precision ("1e+300").
--
\pset format unaligned
SET client_min_messages = warning;
-- settings that would change the text of a number if it leaked through
SET extra_float_digits = -3;
SET lc_numeric = 'C';
CREATE TABLE nm_values (id int PRIMARY KEY, what text,
	i2 int2, i4 int4, i8 int8, n numeric, f4 real, f8 double precision,
	m money, j json, jb jsonb);
SELECT os_mask_arn(orders_stream.enable_stream('nm_values', 'NEW_IMAGE')) AS arn;
SELECT slot_name FROM pg_create_logical_replication_slot('numbers', 'orders_stream');
INSERT INTO nm_values (id, what, n) VALUES
	(1, 'trailing zeros', 1.50),
	(2, 'zero with a scale', 0.000),
	(3, 'negative zero', -0.0),
	(4, 'inner and trailing zeros', 123.4500),
	(5, 'negative', -12.340),
	(6, '1e20', 1e20),
	(7, '1e-7', 1e-7),
	(8, 'smallest magnitude', 1e-130),
	(9, 'largest magnitude', 9.9999999999999999999999999999999999999e125),
	(10, 'largest negative', -9.9999999999999999999999999999999999999e125),
	(11, 'too large', 1e126),
	(12, 'too small', 1e-131),
	(13, '38 digits', 12345678901234567890123456789012345678),
	(14, '39 digits', 123456789012345678901234567890123456789),
	(15, '38 digits, then zeros', 1234567890123456789012345678901234567800),
	(16, '39 digits after the point, scale 40', 0.1234567890123456789012345678901234567890),
	(17, 'NaN', 'NaN'),
	(18, 'Infinity', 'Infinity'),
	(19, '-Infinity', '-Infinity'),
	(20, 'digits on both sides of zeros', 1000.0001);
INSERT INTO nm_values (id, what, f8) VALUES
	(21, 'float8 1e20', 1e20),
	(22, 'float8 0.1', 0.1),
	(23, 'float8 -0', '-0'),
	(24, 'float8 1e-7', 1e-7),
	(25, 'float8 2^53', 9007199254740992),
	(26, 'float8 2^53 + 2', 9007199254740994),
	(27, 'float8 2^64', 18446744073709551616),
	(28, 'float8 1/3', 1.0::float8 / 3),
	(29, 'float8 max', '1.7976931348623157e308'),
	(30, 'float8 1e125', 1e125),
	(31, 'float8 1e126', 1e126),
	(32, 'float8 1e-130', 1e-130),
	(33, 'float8 1.5e-131', 1.5e-131),
	(34, 'float8 smallest subnormal', '5e-324'),
	(35, 'float8 -1.2345e-5', -1.2345e-5),
	(36, 'float8 NaN', 'NaN'),
	(37, 'float8 -Infinity', '-Infinity'),
	(38, 'float8 123456789.125', 123456789.125);
INSERT INTO nm_values (id, what, f4) VALUES
	(41, 'float4 1e-7', 1e-7),
	(42, 'float4 0.1', 0.1),
	(43, 'float4 -0', '-0'),
	(44, 'float4 max', '3.4028235e38'),
	(45, 'float4 smallest subnormal', '1e-45'),
	(46, 'float4 16777217', 16777217),
	(47, 'float4 Infinity', 'Infinity');
INSERT INTO nm_values (id, what, i2, i4, i8) VALUES
	(51, 'integer extremes', -32768, 0, 9223372036854775807);
INSERT INTO nm_values (id, what, m) VALUES
	(61, 'money 12.30', 12.30),
	(62, 'money 0', 0),
	(63, 'money -1.50', -1.50),
	(64, 'money min', '-92233720368547758.08');
INSERT INTO nm_values (id, what, j, jb) VALUES
	(71, 'json numbers', '{"a": 1.50, "b": 1e20, "c": -0.0, "d": 1E-7, "e": [0.000, 123.4500, 2.5e+3]}',
		'{"a": 1.50, "b": 1e20, "c": -0.0, "d": 1E-7, "e": [0.000, 123.4500, 2.5e+3]}'),
	(72, 'json numbers DynamoDB cannot hold', '[1e126, 0.1234567890123456789012345678901234567891]',
		'[1e126, 0.1234567890123456789012345678901234567891]'),
	(73, 'a json number alone', '-0.10', '1e-130');
SELECT os_fetch('numbers');
SELECT * FROM os_check();
SELECT (new_image->'id'->>'N')::int AS id, new_image->'what'->>'S' AS what, a.key AS attr, a.value
FROM os_last, jsonb_each(new_image) AS a
WHERE a.key NOT IN ('id', 'what') AND a.value <> '{"NULL": true}'
ORDER BY 1, 3;
-- the raw text is the same: no number is written with an exponent
SELECT count(*) AS records, count(*) FILTER (WHERE raw ~ '"N":"[^"]*[eE+]') AS with_exponent
FROM os_records;
-- N sizes count significant digits (ceil(digits / 2) + 1); S fallbacks their
-- text: Keys "id" 3 + NewImage "id" 3 + "v" 1 + the value
CREATE TABLE nm_size (id text PRIMARY KEY, v numeric);
SELECT os_mask_arn(orders_stream.enable_stream('nm_size', 'NEW_IMAGE')) AS arn;
INSERT INTO nm_size VALUES
	('a', 1.50), ('b', 1e20), ('c', 1e-7), ('d', 123.4500), ('e', -0.0),
	('f', 12345678901234567890123456789012345678),
	('g', 123456789012345678901234567890123456789), ('h', 'NaN'), ('i', 1e-130);
SELECT os_fetch('numbers');
SELECT keys->'id'->>'S' AS id, length(coalesce(new_image->'v'->>'N', new_image->'v'->>'S')) AS chars,
	CASE WHEN new_image->'v' ? 'N' THEN 'N' ELSE 'S' END AS type, size - 7 AS value_size
FROM os_last ORDER BY n;
-- NS: members are canonical, so numbers of equal value meet as one member,
-- whatever their type's text was (1.50 and 1.5, 1e20 and 100000000000000000000,
-- 0 and -0).  A set with a member no DynamoDB number can hold is no NS: the
-- attribute is the column's L, every element kept, the odd one as S.
CREATE TABLE nm_sets (id int PRIMARY KEY, decs numeric[], floats float8[], reals real[]);
SELECT os_mask_arn(orders_stream.enable_stream('nm_sets', 'NEW_IMAGE', '{decs,floats,reals}')) AS arn;
INSERT INTO nm_sets VALUES
	(1, '{1.50,1.5,2,2.00,-0.0,0}', '{1e20,100000000000000000000,0.1,-0,0}', '{0.5,0.50,1e-7}'),
	(2, '{1,NaN,1}', '{1,Infinity}', '{1,-Infinity,NULL}'),
	(3, '{1,123456789012345678901234567890123456789}', '{1e300,1}', NULL);
SELECT os_fetch('numbers');
SELECT (new_image->'id'->>'N')::int AS id, a.key AS attr, a.value, size
FROM os_last, jsonb_each(new_image) AS a
WHERE a.key <> 'id' ORDER BY 1, 2;
SELECT pg_drop_replication_slot('numbers');
