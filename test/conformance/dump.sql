-- test/conformance/dump.sql: what check.mjs compares the records with, as
-- one JSON document.
SELECT json_build_object(
	'tables', (
		SELECT json_agg(json_build_object(
			'tbl', t.tbl,
			'view_type', t.view_type,
			'set_columns', t.set_columns,
			'document_column', t.document_column,
			'enabled', t.enabled,
			'key_columns', (
				SELECT json_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum))
				FROM pg_index i
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
				WHERE i.indrelid = t.tbl::regclass AND i.indisprimary),
			'columns', (
				SELECT json_agg(a.attname ORDER BY a.attnum)
				FROM pg_attribute a
				WHERE a.attrelid = t.tbl::regclass AND a.attnum > 0 AND NOT a.attisdropped),
			'final', conf.final(t.tbl)
		) ORDER BY t.tbl)
		FROM conf.tables t),
	'streams', (SELECT coalesce(json_agg(s), '[]') FROM orders_stream.list_streams() s),
	'log', (SELECT coalesce(json_agg(l ORDER BY l.n), '[]') FROM conf.log l)
);
