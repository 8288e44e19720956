# 010_hostile_roles.pl: an ordinary role cannot escalate, spy or forge.
#
# alice owns "orders" (with a secret column) and a mapping on its stream;
# bob is an ordinary role with CREATE on his own schema only.  bob shadows
# pg_catalog functions and operators in his schema, puts it first on his
# search_path (and on alice's), and calls every API function, TRUNCATE and
# DDL path: every shadow reports the role it ran as, and tries to make bob a
# superuser if that role is one.  Then: privileges of PUBLIC on the
# extension's objects, leaky functions over every view, row-level security,
# owner dependencies, the errors of malformed input, and plain DROP EXTENSION.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use MIME::Base64;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('hostile_roles', extra_conf => q{
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
});

# Runs SQL logged in as a role; returns (rc, stdout, stderr).
sub as { my ($role, $q) = @_; return OrdersStream::psql_login($node, $role, $q); }

# SQLSTATE of the statement's error ('' if none), run as a role.
sub sqlstate
{
	my ($role, $q) = @_;
	my ($rc, $out, $err) = as($role, "\\set VERBOSITY sqlstate\n$q");
	return $err =~ /ERROR:\s+([0-9A-Z]{5})/ ? $1 : '';
}

sub is_superuser
{
	return sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'bob'});
}

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
CREATE SCHEMA bob AUTHORIZATION bob;
GRANT CREATE ON SCHEMA public TO alice;
});

as('alice', q{
CREATE TABLE orders (id text PRIMARY KEY, item text NOT NULL, quantity int NOT NULL, secret text);
SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
CREATE FUNCTION alice_agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF event->'Records'->0->'dynamodb'->'NewImage'->'secret'->>'S' LIKE 'boom%' THEN
		RAISE EXCEPTION 'alice-private-error %', event->'Records'->0->'dynamodb'->'NewImage'->'secret'->>'S';
	END IF;
END
$$;
});
my $alice_arn = sql(q{SELECT stream_arn FROM orders_stream.streams WHERE table_name = 'orders'});
my $shard = sql(qq{SELECT shard_id FROM orders_stream.streams WHERE stream_arn = '$alice_arn'});
my $alice_mapping = (as('alice', q{
SELECT orders_stream.create_event_source_mapping('orders', 'alice_agg(jsonb)',
	starting_position => 'TRIM_HORIZON', maximum_retry_attempts => 0)}))[1];
ok($alice_mapping =~ /^[0-9a-f-]{36}$/, 'alice has a mapping');
as('alice', q{INSERT INTO orders VALUES ('o1', 'book', 1, 'boom-topsecret')});
ok($node->poll_query_until('postgres', qq{
	SELECT last_error LIKE '%alice-private-error%' FROM orders_stream.event_source_mapping_status
	 WHERE uuid = '$alice_mapping'}), "alice's mapping has failed with her secret in last_error");

# ---- bob's trap: shadows of pg_catalog functions and operators ----
as('bob', q{
CREATE TABLE bob.hits (role name, what text);
GRANT INSERT ON bob.hits TO PUBLIC;
GRANT USAGE ON SCHEMA bob TO PUBLIC;
CREATE FUNCTION bob.pwn(what text) RETURNS boolean LANGUAGE plpgsql
SET search_path = pg_catalog AS $$
BEGIN
	INSERT INTO bob.hits VALUES (current_user, what);
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'ALTER ROLE bob SUPERUSER';
	END IF;
	RETURN true;
END
$$;
GRANT EXECUTE ON FUNCTION bob.pwn(text) TO PUBLIC;
});

