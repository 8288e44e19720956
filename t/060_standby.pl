# 060_standby.pl: reading streams on a hot standby.
#
# orders_stream.records and the streams catalog are WAL-logged, so a
# streaming standby has them.  Checked here, with a streaming standby of a
# primary under writes:
#  - list_streams, describe_stream, get_shard_iterator / get_records (every
#    iterator type) and the AWS-shaped functions (ListStreams,
#    DescribeStream, GetShardIterator, GetRecords, dynamodb_streams) and
#    stream_status work read-only on the standby, for a role that may read
#    the table (not for one that may not);
#  - their answers equal the primary's once the standby has replayed as far;
#    with replay paused, the standby's records are a prefix of the primary's;
#  - no orders_stream worker runs on the standby, none crash-loops.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = OrdersStream::new_node('primary', init => { allows_streaming => 'logical' });
$primary->safe_psql('postgres', q{
CREATE ROLE reader LOGIN;
CREATE ROLE stranger LOGIN;
CREATE TABLE orders (id int PRIMARY KEY, item text, quantity int);
GRANT SELECT ON orders TO reader;
SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
INSERT INTO orders SELECT g, 'item' || g % 7, g FROM generate_series(1, 1500) g;
UPDATE orders SET quantity = quantity + 1 WHERE id % 3 = 0;
DELETE FROM orders WHERE id % 10 = 0;
/* every record of a stream, through GetShardIterator and GetRecords pages */
CREATE FUNCTION read_all(arn text, iterator_type text DEFAULT 'TRIM_HORIZON', seq text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	shard text := orders_stream."DescribeStream"(arn)#>>'{StreamDescription,Shards,0,ShardId}';
	it text := orders_stream.get_shard_iterator(arn, shard, iterator_type, seq);
	page jsonb;
	acc jsonb := '[]';
BEGIN
	LOOP
		page := orders_stream.get_records(it, 400);
		EXIT WHEN jsonb_array_length(page->'Records') = 0;
		acc := acc || (page->'Records');
		it := page->>'NextShardIterator';
		EXIT WHEN it IS NULL;
	END LOOP;
	RETURN acc;
END $$;
GRANT EXECUTE ON FUNCTION read_all TO PUBLIC;
});
OrdersStream::capture($primary);
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

# more changes after the backup, streamed to the standby
$primary->safe_psql('postgres', q{
INSERT INTO orders SELECT g, 'late', g FROM generate_series(2001, 2300) g;
UPDATE orders SET item = 'changed' WHERE id BETWEEN 2001 AND 2050;
});
OrdersStream::capture($primary);
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
my $arn = $primary->safe_psql('postgres', q{SELECT "StreamArn" FROM orders_stream.list_streams()});

my %queries = (
	'list_streams' => q{SELECT jsonb_agg(to_jsonb(s)) FROM orders_stream.list_streams() s},
	'ListStreams' => q{SELECT orders_stream."ListStreams"()},
	'describe_stream' => qq{SELECT orders_stream.describe_stream('$arn')},
	'DescribeStream via dynamodb_streams' =>
	  qq{SELECT orders_stream.dynamodb_streams('DescribeStream', '{"StreamArn": "$arn"}')},
	'TRIM_HORIZON pages' => qq{SELECT read_all('$arn')},
	'AT_SEQUENCE_NUMBER pages' => qq{SELECT read_all('$arn', 'AT_SEQUENCE_NUMBER',
		(SELECT min(sequence_number) FROM orders_stream.records WHERE record->'dynamodb'->'Keys'->'id'->>'N' = '500'))},
	'AFTER_SEQUENCE_NUMBER pages' => qq{SELECT read_all('$arn', 'AFTER_SEQUENCE_NUMBER',
		(SELECT min(sequence_number) FROM orders_stream.records WHERE record->'dynamodb'->'Keys'->'id'->>'N' = '500'))},
	'stream_status' => q{SELECT stream_arn, table_name, view_type, stream_status, records_retained, partitions,
		capture_exceptions FROM orders_stream.stream_status},
);
for my $name (sort keys %queries)
{
	my ($rc, $out, $err) = OrdersStream::psql_as($standby, 'reader', $queries{$name});
	is($rc, 0, "$name runs on the standby as a reader") or diag $err;
	my ($prc, $pout) = OrdersStream::psql_as($primary, 'reader', $queries{$name});
	is($out, $pout, "$name: the standby answers as the primary");
}
my $n = $standby->safe_psql('postgres', qq{SELECT jsonb_array_length(read_all('$arn'))});
is($n, $primary->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records'),
	"every record is readable on the standby ($n)");

# a GetShardIterator / GetRecords round trip in the AWS shapes, and LATEST
my ($rc, $out, $err) = OrdersStream::psql_as($standby, 'reader', qq{
SELECT jsonb_array_length(orders_stream."GetRecords"(
	orders_stream."GetShardIterator"('$arn',
		orders_stream.describe_stream('$arn')#>>'{StreamDescription,Shards,0,ShardId}',
		'TRIM_HORIZON')->>'ShardIterator', 1000)->'Records')});
is($out, '1000', 'GetShardIterator and GetRecords on the standby') or diag $err;
my $latest = $standby->safe_psql('postgres', qq{
SELECT orders_stream.get_shard_iterator('$arn',
	orders_stream.describe_stream('$arn')#>>'{StreamDescription,Shards,0,ShardId}', 'LATEST')});
ok($latest =~ /\|/, 'a LATEST iterator on the standby');

# privileges hold on the standby too
($rc, $out, $err) = OrdersStream::psql_as($standby, 'stranger', qq{SELECT orders_stream.describe_stream('$arn')});
like($err, qr/AccessDeniedException/, 'a role that may not read the table gets AccessDeniedException on the standby');
is($standby->safe_psql('postgres', q{SET ROLE stranger; SELECT count(*) FROM orders_stream.records}),
	'0', 'and no record');

# with replay paused, the standby is a consistent prefix of the primary
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
$standby->poll_query_until('postgres', q{SELECT pg_get_wal_replay_pause_state() = 'paused'})
  or die 'replay did not pause';
$primary->safe_psql('postgres', q{
INSERT INTO orders SELECT g, 'paused', g FROM generate_series(3001, 3200) g;
});
OrdersStream::capture($primary);
my $on_primary = $primary->safe_psql('postgres', qq{SELECT read_all('$arn')});
my $on_standby = $standby->safe_psql('postgres', qq{SELECT read_all('$arn')});
is($primary->safe_psql('postgres', qq{
SELECT jsonb_array_length('$on_primary'::jsonb) - jsonb_array_length('$on_standby'::jsonb)}),
	'200', 'while replay is paused the standby lacks exactly the records stored after its position');
is($primary->safe_psql('postgres', qq{
SELECT count(*) FROM jsonb_array_elements('$on_standby'::jsonb) WITH ORDINALITY s(r, i)
  JOIN jsonb_array_elements('$on_primary'::jsonb) WITH ORDINALITY p(r, i) USING (i)
 WHERE s.r <> p.r}), '0', 'and the records it has are the primary\'s first ones, in order');
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', qq{SELECT read_all('$arn')}), $on_primary,
	'once replayed, the standby returns the same records');

# no worker on the standby, no crash loop
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'orders_stream%'}),
	'0', 'no orders_stream worker runs on the standby');
my $log = slurp_file($standby->logfile);
unlike($log, qr/orders_stream.*(exited with exit code|terminated by signal)/,
	'no orders_stream process exited on the standby');

$standby->stop;
$primary->stop;
done_testing();
