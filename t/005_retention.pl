# 005_retention.pl: retention and partition trimming.
#
# With orders_stream.partition_interval = 2s and orders_stream.retention = 4s:
#  - maintenance (every 10 s) moves each stream's trim point past the records
#    older than the retention, never before they are; the records up to it
#    are never returned, by get_records nor by orders_stream.records, even
#    before their partition is dropped;
#  - stream_status' records_retained is the number of records after the trim
#    point, exactly, whatever capture and maintenance do meanwhile;
#  - expired partitions are dropped, so their number stays bounded while time
#    passes, and a reader's open transaction puts the drop off without any
#    other reader waiting behind it;
#  - a SequenceNumber of a trimmed record gives TrimmedDataAccessException
#    (get_shard_iterator AT_SEQUENCE_NUMBER, and get_records with an iterator
#    taken before the trim);
#  - trimming is DROP TABLE: no row is ever deleted from a records partition,
#    whether it holds 100 records or 200,000 (what that costs is measured by
#    bench/retention.sh).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep time);
use List::Util qw(max min);

my $RETENTION = 4;    # seconds
my $INTERVAL = 2;     # seconds

my $node = OrdersStream::new_node('retention', no_extension => 1, extra_conf => qq{
orders_stream.partition_interval = ${INTERVAL}s
orders_stream.retention = ${RETENTION}s
# no autovacuum of the test partitions competing with DROP TABLE for its lock
autovacuum = off
});

$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
my $arn = $node->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, version int NOT NULL DEFAULT 1, note text);
	CREATE ROLE reader LOGIN;
	GRANT SELECT ON orders TO reader;
	SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
});
my $shard = $node->safe_psql('postgres',
	qq{SELECT orders_stream.describe_stream('$arn')->'StreamDescription'->'Shards'->0->>'ShardId'});
my $sid = $node->safe_psql('postgres', 'SELECT stream_id FROM orders_stream.streams');

# SequenceNumbers returned by get_records from TRIM_HORIZON, as reader
sub api_seqs
{
	return $node->safe_psql('postgres', qq{
		SET ROLE reader;
		SELECT coalesce(string_agg(e->'dynamodb'->>'SequenceNumber', ' '), '')
		  FROM jsonb_array_elements(orders_stream.get_records(
			orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON'), 1000)->'Records') e});
}

# ---- batch A ----
$node->safe_psql('postgres',
	q{INSERT INTO orders SELECT g, 1, 'batch A' FROM generate_series(1, 50) g});
capture();
my ($a_first, $a_last, $a_part) = split /\|/, $node->safe_psql('postgres', q{
	SELECT min(sequence_number), max(sequence_number),
		   (SELECT min(tableoid::regclass::text) FROM orders_stream.record_store)
	  FROM orders_stream.records});
like($a_part, qr/^orders_stream\."?records_\d{8}T\d{6}"?$/, "batch A stored in partition $a_part");
my @seen = split / /, api_seqs();
is(scalar(@seen), 50, 'batch A readable through get_records while fresh');
is($node->safe_psql('postgres', 'SET ROLE reader; SELECT count(*) FROM orders_stream.records'),
	'50', 'batch A readable through orders_stream.records while fresh');
my $it_a = $node->safe_psql('postgres',
	qq{SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'AT_SEQUENCE_NUMBER', '$a_first')});
# at the record that will be the newest trimmed one
my $it_a_last = $node->safe_psql('postgres',
	qq{SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'AT_SEQUENCE_NUMBER', '$a_last')});

# The trim state: nothing trimmed before it is older than the retention,
# and records_retained counts exactly the records after the trim point.
sub check_trim_state
{
	my ($what) = @_;
	my ($early, $miscount) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM orders_stream.record_store r
				  JOIN orders_stream.stream_trim t USING (stream_id)
				 WHERE r.sequence_key <= t.trimmed_key
				   AND r.captured_at >= now() - interval '$RETENTION s'),
			   (SELECT count(*) FROM orders_stream.stream_status s
				  JOIN orders_stream.readable_streams rs USING (stream_arn)
				 WHERE s.records_retained <> (SELECT count(*) FROM orders_stream.record_store r
											   WHERE r.stream_id = rs.stream_id
												 AND r.sequence_key > rs.trim_key))});
	is("$early $miscount", '0 0', "$what: trimmed only once expired, counted exactly");
}
check_trim_state('batch A fresh');

