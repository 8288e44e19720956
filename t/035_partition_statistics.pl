# 035_partition_statistics.pl: a partition of record_store that holds
# records gets its statistics from maintenance, autovacuum or not.
#
# Planned from default estimates (a partition autovacuum has not analyzed
# yet), a read of orders_stream.records by position with its own ORDER BY
# sorts every later record of the stream, however many; with statistics the
# planner sees how many that is (bench/read_scale.sh measures the plans at
# scale).  Autovacuum is off here: only maintenance can analyze.  A partition whose autovacuum an administrator turned off is
# left alone.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('partition_statistics', extra_conf => "autovacuum = off\n");

sql(q{
CREATE ROLE reader LOGIN;
CREATE TABLE orders (id int PRIMARY KEY, note text);
GRANT SELECT ON orders TO reader;
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE');
INSERT INTO orders SELECT g, repeat('x', 40) FROM generate_series(1, 20000) g;
SELECT orders_stream.wait_for_capture();
});
my $part = sql(q{SELECT DISTINCT tableoid::regclass FROM orders_stream.record_store LIMIT 1});
ok($node->poll_query_until('postgres', qq{SELECT reltuples > 0 FROM pg_class WHERE oid = '$part'::regclass}),
	'maintenance analyzes the partition that holds the records');

# an administrator's autovacuum_enabled = false is theirs: maintenance leaves that partition alone
sql(qq{ALTER TABLE $part SET (autovacuum_enabled = false);
	DELETE FROM pg_statistic WHERE starelid = '$part'::regclass;
	UPDATE pg_class SET reltuples = -1 WHERE oid = '$part'::regclass;
	SELECT orders_stream_internal.maintain_partitions();});
is(sql(qq{SELECT reltuples FROM pg_class WHERE oid = '$part'::regclass}), '-1',
	'nor a partition whose autovacuum an administrator turned off');

$node->stop;
done_testing();
