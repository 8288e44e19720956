# 040_soak.pl: the workers' memory stays flat under load.
#
# 4-client pgbench of single-row INSERTs into a streamed table and an
# unstreamed one (capture decodes both), at OS_SOAK_RATE transactions/s
# (3000 by default), with an event source mapping
# delivering the stream, for OS_SOAK_SECONDS (75 by default).  The RssAnon
# of the capture and delivery workers is sampled every few seconds; after a
# warm-up, neither may grow by more than 2 MB.  The capture worker's
# TopMemoryContext used to grow by ~0.6 kB per pass.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $SECONDS = $ENV{OS_SOAK_SECONDS} // 75;
# A rate the workers keep up with even on a busy machine: unthrottled, a
# starved capture worker falls ever further behind, and its memory then
# measures the backlog it holds, not a leak.
my $RATE = $ENV{OS_SOAK_RATE} // 3000;
my $WARMUP = 20;
my $MAX_GROWTH_KB = 2048;

my $node = OrdersStream::new_node('soak', extra_conf => "max_connections = 30\n");
$node->safe_psql('postgres', q{
CREATE TABLE soak_streamed (id bigserial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
CREATE TABLE soak_plain (id bigserial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('soak_streamed', 'NEW_IMAGE');
});
# the seed's aggregator: with a NEW_IMAGE stream of inserts, item_totals
# adds up the quantities
$node->safe_psql('postgres', slurp_file('examples/item_totals.sql'));
my $mapping = $node->safe_psql('postgres', q{
	SELECT orders_stream.create_event_source_mapping('soak_streamed', 'item_totals_aggregator(jsonb)',
		batch_size => 100, starting_position => 'TRIM_HORIZON')});

my $script = $node->basedir . '/soak.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set q random(1, 10)
\set r random(1, 2)
\if :r = 1
INSERT INTO soak_streamed (item, quantity) VALUES ('item' || :q, :q);
\else
INSERT INTO soak_plain (item, quantity) VALUES ('item' || :q, :q);
\endif
});

my ($out, $err) = ('', '');
my $h = IPC::Run::start(
	[
		$node->installed_command('pgbench'), '-n', '-c', '4', '-j', '2', '--rate', $RATE,
		'-T', $SECONDS, '-f', $script, $node->connstr('postgres')
	],
	'>', \$out, '2>', \$err,
	IPC::Run::timeout($SECONDS + 120));

my %pid = (
	capture => OrdersStream::worker_pid($node, 'orders_stream capture'),
	# the pool's one worker: the soak has one mapping of factor 1
	delivery => OrdersStream::wait_new_worker($node, 'orders_stream delivery'));
like($pid{$_}, qr/^\d+$/, "$_ worker running") for sort keys %pid;

my $start = time;
my %samples;
while (time - $start < $SECONDS)
{
	for my $w (keys %pid)
	{
		push @{ $samples{$w} }, [ time - $start, OrdersStream::rss_anon_kb($pid{$w}) // -1 ];
	}
	# the sampling interval, not a wait for a condition
	usleep(3_000_000);
}
$h->finish;
like($out, qr/number of transactions actually processed: (\d+)/, 'pgbench ran');
my ($txns) = $out =~ /number of transactions actually processed: (\d+)/;
note "pgbench: $txns transactions in $SECONDS s";

for my $w (sort keys %pid)
{
	my @after = map { $_->[1] } grep { $_->[0] >= $WARMUP } @{ $samples{$w} };
	my $third = int(@after / 3);
	# medians of the first and last thirds after warm-up: a batch's transient
	# memory comes and goes by megabytes, a leak moves both
	my $first = median(@after[ 0 .. $third - 1 ]);
	my $last = median(@after[ @after - $third .. $#after ]);
	note sprintf("%s RssAnon (kB): %s", $w,
		join(' ', map { sprintf('%.0fs:%d', @$_) } @{ $samples{$w} }));
	cmp_ok($first, '>', 0, "$w RssAnon sampled");
	cmp_ok($last - $first, '<=', $MAX_GROWTH_KB,
		"$w worker RssAnon grows by at most 2 MB after warm-up (median $first kB, then $last kB)");
}

# the workers survived the soak, and the mapping caught up
is(OrdersStream::worker_pid($node, 'orders_stream capture'), $pid{capture},
	'the capture worker never restarted');
OrdersStream::capture($node, '300s');
wait_mapping($mapping, '300s');
is($node->safe_psql('postgres', q{SELECT sum(total) FROM item_totals}),
	$node->safe_psql('postgres', q{SELECT sum(quantity) FROM soak_streamed}),
	'the aggregator saw every streamed insert');

# where the memory is, for the record
$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid{capture})");
$node->stop;
done_testing();
