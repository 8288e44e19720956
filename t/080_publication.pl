# 080_publication.pl: fanning the stream out with logical replication.
#
# orders_stream.records is published (FOR TABLE ... WITH
# (publish_via_partition_root = true)) to a second cluster without
# orders_stream, into a plain table of the same name, through a replication
# role that is not a superuser.  Records stored before the subscription
# (initial copy) and after it, across partitions created and dropped by
# retention on the publisher meanwhile (partition_interval 2s, retention
# 8s), all arrive, each once.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);

my $pub = OrdersStream::new_node('publisher', extra_conf => q{
orders_stream.partition_interval = '2s'
orders_stream.retention = '8s'
});
$pub->safe_psql('postgres', q{
CREATE TABLE orders (id int PRIMARY KEY, item text);
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE');
INSERT INTO orders SELECT g, 'before' FROM generate_series(1, 100) g;
/* README "Fan-out by publication" */
CREATE ROLE replicator LOGIN REPLICATION BYPASSRLS;
GRANT SELECT ON orders_stream.records TO replicator;
CREATE PUBLICATION orders_stream_records FOR TABLE orders_stream.records
	WITH (publish_via_partition_root = true);
});
OrdersStream::capture($pub);

my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;
(my $connstr = $pub->connstr('postgres') . ' user=replicator') =~ s/'/''/g;
$sub->safe_psql('postgres', qq{
CREATE SCHEMA orders_stream;
CREATE TABLE orders_stream.records (
	stream_id	bigint NOT NULL,
	sequence_number text COLLATE "C" NOT NULL,
	captured_at timestamptz NOT NULL,
	record		json NOT NULL,
	PRIMARY KEY (stream_id, sequence_number)
);
CREATE SUBSCRIPTION orders_stream_records CONNECTION '$connstr' PUBLICATION orders_stream_records;
});
$sub->wait_for_subscription_sync($pub, 'orders_stream_records');
is($sub->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records'), '100',
	'the records stored before the subscription are copied');

# 26 seconds of writes: partitions are created ahead and dropped behind
my $log_offset = -s $pub->logfile;
my $partitions_before = $pub->safe_psql('postgres', 'SELECT max(partition::text) FROM orders_stream.partitions');
my $id = 100;
my $t0 = time;
while (time - $t0 < 26)
{
	$pub->safe_psql('postgres',
		"INSERT INTO orders SELECT g, 'during' FROM generate_series($id + 1, $id + 40) g");
	$id += 40;
	usleep(500_000);
}
OrdersStream::capture($pub);
ok($pub->log_contains('dropped \d+ expired stream partition', $log_offset),
	'retention dropped partitions on the publisher meanwhile');
cmp_ok($pub->safe_psql('postgres', 'SELECT max(partition::text) FROM orders_stream.partitions'),
	'gt', $partitions_before, 'and created new ones');
my $on_pub = $pub->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
cmp_ok($on_pub, '<', $id, "the publisher keeps only the retained records ($on_pub of $id)");

$pub->wait_for_catchup('orders_stream_records');
is($sub->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT (stream_id, sequence_number)),
	   count(DISTINCT record->'dynamodb'->'Keys'->'id'->>'N')
  FROM orders_stream.records}),
	"$id|$id|$id", 'the subscriber received every record once');
my $pub_rows = $pub->safe_psql('postgres', q{
SELECT string_agg(sequence_number || ' ' || md5(record::text), ',' ORDER BY sequence_number)
  FROM orders_stream.records});
# the oldest of the same snapshot: retention may drop a partition meanwhile
my ($oldest) = split / /, (split /,/, $pub_rows)[0];
my $sub_rows = $sub->safe_psql('postgres', qq{
SELECT string_agg(sequence_number || ' ' || md5(record::text), ',' ORDER BY sequence_number)
  FROM orders_stream.records WHERE sequence_number >= '$oldest'});
is($sub_rows, $pub_rows, 'identical to the publisher\'s retained records');

$sub->stop;
$pub->stop;
done_testing();
