# 017_reader_lock_capture.pl: a reader's lock never stalls capture.
#
# A hostile ordinary LOGIN role opens a transaction, takes every lock it can
# on every relation of orders_stream (SELECT, LOCK TABLE in each mode, the
# read API) and stays idle; a second one does what the issue reproduced
# (BEGIN; SELECT count(*) FROM orders_stream.record_store).  Meanwhile a
# tenant writes, with orders_stream.partition_interval = 1s, for longer than
# the partitions made ahead at that moment last: capture must store every
# change within seconds (polled), other readers must never queue (their
# lock_timeout must not fire), partitions must keep being added while the
# locks are held, and expired ones must be dropped once they are released.
# The hostile role has no privilege at all on the stored tables (permission
# denied), reads only through the views, whose security barrier keeps its
# leaky functions away from other streams' rows, and the records view still
# serves a stream's range read from the index.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep time);

my $node = OrdersStream::new_node('reader_lock', extra_conf => q{
orders_stream.partition_interval = 1s
orders_stream.retention = 5s
});

$node->safe_psql('postgres', q{
CREATE ROLE tenant LOGIN;
CREATE ROLE mallory LOGIN;
CREATE ROLE reader LOGIN;
GRANT CREATE ON SCHEMA public TO tenant;
CREATE SCHEMA mallory AUTHORIZATION mallory;
SET ROLE tenant;
CREATE TABLE orders (id int PRIMARY KEY, note text);
CREATE TABLE secrets (id int PRIMARY KEY, secret text);
SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE');
SELECT orders_stream.enable_stream('secrets', 'NEW_IMAGE');
GRANT SELECT ON orders TO mallory, reader;
INSERT INTO orders VALUES (0, 'before');
INSERT INTO secrets VALUES (1, 'the launch code is 0000');
});
OrdersStream::capture($node);
my ($orders_arn, $orders_sid, $orders_shard) = split /\|/, $node->safe_psql('postgres', q{
	SELECT stream_arn, stream_id, shard_id FROM orders_stream.streams WHERE relid = 'orders'::regclass});

# ---- no privilege on any stored table ----
my @tables = split /\n/, $node->safe_psql('postgres', q{
	SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname IN ('orders_stream', 'orders_stream_internal') AND c.relkind IN ('r', 'p')
	 ORDER BY 1});
ok(grep({ $_ eq 'orders_stream.record_store' } @tables), 'record_store is among the stored tables');
ok(grep({ /^orders_stream\."?records_/ } @tables), 'and so are its partitions');
is($node->safe_psql('postgres', q{
	SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname IN ('orders_stream', 'orders_stream_internal') AND c.relkind IN ('r', 'p')
	   AND (has_table_privilege('mallory', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
			OR has_any_column_privilege('mallory', c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))}),
	'', 'an ordinary role has no privilege on any stored table');
for my $t ('orders_stream.record_store', (grep { /records_/ } @tables)[0],
	'orders_stream.streams', 'orders_stream.capture_progress', 'orders_stream.partitions',
	'orders_stream.stream_trim', 'orders_stream.stream_counts')
{
	my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', "SELECT count(*) FROM $t");
	like($err, qr/permission denied for table/, "mallory: permission denied reading $t");
}
my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	'SELECT count(*) FROM orders_stream.records');
is("$out$err", '1', 'mallory reads the one record of the stream it may read through orders_stream.records');

# ---- the views' security barrier: a leaky function sees readable rows only ----
$node->safe_psql('postgres', q{
SET ROLE mallory;
CREATE FUNCTION mallory.peek(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
	AS $$ BEGIN RAISE NOTICE 'peek: %', $1; RETURN true; END $$;
});
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', q{
	SELECT count(*) FROM orders_stream.records r
	 WHERE mallory.peek(r.stream_id || ' ' || r.record::text)});
is($out, '1', 'a leaky function in WHERE: the rows of readable streams only');
like($err, qr/peek: \d+ .*before/, 'the function saw the readable record');
unlike($err, qr/launch code|secrets/, 'and nothing of the other stream');
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', q{
	SELECT count(*) FROM orders_stream.stream_status s WHERE mallory.peek(s.stream_arn || s.table_name)});
is($out, '1', 'stream_status: the readable stream only');
unlike($err, qr/secrets/, 'a leaky function never sees the other stream in stream_status');