# name, argument types, result type, body in terms of pg_catalog's function
my @shadows = (
	[ 'now',                       '',                       'timestamptz', 'pg_catalog.now()' ],
	[ 'clock_timestamp',           '',                       'timestamptz', 'pg_catalog.clock_timestamp()' ],
	[ 'pg_current_wal_insert_lsn', '',                       'pg_lsn',      'pg_catalog.pg_current_wal_insert_lsn()' ],
	[ 'pg_current_wal_lsn',        '',                       'pg_lsn',      'pg_catalog.pg_current_wal_lsn()' ],
	[ 'current_setting',           'text',                   'text',        'pg_catalog.current_setting($1)' ],
	[ 'set_config',                'text, text, boolean',    'text',        'pg_catalog.set_config($1, $2, $3)' ],
	[ 'has_table_privilege',       'oid, text',              'boolean',     'pg_catalog.has_table_privilege($1, $2)' ],
	[ 'has_table_privilege',       'oid, oid, text',         'boolean',     'pg_catalog.has_table_privilege($1, $2, $3)' ],
	[ 'has_function_privilege',    'oid, regprocedure, text', 'boolean',    'pg_catalog.has_function_privilege($1, $2, $3)' ],
	[ 'pg_has_role',               'oid, text',              'boolean',     'pg_catalog.pg_has_role($1, $2)' ],
	[ 'pg_has_role',               'oid, oid, text',         'boolean',     'pg_catalog.pg_has_role($1, $2, $3)' ],
	[ 'row_security_active',       'regclass',               'boolean',     'pg_catalog.row_security_active($1)' ],
	[ 'to_regclass',               'text',                   'regclass',    'pg_catalog.to_regclass($1)' ],
	[ 'lpad',                      'text, integer, text',    'text',        'pg_catalog.lpad($1, $2, $3)' ],
	[ 'translate',                 'text, text, text',       'text',        'pg_catalog.translate($1, $2, $3)' ],
	[ 'encode',                    'bytea, text',            'text',        'pg_catalog.encode($1, $2)' ],
	[ 'decode',                    'text, text',             'bytea',       'pg_catalog.decode($1, $2)' ],
	[ 'convert_to',                'text, name',             'bytea',       'pg_catalog.convert_to($1, $2)' ],
	[ 'convert_from',              'bytea, name',            'text',        'pg_catalog.convert_from($1, $2)' ],
	[ 'floor',                     'numeric',                'numeric',     'pg_catalog.floor($1)' ],
	[ 'floor',                     'double precision',       'double precision', 'pg_catalog.floor($1)' ],
	[ 'jsonb_typeof',              'jsonb',                  'text',        'pg_catalog.jsonb_typeof($1)' ],
	[ 'regexp_match',              'text, text',             'text[]',      'pg_catalog.regexp_match($1, $2)' ],
	[ 'gen_random_uuid',           '',                       'uuid',        'pg_catalog.gen_random_uuid()' ],
	[ 'quote_literal',             'text',                   'text',        'pg_catalog.quote_literal($1)' ],
	[ 'quote_ident',               'text',                   'text',        'pg_catalog.quote_ident($1)' ],
	[ 'current_database',          '',                       'name',        'pg_catalog.current_database()' ],
	[ 'pg_is_in_recovery',         '',                       'boolean',     'pg_catalog.pg_is_in_recovery()' ],
	[ 'pg_wal_lsn_diff',           'pg_lsn, pg_lsn',         'numeric',     'pg_catalog.pg_wal_lsn_diff($1, $2)' ],
	[ 'trunc',                     'numeric',                'numeric',     'pg_catalog.trunc($1)' ],
	[ 'upper',                     'text',                   'text',        'pg_catalog.upper($1)' ],
	[ 'length',                    'text',                   'integer',     'pg_catalog.length($1)' ],
	[ 'left',                      'text, integer',          'text',        'pg_catalog.left($1, $2)' ],
	[ 'strpos',                    'text, text',             'integer',     'pg_catalog.strpos($1, $2)' ],
	[ 'jsonb_array_elements',      'jsonb',                  'SETOF jsonb', 'pg_catalog.jsonb_array_elements($1)' ],
);
my $n = 0;
for my $s (@shadows)
{
	my ($name, $args, $ret, $body) = @$s;
	$n++;
	as('bob', qq{
CREATE FUNCTION bob.$name($args) RETURNS $ret LANGUAGE sql
AS \$\$ SELECT $body FROM (SELECT bob.pwn('$name($args)')) p \$\$;
GRANT EXECUTE ON FUNCTION bob.$name($args) TO PUBLIC;});
}

