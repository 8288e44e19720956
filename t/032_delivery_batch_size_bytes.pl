# 032_delivery_batch_size_bytes.pl: batches are cut at
# orders_stream.max_batch_size_bytes, a larger record goes alone, and a
# failing record among them is bisected into orders_stream.failures.
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

my $node = OrdersStream::new_node('batch_bytes',
	extra_conf => $OrdersStream::DELIVERY_CONF . "orders_stream.max_batch_size_bytes = 8kB\n");
sql(<<'SQL');
CREATE TABLE d_orders (id text PRIMARY KEY, pad text NOT NULL);
SELECT orders_stream.enable_stream('d_orders', 'NEW_IMAGE');
CREATE TABLE d_batches (ids text, n int, bytes int);
CREATE FUNCTION d_agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM jsonb_array_elements(event->'Records') r
				WHERE r#>>'{dynamodb,Keys,id,S}' = 'poison') THEN
		RAISE EXCEPTION 'poison record';
	END IF;
	INSERT INTO d_batches
	SELECT string_agg(r#>>'{dynamodb,Keys,id,S}', ','), count(*), sum(octet_length(r::text) + 1)
	  FROM jsonb_array_elements(event->'Records') r;
END
$$;
SQL
my $md = sql(q{SELECT orders_stream.create_event_source_mapping('d_orders', 'd_agg(jsonb)', batch_size => 100,
	starting_position => 'LATEST', bisect_batch_on_function_error => true, maximum_retry_attempts => 0,
	enabled => false)});
sql(q{
INSERT INTO d_orders SELECT 'd' || lpad(g::text, 2, '0'), repeat('x', 3000) FROM generate_series(1, 5) g;
INSERT INTO d_orders VALUES ('big', repeat('y', 20000)), ('poison', repeat('z', 3000));
INSERT INTO d_orders SELECT 'd' || lpad(g::text, 2, '0'), repeat('x', 3000) FROM generate_series(6, 9) g;
});
capture();
sql(qq{SELECT orders_stream.update_event_source_mapping('$md', enabled => true)});
wait_mapping($md);
is(sql(q{SELECT count(*) FROM d_batches WHERE bytes > 8192 AND n > 1}), '0', '(d) no batch over max_batch_size_bytes but a single record');
is(sql(q{SELECT n FROM d_batches WHERE ids = 'big'}), '1', '(d) the larger record went alone');
is(sql(q{SELECT max(n) FROM d_batches}), '2', '(d) batches of two 3 kB records');
is(sql(q{SELECT sum(n) FROM d_batches}), '10', '(d) every other record applied once');
is(sql(qq{SELECT string_agg(jsonb_array_length(records) || ' ' || (records->0#>>'{dynamodb,Keys,id,S}'), ',')
	FROM orders_stream.failures WHERE mapping_uuid = '$md'}), '1 poison', '(d) the failing record bisected into failures alone');

$node->stop;
done_testing();
