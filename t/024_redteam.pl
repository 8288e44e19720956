# 024_redteam.pl: what a review of issue 15's merge found, as a hostile
# ordinary role would try it.  One subtest per finding.
#
#  (a) redrive after a change of owner: alice's mapping, with its failures,
#      is handed to bob (REASSIGN OWNED); alice must not be able to set off
#      bob's function, which runs as bob, by redriving the failures that
#      were hers.
#  (b) expired records pinned by a dependency: mallory, with no privilege
#      on the partitions of record_store, creates a view on one and a column
#      of its row type; retention must still remove the expired records.
#  (c) redrive workers outside any share: mallory calls redrive_failures()
#      from several sessions at once; each call would hold a background
#      worker slot running her code, beyond the delivery pool's fair share,
#      until no slot is left for the workers of the extension.  A role has
#      one redrive worker at a time; its other calls wait for it.
#  (d) the extension's schema squatted (the CVE-2022-2625 class): the
#      owner of a database creates schema orders_stream before a superuser
#      runs CREATE EXTENSION there; the extension must not install into it
#      (its owner could rename it away and plant objects of its own under
#      the names that superusers, workers and SECURITY DEFINER functions
#      look up).
#  (e) a redriven function outlives the postmaster: mallory redrives her own
#      failure with a function that computes; the postmaster is SIGKILLed;
#      the redrive worker must exit as the delivery workers do, not stay an
#      orphan that keeps the server from starting again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('redteam', extra_conf => q{
orders_stream.partition_interval = 2s
orders_stream.retention = 4s
autovacuum = off
});

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE mallory LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE SCHEMA mallory AUTHORIZATION mallory;
});

subtest '(a) a failure is not redriven by a role that no longer owns its mapping' => sub {
	my ($uuid) = (split /\n/, sql(q{
SET ROLE alice;
CREATE TABLE alice.orders (id int PRIMARY KEY, note text);
SELECT orders_stream.enable_stream('alice.orders', 'NEW_AND_OLD_IMAGES');
-- counts its invocations whatever their outcome (nextval is not rolled back)
CREATE SEQUENCE alice.calls;
CREATE FUNCTION alice.handler(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM nextval('alice.calls');
	RAISE EXCEPTION 'refused';
END $$;
SELECT orders_stream.create_event_source_mapping(
	(SELECT stream_arn FROM orders_stream.readable_streams WHERE table_name = 'alice.orders'),
	'alice.handler(jsonb)'::regprocedure, batch_size => 1, starting_position => 'TRIM_HORIZON',
	maximum_retry_attempts => 0, bisect_batch_on_function_error => false);
}))[-1];
	sql(q{INSERT INTO alice.orders VALUES (1, 'one')});
	ok($node->poll_query_until('postgres',
			q{SELECT count(*) = 1 FROM orders_stream.failures}),
		'the failing batch is stored as a failure of alice');

	sql(q{REASSIGN OWNED BY alice TO bob});
	is(sql(q{SELECT owner FROM orders_stream.event_source_mapping_status}), 'bob',
		'the mapping is bob\'s now');
	my $calls = sql(q{SELECT last_value FROM alice.calls});

	my ($rc, $out, $err) = OrdersStream::psql_login($node, 'alice',
		q{SELECT count(*) FROM orders_stream.redrive_failures()});
	is($rc, 0, 'alice may call redrive_failures()') or diag($err);
	is($out, '0', 'alice redrives nothing of a mapping she no longer owns');
	is(sql(q{SELECT last_value FROM alice.calls}), $calls,
		'bob\'s function was not invoked for alice');
	($rc, $out, $err) = OrdersStream::psql_login($node, 'alice',
		qq{SELECT count(*) FROM orders_stream.redrive_failures('$uuid')});
	is($out, '0', 'nor by naming the mapping');

	# a superuser, member of every role, still may
	is(sql(q{SELECT result FROM orders_stream.redrive_failures()}), 'ERROR: P0001: refused',
		'a superuser redrives it');
	is(sql(q{SELECT last_value FROM alice.calls}), $calls + 1, 'once');
	sql(qq{SELECT orders_stream.delete_event_source_mapping('$uuid')});
};

subtest '(b) a dependency on a partition does not keep expired records' => sub {
	sql(q{
CREATE TABLE public.items (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('public.items', 'KEYS_ONLY');
INSERT INTO public.items SELECT generate_series(1, 100);
});
	OrdersStream::capture($node);
	my $part = sql(q{SELECT min(r.tableoid::regclass::text) FROM orders_stream.record_store r
		JOIN orders_stream.streams s USING (stream_id) WHERE s.table_name = 'items'});
	like($part, qr/^orders_stream\."?records_/, "the records are in partition $part");

	my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{
CREATE VIEW mallory.pin AS SELECT 1 AS one FROM $part;
CREATE TABLE mallory.pin2 (r $part);
});
	is($rc, 0, 'mallory can make objects depend on a partition without any privilege') or diag($err);
	($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', 'SELECT * FROM mallory.pin');
	like($err, qr/permission denied/, 'though she cannot read it');

	# the partition expires retention (4 s) after its upper bound
	# read as a superuser, in record_store itself: expired records too
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 0 FROM orders_stream.record_store r
		  JOIN orders_stream.streams s USING (stream_id) WHERE s.table_name = 'items'}),
		'the expired records are removed once the retention has passed');
	is(sql(q{SELECT count(*) FROM orders_stream.records r
		JOIN orders_stream.streams s USING (stream_id) WHERE s.table_name = 'items'}), '0',
		'and none is readable');
	ok($node->log_contains(qr/other objects depend on it/), 'the administrator is told why');
};