# operators: name, left type, right type, result, pg_catalog expression
my @operators = (
	[ '=',  'oid',         'oid',         'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ '=',  'text',        'text',        'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ '=',  'bigint',      'bigint',      'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ '=',  'integer',     'integer',     'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ '=',  'uuid',        'uuid',        'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ '=',  'name',        'name',        'boolean', '$1 OPERATOR(pg_catalog.=) $2' ],
	[ '<>', 'text',        'text',        'boolean', '$1 OPERATOR(pg_catalog.<>) $2' ],
	[ '<',  'text',        'text',        'boolean', '$1 OPERATOR(pg_catalog.<) $2' ],
	[ '>',  'text',        'text',        'boolean', '$1 OPERATOR(pg_catalog.>) $2' ],
	[ '>=', 'text',        'text',        'boolean', '$1 OPERATOR(pg_catalog.>=) $2' ],
	[ '||', 'text',        'text',        'text',    '$1 OPERATOR(pg_catalog.||) $2' ],
	[ '-',  'timestamptz', 'interval',    'timestamptz', '$1 OPERATOR(pg_catalog.-) $2' ],
	[ '>=', 'timestamptz', 'timestamptz', 'boolean', '$1 OPERATOR(pg_catalog.>=) $2' ],
	[ '<',  'timestamptz', 'timestamptz', 'boolean', '$1 OPERATOR(pg_catalog.<) $2' ],
	[ '~~', 'text',        'text',        'boolean', '$1 OPERATOR(pg_catalog.~~) $2' ],
	[ '->>', 'jsonb',      'text',        'text',    '$1 OPERATOR(pg_catalog.->>) $2' ],
	[ '?',  'jsonb',       'text',        'boolean', '$1 OPERATOR(pg_catalog.?) $2' ],
);
my $k = 0;
for my $o (@operators)
{
	my ($op, $l, $r, $ret, $body) = @$o;
	$k++;
	as('bob', qq{
CREATE FUNCTION bob.op_$k($l, $r) RETURNS $ret LANGUAGE sql
AS \$\$ SELECT $body FROM (SELECT bob.pwn('operator $op($l, $r)')) p \$\$;
CREATE OPERATOR bob.$op (LEFTARG = $l, RIGHTARG = $r, FUNCTION = bob.op_$k);});
}
is(sql(q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'bob'::regnamespace}),
	scalar(@shadows) + scalar(@operators) + 1, 'bob has his shadows in place');

my $trap = "SET search_path = bob, pg_catalog, public;\n";

