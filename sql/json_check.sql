--
-- json_check: record_json() checks every record it renders with a
-- validator of its own (src/json_check.c), which must accept exactly what
-- json_in() accepts.  record_json() writes the body it is passed as the
-- first members of the record's "dynamodb" object, which other members
-- follow, inside the record: so a record is JSON exactly when the same body
-- in a record of the same shape is, for json_in().  Hand-picked bodies,
-- then thousands of random mutations of a real one.
--
\pset format unaligned
SET client_min_messages = warning;

CREATE FUNCTION jc_json_in(body text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ('{"eventID":"e","dynamodb":{' || body || ',"SequenceNumber":"1","SizeBytes":10},"eventSourceARN":"a"}')::json;
	RETURN true;
EXCEPTION WHEN invalid_text_representation THEN
	RETURN false;
END
$$;

CREATE FUNCTION jc_record_json(body text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM orders_stream.record_json('arn:aws:dynamodb:local:000000000000:table/t/stream/x', 'NEW_IMAGE',
									  '\x000000000100000000000001'::bytea, 'INSERT', body, 10, false);
	RETURN true;
EXCEPTION WHEN invalid_parameter_value THEN
	RETURN false;
END
$$;

CREATE TABLE jc_cases (body text);
INSERT INTO jc_cases VALUES
	('"a":1'), ('"a":-1'), ('"a":0'), ('"a":-0'), ('"a":01'), ('"a":1.'), ('"a":.5'), ('"a":1.5'),
	('"a":1e5'), ('"a":1E+5'), ('"a":1e-5'), ('"a":1e'), ('"a":1e+'), ('"a":-'), ('"a":+1'),
	('"a":1.5e3'), ('"a":1x'), ('"a":1_'), ('"a":123456789012345678901234567890'), ('"a":1 '),
	('"a":true'), ('"a":false'), ('"a":null'), ('"a":tru'), ('"a":truex'), ('"a":True'), ('"a":nul'),
	('"a":nullé'), ('"a":"é"'), ('"a":"\u00e9"'), ('"a":"\u00G9"'), ('"a":"\u00e"'), ('"a":"\ud800"'),
	('"a":"\u0000"'), ('"a":"\x"'), ('"a":"\/\b\f\n\r\t\"\\"'), ('"a":"\'), ('"a":"'), ('"a":"b'),
	(E'"a":"\t"'), (E'"a":"\x01"'), (E'"a":"\x1f"'), (E'"a":"\x7f"'), (E' \t\n\r"a" : 1 '),
	(E'"a":\x0b1'), ('"a":[]'), ('"a":[1,2]'), ('"a":[1,]'), ('"a":[,1]'), ('"a":[1 2]'), ('"a":['),
	('"a":]'), ('"a":{}'), ('"a":{"b":1}'), ('"a":{"b":}'), ('"a":{"b"}'), ('"a":{b:1}'), ('"a":{1:1}'),
	('"a":{"b":1,}'), ('"a":{"b":1 "c":2}'), ('"a":{"b":1}}'), ('"a":{"b":[{"c":[[]]}]}'),
	('"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'),
	('"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":[{"l":1}]}}}}}}}}}}}'),
	('"a":1,"b":2'), ('"a":1,,"b":2'), ('"a":1,'), (''), (' '), ('"a"'), ('"a":'), (':1'), ('"a"::1'),
	('"a":1}'), ('"a":1},"evil":{"b":1'), ('"Keys":{}}},"evil":{"a":1'), ('"a":{"b":1}]'),
	('"ApproximateCreationDateTime":1,"Keys":{"id":{"N":"1"}},"NewImage":{"id":{"N":"1"},"s":{"S":"x\"y"}}');
-- deeper than the validator's first 64 levels, closed and not
INSERT INTO jc_cases
SELECT '"a":' || repeat(o, d) || inner_value || repeat(c, d - k)
  FROM (VALUES ('[', '', ']'), ('{"k":', '1', '}')) b(o, inner_value, c),
	   (VALUES (64), (65), (200), (1000)) x(d), (VALUES (0), (1)) y(k);

-- hand-picked: the two agree on every one
SELECT count(*) AS cases,
	   count(*) FILTER (WHERE jc_json_in(body)) AS json,
	   count(*) FILTER (WHERE jc_json_in(body) IS DISTINCT FROM jc_record_json(body)) AS disagree
  FROM jc_cases;
SELECT body, jc_json_in(body) AS json_in, jc_record_json(body) AS record_json
  FROM jc_cases WHERE jc_json_in(body) IS DISTINCT FROM jc_record_json(body);

-- random mutations of a real body: a character of JSON's (or a letter, a
-- digit, a control) inserted, deleted or swapped at random places
SELECT setseed(0.17);
CREATE TABLE jc_fuzz AS
WITH RECURSIVE m(i, body) AS (
	SELECT 0, '"ApproximateCreationDateTime":1700000000,"Keys":{"id":{"N":"12"}},"NewImage":{"id":{"N":"-1.5e3"},"ok":{"BOOL":true},"n":{"NULL":true},"l":{"L":[{"S":"a\"\\\/\u00e9b"},{"N":"0"}]}}'
	UNION ALL
	SELECT i + 1, body FROM m WHERE i < 3000
), mutated AS (
	SELECT i, body, 1 + floor(random() * 3)::int AS edits FROM m WHERE i > 0
)
SELECT i, (SELECT string_agg(c, '') FROM (
		SELECT CASE WHEN random() < 0.02 * edits
					THEN (ARRAY['', '{', '}', '[', ']', ':', ',', '"', '\', 'u', 'e', '-', '.', '0', '1', 'a', ' ', E'\x01', 'tr', 'null'])
						 [1 + floor(random() * 20)::int]
					ELSE c END AS c
		  FROM regexp_split_to_table(body, '') WITH ORDINALITY AS t(c, n) ORDER BY n) x) AS body
  FROM mutated;
SELECT count(*) AS cases,
	   count(*) FILTER (WHERE jc_json_in(body)) > 100 AS some_json,
	   count(*) FILTER (WHERE NOT jc_json_in(body)) > 100 AS some_not,
	   count(*) FILTER (WHERE jc_json_in(body) IS DISTINCT FROM jc_record_json(body)) AS disagree
  FROM jc_fuzz;
SELECT body, jc_json_in(body) AS json_in, jc_record_json(body) AS record_json
  FROM jc_fuzz WHERE jc_json_in(body) IS DISTINCT FROM jc_record_json(body) LIMIT 5;

DROP TABLE jc_cases, jc_fuzz;
DROP FUNCTION jc_json_in(text), jc_record_json(text);
