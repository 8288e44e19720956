# 031_delivery_concurrent_readers.pl: no record is lost or skipped while
# clients (and the delivery worker) read the stream during capture.
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

my $node = OrdersStream::new_node('delivery_readers', extra_conf => $OrdersStream::DELIVERY_CONF);

# Readers of orders_stream.records (the delivery worker itself when it has
# caught up, wait_for_mapping, the status view, get_records) reach the rows
# the capture worker is storing.  Those rows must look in progress to them,
# never aborted, or they vanish for good.
sql(<<'SQL');
CREATE TABLE i_orders (id bigserial PRIMARY KEY, quantity int NOT NULL);
SELECT orders_stream.enable_stream('i_orders', 'NEW_IMAGE');
CREATE TABLE i_seen (seq text);
CREATE FUNCTION i_agg(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO i_seen SELECT r#>>'{dynamodb,SequenceNumber}' FROM jsonb_array_elements(event->'Records') r $$;
SQL
my $mi = sql(q{
	SELECT orders_stream.create_event_source_mapping('i_orders', 'i_agg(jsonb)', batch_size => 50,
		starting_position => 'LATEST')});
my $i_script = $node->basedir . '/i_orders.sql';
PostgreSQL::Test::Utils::append_to_file($i_script, "INSERT INTO i_orders (quantity) VALUES (1);\n");
{
	my $h = start_pgbench(qw(-c 4 -j 2 -T 4), '-f', $i_script);
	my $watch = $node->background_psql('postgres');
	while ($h->pumpable)
	{
		$watch->query_safe(qq{
			SELECT latest_sequence_number, iterator_age_ms FROM orders_stream.event_source_mapping_status WHERE uuid = '$mi';
			SELECT trim_point FROM orders_stream.readable_streams WHERE relid = 'i_orders'::regclass});
		$h->pump_nb;
		# the readers' pace while pgbench runs, not a wait for a condition
		usleep(2_000);
	}
	$h->finish;
	$watch->quit;
}
wait_mapping($mi);
my ($i_rows, $i_records, $i_seen) = split /\|/, sql(q{
	SELECT (SELECT count(*) FROM i_orders),
		   (SELECT count(*) FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
			 WHERE s.relid = 'i_orders'::regclass),
		   (SELECT count(DISTINCT seq) FROM i_seen)});
note "(i) $i_rows rows, $i_records records, $i_seen delivered";
is($i_records, $i_rows, '(i) every committed INSERT has its record, although clients read the stream meanwhile');
is($i_seen, $i_rows, '(i) and the mapping delivered every one');

$node->stop;
done_testing();
