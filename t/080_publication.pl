# 080_publication.pl: fanning the stream out with logical replication.
#
# orders_stream.records is a view: what is published is the compact table
# orders_stream.record_store (WITH (publish_via_partition_root = true)) and
# the streams catalog orders_stream.streams, through a replication role that
# is not a superuser.  The subscriber is a second cluster with orders_stream
# installed in a database other than its orders_stream.database (so no
# worker and no slot of its own there; shared_preload_libraries is still
# needed, the library refuses to load otherwise) and a DEFAULT partition to
# receive the rows.  Its orders_stream.records view must return the
# publisher's records byte for byte: those stored before the subscription
# (initial copy) and after it, across partitions created and dropped by
# retention on the publisher meanwhile (partition_interval 2s, retention
# 8s), each once.  The subscription is owned by a role that is no longer a
# superuser (PostgreSQL 15 applies changes with its owner's privileges) and
# bypasses row security (record_store has it, for the records view).
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
# GRANT on record_store updates its pg_class row without a lock: not while
# the worker's first maintenance attaches the first partitions (and marks
# record_store as having some), or it fails with "tuple concurrently updated"
ok($pub->poll_query_until('postgres', 'SELECT count(*) > 0 FROM orders_stream.partitions'),
	'the first partitions are attached');
$pub->safe_psql('postgres', q{
CREATE TABLE orders (id int PRIMARY KEY, item text);
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE');
INSERT INTO orders SELECT g, 'before' FROM generate_series(1, 100) g;
/* README "Fan-out by publication" */
CREATE ROLE replicator LOGIN REPLICATION BYPASSRLS;
GRANT SELECT ON orders_stream.record_store, orders_stream.streams TO replicator;
CREATE PUBLICATION orders_stream_records
	FOR TABLE orders_stream.record_store, orders_stream.streams
	WITH (publish_via_partition_root = true);
});
OrdersStream::capture($pub);

# the subscriber: without shared_preload_libraries the extension cannot be installed
my $sub = PostgreSQL::Test::Cluster->new('subscriber');
$sub->init;
$sub->start;
$sub->safe_psql('postgres', 'CREATE DATABASE replica');
my ($rc, $out, $err) = (0, '', '');
$rc = $sub->psql('replica', 'CREATE EXTENSION orders_stream', stderr => \$err);
isnt($rc, 0, 'a subscriber without orders_stream preloaded cannot install it');
like($err, qr/must be loaded via shared_preload_libraries/, 'and says so');
# orders_stream.database stays 'postgres', which does not have the extension
$sub->append_conf('postgresql.conf', q{shared_preload_libraries = 'orders_stream'});
$sub->restart;
$sub->psql('replica', 'CREATE EXTENSION orders_stream', stderr => \$err, on_error_stop => 1);
like($err, qr/orders_stream captures database "postgres", not "replica"/,
	'installed outside orders_stream.database, the extension warns that nothing is captured there');
(my $connstr = $pub->connstr('postgres') . ' user=replicator') =~ s/'/''/g;
$sub->safe_psql('replica', qq{
/* README "Fan-out by publication" */
CREATE TABLE orders_stream.record_store_replica PARTITION OF orders_stream.record_store DEFAULT;
CREATE ROLE applier LOGIN SUPERUSER;
SET ROLE applier;
CREATE SUBSCRIPTION orders_stream_records CONNECTION '$connstr' PUBLICATION orders_stream_records
	WITH (enabled = false);
RESET ROLE;
ALTER ROLE applier NOSUPERUSER BYPASSRLS;
GRANT USAGE ON SCHEMA orders_stream TO applier;
/* the apply worker checks its privileges on the partition it writes to,
   and needs SELECT to find the rows it updates */
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON orders_stream.record_store,
	orders_stream.record_store_replica, orders_stream.streams TO applier;
ALTER SUBSCRIPTION orders_stream_records ENABLE;
});
$sub->wait_for_subscription_sync($pub, 'orders_stream_records', 'replica');
is($sub->safe_psql('replica', 'SELECT count(*) FROM orders_stream.records'), '100',
	'the records stored before the subscription are copied');
