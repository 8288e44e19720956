# 004_big_transaction.pl: one transaction of 1,000,000 inserts is captured
# completely, with the capture worker's own memory bounded.
#
# Memory is the worker's RssAnon (/proc/<pid>/status): resident anonymous
# private memory, i.e. its heap (palloc, malloc) and stack.  VmRSS and VmHWM
# also count the pages of shared memory (shared_buffers, WAL buffers) the
# worker has touched, which grow with the data it reads and writes however
# little memory it allocates; and smaps' Private_Clean/Private_Dirty count a
# shared-memory page as "private" whenever no other process has it mapped,
# so they overstate it too.  RssShmem and VmHWM are reported for reference.
#
# The reorder buffer is kept small (logical_decoding_work_mem = 64kB) so the
# transaction cannot stay in memory: it is streamed to the worker as it is
# decoded (the worker buffers its records in temporary files), and
# pg_stat_replication_slots proves it was.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep time);

my $ROWS = $ENV{OS_BIG_ROWS} // 1_000_000;
my $LIMIT_KB = 64 * 1024;

my $node = OrdersStream::new_node('big_transaction', no_extension => 1, extra_conf => q{
max_wal_size = 4GB
checkpoint_timeout = 30min
});

$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
$node->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, version int NOT NULL DEFAULT 1, note text);
	SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
});
my $slot = $node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');

ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'orders_stream capture'}),
	'capture worker running');
my $pid = worker_pid('orders_stream capture');
my $start = OrdersStream::proc_status($pid);
note sprintf('worker %d before: RssAnon %d kB, RssShmem %d kB, VmRSS %d kB',
	$pid, $start->{RssAnon}, $start->{RssShmem}, $start->{VmRSS});

my $t0 = time;
$node->safe_psql('postgres', qq{
	INSERT INTO orders
	SELECT g, 1, 'order ' || g || ' ' || md5(g::text)
	  FROM generate_series(1, $ROWS) AS g});
my $target = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
note sprintf('inserted %d rows in one transaction in %.1f s; WAL at %s', $ROWS, time - $t0, $target);

# Sample the worker's memory until it has confirmed its slot past the commit.
my ($peak_anon, $peak_rss, $peak_shmem, $hwm, $samples) = (0, 0, 0, 0, 0);
my $pid_changed = 0;
my $done = 0;
my $last_check = 0;
my $deadline = time + 3 * $PostgreSQL::Test::Utils::timeout_default + $ROWS / 1000;
while (time < $deadline)
{
	my $st = OrdersStream::proc_status($pid);
	if ($st)
	{
		$samples++;
		$peak_anon = $st->{RssAnon} if $st->{RssAnon} > $peak_anon;
		$peak_rss = $st->{VmRSS} if $st->{VmRSS} > $peak_rss;
		$peak_shmem = $st->{RssShmem} if $st->{RssShmem} > $peak_shmem;
		$hwm = $st->{VmHWM} if $st->{VmHWM} > $hwm;
	}
	if (time - $last_check >= 1)
	{
		$last_check = time;
		my $now_pid = worker_pid('orders_stream capture');
		if ($now_pid ne $pid)
		{
			$pid_changed++;
			diag "capture worker changed from $pid to '$now_pid' during the capture";
			$pid = $now_pid if $now_pid =~ /^\d+$/;
		}
		if ($node->safe_psql('postgres', qq{
			SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots
			 WHERE slot_name = '$slot'}) eq 't')
		{
			$done = 1;
			last;
		}
	}
	# the sampling interval, not a wait for a condition
	usleep(50_000);
}
my $elapsed = time - $t0;
ok($done, sprintf('capture of the big transaction completed (%.0f s)', $elapsed));
is($pid_changed, 0, 'the capture worker did not restart during the capture');

note sprintf('worker memory over %d samples: peak RssAnon %.1f MB, peak RssShmem %.1f MB, '
	  . 'peak VmRSS %.1f MB, VmHWM %.1f MB',
	$samples, $peak_anon / 1024, $peak_shmem / 1024, $peak_rss / 1024, $hwm / 1024);
cmp_ok($samples, '>', 10, 'memory sampled while capturing');
cmp_ok($peak_anon, '<=', $LIMIT_KB, 'capture worker private memory stays within 64 MB');

capture('600s');
is($node->safe_psql('postgres', q{
	SELECT format('%s/%s/%s/%s', count(*), count(DISTINCT sequence_number),
		count(DISTINCT (record->'dynamodb'->'Keys'->'id'->>'N')::int),
		count(*) FILTER (WHERE record->>'eventName' <> 'INSERT'))
	  FROM orders_stream.records}),
	"$ROWS/$ROWS/$ROWS/0",
	'every row has exactly one INSERT record, each with its own SequenceNumber');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT left(sequence_number, 20)) FROM orders_stream.records}),
	'1', 'all records share the commit LSN of their transaction');
is($node->safe_psql('postgres', q{
	SELECT bool_and(r.record->'dynamodb'->'NewImage'->'note'->>'S' = o.note)
	  FROM orders_stream.records r
	  JOIN orders o ON o.id = (r.record->'dynamodb'->'Keys'->'id'->>'N')::int}),
	't', 'record images match the rows');

my $streamed = $node->safe_psql('postgres', qq{
	SELECT format('%s/%s/%s/%s', stream_txns, stream_bytes, spill_txns, spill_bytes)
	  FROM pg_stat_replication_slots WHERE slot_name = '$slot'});
note "stream_txns/stream_bytes/spill_txns/spill_bytes: $streamed";
my ($stream_txns) = split m{/}, $streamed;
cmp_ok($stream_txns // 0, '>', 0, 'the reorder buffer streamed the transaction to the worker');

# The worker keeps working after the big one.
$node->safe_psql('postgres', q{UPDATE orders SET version = 2 WHERE id = 1});
capture('60s');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM orders_stream.records WHERE record->>'eventName' = 'MODIFY'}),
	'1', 'capture continues after the big transaction');

$node->stop;
done_testing();
