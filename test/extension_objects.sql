-- test/extension_objects.sql: the objects of the installed orders_stream
-- extension, one sorted line per fact, for t/096_upgrade.pl to compare a
-- database updated from 1.0 with a freshly installed one.  Everything a
-- user or pg_dump can tell apart: each member (pg_depend deptype 'e') with
-- its definition, owner, privileges, options and comment; the columns,
-- defaults, constraints, indexes, triggers and policies of each table; the
-- extension's configuration tables for pg_dump.  Partitions of
-- record_store are left out: their names are the hour they were made.
WITH ext AS (
	SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'orders_stream'
), member AS (
	SELECT d.classid, d.objid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
	   AND NOT (d.classid = 'pg_class'::regclass
				AND (SELECT c.relispartition FROM pg_class c WHERE c.oid = d.objid))
), rel AS (
	SELECT c.* FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
), facts(line) AS (
	-- every member, by its identity
	SELECT format('member %s %s', i.type, i.identity)
	  FROM member m, pg_identify_object(m.classid, m.objid, 0) i
	UNION ALL
	-- functions and procedures (aggregates: their signature and support)
	SELECT format('function %s: kind %s volatility %s strict %s secdef %s leakproof %s parallel %s owner %s acl %s config %s comment %s%s',
				  p.oid::regprocedure, p.prokind, p.provolatile, p.proisstrict, p.prosecdef,
				  p.proleakproof, p.proparallel, p.proowner::regrole, p.proacl, p.proconfig,
				  obj_description(p.oid, 'pg_proc'),
				  CASE WHEN p.prokind = 'a' THEN ''
					   ELSE E'\n' || pg_get_functiondef(p.oid) END)
	  FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	UNION ALL
	-- relations: kind, options, owner, privileges, comment, persistence, RLS
	SELECT format('relation %s: kind %s persistence %s owner %s acl %s options %s rls %s/%s comment %s',
				  r.oid::regclass, r.relkind, r.relpersistence, r.relowner::regrole, r.relacl,
				  r.reloptions, r.relrowsecurity, r.relforcerowsecurity, obj_description(r.oid, 'pg_class'))
	  FROM rel r
	UNION ALL
	SELECT format('view %s: %s', r.oid::regclass, pg_get_viewdef(r.oid))
	  FROM rel r WHERE r.relkind IN ('v', 'm')
	UNION ALL
	-- columns
	SELECT format('column %s.%s: %s notnull %s default %s collation %s identity %s generated %s acl %s comment %s',
				  r.oid::regclass, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
				  pg_get_expr(ad.adbin, ad.adrelid), co.collname, a.attidentity, a.attgenerated,
				  a.attacl, col_description(r.oid, a.attnum))
	  FROM rel r
	  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
	  LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
	UNION ALL
	-- the position of each column: ADD COLUMN appends, a fresh table may not
	SELECT format('column order %s: %s', r.oid::regclass,
				  (SELECT string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_attribute a
					WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped))
	  FROM rel r WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
	UNION ALL
	SELECT format('constraint %s %s: %s deferrable %s/%s comment %s', r.oid::regclass, c.conname,
				  pg_get_constraintdef(c.oid), c.condeferrable, c.condeferred,
				  obj_description(c.oid, 'pg_constraint'))
	  FROM rel r JOIN pg_constraint c ON c.conrelid = r.oid
	UNION ALL
	SELECT format('index %s: %s', r.oid::regclass, pg_get_indexdef(i.indexrelid))
	  FROM rel r JOIN pg_index i ON i.indrelid = r.oid
	UNION ALL
	SELECT format('trigger %s %s: %s enabled %s', r.oid::regclass, t.tgname,
				  pg_get_triggerdef(t.oid), t.tgenabled)
	  FROM rel r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
	UNION ALL
	SELECT format('policy %s %s: %s %s roles %s using %s check %s', r.oid::regclass, p.polname,
				  p.polcmd, p.polpermissive, p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
				  pg_get_expr(p.polwithcheck, p.polrelid))
	  FROM rel r JOIN pg_policy p ON p.polrelid = r.oid
	UNION ALL
	SELECT format('sequence %s: %s start %s increment %s min %s max %s cache %s cycle %s',
				  r.oid::regclass, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
				  s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
	  FROM rel r JOIN pg_sequence s ON s.seqrelid = r.oid
	UNION ALL
	-- rules other than a view's own
	SELECT format('rule %s %s: %s', r.oid::regclass, w.rulename, pg_get_ruledef(w.oid))
	  FROM rel r JOIN pg_rewrite w ON w.ev_class = r.oid AND w.rulename <> '_RETURN'
	UNION ALL
	SELECT format('event trigger %s: on %s calls %s enabled %s tags %s owner %s comment %s',
				  e.evtname, e.evtevent, e.evtfoid::regprocedure, e.evtenabled, e.evttags,
				  e.evtowner::regrole, obj_description(e.oid, 'pg_event_trigger'))
	  FROM pg_event_trigger e JOIN member m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
	UNION ALL
	SELECT format('schema %s: owner %s acl %s comment %s', n.nspname, n.nspowner::regrole, n.nspacl,
				  obj_description(n.oid, 'pg_namespace'))
	  FROM pg_namespace n
	 WHERE n.nspname IN ('orders_stream', 'orders_stream_internal')
	UNION ALL
	SELECT format('type %s: %s owner %s acl %s comment %s', t.oid::regtype, t.typtype,
				  t.typowner::regrole, t.typacl, obj_description(t.oid, 'pg_type'))
	  FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
	UNION ALL
	-- what pg_dump dumps of the extension's tables
	SELECT format('config %s where %s', c.relid::regclass, c.condition)
	  FROM ext, unnest(ext.extconfig, ext.extcondition) AS c(relid, condition)
)
SELECT line FROM facts ORDER BY line COLLATE "C";