# ---- the records view still serves a range read from the index ----
# The view has no order of its own (41_records_view.sql): without an ORDER
# BY, a range read of the index, neither sorted nor sequential; with ORDER BY
# sequence_key, as GetRecords reads it, an ordered walk of the index that
# stops at the LIMIT (at a day's volume, bench/read_scale.sh, with the
# planner's defaults).  The policy's conditions (the streams mallory may
# read, the retention) are filters of the same scans.
my $key = $node->safe_psql('postgres', qq{
	SELECT sequence_key FROM orders_stream.records WHERE stream_id = $orders_sid ORDER BY sequence_key LIMIT 1});
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{
	EXPLAIN (COSTS OFF) SELECT sequence_number, record FROM orders_stream.records
	 WHERE stream_id = $orders_sid AND sequence_key > '$key'::bytea LIMIT 100});
like($out, qr/Index Scan using \S+ on \S*records_\S+ r_1\n\s+Index Cond: \((?:\(stream_id = ANY \(\$\d+\)\) AND )?\(stream_id = $orders_sid\) AND \(sequence_key > /,
	'a range read of the records view reads the index from the key on');
unlike($out, qr/Sort(?! Key)|Seq Scan on \S*records_/, 'with neither a sort nor a sequential scan of a partition');
# enable_sort off, as records_from() reads: on partitions this small, with
# statistics, sorting a few records may be the cheaper plan
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{
	SET enable_sort = off;
	EXPLAIN (COSTS OFF) SELECT sequence_number, record FROM orders_stream.records
	 WHERE stream_id = $orders_sid AND sequence_key > '$key'::bytea ORDER BY sequence_key LIMIT 100});
like($out, qr/Merge Append\n\s+Sort Key: r.sequence_key\n\s+->  Index Scan using \S+ on \S*records_\S+ r_1\n\s+Index Cond: \((?:\(stream_id = ANY \(\$\d+\)\) AND )?\(stream_id = $orders_sid\) AND \(sequence_key > /,
	'with ORDER BY sequence_key, an ordered walk of the index');
unlike($out, qr/Sort(?! Key)|Seq Scan on \S*records_/, 'and no sort');

# ---- hostile locks ----
my @reachable = split /\n/, $node->safe_psql('postgres', q{
	SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	 WHERE n.nspname IN ('orders_stream', 'orders_stream_internal') AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
	 ORDER BY 1});
my $it = $node->safe_psql('postgres', qq{
	SET ROLE mallory;
	SELECT orders_stream.get_shard_iterator('$orders_arn', '$orders_shard', 'TRIM_HORIZON')});
my $mallory = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'mallory' ]);
$mallory->query_safe('\set ON_ERROR_ROLLBACK on');
$mallory->query_safe('BEGIN');
for my $rel (@reachable)
{
	# each in a savepoint (ON_ERROR_ROLLBACK): what fails holds nothing, the rest stays held
	$mallory->query("SELECT count(*) FROM $rel");
	next if $rel =~ /_seq$/;    # sequences cannot be locked
	for my $mode ('ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE',
		'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE')
	{
		$mallory->query("LOCK TABLE $rel IN $mode MODE NOWAIT");
	}
}
$mallory->query(q{SELECT 1 FROM orders_stream.records FOR SHARE});
$mallory->query(q{SELECT * FROM orders_stream.stream_status});
$mallory->query(q{SELECT * FROM orders_stream.list_streams()});
$mallory->query(qq{SELECT orders_stream.get_records('$it', 1000)});
my $mallory_pid = $mallory->query('SELECT pg_backend_pid()');
# what the issue reproduced, in a session of its own
my $plain = $node->background_psql('postgres', on_error_stop => 0, extra_params => [ '-U', 'reader' ]);
$plain->query('\set ON_ERROR_ROLLBACK on');
$plain->query('BEGIN');
$plain->query('SELECT count(*) FROM orders_stream.record_store');
$plain->query('SELECT count(*) FROM orders_stream.records');

my $held = $node->safe_psql('postgres', qq{
	SELECT string_agg(DISTINCT l.mode, ',' ORDER BY l.mode) FROM pg_locks l
	 WHERE l.pid = $mallory_pid AND l.granted AND l.relation = 'orders_stream.record_store'::regclass});
is($held, 'AccessShareLock', 'mallory holds ACCESS SHARE on record_store (through the views), nothing stronger');
note 'locks held by mallory: ' . $node->safe_psql('postgres', qq{
	SELECT string_agg(l.relation::regclass || ' ' || l.mode, ', ' ORDER BY 1) FROM pg_locks l
	 WHERE l.pid = $mallory_pid AND l.granted AND l.locktype = 'relation'
	   AND l.relation::regclass::text LIKE 'orders_stream%'});

# ---- writes, for longer than the partitions made ahead when the locks were taken ----
my ($covered, @before) = split /\n/, $node->safe_psql('postgres', q{
	SELECT max(upper_bound)::text FROM orders_stream.partitions
	UNION ALL (SELECT partition::oid::text FROM orders_stream.partitions)});
my %before = map { $_ => 1 } @before;
my $log_offset = -s $node->logfile;
my $t0 = time;
my ($i, $stalls, $blocked, $in_new) = (0, 0, 0, 0);
while (time - $t0 < 40 || !$in_new)
{
	last if time - $t0 > 150;
	$i++;
	$node->safe_psql('postgres', "SET ROLE tenant; INSERT INTO orders VALUES ($i, 'during the locks')");
	# stored within seconds: polled, as a reader with a lock_timeout (a stalled
	# capture queues this read behind its ACCESS EXCLUSIVE request)
	my $seen = 0;
	my $deadline = time + 15;
	while (time < $deadline)
	{
		my ($rc2, $o2, $e2) = OrdersStream::psql_login($node, 'reader', qq{
			SET lock_timeout = '3s';
			SELECT count(*) FROM orders_stream.records
			 WHERE stream_id = $orders_sid AND record->'dynamodb'->'Keys'->'id'->>'N' = '$i'});
		if ($e2 ne '')
		{
			$blocked++;
			diag "reader blocked: $e2";
			last;
		}
		if ($o2 eq '1')
		{
			$seen = 1;
			last;
		}
		usleep(100_000);
	}
	unless ($seen)
	{
		$stalls++;
		last;
	}
	$in_new = $node->safe_psql('postgres', q{
		SET lock_timeout = '3s';
		SELECT r.tableoid::oid FROM orders_stream.record_store r
		 WHERE r.stream_id = } . $orders_sid . q{ ORDER BY r.sequence_key DESC LIMIT 1});
	$in_new = $before{$in_new} ? 0 : 1;
	usleep(300_000);    # pacing the writes, not synchronisation
}
note sprintf('%d writes over %.0f s while the locks were held', $i, time - $t0);
is($stalls, 0, 'every change was stored within seconds while the locks were held');
is($blocked, 0, 'no reader queued behind capture or maintenance');
ok($in_new, 'records were stored in a partition made after the locks were taken');
cmp_ok($node->safe_psql('postgres', qq{
	SELECT extract(epoch FROM max(upper_bound) - '$covered'::timestamptz) FROM orders_stream.partitions}),
	'>=', 30, 'partitions kept being made ahead while the locks were held');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'orders_stream capture' AND wait_event_type = 'Lock'}),
	'0', 'the capture worker is not waiting for a lock');