# the workers started in orders_stream.database exit there: no extension
ok($sub->poll_query_until('replica', q{
SELECT NOT EXISTS (SELECT FROM pg_replication_slots)
   AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type LIKE 'orders_stream %')}),
	'the subscriber has no slot and no orders_stream worker');

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
	# pacing the writes over the seconds retention acts on, not a wait
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
is($sub->safe_psql('replica', q{
SELECT count(*), count(DISTINCT (stream_id, sequence_number)),
	   count(DISTINCT record->'dynamodb'->'Keys'->'id'->>'N')
  FROM orders_stream.records}),
	"$id|$id|$id", 'the subscriber received every record once');
my $pub_rows = $pub->safe_psql('postgres', q{
SELECT string_agg(sequence_number || ' ' || md5(record::text), ',' ORDER BY sequence_number)
  FROM orders_stream.records});
# the oldest of the same snapshot: retention may drop a partition meanwhile
my ($oldest) = split / /, (split /,/, $pub_rows)[0];
my $sub_rows = $sub->safe_psql('replica', qq{
SELECT string_agg(sequence_number || ' ' || md5(record::text), ',' ORDER BY sequence_number)
  FROM orders_stream.records WHERE sequence_number >= '$oldest'});
is($sub_rows, $pub_rows, 'its records view returns the publisher\'s retained records byte for byte');

# README: a consumer of the publication without orders_stream (Debezium)
# rebuilds each record from the published columns by concatenation
is($sub->safe_psql('replica', q{
SELECT count(*) FILTER (WHERE rebuilt IS DISTINCT FROM v.record::text), count(*)
  FROM orders_stream.record_store r
  JOIN orders_stream.streams s USING (stream_id)
  JOIN orders_stream.records v USING (stream_id, sequence_key),
	   LATERAL (SELECT lpad((('x' || encode(substr(r.sequence_key, 1, 8), 'hex'))::bit(64)::bigint)::text, 20, '0')
					|| lpad((('x' || encode(substr(r.sequence_key, 9, 4), 'hex'))::bit(32)::bigint)::text, 10, '0')
					AS seq) q,
	   LATERAL (SELECT '{"eventID":"' || md5(s.stream_arn || '/' || q.seq)
					|| '","eventName":"' || r.event_name
					|| '","eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":'
					|| to_json(split_part(s.stream_arn, ':', 4)) || ',"dynamodb":{' || r.body
					|| ',"SequenceNumber":"' || q.seq || '","SizeBytes":' || r.size_bytes
					|| ',"StreamViewType":"' || s.view_type || '"},'
					|| CASE WHEN r.ttl_delete
						THEN '"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},'
						ELSE '' END
					|| '"eventSourceARN":' || to_json(s.stream_arn) || '}' AS rebuilt) b}),
	"0|$id", 'the record rebuilt by concatenation, as README describes, is record_json\'s');

# a stream's disable travels too (an UPDATE of orders_stream.streams)
$pub->safe_psql('postgres', q{SELECT orders_stream.disable_stream('orders')});
OrdersStream::capture($pub);
$pub->wait_for_catchup('orders_stream_records');
is($sub->safe_psql('replica', 'SELECT disabled_at IS NOT NULL FROM orders_stream.streams'),
	't', 'the subscriber sees the stream disabled');

# the relids of orders_stream.streams are the publisher's: ordinary roles
# of the subscriber read no record through the readable_streams rule
$sub->safe_psql('replica', 'CREATE ROLE reader');
($rc, $out, $err) = OrdersStream::psql_as($sub, 'reader',
	'SELECT count(*) FROM orders_stream.records', db => 'replica');
is($out, '0', 'an ordinary role of the subscriber reads no record');

$sub->stop;
$pub->stop;
done_testing();