subtest '(c) a role has one redrive worker at a time' => sub {
	my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', q{
CREATE TABLE mallory.d (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('mallory.d', 'KEYS_ONLY');
CREATE TABLE mallory.dknob (mode text);
INSERT INTO mallory.dknob VALUES ('fail');
CREATE FUNCTION mallory.df(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT mode FROM mallory.dknob) = 'fail' THEN
		RAISE EXCEPTION 'not yet';
	END IF;
	WHILE (SELECT mode FROM mallory.dknob) = 'spin' LOOP
		NULL;
	END LOOP;
END $$;
SELECT orders_stream.create_event_source_mapping(
	(SELECT stream_arn FROM orders_stream.readable_streams WHERE table_name = 'mallory.d'),
	'mallory.df(jsonb)'::regprocedure, batch_size => 1, starting_position => 'TRIM_HORIZON',
	maximum_retry_attempts => 0, bisect_batch_on_function_error => false);
INSERT INTO mallory.d SELECT generate_series(1, 4);
});
	is($rc, 0, 'mallory maps her own function') or diag($err);
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 4 FROM orders_stream.failures f
		  JOIN orders_stream.event_source_mappings m ON m.uuid = f.mapping_uuid
		 WHERE m.function_oid = 'mallory.df(jsonb)'::regprocedure}),
		'her four batches fail');
	sql(q{UPDATE mallory.dknob SET mode = 'spin'});

	my @ids = split /\n/, sql(q{
		SELECT f.failure_id FROM orders_stream.failures f
		  JOIN orders_stream.event_source_mappings m ON m.uuid = f.mapping_uuid
		 WHERE m.function_oid = 'mallory.df(jsonb)'::regprocedure ORDER BY 1});
	my @h;
	my %out;
	for my $id (@ids)
	{
		$out{$id} = '';
		push @h, IPC::Run::start(
			[ $node->installed_command('psql'), '-XAtq', '-d',
			  $node->connstr('postgres') . ' user=mallory application_name=redrive' . $id, '-c',
			  "SELECT result FROM orders_stream.redrive_failures(NULL, ARRAY[$id]::bigint[])" ],
			'>', \$out{$id}, '2>', \$out{$id}, IPC::Run::timeout(300));
	}
	ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 3 FROM pg_stat_activity
		 WHERE application_name LIKE 'redrive%' AND wait_event_type = 'Lock'}),
		'three of her four calls wait for the first');
	is(sql(q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'orders_stream redrive'}), '1',
		'one redrive worker runs her code');
	sql(q{UPDATE mallory.dknob SET mode = 'done'});
	$_->finish for @h;
	is(join(' ', map { (my $o = $out{$_}) =~ s/\s+$//; $o } @ids), 'OK OK OK OK',
		'each call then redrives its failure');
};

subtest '(d) CREATE EXTENSION refuses a schema orders_stream another role made' => sub {
	sql(q{CREATE ROLE app LOGIN});
	sql(q{CREATE DATABASE appdb OWNER app});
	my ($rc, $out, $err);
	$rc = $node->psql('appdb', 'CREATE SCHEMA orders_stream', stderr => \$err,
		extra_params => [ '-U', 'app' ]);
	is($rc, 0, 'the database owner creates schema orders_stream') or diag($err);
	$rc = $node->psql('appdb', 'CREATE EXTENSION orders_stream', stderr => \$err);
	isnt($rc, 0, 'CREATE EXTENSION refuses it');
	like($err, qr/schema "orders_stream" exists already, and a role that is no superuser owns it/,
		'and says why');
	is($node->safe_psql('appdb', q{SELECT count(*) FROM pg_extension WHERE extname = 'orders_stream'}),
		'0', 'nothing was installed');
};

subtest '(e) a redrive worker does not outlive the postmaster' => sub {
	my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', q{
CREATE TABLE mallory.t (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('mallory.t', 'KEYS_ONLY');
CREATE TABLE mallory.knob (mode text);
INSERT INTO mallory.knob VALUES ('fail');
CREATE SEQUENCE mallory.spins;
CREATE FUNCTION mallory.f(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE started timestamptz := clock_timestamp();
BEGIN
	IF (SELECT mode FROM mallory.knob) = 'fail' THEN
		RAISE EXCEPTION 'not yet';
	END IF;
	PERFORM nextval('mallory.spins');
	-- computes, checking for interrupts, never waiting on a latch
	WHILE clock_timestamp() < started + interval '120 s' LOOP
		NULL;
	END LOOP;
END $$;
SELECT orders_stream.create_event_source_mapping(
	(SELECT stream_arn FROM orders_stream.readable_streams WHERE table_name = 'mallory.t'),
	'mallory.f(jsonb)'::regprocedure, batch_size => 1, starting_position => 'TRIM_HORIZON',
	maximum_retry_attempts => 0, bisect_batch_on_function_error => false);
INSERT INTO mallory.t VALUES (1);
});
	is($rc, 0, 'mallory maps her own function') or diag($err);
	ok($node->poll_query_until('postgres',
			q{SELECT count(*) = 1 FROM orders_stream.failures f
				JOIN orders_stream.event_source_mappings m ON m.uuid = f.mapping_uuid
			   WHERE m.function_oid = 'mallory.f(jsonb)'::regprocedure}),
		'her batch fails');
	sql(q{UPDATE mallory.knob SET mode = 'spin'});

	my ($rout, $rerr) = ('', '');
	my $h = IPC::Run::start(
		[ $node->installed_command('psql'), '-XAtq', '-d',
		  $node->connstr('postgres') . ' user=mallory', '-c',
		  'SELECT * FROM orders_stream.redrive_failures()' ],
		'>', \$rout, '2>', \$rerr, IPC::Run::timeout(300));
	ok($node->poll_query_until('postgres', q{SELECT is_called FROM mallory.spins}),
		'the redrive worker runs her function');
	crash_restart('a SIGKILL of the postmaster while the redrive worker runs her function');
	$h->kill_kill;
};

$node->stop;
done_testing();
