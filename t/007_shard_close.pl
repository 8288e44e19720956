# 007_shard_close.pl: a disabled stream's shard closes exactly.
#
# disable_stream closes the shard at the commit of the disabling transaction:
#  - a transaction that wrote to the table before disable_stream and commits
#    while it runs: disable_stream waits for it (SHARE ROW EXCLUSIVE on the
#    table), so its records are in the shard, before the closing position;
#  - a transaction whose snapshot predates the disable but that writes after
#    it commits: in no shard of the stream, nor of any stream if none is
#    enabled; in the next stream if one was enabled in between;
#  - EndingSequenceNumber (DescribeStream) is the last record actually in the
#    shard, GetRecords ends the shard there (no NextShardIterator), and both
#    are in place only together with every record of the shard (DISABLING
#    until then);
#  - a capture worker killed after the disable: the shard is closed once, at
#    the same position, no record lost or doubled.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('shard_close', extra_conf => "restart_after_crash = on\n");

sql(q{CREATE TABLE t (id int PRIMARY KEY, v text); CREATE TABLE other (id int)});
my $s1 = sql(q{SELECT orders_stream.enable_stream('t')});

# stream ARN -> the ids of its records, in SequenceNumber order
sub ids
{
	my ($arn) = @_;
	return sql(qq{
		SELECT coalesce(string_agg(r.record::jsonb->'dynamodb'->'Keys'->'id'->>'N', ',' ORDER BY r.sequence_number), '')
		  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
		 WHERE s.stream_arn = '$arn'});
}

sub description
{
	my ($arn) = @_;
	return sql(qq{SELECT d->>'StreamStatus' || '|' || coalesce(d->'Shards'->0->'SequenceNumberRange'->>'EndingSequenceNumber', '')
		FROM (SELECT orders_stream."DescribeStream"('$arn')->'StreamDescription') x(d)});
}

# ---- written before the disable, committed while it runs; then a re-enable ----
sql(q{INSERT INTO t VALUES (1, 'before')});
my $w = $node->background_psql('postgres');
$w->query_safe(q{BEGIN; INSERT INTO t VALUES (2, 'open during disable')});
# a transaction whose snapshot predates the disable, writing only after it
my $late = $node->background_psql('postgres');
$late->query_safe(q{BEGIN ISOLATION LEVEL REPEATABLE READ; INSERT INTO other VALUES (1)});
my $d = $node->background_psql('postgres');
$d->query_until(qr/disabling/, q{\echo disabling
SELECT orders_stream.disable_stream('t');
\echo disabled
});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event_type = 'Lock' AND query LIKE '%disable_stream%'}),
	'disable_stream waits for the transaction that wrote to the table');
$w->query_safe('COMMIT');
$w->quit;
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM orders_stream.streams WHERE disabled_at IS NULL}),
	'then disables the stream');
$d->quit;

# written after the disable committed, by a transaction older than it
$late->query_safe(q{INSERT INTO t VALUES (3, 'after disable, old snapshot'); COMMIT});
$late->quit;
sql(q{INSERT INTO t VALUES (4, 'no stream')});
my $s2 = sql(q{SELECT orders_stream.enable_stream('t', 'KEYS_ONLY')});
sql(q{INSERT INTO t VALUES (5, 'second stream')});
capture();

is(ids($s1), '1,2', 'the first shard: what committed before the disable, the open transaction too');
is(ids($s2), '5', 'the second shard: only what committed after its enable');
my ($status, $ending) = split /\|/, description($s1);
is($status, 'DISABLED', 'DescribeStream: DISABLED once capture has passed the disable');
is($ending, sql(qq{SELECT max(r.sequence_number) FROM orders_stream.records r
	JOIN orders_stream.streams s USING (stream_id) WHERE s.stream_arn = '$s1'}),
	'EndingSequenceNumber is the last record of the shard');
cmp_ok(sql(qq{SELECT closing_sequence_number FROM orders_stream.streams WHERE stream_arn = '$s1'}),
	'gt', $ending, 'the shard closes after its last record');
is(description($s2), 'ENABLED|', 'the open shard has no EndingSequenceNumber');
my $shard = sql(qq{SELECT shard_id FROM orders_stream.streams WHERE stream_arn = '$s1'});
is(sql(qq{SELECT r ? 'NextShardIterator' FROM orders_stream."GetRecords"(
	orders_stream."GetShardIterator"('$s1', '$shard', 'TRIM_HORIZON')->>'ShardIterator') r}),
	'f', 'GetRecords: no NextShardIterator at the end of the closed shard');
is(sql(qq{SELECT r ? 'NextShardIterator' FROM orders_stream."GetRecords"(
	orders_stream."GetShardIterator"('$s1', '$shard', 'TRIM_HORIZON')->>'ShardIterator', 1) r}),
	't', 'but one before its end');

# ---- the capture worker killed between the disable and its close ----
sql(q{INSERT INTO t VALUES (6, 'kept')});
capture();
my $pid = OrdersStream::worker_pid($node, 'orders_stream capture');
sql(q{SELECT orders_stream.disable_stream('t')});
kill 'KILL', $pid if $pid =~ /^\d+$/;
OrdersStream::wait_new_worker($node, 'orders_stream capture', $pid) if $pid =~ /^\d+$/;
capture();
is(ids($s2), '5,6', 'after a crash: every record of the shard, once');
($status, $ending) = split /\|/, description($s2);
is("$status $ending", 'DISABLED ' . sql(qq{SELECT max(r.sequence_number) FROM orders_stream.records r
	JOIN orders_stream.streams s USING (stream_id) WHERE s.stream_arn = '$s2'}),
	'after a crash: closed at its last record');
is(sql(q{SELECT count(*) FROM orders_stream.streams WHERE disabled_at IS NOT NULL AND ending_sequence_number IS NULL}),
	'0', 'no shard left unclosed');

done_testing();
