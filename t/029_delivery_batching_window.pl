# 029_delivery_batching_window.pl: maximum_batching_window_in_seconds waits
# for a fuller batch, and only when the batch is not full.
#
# (Split from 020_delivery.pl: the test names keep its section letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('delivery_batching_window', extra_conf => $OrdersStream::DELIVERY_CONF);

sql(<<'SQL');
CREATE TABLE h_orders (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('h_orders', 'KEYS_ONLY');
CREATE TABLE h_batches (n int, at timestamptz);
CREATE FUNCTION h_agg(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO h_batches VALUES (jsonb_array_length(event->'Records'), clock_timestamp()) $$;
SQL
my $mh = sql(q{
	SELECT orders_stream.create_event_source_mapping('h_orders', 'h_agg(jsonb)', batch_size => 5,
		starting_position => 'LATEST', maximum_batching_window_in_seconds => 3)});
my $h_start = sql(q{SELECT clock_timestamp()});
sql(q{INSERT INTO h_orders SELECT g FROM generate_series(1, 12) g});
poll(q{SELECT coalesce(sum(n), 0) = 10 FROM h_batches}, '(h) full batches go at once');
is(sql(qq{SELECT count(*) FROM h_batches WHERE at < '$h_start'::timestamptz + interval '2.5 s'}), '2',
	'(h) ... both full batches within the window');
wait_mapping($mh);
is(sql(q{SELECT string_agg(n::text, ',' ORDER BY at) FROM h_batches}), '5,5,2', '(h) the rest waits');
is(sql(qq{SELECT max(at) >= '$h_start'::timestamptz + interval '3 s' FROM h_batches}), 't',
	'(h) ... for the batching window');

$node->stop;
done_testing();
