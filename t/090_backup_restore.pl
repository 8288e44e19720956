# 090_backup_restore.pl: pg_dump and pg_restore of a database with streams.
#
# A cluster with two roles' tables (one partitioned), each with a stream and a mapping (with
# delivered records, so checkpoints), a failure, TTL settings (on a table
# that had a column dropped, so the attribute's number changes in the
# restore) and an access key is dumped (globals with pg_dumpall -g, the
# database in custom and in plain format) and restored into fresh clusters
# (whole, or schema then data only).
# What README "Backup and restore" promises is checked:
#  - the records are not in the dump; after the restore no stream shows the
#    old stream's records, and a stream enabled after the restore gets a new
#    stream_id (never the id of a dumped stream), nor do failures reuse ids;
#  - until the restore is resumed, nothing of the dumped configuration is
#    live; at the restored cluster's first start (custom format: restart)
#    or by resume_restored_streams() (plain format), each stream comes back
#    as a new stream of its table (new stream_id and ARN), with its
#    mappings (same UUIDs, same owners) delivering every change made since,
#    and nothing from before;
#  - a stream's document column comes back with it;
#  - TTL settings (by attribute name, renamed after TTL was enabled), failures (visible to their owner
#    only), access keys (of the same role), ownership, privileges and the
#    TRUNCATE guard are back.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = OrdersStream::new_node('old', extra_conf => "orders_stream.ttl_naptime = 200ms\n");
$old->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT CREATE ON SCHEMA public TO alice, bob;
});
OrdersStream::psql_as($old, 'alice', q{
CREATE TABLE a_orders (id int PRIMARY KEY, junk int, secret text, exp bigint);
ALTER TABLE a_orders DROP COLUMN junk;
CREATE TABLE a_totals (n bigint NOT NULL);
INSERT INTO a_totals VALUES (0);
CREATE FUNCTION a_agg(event jsonb) RETURNS void LANGUAGE sql
	AS $$ UPDATE a_totals SET n = n + jsonb_array_length(event->'Records') $$;
CREATE FUNCTION a_fail(event jsonb) RETURNS void LANGUAGE plpgsql
	AS $$ BEGIN RAISE EXCEPTION 'a_fail refuses'; END $$;
SELECT orders_stream.enable_stream('a_orders');
SELECT orders_stream.update_time_to_live('a_orders', 'exp', true);
GRANT SELECT ON a_orders TO bob;
});
my ($rc, $out, $err) = OrdersStream::psql_as($old, 'bob', q{
CREATE TABLE b_orders (id int PRIMARY KEY, secret text, doc jsonb) PARTITION BY RANGE (id);
CREATE TABLE b_orders_low PARTITION OF b_orders FOR VALUES FROM (0) TO (50);
CREATE TABLE b_orders_high PARTITION OF b_orders FOR VALUES FROM (50) TO (1000);
CREATE TABLE b_totals (n bigint NOT NULL);
INSERT INTO b_totals VALUES (0);
CREATE FUNCTION b_agg(event jsonb) RETURNS void LANGUAGE sql
	AS $$ UPDATE b_totals SET n = n + jsonb_array_length(event->'Records') $$;
SELECT orders_stream.enable_stream('b_orders', document_column => 'doc');
SELECT access_key_id FROM orders_stream.create_access_key('bob');
});
is($rc, 0, 'bob set up') or diag $err;
my $bob_key = (split /\n/, $out)[-1];

# renamed after TTL was enabled: the dump must name the attribute as it is now
OrdersStream::psql_as($old, 'alice', 'ALTER TABLE a_orders RENAME COLUMN exp TO expires_at');
# (read through to_jsonb: before the fix the table had no attribute_name, and
# the test is to fail at the dump's checks, not here)
$old->poll_query_until('postgres', q{SELECT coalesce(to_jsonb(t)->>'attribute_name', 'expires_at') = 'expires_at'
	FROM orders_stream.time_to_live t WHERE relid = 'a_orders'::regclass})
  or die 'the TTL setting does not follow the rename';

