# 008_delivery_crash.pl: item totals stay exact across SIGKILLs of the
# postmaster during delivery, with INSERTs, UPDATEs (also of the item) and
# DELETEs going on, for the PL/pgSQL and the C aggregator, each into the
# item_totals of the search_path current when its mapping was created.  A process that outlives the postmaster by 5 s (an orphan) or
# a server that does not start again unaided fails the test.
#
# (Split from 020_delivery.pl: the test names keep its section letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep);

my $KILLS = $ENV{OS_DELIVERY_KILLS} // 6;
OrdersStream::random_seed('OS_DELIVERY_SEED');

my $node = OrdersStream::new_node('delivery_crash', extra_conf => $OrdersStream::DELIVERY_CONF);

sql(<<'SQL');
CREATE TABLE f_orders (id int PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('f_orders', 'NEW_AND_OLD_IMAGES');
SQL
# the example's PL/pgSQL and C aggregators, into the item_totals of f_pl and f_c
my ($mf_pl, $mf_c) = item_totals_mappings('f_orders', 'f',
	q{batch_size => 10, starting_position => 'LATEST', bisect_batch_on_function_error => true,
	  maximum_retry_attempts => 10},
	q{batch_size => 7, starting_position => 'LATEST'});

my $script = OrdersStream::mixed_writes_script($node, 'f_orders');

my @workload = (qw(-c 4 -j 2 --max-tries=20), '-f', $script);

my $crashes = 0;
for my $round (1 .. $KILLS)
{
	my $h = start_pgbench(@workload, qw(-T 300));
	# a random moment of the workload: where the kill lands, not a wait
	usleep(int(500_000 + rand(1_500_000)));
	# a moment when a delivery worker is inside a batch, most of the time
	my $busy = '';
	if ($round % 3 != 0)
	{
		$busy = busy_worker('orders_stream delivery', 'delivering stream records', 5);
		# a few milliseconds into the batch: where the kill lands
		usleep(int(rand(5_000)));
	}
	crash_restart("(f) round $round" . ($busy ? ', a delivery worker inside a batch' : ''),
		all => rand() < 0.5, pgbench => $h);
	$crashes++;
}

# the workload ends; every mapping catches up
stop_pgbench(start_pgbench(@workload, qw(-T 2)));
wait_mapping($mf_pl, '600s');
wait_mapping($mf_c, '600s');

cmp_ok($crashes, '>=', 5, "(f) postmaster killed with SIGKILL $crashes times");
ok($node->log_contains('database system was interrupted|database system was not properly shut down'),
	'(f) the server went through crash recovery');
my $n = sql(q{SELECT count(*) FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
			  WHERE s.relid = 'f_orders'::regclass});
note "(f) $n records of f_orders";
cmp_ok($n, '>', 500, '(f) the workload made a fair number of changes');
for my $t ([ 'PL/pgSQL', 'f_pl', $mf_pl ], [ 'C', 'f_c', $mf_c ])
{
	my ($lang, $schema, $m) = @$t;
	is(item_totals_mismatches('f_orders', $schema),
		'0', "(f) $lang aggregator: item_totals = SELECT item, sum(quantity) FROM orders GROUP BY item");
	my $s = mapping_status($m);
	is("$s->{failures} $s->{records_processed}", "0 $n", "(f) $lang aggregator: every record processed once, no failure");
}

$node->stop;
done_testing();
