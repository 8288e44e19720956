# 033_delivery_worker_memory.pl: the delivery workers' memory stays flat
# under a steady load (RssAnon before and after 12,000 more records).
#
# (Split from 021_hostile_aggregators.pl: the test names keep its section
# letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('worker_memory',
	extra_conf => $OrdersStream::DELIVERY_CONF . "orders_stream.max_batch_size_bytes = 8kB\n");
sql(<<'SQL');
CREATE TABLE g_orders (id int PRIMARY KEY, item text, qty int);
SELECT orders_stream.enable_stream('g_orders', 'NEW_IMAGE');
CREATE TABLE g_totals (item text PRIMARY KEY, total bigint);
CREATE FUNCTION g_agg(event jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO g_totals AS t
	SELECT r#>>'{dynamodb,NewImage,item,S}', sum((r#>>'{dynamodb,NewImage,qty,N}')::int)
	  FROM jsonb_array_elements(event->'Records') r GROUP BY 1
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total
$$;
SQL
my $mm = sql(q{SELECT orders_stream.create_event_source_mapping('g_orders', 'g_agg(jsonb)', starting_position => 'LATEST')});
my $next = 0;
sub g_load
{
	my ($rounds) = @_;
	for (1 .. $rounds)
	{
		sql("INSERT INTO g_orders SELECT g, 'item' || g % 7, 1 FROM generate_series($next + 1, $next + 200) g");
		$next += 200;
		wait_mapping($mm);
	}
}
# RssAnon of each delivery worker of the pool, by pid
sub delivery_rss
{
	my %rss;
	for my $pid (split /\n/, OrdersStream::worker_pid($node, 'orders_stream delivery'))
	{
		$rss{$pid} = OrdersStream::rss_anon_kb($pid) // 0;
	}
	return \%rss;
}
g_load(20);
my $before = delivery_rss();
g_load(60);
my $after = delivery_rss();
my @same = grep { exists $after->{$_} } sort keys %$before;
note 'delivery workers RssAnon: ' . join(', ', map { "$_: $before->{$_} kB, then $after->{$_} kB" } @same)
  . ' after 12000 more records';
cmp_ok(scalar(@same), '>', 0, '(g) the same workers throughout');
my ($growth) = sort { $b <=> $a } map { $after->{$_} - $before->{$_} } @same;
cmp_ok($growth // 0, '<=', 1024, '(g) the delivery workers\' memory stays flat');
is(sql('SELECT sum(total) FROM g_totals'), $next, '(g) every record applied');

$node->stop;
done_testing();