# ---- bob calls every API function with his path ----
as('bob', q{CREATE TABLE bob.mine (id int PRIMARY KEY, v text);
CREATE FUNCTION bob.agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'bob fails'; END $$;});
my @bob_calls = (
	q{SELECT orders_stream.enable_stream('bob.mine', 'NEW_IMAGE')},
	q{CREATE TABLE bob.ttl (id int PRIMARY KEY, expires_at timestamptz)},
	q{SELECT orders_stream.update_time_to_live('bob.ttl', 'expires_at', true),
		orders_stream.describe_time_to_live('bob.ttl')},
	q{INSERT INTO bob.ttl VALUES (1, pg_catalog.now() OPERATOR(pg_catalog.-) '1 minute'::pg_catalog.interval)},
	q{SELECT orders_stream.list_streams()},
	q{SELECT orders_stream.describe_stream(s."StreamArn") FROM orders_stream.list_streams() s},
	q{SELECT orders_stream.get_records(orders_stream.get_shard_iterator(r.stream_arn, r.shard_id, 'TRIM_HORIZON'))
	  FROM orders_stream.readable_streams r WHERE r.readable},
	q{SELECT orders_stream."ListStreams"("Limit" => 1)},
	q{SELECT orders_stream."DescribeStream"(r.stream_arn, "Limit" => 1, "ExclusiveStartShardId" => 'shardId-00000000000000000000-00000000')
	  FROM orders_stream.readable_streams r WHERE r.readable},
	q{SELECT orders_stream."GetRecords"(orders_stream.get_shard_iterator(r.stream_arn, r.shard_id, 'AT_SEQUENCE_NUMBER',
		orders_stream.sequence_number(r.start_lsn)), 10),
		orders_stream."GetShardIterator"(r.stream_arn, r.shard_id, 'LATEST')
	  FROM orders_stream.readable_streams r WHERE r.readable},
	q{SELECT orders_stream.dynamodb_streams('GetRecords', pg_catalog.jsonb_build_object('ShardIterator',
		orders_stream.get_shard_iterator(r.stream_arn, r.shard_id, 'LATEST'), 'Limit', 5)),
		orders_stream.dynamodb_streams('DynamoDBStreams_20120810.ListStreams', '{"Limit": 2}'),
		orders_stream.dynamodb_streams('DescribeStream', pg_catalog.jsonb_build_object('StreamArn', r.stream_arn))
	  FROM orders_stream.readable_streams r WHERE r.readable},
	q{SELECT orders_stream.create_event_source_mapping('bob.mine', 'bob.agg(jsonb)',
		starting_position => 'TRIM_HORIZON', maximum_retry_attempts => 0)},
	q{INSERT INTO bob.mine VALUES (1, 'x')},
	q{SELECT orders_stream.wait_for_capture('60s')},
	q{SELECT * FROM orders_stream.stream_status},
	q{SELECT * FROM orders_stream.event_source_mapping_status},
	q{SELECT orders_stream.list_event_source_mappings('bob.mine')},
	q{SELECT orders_stream."ListEventSourceMappings"(NULL, 'bob.agg', NULL, 1),
		orders_stream.get_event_source_mapping(uuid) FROM orders_stream.event_source_mapping_status},
	q{SELECT orders_stream."CreateEventSourceMapping"(pg_catalog.jsonb_build_object('EventSourceArn', '} . $alice_arn . q{',
		'FunctionName', 'bob.agg', 'StartingPosition', 'LATEST'))},
	q{SELECT orders_stream.update_event_source_mapping(uuid, batch_size => 7) FROM orders_stream.event_source_mapping_status},
	q{SELECT orders_stream.create_event_source_mapping('} . $alice_arn . q{', 'bob.agg(jsonb)', starting_position => 'TRIM_HORIZON')},
	q{SELECT * FROM orders_stream.create_access_key('bob')},
	q{SELECT * FROM orders_stream.access_keys},
	q{SELECT orders_stream.revoke_access_key(access_key_id) FROM orders_stream.access_keys},
);
for my $q (@bob_calls)
{
	as('bob', $trap . $q);
}
# the TTL worker deletes bob's expired row as bob, with the search_path he enabled TTL with
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM bob.ttl}),
	"the TTL worker expired bob's row");
# bob's mapping fails its record into failures; then bob redrives it (a shadow now())
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM orders_stream.failures f
	  JOIN orders_stream.event_source_mappings m ON m.uuid = f.mapping_uuid
	 WHERE m.function_name = 'bob.agg(jsonb)'}), "bob's failing mapping wrote a failure");
as('bob', $trap . q{SELECT * FROM orders_stream.redrive_failures()});
as('bob', $trap . q{SELECT orders_stream.delete_event_source_mapping(uuid) FROM orders_stream.event_source_mapping_status});
as('bob', $trap . q{SELECT orders_stream.disable_stream('bob.mine')});
as('bob', $trap . q{ALTER TABLE bob.mine ADD COLUMN w int; DROP TABLE bob.mine});

# ---- alice, tricked into bob's path, uses her table ----
as('alice', $trap . q{TRUNCATE orders});
as('alice', $trap . q{CREATE TABLE p (id int PRIMARY KEY) PARTITION BY RANGE (id);
SELECT orders_stream.enable_stream('p');
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10);
TRUNCATE p1;
SELECT orders_stream.disable_stream('p');
DROP TABLE p;});

is(is_superuser(), 'f', 'bob is still an ordinary role');
is(sql(q{SELECT count(*) FROM bob.hits WHERE role <> 'bob'}), '0',
	'no shadow of bob ran as another role')
  or diag(sql(q{SELECT string_agg(DISTINCT role || ': ' || what, E'\n') FROM bob.hits}));