ok($node->log_contains(qr/expired stream partition .* not dropped this time/, $log_offset),
	'dropping expired partitions was put off while they were locked');

$mallory->query('COMMIT');
$mallory->quit;
$plain->query('COMMIT');
$plain->quit;
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM orders_stream.partitions
	 WHERE upper_bound <= now() - interval '5 s' - interval '12 s'}),
	'once the locks are released, the expired partitions are dropped');

# ---- maintenance failing for the whole margin: capture ends, never waits ----
# What hours of failed maintenance leave (an event trigger refusing CREATE
# TABLE): no partition holds the current time.  Capture must not create one
# itself: the worker ends with an error, keeps the changes in its slot, and
# stores them once maintenance can create partitions again.
$node->safe_psql('postgres', q{
CREATE FUNCTION no_new_tables() RETURNS event_trigger LANGUAGE plpgsql
	AS $$ BEGIN RAISE EXCEPTION 'no new tables today'; END $$;
CREATE EVENT TRIGGER no_new_tables ON ddl_command_start WHEN TAG IN ('CREATE TABLE')
	EXECUTE FUNCTION no_new_tables();
DO $$
DECLARE
	p regclass;
BEGIN
	FOR p IN SELECT partition FROM orders_stream.partitions WHERE upper_bound > now() LOOP
		EXECUTE format('ALTER EXTENSION orders_stream DROP TABLE %s', p);
		EXECUTE format('DROP TABLE %s', p);
		DELETE FROM orders_stream.partitions WHERE partition = p;
	END LOOP;
END
$$;
});
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', "SET ROLE tenant; INSERT INTO orders VALUES (100000, 'no partition')");
$node->wait_for_log(qr/ERROR:  no partition of orders_stream.record_store holds capture time/, $log_offset);
ok(1, 'with no partition for the current time, the capture worker ends with an error');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE a.backend_type = 'orders_stream capture' AND NOT l.granted}),
	'0', 'it never waits for a lock');
$node->safe_psql('postgres', 'DROP EVENT TRIGGER no_new_tables');
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = 1 FROM orders_stream.records
	 WHERE stream_id = $orders_sid AND record->'dynamodb'->'Keys'->'id'->>'N' = '100000'}),
	'once maintenance creates partitions again, capture stores the change it kept in its slot');

$node->stop;
done_testing();