my %mapping;
$mapping{a} = $old->safe_psql('postgres', q{SET ROLE alice;
SELECT orders_stream.create_event_source_mapping('a_orders', 'a_agg(jsonb)', starting_position => 'TRIM_HORIZON')});
$mapping{a_fail} = $old->safe_psql('postgres', q{SET ROLE alice;
SELECT orders_stream.create_event_source_mapping('a_orders', 'a_fail(jsonb)', starting_position => 'TRIM_HORIZON',
	maximum_retry_attempts => 0)});
$mapping{b} = $old->safe_psql('postgres', q{SET ROLE bob;
SELECT orders_stream.create_event_source_mapping('b_orders', 'b_agg(jsonb)', starting_position => 'TRIM_HORIZON')});

$old->safe_psql('postgres', q{
INSERT INTO a_orders SELECT g, 'alice-old-secret-' || g, 4102444800 FROM generate_series(1, 5) g;
INSERT INTO b_orders SELECT g, 'bob-old-secret-' || g FROM generate_series(1, 3) g;
});
OrdersStream::capture($old);
wait_mapping($old, $mapping{$_}, '60s') for qw(a b a_fail);
$old->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM orders_stream.failures WHERE mapping_uuid = '$mapping{a_fail}'")
  or die 'no failure recorded';
is($old->safe_psql('postgres', 'SELECT n FROM a_totals UNION ALL SELECT n FROM b_totals'), "5\n3",
	'before the dump: every record delivered');
my $old_streams = $old->safe_psql('postgres',
	'SELECT string_agg(stream_id || \' \' || stream_arn, \',\' ORDER BY stream_id) FROM orders_stream.streams');
my ($old_max_stream) = $old->safe_psql('postgres', 'SELECT max(stream_id) FROM orders_stream.streams');
my ($old_max_failure) = $old->safe_psql('postgres', 'SELECT max(failure_id) FROM orders_stream.failures');
my ($old_failures) = $old->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.failures');

# the dumps
my $dir = $old->basedir;
my $bindir = $old->config_data('--bindir');
my $globals = "$dir/globals.sql";
$old->command_ok([ "$bindir/pg_dumpall", '-g', '-d', $old->connstr('postgres'), '-f', $globals ],
	'pg_dumpall -g');
$old->command_ok([ "$bindir/pg_dump", '-Fc', '-d', $old->connstr('postgres'), '-f', "$dir/db.dump" ],
	'pg_dump, custom format');
$old->command_ok([ "$bindir/pg_dump", '-Fp', '-d', $old->connstr('postgres'), '-f', "$dir/db.sql" ],
	'pg_dump, plain format');