is(sql(q{SELECT string_agg(DISTINCT what, ', ') FROM bob.hits}), '',
	'no shadow ran at all, even as bob: every API function pins its search_path');

# ---- what PUBLIC may do ----
is(sql(q{
	SELECT count(*) FROM pg_proc p
	 WHERE p.pronamespace = 'orders_stream_internal'::regnamespace
	   AND has_function_privilege('bob', p.oid, 'EXECUTE')}), '0',
	'PUBLIC cannot execute any internal function');
is(sql(q{SELECT has_schema_privilege('bob', 'orders_stream_internal', 'USAGE')}), 'f',
	'nor use the internal schema');
is(sql(q{
	SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c
	 WHERE c.relnamespace IN ('orders_stream'::regnamespace, 'orders_stream_internal'::regnamespace)
	   AND c.relkind IN ('r', 'p', 'S')
	   AND (has_table_privilege('bob', c.oid, 'INSERT') OR has_table_privilege('bob', c.oid, 'UPDATE')
			OR has_table_privilege('bob', c.oid, 'DELETE') OR has_table_privilege('bob', c.oid, 'TRUNCATE'))}),
	'', 'PUBLIC has no INSERT, UPDATE, DELETE or TRUNCATE on any table of the extension');
is(sqlstate('bob', q{SELECT orders_stream.disable_dropped_streams(ARRAY['orders'::regclass::oid])}), '42883',
	'disable_dropped_streams is no API any more');
for my $f (qw(stream_head oldest_pending trim_point stream_for_read stream_relid streamed_root))
{
	is(sql(qq{SELECT count(*) FROM pg_proc WHERE proname = '$f' AND pronamespace = 'orders_stream'::regnamespace}),
		'0', "orders_stream.$f is gone from the API");
}
is(sqlstate('bob', q{INSERT INTO orders_stream.event_source_mappings (uuid) VALUES (gen_random_uuid())}), '42501',
	'bob cannot forge a mapping row');
is(sqlstate('bob', q{DELETE FROM orders_stream.event_source_mappings}), '42501', 'nor delete one');
is(sqlstate('bob', q{BEGIN; LOCK orders_stream.event_source_mappings IN ROW EXCLUSIVE MODE}), '42501',
	'nor lock the mappings against the worker');
is(sqlstate('bob', q{SELECT count(*) FROM orders_stream.event_source_mapping_lanes}), '42501',
	'nor read the lanes of mappings (the status view shows his own)');
is(sqlstate('bob', q{UPDATE orders_stream.event_source_mapping_lanes SET checkpoint = ''}), '42501',
	'nor move a lane\'s checkpoint');
is(sqlstate('bob', q{BEGIN; LOCK orders_stream.records IN SHARE MODE}), '42501',
	'nor the stream');
is(sqlstate('bob', qq{SELECT orders_stream.create_event_source_mapping('$alice_arn', 'bob.agg(jsonb)',
	starting_position => 'TRIM_HORIZON')}), '42501',
	"bob cannot map alice's stream, which he may not read");

# ---- leaky functions over every view and table bob can read ----
as('bob', q{
CREATE FUNCTION bob.leak(anyelement) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN RAISE NOTICE 'leak: %', $1; RETURN true; END $$;});
for my $v (
	[ 'orders_stream.event_source_mapping_status', 'last_error' ],
	[ 'orders_stream.event_source_mapping_status', 'configuration' ],
	[ 'orders_stream.stream_status',               'table_name' ],
	[ 'orders_stream.readable_streams',            'table_name' ],
	[ 'orders_stream.readable_streams',            'trim_point' ],
	[ 'orders_stream.records',                     'record' ],
	[ 'orders_stream.failures',                    'message' ],
	[ 'orders_stream.event_source_mapping_status', 'lanes' ],
	[ 'orders_stream.event_source_mappings',       'function_name' ],
	[ 'orders_stream.event_source_mapping_lanes',  'last_error' ])
{
	my ($view, $col) = @$v;
	my ($rc, $out, $err) = as('bob', "SELECT count(*) FROM $view WHERE bob.leak($col)");
	unlike($err, qr/alice-private-error|topsecret|table\/orders|orders_stream\.records/, "no leak of alice's data through $view.$col")
	  or diag($err);
}
is((as('bob', qq{SELECT stream_id IS NULL AND relid IS NULL AND trim_point IS NULL AND NOT readable
	FROM orders_stream.readable_streams WHERE stream_arn = '$alice_arn'}))[1], 't',
	'readable_streams shows bob only the ARN of a stream he may not read');
