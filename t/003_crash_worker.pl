# 003_crash_worker.pl: exactly-once capture when only the capture worker
# dies.
#
#  - SIGKILL of the capture worker, at least ten times at random moments
#    (some while it stores a large batch): the postmaster restarts every
#    process (restart_after_crash = on);
#  - SIGTERM of the capture worker, repeatedly: it exits and the postmaster
#    starts a new one a second later, while the workload goes on;
#  - an ERROR inside the worker's own transaction (a CHECK constraint that its
#    UPDATE of capture_progress violates): it fails, restarts, fails again and
#    stores nothing until the constraint is gone, then catches up losing
#    nothing.
#
# Same oracle as 002: a history table written by an AFTER ROW trigger in the
# same transaction as each change is compared with the records.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $KILLS = $ENV{OS_CRASH_KILLS} // 12;
my $TERMS = 5;
OrdersStream::random_seed('OS_CRASH_SEED');

my $node = OrdersStream::new_node('crash_worker', no_extension => 1, extra_conf => q{
restart_after_crash = on
checkpoint_timeout = 30s
max_connections = 30
});

$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
OrdersStream::history_setup($node);

my $small = OrdersStream::history_small_script($node, 35);
my $bulk = OrdersStream::history_bulk_script($node);

my @big = (
	'INSERT INTO orders SELECT g, 1, md5(g::text) FROM generate_series(100001, 108000) g',
	'UPDATE orders SET version = version + 1 WHERE id > 100000',
	'DELETE FROM orders WHERE id > 100000');
my $big_state = 0;
my @workload = (qw(-c 4 -j 2 -T 300 --max-tries=20), '-f', "$small\@50", '-f', "$bulk\@1");

# ---- SIGKILL of the capture worker: crash restart of the whole server ----
my $sigkills = 0;
for my $round (1 .. $KILLS)
{
	my $h = start_pgbench(@workload);
	my $what;
	if ($round % 3 == 0)
	{
		$node->safe_psql('postgres', $big[ $big_state++ % 3 ]);
		my $busy = busy_worker('orders_stream capture', 'storing stream records', 10);
		# a random moment of the store: where the kill lands, not a wait
		usleep(int(rand(100_000)));
		$what = 'during heavy capture' . ($busy ? '' : ' (the worker was not seen storing)');
	}
	else
	{
		# a random moment of the workload: where the kill lands, not a wait
		usleep(int(300_000 + rand(3_000_000)));
		$what = 'at a random moment';
	}
	my $pid = worker_pid('orders_stream capture');
	die "no capture worker to kill" unless $pid =~ /^\d+$/;
	kill 'KILL', $pid or die "could not kill $pid: $!";
	$sigkills++;
	note "round $round: SIGKILL capture worker $pid $what";
	kill_pgbench($h);
	wait_new_worker('orders_stream capture', $pid);
}
cmp_ok($sigkills, '>=', 10, "capture worker killed with SIGKILL $sigkills times");
ok($node->log_contains('background worker "orders_stream capture" \(PID \d+\) was terminated by signal 9'),
	'the postmaster saw the worker die of SIGKILL');
ok($node->log_contains('all server processes terminated; reinitializing'),
	'and restarted the server');

# ---- SIGTERM of the capture worker, the workload running on ----
my $h = start_pgbench(@workload);
my $sigterms = 0;
for my $round (1 .. $TERMS)
{
	if ($round % 2 == 0)
	{
		$node->safe_psql('postgres', $big[ $big_state++ % 3 ]);
		busy_worker('orders_stream capture', 'storing stream records', 10);
	}
	else
	{
		# a random moment of the workload: where the signal lands, not a wait
		usleep(int(200_000 + rand(1_500_000)));
	}
	my $pid = worker_pid('orders_stream capture');
	kill 'TERM', $pid or die "could not signal $pid: $!";
	$sigterms++;
	note "SIGTERM capture worker $pid";
	wait_new_worker('orders_stream capture', $pid);
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'}),
	'4', 'the workload kept running through the SIGTERMs (no crash restart)');
kill_pgbench($h);
ok($node->log_contains('terminating background worker "orders_stream capture" due to administrator command'),
	'the worker exited on SIGTERM');

# ---- an ERROR inside the worker's transaction loses nothing ----
capture('300s');
my $stored = $node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	ALTER TABLE orders_stream.capture_progress
		ADD CONSTRAINT fail CHECK (updated_at IS NULL) NOT VALID});
$h = start_pgbench(@workload);
$node->safe_psql('postgres', $big[ $big_state++ % 3 ]);
# the worker fails on every attempt: wait for two failures
$log_offset = $node->wait_for_log(
	qr/new row for relation "capture_progress" violates check constraint "fail"/, $log_offset);
$node->wait_for_log(
	qr/new row for relation "capture_progress" violates check constraint "fail"/, $log_offset);
kill_pgbench($h);
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT orders_stream.wait_for_capture('2s')});
like($err, qr/capture did not reach/, 'capture is stuck while the worker errors');
is($node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records'), $stored,
	'a failed store leaves no records behind');
$node->safe_psql('postgres', q{
	ALTER TABLE orders_stream.capture_progress DROP CONSTRAINT fail});
capture('300s');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records'), '>', $stored,
	'capture resumes once the error is gone');

# ---- the oracle ----
OrdersStream::history_check($node);

$node->stop;
done_testing();
