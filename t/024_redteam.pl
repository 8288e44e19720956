# 024_redteam.pl: what a review of issue 15's merge found, as a hostile
# ordinary role would try it.  One subtest per finding.
#
#  (a) redrive after a change of owner: alice's mapping, with its failures,
#      is handed to bob (REASSIGN OWNED); alice must not be able to set off
#      bob's function, which runs as bob, by redriving the failures that
#      were hers.
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

sub sql { return $node->safe_psql('postgres', shift); }

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

$node->stop;
done_testing();