is(sqlstate('bob', qq{SELECT orders_stream.describe_stream('$alice_arn')}), '42501',
	'describe_stream: AccessDeniedException');

# ---- row-level security ----
as('alice', q{
INSERT INTO orders VALUES ('b1', 'pen', 1, 'for bob'), ('a2', 'ink', 1, 'alice only');
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY bobs ON orders FOR SELECT TO bob USING (id LIKE 'b%');
GRANT SELECT ON orders TO bob;});
OrdersStream::capture($node);
is((as('bob', q{SELECT count(*) FROM orders}))[1], '1', 'bob sees one row of the table itself');
is((as('bob', q{SELECT count(*) FROM orders_stream.records}))[1], '0', 'and no record of its stream');
is((as('bob', q{SELECT count(*) FROM orders_stream.list_streams()}))[1], '0', 'list_streams does not list it');
is(sqlstate('bob', qq{SELECT orders_stream.get_shard_iterator('$alice_arn', '$shard', 'TRIM_HORIZON')}), '42501',
	'get_shard_iterator: AccessDeniedException');
my ($rc, $out, $err) = as('bob', qq{SELECT orders_stream.describe_stream('$alice_arn')});
like($err, qr/row-level security/, 'with a hint about row-level security');
($rc, $out, $err) = as('bob', qq{SELECT orders_stream.dynamodb_streams('DescribeStream', '{"StreamArn": "$alice_arn"}')});
like($err, qr/"__type": "com.amazon.coral.service#AccessDeniedException"/, 'the dispatcher: AccessDeniedException in DETAIL');
is(sqlstate('bob', qq{SELECT orders_stream.create_event_source_mapping('$alice_arn', 'bob.agg(jsonb)',
	starting_position => 'TRIM_HORIZON')}), '42501', 'nor can bob map it');
cmp_ok((as('alice', q{SELECT count(*) FROM orders_stream.records}))[1], '>=', 3,
	'alice, the owner, bypasses her policies and reads the stream');
as('alice', q{ALTER TABLE orders DISABLE ROW LEVEL SECURITY; REVOKE SELECT ON orders FROM bob;});

