# 002_crash_postmaster.pl: exactly-once capture across hard crashes.
#
# pgbench runs INSERT / UPDATE / DELETE transactions (with savepoints, rolled
# back savepoints and rolled back transactions, plus bulk transactions that
# make the reorder buffer spill) on "orders", while the postmaster is killed
# with SIGKILL at random moments, at least ten times, some of them while the
# capture worker is storing a large batch.  After each kill, a process of the
# server that outlives the postmaster by 5 s (an orphan, which keeps the dead
# server's shared memory attached) or a "pg_ctl start" that fails fails the
# test (OrdersStream::crash_restart).
#
# Oracle (OrdersStream::history_setup and history_check): every row of orders
# has a version, incremented by every update, and an AFTER ROW trigger appends
# (id, event, version) to "history" in the same transaction: a history row is
# committed iff its change is.  At the end the multiset of (Keys.id,
# eventName, version) of the records must equal history, per key in the same
# order, with no SequenceNumber twice, and replaying the records must give the
# final table.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $KILLS = $ENV{OS_CRASH_KILLS} // 12;
OrdersStream::random_seed('OS_CRASH_SEED');

my $node = OrdersStream::new_node('crash_postmaster', no_extension => 1, extra_conf => q{
checkpoint_timeout = 30s
max_connections = 30
});

$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
OrdersStream::history_setup($node);

# Small transactions (OrdersStream::history_small_script).
my $small = OrdersStream::history_small_script($node, 35);
my $bulk = OrdersStream::history_bulk_script($node);

my @workload = (qw(-c 4 -j 2 --max-tries=20), '-f', "$small\@50", '-f', "$bulk\@1");

my $big_state = 0;
my $crashes = 0;
for my $round (1 .. $KILLS)
{
	my $h = start_pgbench(@workload, qw(-T 300));
	my $what = "round $round";
	if ($round % 3 == 0)
	{
		# a big transaction, and the kill while the worker is busy with it
		my $sql = (
			'INSERT INTO orders SELECT g, 1, md5(g::text) FROM generate_series(100001, 108000) g',
			'UPDATE orders SET version = version + 1 WHERE id > 100000',
			'DELETE FROM orders WHERE id > 100000')[ $big_state++ % 3 ];
		$node->safe_psql('postgres', $sql);
		my $busy = busy_worker('orders_stream capture', 'storing stream records', 10);
		# a random moment of the store: where the kill lands, not a wait
		usleep(int(rand(100_000)));
		$what .= ', during heavy capture' . ($busy ? '' : ' (the worker was not seen storing)');
	}
	else
	{
		# a random moment of the workload: where the kill lands, not a wait
		usleep(int(300_000 + rand(3_000_000)));
	}
	crash_restart($what, all => rand() < 0.5, pgbench => $h);
	$crashes++;
}

# A last stretch of workload without crashes, then let capture finish.
stop_pgbench(start_pgbench(@workload, qw(-T 2)));
capture('300s');

cmp_ok($crashes, '>=', 10, "postmaster killed with SIGKILL $crashes times");
ok($node->log_contains('database system was interrupted|database system was not properly shut down'),
	'the server went through crash recovery');
OrdersStream::history_check($node);
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM orders_stream.records r, orders_stream.capture_progress p
	 WHERE r.sequence_number > p.sequence_number}),
	'0', 'capture_progress is the newest stored SequenceNumber');

$node->stop;
done_testing();