my $plain = slurp_file("$dir/db.sql");
# (the records of a failure stay with it: failures are in the dump)
unlike($plain, qr/orders_stream\."?records_/, 'the dump holds no record partition');
is(scalar(() = $plain =~ /bob-old-secret-1\b/g), 1, 'the dump holds no stream record: a row is in its table only');
like($plain, qr/COPY orders_stream\.streams /, 'the dump holds the streams');

# a fresh cluster: globals, then the database
sub fresh
{
	my ($name) = @_;
	my $node = OrdersStream::new_node($name, no_extension => 1);
	# the bootstrap superuser exists already: that one error is expected
	$node->psql('postgres', undef, extra_params => [ '-f', $globals ]);
	return $node;
}

# what both restores must show once resumed
sub check_restored
{
	my ($node, $how) = @_;

	is($node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream_internal.restored'), '0',
		"$how: nothing held any more");
	my $streams = $node->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s', relid::regclass, stream_id > }
		  . $old_max_stream . q{, stream_arn = ANY (string_to_array($$} . $old_streams
		  . q{$$, ','))), ',' ORDER BY relid::regclass::text)
  FROM orders_stream.streams WHERE disabled_at IS NULL});
	is($streams, 'a_orders t f,b_orders t f',
		"$how: each stream is back as a new stream (new stream_id, new ARN)");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.record_store'), '0',
		"$how: no record of the dumped streams");

	# the mappings: same UUIDs, same owners, each visible to its owner only
	for my $who ([ 'alice', "$mapping{a} $mapping{a_fail}" ], [ 'bob', $mapping{b} ])
	{
		my ($role, $uuids) = @$who;
		my ($rc, $out, $err) = OrdersStream::psql_as($node, $role,
			'SELECT string_agg(uuid::text, \' \' ORDER BY function_name) FROM orders_stream.event_source_mapping_status');
		is($out, $uuids, "$how: $role sees its mappings, same UUIDs") or diag $err;
	}
	is($node->safe_psql('postgres', q{
SELECT string_agg(format('%s %s', m.function_name, pg_get_userbyid(c.relowner)), ',' ORDER BY m.function_name)
  FROM orders_stream.event_source_mappings m JOIN pg_class c ON c.oid = m.anchor
  JOIN orders_stream.streams s ON s.stream_id = m.stream_id AND s.disabled_at IS NULL}),
		'public.a_agg(jsonb) alice,public.a_fail(jsonb) alice,public.b_agg(jsonb) bob',
		"$how: each mapping points at its table's new stream and its restored function, owned as before");

	# new writes are delivered, once; nothing from before the dump is replayed
	$node->safe_psql('postgres', q{
INSERT INTO a_orders VALUES (100, 'alice-new', NULL), (101, 'alice-new', NULL);
INSERT INTO b_orders VALUES (100, 'bob-new', '{"color": {"S": "red"}}');
});
	OrdersStream::capture($node);
	wait_mapping($node, $mapping{$_}, '60s') for qw(a b);
	is($node->safe_psql('postgres', 'SELECT n FROM a_totals UNION ALL SELECT n FROM b_totals'), "7\n4",
		"$how: the mappings deliver the new writes, and only them");
	is($node->safe_psql('postgres', q{
SELECT string_agg(r.record->'dynamodb'->'NewImage'->'secret'->>'S', ',' ORDER BY r.record->'dynamodb'->>'SequenceNumber')
  FROM orders_stream.records r}), 'alice-new,alice-new,bob-new',
		"$how: the new streams hold the new writes only");
	is($node->safe_psql('postgres', q{
SELECT string_agg(r.record->'dynamodb'->'NewImage'->'color'->>'S', ',') FROM orders_stream.records r}), 'red',
		"$how: the document column is one again");

	# bob reads alice's table, so its stream; alice does not read bob's
	my ($rc, $out, $err) = OrdersStream::psql_as($node, 'alice', 'SELECT count(*) FROM orders_stream.records');
	is($out, '2', "$how: alice reads her stream only");
	($rc, $out, $err) = OrdersStream::psql_as($node, 'bob', 'SELECT count(*) FROM orders_stream.records');
	is($out, '3', "$how: bob reads his stream and alice's (SELECT granted)");

	# TTL: by name, at the attribute's new number
	is($node->safe_psql('postgres', q{SELECT orders_stream.describe_time_to_live('a_orders')
		->'TimeToLiveDescription'->>'AttributeName'}), 'expires_at', "$how: TTL setting back");
	is($node->safe_psql('postgres', q{SELECT t.attnum = a.attnum FROM orders_stream.time_to_live t
		JOIN pg_attribute a ON a.attrelid = t.relid AND a.attname = 'expires_at'}), 't',
		"$how: TTL attribute found by name, not by its dumped number");

	# failures: back, their owner's only, ids not reused
	($rc, $out, $err) = OrdersStream::psql_as($node, 'alice',
		"SELECT count(*) FROM orders_stream.failures WHERE mapping_uuid = '$mapping{a_fail}' AND failure_id <= $old_max_failure");
	is($out, $old_failures, "$how: alice sees her failures of before the dump");
	($rc, $out, $err) = OrdersStream::psql_as($node, 'bob', 'SELECT count(*) FROM orders_stream.failures');
	is($out, '0', "$how: bob sees no failure of alice");
	$node->poll_query_until('postgres',
		"SELECT count(*) > $old_failures FROM orders_stream.failures WHERE mapping_uuid = '$mapping{a_fail}'")
	  or die 'no new failure';
	is($node->safe_psql('postgres', "SELECT max(failure_id) > $old_max_failure FROM orders_stream.failures"), 't',
		"$how: a new failure gets a new id");

	# the access key: same role
	is($node->safe_psql('postgres',
		"SELECT role_oid::regrole FROM orders_stream_internal.access_keys WHERE access_key_id = '$bob_key'"),
		'bob', "$how: bob's access key is back, for bob");

	# ownership, privileges, TRUNCATE guard
	is($node->safe_psql('postgres', q{SELECT pg_get_userbyid(relowner) || ' ' ||
		has_table_privilege('bob', 'a_orders', 'SELECT') || ' ' || has_table_privilege('alice', 'b_orders', 'SELECT')
		FROM pg_class WHERE relname = 'a_orders'}), 'alice true false', "$how: ownership and privileges intact");
	($rc, $out, $err) = OrdersStream::psql_as($node, 'alice', 'TRUNCATE a_orders');
	like($err, qr/cannot truncate table "a_orders" because it has a stream/, "$how: TRUNCATE guard in place");
	($rc, $out, $err) = OrdersStream::psql_as($node, 'bob', 'TRUNCATE b_orders_high');
	like($err, qr/cannot truncate table "b_orders_high" because it has a stream/,
		"$how: TRUNCATE guard in place on a partition");

	# a new stream: a new id
	OrdersStream::psql_as($node, 'alice', q{CREATE TABLE a_more (id int PRIMARY KEY);
		SELECT orders_stream.enable_stream('a_more');});
	is($node->safe_psql('postgres',
		"SELECT min(stream_id) > $old_max_stream FROM orders_stream.streams"), 't',
		"$how: no stream_id of the dump is used again");

	# what the restore brought back depends on the extension as before
	$node->safe_psql('postgres', 'DROP EXTENSION orders_stream');
	is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'orders_stream_truncate_guard'}),
		'0', "$how: DROP EXTENSION takes the TRUNCATE guards along");
}