# The trim point and the counts are read from state, and the one probe of
# the records (the oldest retained) walks the index, in partitions that
# autovacuum (off here) has never analyzed too.
my $plan = $node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT trim_point, trim_key FROM orders_stream.readable_streams');
unlike($plan, qr/records_|record_store/, 'readable_streams reads no record');
$plan = $node->safe_psql('postgres', 'EXPLAIN (COSTS OFF) SELECT * FROM orders_stream.stream_status');
unlike($plan, qr/Seq Scan on "?records_|Bitmap Heap Scan on "?records_|->\s+Sort\b/, 'stream_status scans no partition');
like($plan, qr/Limit\s+->\s+Merge Append\s+Sort Key: r\.sequence_key\s+->\s+Index Scan using "?records_\d{8}T\d{6}_stream_id_sequence_key_idx/,
	'its oldest record: the first index entry after the trim point');

# ---- once trimmed, never returned ----
# within one maintenance run of its expiry (README "Retention")
ok($node->poll_query_until('postgres', qq{
	SELECT trim_point >= '$a_last' FROM orders_stream.readable_streams WHERE stream_id = $sid}),
	'batch A is trimmed once older than the retention');
check_trim_state('batch A trimmed');
is($node->safe_psql('postgres', qq{
	SET ROLE reader;
	SELECT count(*) FROM jsonb_array_elements(orders_stream.get_records(
		orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON'), 1000)->'Records') e
	 WHERE e->'dynamodb'->>'SequenceNumber' <= '$a_last'}),
	'0', 'expired records are not returned by get_records');
is($node->safe_psql('postgres', qq{
	SET ROLE reader;
	SELECT count(*) FROM orders_stream.records WHERE sequence_number <= '$a_last'}),
	'0', 'expired records are not visible in orders_stream.records');
my ($rc, $out, $err) = $node->psql('postgres', qq{
	SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'AT_SEQUENCE_NUMBER', '$a_first')});
like($err, qr/TrimmedDataAccessException/,
	'AT_SEQUENCE_NUMBER of an expired record: TrimmedDataAccessException');
($rc, $out, $err) = $node->psql('postgres', qq{SELECT orders_stream.get_records('$it_a', 10)});
like($err, qr/TrimmedDataAccessException/,
	'iterator taken before the trim: TrimmedDataAccessException');
($rc, $out, $err) = $node->psql('postgres', qq{SELECT orders_stream."GetRecords"('$it_a_last')});
like($err, qr/TrimmedDataAccessException.*\n.*"__type": "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException"/,
	'iterator AT the newest trimmed record: TrimmedDataAccessException, not an empty page');
(my $a_last_short = $a_last) =~ s/^0+//;
($rc, $out, $err) = $node->psql('postgres', qq{
	SELECT jsonb_array_length(orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator',
		orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', '$arn',
			'ShardId', '$shard', 'ShardIteratorType', 'AFTER_SEQUENCE_NUMBER',
			'SequenceNumber', '$a_last_short'))->'ShardIterator'))->'Records')});
is("$rc $out", '0 0', 'AFTER_SEQUENCE_NUMBER of the newest trimmed record, without leading zeros: no error');

# ---- the expired partition is dropped ----
ok($node->poll_query_until('postgres', qq{SELECT to_regclass('$a_part') IS NULL}),
	"partition $a_part dropped");
ok($node->log_contains('orders_stream dropped \d+ expired stream partition'),
	'the worker logged the drop');
cmp_ok($node->safe_psql('postgres', qq{SELECT trimmed_through FROM orders_stream.stream_trim WHERE stream_id = $sid}),
	'ge', $a_last, 'stream_trim remembers the newest dropped SequenceNumber');
($rc, $out, $err) = $node->psql('postgres', qq{
	SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'AT_SEQUENCE_NUMBER', '$a_last')});
