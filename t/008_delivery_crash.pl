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
CREATE SCHEMA f_pl;
CREATE SCHEMA f_c;
CREATE TABLE f_c.item_totals (item text PRIMARY KEY, total bigint NOT NULL);
CREATE FUNCTION f_c.item_totals_aggregator_c(event jsonb)
RETURNS jsonb
AS 'orders_stream_item_totals', 'item_totals_aggregator'
LANGUAGE C STRICT;
SQL
# the example's PL/pgSQL aggregator, and its item_totals, in schema f_pl
sql("SET search_path = f_pl;\n" . slurp_file('examples/item_totals.sql'));
my $mf_pl = sql(q{
	SET search_path = f_pl;
	SELECT orders_stream.create_event_source_mapping('public.f_orders', 'item_totals_aggregator(jsonb)',
		batch_size => 10, starting_position => 'LATEST', bisect_batch_on_function_error => true,
		maximum_retry_attempts => 10)});
my $mf_c = sql(q{
	SET search_path = f_c;
	SELECT orders_stream.create_event_source_mapping('public.f_orders', 'item_totals_aggregator_c(jsonb)',
		batch_size => 7, starting_position => 'LATEST')});

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
	is(sql(qq{
		SELECT count(*) FROM (SELECT item, sum(quantity) AS total FROM f_orders GROUP BY item) o
		  FULL JOIN $schema.item_totals t USING (item)
		 WHERE coalesce(o.total, 0) <> coalesce(t.total, 0)}),
		'0', "(f) $lang aggregator: item_totals = SELECT item, sum(quantity) FROM orders GROUP BY item");
	my $s = mapping_status($m);
	is("$s->{failures} $s->{records_processed}", "0 $n", "(f) $lang aggregator: every record processed once, no failure");
}

$node->stop;
done_testing();