# custom format, pg_restore into a running fresh cluster
my $new = fresh('new_custom');
$new->command_ok([ "$bindir/pg_restore", '-d', $new->connstr('postgres'), '--exit-on-error', "$dir/db.dump" ],
	'pg_restore into a fresh cluster');
# before the first start: nothing live, nothing of the old streams readable
is($new->safe_psql('postgres',
	q{SELECT (SELECT count(*) FROM orders_stream.streams) || ' ' || (SELECT count(*) FROM orders_stream.event_source_mappings)
	  || ' ' || (SELECT count(*) FROM orders_stream_internal.restored)}), '0 0 5',
	'restored: streams and mappings held, none live');
$new->safe_psql('postgres', q{INSERT INTO a_orders VALUES (50, 'between restore and start', NULL)});
OrdersStream::capture($new);
is($new->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.record_store'), '0',
	'restored: nothing captured before the streams are resumed');
# the restored cluster's first start resumes them
$new->restart;
$new->poll_query_until('postgres', 'SELECT count(*) = 0 FROM orders_stream_internal.restored')
  or die 'restored streams not resumed at start';
check_restored($new, 'custom format, first start');

# plain format, psql into a fresh cluster, resumed by hand
my $new2 = fresh('new_plain');
$new2->command_ok([ "$bindir/psql", '-X', '-v', 'ON_ERROR_STOP=1', '-d', $new2->connstr('postgres'),
	'-f', "$dir/db.sql" ], 'plain dump restored with psql');
is($new2->safe_psql('postgres', q{SELECT count(*) FROM orders_stream.resume_restored_streams()}), '2',
	'resume_restored_streams() resumes both streams');
($rc, $out, $err) = OrdersStream::psql_as($new2, 'alice', 'SELECT orders_stream.resume_restored_streams()');
like($err, qr/permission denied for function resume_restored_streams/, 'an ordinary role cannot resume');
check_restored($new2, 'plain format, resumed by hand');

# schema first, then data only (CREATE EXTENSION runs before the configuration is loaded)
my $new3 = fresh('new_data_only');
$new3->command_ok([ "$bindir/pg_restore", '-d', $new3->connstr('postgres'), '--exit-on-error', '--schema-only',
	"$dir/db.dump" ], 'pg_restore --schema-only');
$new3->command_ok([ "$bindir/pg_restore", '-d', $new3->connstr('postgres'), '--exit-on-error', '--data-only',
	"$dir/db.dump" ], 'pg_restore --data-only');
is($new3->safe_psql('postgres',
	q{SELECT (SELECT count(*) FROM orders_stream.streams) || ' ' || (SELECT count(*) FROM orders_stream_internal.restored)}),
	'0 5', 'data only: streams and mappings held, none live');
$new3->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.resume_restored_streams()');
check_restored($new3, 'data only, resumed by hand');

done_testing();