like($err, qr/TrimmedDataAccessException/,
	'AT_SEQUENCE_NUMBER of a record of a dropped partition: TrimmedDataAccessException');
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (100, 1, 'batch B')});
capture();
is($node->safe_psql('postgres', qq{
	SET ROLE reader;
	SELECT string_agg(e->>'eventName' || ':' || (e->'dynamodb'->'Keys'->'id'->>'N'), ' ')
	  FROM jsonb_array_elements(orders_stream.get_records(
		orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON'), 1000)->'Records') e}),
	'INSERT:100', 'TRIM_HORIZON starts after the trimmed records');

# ---- partitions stay bounded while time passes ----
# Read paths never return a record at or before the trim point (read in the
# same statement, so no later than the one the read used).
# Kept: the ones made ahead (6 hours worth, at most 48: maintain_partitions), the
# current one, and the ones overlapping the last RETENTION seconds plus what
# expires between the worker's 10 s maintenance runs.
my $ahead = min(48, max(2, int((6 * 3600 + $INTERVAL - 1) / $INTERVAL)));
my $bound = $ahead + 1 + int((10 + $RETENTION) / $INTERVAL) + 3;
my ($max_parts, $violations, %names) = (0, 0);
my $t_end = time + 25;
my $i = 0;
while (time < $t_end)
{
	$i++;
	# a trickle of changes, so the worker stores into new partitions
	$node->safe_psql('postgres', "INSERT INTO orders VALUES (1000 + $i, 1, 'trickle')");
	my ($count, $list, $old_api) = split /\|/, $node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM orders_stream.partitions),
			   (SELECT string_agg(partition::text, ' ') FROM orders_stream.partitions),
			   (SELECT count(*) FROM jsonb_array_elements(orders_stream.get_records(
					orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON'), 1000)->'Records') e
				 WHERE e->'dynamodb'->>'SequenceNumber' <= (SELECT trim_point FROM orders_stream.readable_streams
															  WHERE stream_id = $sid))});
	my $old_view_reader = $node->safe_psql('postgres', qq{
		SET ROLE reader;
		SELECT count(*) FROM orders_stream.records r JOIN orders_stream.readable_streams s USING (stream_id)
		 WHERE r.sequence_key <= s.trim_key});
	$violations += $old_api + $old_view_reader;
	check_trim_state("trickle $i") if $i % 10 == 0;
	$max_parts = max($max_parts, $count);
	$names{$_} = 1 for split / /, $list;
	usleep(500_000);    # pacing the trickle, not synchronisation
}
my $now_parts = $node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.partitions');
note sprintf('partitions: at most %d at a time (bound %d), %d distinct seen over 25 s, %d now',
	$max_parts, $bound, scalar(keys %names), $now_parts);
cmp_ok($max_parts, '<=', $bound, 'the number of partitions stays bounded');
cmp_ok(scalar(keys %names), '>', $max_parts, 'old partitions are dropped as new ones come');
is($violations, 0, 'no trimmed record was ever returned');
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM orders_stream.record_store r
	  LEFT JOIN orders_stream.stream_trim t USING (stream_id)
	 WHERE r.captured_at < now() - interval '$RETENTION s' - interval '10 s'
	   AND r.sequence_key > coalesce(t.trimmed_key, '')}),
	'the trim point keeps up with the retention');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_inherits WHERE inhparent = 'orders_stream.record_store'::regclass}),
	$now_parts, 'orders_stream.partitions lists exactly the partitions of records');

# ---- a reader's long transaction stalls neither capture nor other readers ----
# Dropping a partition needs ACCESS EXCLUSIVE on records, which an open
# transaction that has read records blocks.  The worker must give up on it
# without ever queueing for it (every reader would wait behind the request:
# readers here allow themselves 100 ms for a lock), and never creates the
# partition it stores into (t/017_reader_lock_capture.pl holds the locks
# for longer than the partitions made ahead last).
my $long = $node->background_psql('postgres', extra_params => [ '-U', 'reader' ]);
$long->query_safe('BEGIN');
$long->query_safe('SELECT count(*) FROM orders_stream.records');
my $log_offset = -s $node->logfile;
my ($stalls, $blocked) = (0, 0);
$t_end = time + 15;
while (time < $t_end)
{
	$i++;
	$node->safe_psql('postgres', "INSERT INTO orders VALUES (1000 + $i, 1, 'during a long read')");
	my ($rc1, $o1, $e1) = $node->psql('postgres', q{SELECT orders_stream.wait_for_capture('10s')});
	$stalls++ if $e1 ne '';
	my ($rc2, $o2, $e2) = $node->psql('postgres', q{
		SET lock_timeout = '100ms';
		SELECT count(*) FROM orders_stream.records}, extra_params => [ '-U', 'reader' ]);
	$blocked++ if $e2 ne '';
	usleep(500_000);    # pacing, not synchronisation
}
is($stalls, 0, 'capture keeps up while a reader holds a transaction open on records');
is($blocked, 0, 'other readers are not blocked behind the worker');
ok($node->log_contains(qr/orders_stream.record_store is in use: expired stream partition .* not dropped this time/, $log_offset),
	'the worker put off dropping expired partitions');

