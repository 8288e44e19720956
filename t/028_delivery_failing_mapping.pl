# 028_delivery_failing_mapping.pl: a mapping that always fails, retrying
# forever, holds up no other mapping of the same stream.
#
# (Split from 020_delivery.pl: the test names keep its section letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(time);

my $node = OrdersStream::new_node('delivery_failing_mapping', extra_conf => $OrdersStream::DELIVERY_CONF);

sql(<<'SQL');
CREATE TABLE g_orders (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('g_orders', 'KEYS_ONLY');
CREATE TABLE g_seen (id int);
CREATE FUNCTION g_fail(event jsonb) RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'always'; END $$;
CREATE FUNCTION g_ok(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO g_seen SELECT (r#>>'{dynamodb,Keys,id,N}')::int FROM jsonb_array_elements(event->'Records') r $$;
SQL
# created first, so served first in every round
my $mg_fail = sql(q{
	SELECT orders_stream.create_event_source_mapping('g_orders', 'g_fail(jsonb)', batch_size => 4,
		starting_position => 'LATEST', bisect_batch_on_function_error => true)});
my $mg_ok = sql(q{
	SELECT orders_stream.create_event_source_mapping('g_orders', 'g_ok(jsonb)', batch_size => 4,
		starting_position => 'LATEST')});
my $g_checkpoint = mapping_status($mg_fail)->{checkpoint};
sql(qq{INSERT INTO g_orders SELECT g FROM generate_series($_ * 10 + 1, $_ * 10 + 10) g}) for (0 .. 4);
my $t0 = time;
wait_mapping($mg_ok, '30s');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT id) FROM g_seen}), '50 50', '(g) the healthy mapping delivered everything');
note sprintf('(g) in %.2f s', time - $t0);
my $s = mapping_status($mg_fail);
is("$s->{state} $s->{failures} " . ($s->{checkpoint} eq $g_checkpoint ? 'same' : 'moved'),
	'Retrying 0 same', '(g) while the failing one is still retrying its first record');
cmp_ok($s->{retries}, '>', 0, '(g) it has retried');
sql(qq{SELECT orders_stream.delete_event_source_mapping('$mg_fail')});

$node->stop;
done_testing();