# ---- the owner of a mapping is a recorded dependency ----
as('alice', q{GRANT SELECT ON orders TO carol});
# a mapping invokes a function of its creator's
sql(q{CREATE FUNCTION carol_agg(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION carol_agg2(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
ALTER FUNCTION carol_agg(jsonb) OWNER TO carol;});
my $carol_mapping = (as('carol', q{
	SELECT orders_stream.create_event_source_mapping('public.orders', 'public.carol_agg(jsonb)',
		starting_position => 'LATEST', enabled => false)}))[1];
like($carol_mapping, qr/^[0-9a-f-]{36}$/, 'carol has a mapping');
($rc, $out, $err) = $node->psql('postgres', 'DROP ROLE carol');
like($err, qr/cannot be dropped because some objects depend on it.*owner of sequence orders_stream_internal\."mapping_/s,
	'DROP ROLE refuses while carol owns a mapping, naming its anchor');
sql('REASSIGN OWNED BY carol TO alice');
is((as('alice', qq{SELECT owner FROM orders_stream.event_source_mapping_status WHERE uuid = '$carol_mapping'}))[1],
	'alice', 'REASSIGN OWNED hands the mapping over');
sql('ALTER FUNCTION carol_agg2(jsonb) OWNER TO carol');
my $carol2 = (as('carol', q{
	SELECT orders_stream.create_event_source_mapping('public.orders', 'public.carol_agg2(jsonb)',
		starting_position => 'LATEST', enabled => false)}))[1];
sql('DROP OWNED BY carol');
is(sql(qq{SELECT count(*) FROM orders_stream.event_source_mappings WHERE uuid = '$carol2'}), '0',
	'DROP OWNED removes her mapping');
sql('REVOKE ALL ON orders FROM carol');
($rc, $out, $err) = $node->psql('postgres', 'DROP ROLE carol');
is($rc, 0, 'then DROP ROLE works') or diag($err);

# ---- malformed input: AWS's exceptions, with SQLSTATEs ----
is(sqlstate('alice', q{SELECT orders_stream.enable_stream(0)}), '42704', 'enable_stream(0): ResourceNotFoundException');
is(sqlstate('alice', q{SELECT orders_stream.get_records('garbage')}), '22023', 'a garbled iterator: ValidationException');
my $now_ms = int(sql(q{SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)}));
sub forged
{
	my ($json) = @_;
	my $b64 = encode_base64($json, '');
	return "$alice_arn|$b64";
}
for my $bad (
	qq|{"s": "$shard", "p": "x", "t": $now_ms}|,
	qq|{"s": "$shard", "p": "", "t": "abc"}|,
	qq|{"s": "$shard", "p": "", "t": $now_ms, "i": "maybe"}|,
	qq|{"s": "$shard", "p": "", "t": $now_ms, "c": "not-an-lsn"}|,
	qq|{"s": "$shard", "p": "", "t": 1e400}|,
	qq|{"s": "$shard", "p": ""}|,
	qq|[1, 2]|,
	qq|{"s": "$shard", "p": "", "t": | . ($now_ms + 3600 * 1000) . '}')
{
	is(sqlstate('alice', "SELECT orders_stream.get_records('" . forged($bad) . "')"), '22023',
		"forged iterator $bad: ValidationException");
}
is(sqlstate('alice', "SELECT orders_stream.get_records('" . forged(qq|{"s": "$shard", "p": "", "t": | . ($now_ms - 16 * 60 * 1000) . '}') . "')"),
	'55000', 'a forged iterator expires like a real one: ExpiredIteratorException');
is(sqlstate('alice', q{SELECT orders_stream.wait_for_capture('1000000 years')}), '22023',
	'an absurd timeout: ValidationException');
is(sqlstate('alice', q{SELECT orders_stream.wait_for_capture('-1s')}), '22023', 'a negative one too');
is(sqlstate('alice', qq{SELECT orders_stream.update_event_source_mapping('$alice_mapping', filter_criteria => '{"Filters": [{"Pattern": "{\\"a\\": [{\\"numeric\\": [\\">\\", 1e400]}]}"}]}')}),
	'22023', 'a filter number beyond float8: InvalidParameterValueException');

# a table name with any characters round-trips through an iterator
as('alice', q{CREATE TABLE "a|b ""q""" (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('"a|b ""q"""');
INSERT INTO "a|b ""q""" VALUES (42);});
OrdersStream::capture($node);
is((as('alice', q{
	SELECT r->'Records'->0->'dynamodb'->'Keys'->'id'->>'N'
	  FROM orders_stream.list_streams() s,
		   orders_stream.get_records(orders_stream.get_shard_iterator(s."StreamArn",
				orders_stream.describe_stream(s."StreamArn")->'StreamDescription'->'Shards'->0->>'ShardId',
				'TRIM_HORIZON')) r
	 WHERE s."TableName" = 'a|b "q"'}))[1], '42', 'a table named a|b "q" reads through its iterator');

# ---- plain DROP EXTENSION, with streams and mappings present ----
($rc, $out, $err) = $node->psql('postgres', 'DROP EXTENSION orders_stream');
is($rc, 0, 'DROP EXTENSION works without CASCADE') or diag($err);
is(sql(q{SELECT count(*) FROM pg_trigger WHERE tgname = 'orders_stream_truncate_guard'}), '0',
	'it takes the TRUNCATE guards along');
is(sql(q{SELECT count(*) FROM pg_class WHERE relname LIKE 'mapping\_%'}), '0', 'and the mapping anchors');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_replication_slots}),
	'and the capture slot goes');
as('alice', q{TRUNCATE orders});
is((as('alice', q{SELECT count(*) FROM orders}))[1], '0', 'TRUNCATE works again');

$node->stop;
done_testing();