# maintenance trying to drop, a second reader at the same time: it returns
# at once, as nothing it needs is held or queued for
my $maint = $node->background_psql('postgres');
$maint->query_safe('SET client_min_messages = error');
my $second = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'reader' ]);
$second->query_safe(q{SET lock_timeout = '20ms'});
my $queued = 0;
for my $round (1 .. 5)
{
	$maint->query_until(qr/maintaining/,
		"\\echo maintaining\nSELECT orders_stream_internal.maintain_partitions();\n");
	# for longer than the 200 ms an attempt that queued would wait
	my $until = time + 0.4;
	while (time < $until)
	{
		my ($out, $ret) = $second->query('SELECT count(*) FROM orders_stream.records');
		$queued++ if $ret != 0;
	}
	$maint->query_safe('SELECT 1');
}
ok($node->log_contains(qr/LOG:  orders_stream.record_store is in use: expired stream partition/, $log_offset),
	'maintenance found the lock in use meanwhile');
is($queued, 0, 'a reader never waits for the lock that maintenance tries to take');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'orders_stream.record_store'::regclass}),
	'0', 'no lock request on record_store left queued');
$second->quit;
$maint->quit;
$long->query_safe('COMMIT');
$long->quit;
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM orders_stream.partitions
	 WHERE upper_bound <= now() - interval '$RETENTION s' - interval '12 s'}),
	'once the reader is gone, the expired partitions are dropped');

my $pid0 = worker_pid('orders_stream capture');
# an event trigger refusing CREATE TABLE: no partition can be made ahead
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE FUNCTION no_new_tables() RETURNS event_trigger LANGUAGE plpgsql
		AS $$ BEGIN RAISE EXCEPTION 'no new tables today'; END $$;
	CREATE EVENT TRIGGER no_new_tables ON ddl_command_start WHEN TAG IN ('CREATE TABLE')
		EXECUTE FUNCTION no_new_tables();
});
$node->wait_for_log(qr/no new tables today/, $log_offset);
($rc, $out, $err) = $node->psql('postgres', q{
	INSERT INTO orders VALUES (5000, 1, 'maintenance failing');
	SELECT orders_stream.wait_for_capture('30s');});
is($err, '', 'capture goes on while maintenance fails');
is(worker_pid('orders_stream capture'), $pid0, 'the worker did not restart');
ok($node->log_contains(qr/WARNING:  orders_stream could not maintain stream partitions: no new tables today/,
	$log_offset), 'the failure is a warning');
$node->safe_psql('postgres', 'DROP EVENT TRIGGER no_new_tables');

# a view on a partition: that one cannot be dropped, the others are
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (5001, 1, 'pinned')});
capture();
my $pinned = $node->safe_psql('postgres', q{
	SELECT s.tableoid::regclass FROM orders_stream.record_store s
	  JOIN orders_stream.records r USING (stream_id, sequence_key)
	 WHERE r.record->'dynamodb'->'Keys'->'id'->>'N' = '5001'});
$node->safe_psql('postgres', "CREATE VIEW pinned_view AS SELECT * FROM $pinned");
$log_offset = $node->wait_for_log(qr/could not drop expired stream partition .*: cannot drop table/, $log_offset);
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 0 FROM orders_stream.partitions
	 WHERE upper_bound <= now() - interval '$RETENTION s' - interval '12 s'
	   AND partition <> '$pinned'::regclass}),
	'expired partitions next to one that cannot be dropped are dropped');
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (5002, 1, 'after the pin')});
capture();
is(worker_pid('orders_stream capture'), $pid0, 'the worker is still the same');
$node->safe_psql('postgres', 'DROP VIEW pinned_view');
ok($node->poll_query_until('postgres', qq{SELECT to_regclass('$pinned') IS NULL}),
	'once nothing depends on it, the partition is dropped');

# ---- trimming is DROP TABLE, whatever the number of records ----
# Expired partitions of 100 and 200,000 records, made by hand
# (test/expired_partition.sql), each the one partition that the
# maintain_partitions() under test drops.
$node->safe_psql('postgres', slurp_file('test/expired_partition.sql'));

my %drops;
my $age = 0;
for my $round (1 .. 3)
{
	for my $n (100, 200_000)
	{
		for my $attempt (1 .. 5)
		{
			$age++;
			my $part = $node->safe_psql('postgres',
				"SELECT make_old_partition($n, interval '1 hour' + $age * interval '$INTERVAL s')");
			$node->safe_psql('postgres', 'CHECKPOINT');
			# drop what expired meanwhile, then ours alone
			my ($stdout, $stderr);
			$node->psql('postgres', qq{
SELECT orders_stream_internal.maintain_partitions();
SELECT make_visible('$part');
SELECT pg_stat_force_next_flush();
SELECT 'del0=' || tup_deleted FROM pg_stat_database WHERE datname = current_database();
SELECT 'dropped=' || orders_stream_internal.maintain_partitions();
SELECT pg_stat_force_next_flush();
SELECT 'del1=' || tup_deleted FROM pg_stat_database WHERE datname = current_database();
SELECT 'gone=' || CASE WHEN to_regclass('$part') IS NULL THEN 'yes' ELSE 'no' END;
},
				stdout => \$stdout, stderr => \$stderr, on_error_die => 1);
			my ($del0) = $stdout =~ /^del0=(\d+)$/m;
			my ($dropped) = $stdout =~ /^dropped=(\d+)$/m;
			my ($del1) = $stdout =~ /^del1=(\d+)$/m;
			my ($gone) = $stdout =~ /^gone=(\w+)$/m;
			die "unexpected output: $stdout"
			  unless defined $del0 && defined $dropped && defined $del1 && defined $gone;
			if ($dropped != 1 || $gone ne 'yes')
			{
				note "attempt $attempt for $n records: dropped $dropped, retrying";
				next;
			}
			my $del = $del1 - $del0;
			note sprintf('maintain_partitions dropping a partition of %d records: '
				  . '%d tuples deleted in the database, catalog rows included', $n, $del);
			cmp_ok($del, '<', 1000, "dropping $n records deletes no records, only catalog rows")
			  if $round == 1;
			$drops{$n}++;
			last;
		}
	}
}
is($drops{200_000} // 0, 3, 'three drops of a 200,000-record partition');

check_trim_state('after hand-made partitions');
is($node->safe_psql('postgres', q{
	SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables
	 WHERE relid IN (SELECT inhrelid FROM pg_inherits
					  WHERE inhparent = 'orders_stream.record_store'::regclass)}),
	'0', 'no row was ever deleted from a records partition');

# ---- another partition_interval after a restart ----
# The partitions made ahead under the old interval must not make the new
# ones overlap them (CREATE TABLE ... PARTITION OF would fail, every time).
my $covered = $node->safe_psql('postgres', 'SELECT max(upper_bound) FROM orders_stream.partitions');
$node->append_conf('postgresql.conf', 'orders_stream.partition_interval = 7s');
$log_offset = -s $node->logfile;
$node->restart;
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (9999, 1, 'after the restart')});
capture();
ok($node->poll_query_until('postgres', qq{
	SELECT max(upper_bound) > '$covered'::timestamptz + interval '20 s' FROM orders_stream.partitions}),
	'with a new partition_interval, partitions are made ahead again');
ok(!$node->log_contains(qr/would overlap|ERROR:/, $log_offset),
	'no overlapping partition, no error');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM orders_stream.partitions a JOIN orders_stream.partitions b
	    ON a.partition <> b.partition
	   AND a.lower_bound < b.upper_bound AND b.lower_bound < a.upper_bound}),
	'0', 'the partitions do not overlap');

$node->stop;
done_testing();
