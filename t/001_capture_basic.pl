# 001_capture_basic.pl: the capture worker's basic guarantees.
#
#  - committed changes become records (INSERT / MODIFY / REMOVE), in commit
#    order, with strictly increasing 30-digit SequenceNumbers;
#  - aborted transactions, failed statements and rolled-back savepoints leave
#    nothing;
#  - a commit becomes visible without anyone waiting for it (eventually);
#  - the worker shows in pg_stat_activity, survives SIGHUP, and DROP EXTENSION
#    removes both its slot and the worker; CREATE EXTENSION again works.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('capture_basic', no_extension => 1);

# CREATE EXTENSION, wait for the slot (own transaction), stream "orders".
sub setup_stream
{
	$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
	$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
	return $node->safe_psql('postgres',
		q{SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES')});
}

sub worker_pids
{
	return $node->safe_psql('postgres',
		q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity
		   WHERE backend_type = 'orders_stream capture'});
}

# "eventName:id:version" of every record, in SequenceNumber order.
sub events
{
	my ($where) = @_;
	$where //= 'true';
	return $node->safe_psql('postgres', qq{
		SELECT string_agg(format('%s:%s:%s', r.record->>'eventName',
				r.record->'dynamodb'->'Keys'->'id'->>'N',
				coalesce(r.record->'dynamodb'->'NewImage', r.record->'dynamodb'->'OldImage')->'version'->>'N'),
			' ' ORDER BY r.sequence_number)
		  FROM orders_stream.records r WHERE $where});
}

$node->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, version int NOT NULL DEFAULT 1, note text);
});
my $arn = setup_stream();
like($arn, qr{^arn:aws:dynamodb:.*:table/orders/stream/}, 'stream enabled');

# The worker runs and owns its slot.
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'orders_stream capture' AND application_name = 'orders_stream capture'}),
	'capture worker visible in pg_stat_activity');
my $slot = $node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM pg_replication_slots
	 WHERE slot_name = '$slot' AND slot_type = 'logical' AND plugin = 'orders_stream'
	   AND database = 'postgres'}),
	'1', "capture slot $slot exists");

# ---- INSERT / MODIFY / REMOVE in commit order ----
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (1, 1, 'a')});
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (2, 1, 'b')});
$node->safe_psql('postgres', q{UPDATE orders SET version = 2, note = 'a2' WHERE id = 1});
$node->safe_psql('postgres', q{DELETE FROM orders WHERE id = 2});
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO orders VALUES (3, 1, 'c');
	UPDATE orders SET version = 3 WHERE id = 1;
	INSERT INTO orders VALUES (4, 1, 'd');
	COMMIT;
});
capture('60s');
is(events(), 'INSERT:1:1 INSERT:2:1 MODIFY:1:2 REMOVE:2:1 INSERT:3:1 MODIFY:1:3 INSERT:4:1',
	'changes captured as INSERT/MODIFY/REMOVE, in commit order');

my $modify = $node->safe_psql('postgres', q{
	SELECT format('%s/%s/%s', r.record->'dynamodb'->'OldImage'->'version'->>'N',
		r.record->'dynamodb'->'NewImage'->'version'->>'N',
		r.record->'dynamodb'->'NewImage'->'note'->>'S')
	  FROM orders_stream.records r
	 WHERE r.record->>'eventName' = 'MODIFY' ORDER BY r.sequence_number LIMIT 1});
is($modify, '1/2/a2', 'MODIFY carries OldImage and NewImage');

is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE sequence_number !~ '^\d{30}$'
			OR record->'dynamodb'->>'SequenceNumber' IS DISTINCT FROM sequence_number)
	  FROM orders_stream.records}),
	'0', 'SequenceNumbers are 30 digits and match the record');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT sequence_number,
			lag(sequence_number) OVER (ORDER BY sequence_number) AS prev
		FROM orders_stream.records) s WHERE s.sequence_number <= s.prev}),
	'0', 'SequenceNumbers strictly increase');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
		SELECT sequence_key, sequence_number,
			   lag(sequence_key) OVER (ORDER BY sequence_number) AS prev_key
		  FROM orders_stream.records) s
	 WHERE sequence_key IS DISTINCT FROM orders_stream.sequence_key(sequence_number)
		OR sequence_key <= prev_key}),
	'0', 'sequence keys are the SequenceNumbers and sort as they do');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE key_hash IS DISTINCT FROM hashtext((record->'dynamodb'->'Keys')::text))
	  FROM orders_stream.records}),
	'0', 'key_hash is hash_bytes() of the text of Keys');

# Commit order, not start order: B starts after A but commits first.
my $a = $node->background_psql('postgres');
$a->query_safe('BEGIN');
$a->query_safe(q{INSERT INTO orders VALUES (10, 1, 'started first')});
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (11, 1, 'committed first')});
$a->query_safe('COMMIT');
$a->quit;
capture('60s');
is(events(q{(record->'dynamodb'->'Keys'->'id'->>'N')::int IN (10, 11)}),
	'INSERT:11:1 INSERT:10:1', 'records follow commit order');

# ---- aborted work leaves nothing ----
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
my $mark = $node->safe_psql('postgres', 'SELECT max(sequence_number) FROM orders_stream.records');
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO orders VALUES (100, 1, 'aborted');
	UPDATE orders SET version = 99 WHERE id = 1;
	DELETE FROM orders WHERE id = 3;
	ROLLBACK;
});
# a failing statement aborts its whole transaction
my ($rc, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	INSERT INTO orders VALUES (101, 1, 'doomed');
	INSERT INTO orders VALUES (1, 1, 'duplicate key');
	COMMIT;
});
like($err, qr/duplicate key/, 'failing transaction failed');
# rolled-back savepoints: only the surviving change is captured
$node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO orders VALUES (102, 1, 'kept');
	SAVEPOINT s1;
	INSERT INTO orders VALUES (103, 1, 'rolled back');
	UPDATE orders SET version = 2 WHERE id = 102;
	SAVEPOINT s2;
	DELETE FROM orders WHERE id = 4;
	ROLLBACK TO SAVEPOINT s1;
	SAVEPOINT s3;
	UPDATE orders SET version = 5 WHERE id = 3;
	RELEASE SAVEPOINT s3;
	SAVEPOINT s4;
	INSERT INTO orders VALUES (104, 1, 'rolled back too');
	ROLLBACK TO s4;
	COMMIT;
});
# an explicit ROLLBACK of a whole transaction with subtransactions
$node->safe_psql('postgres', q{
	BEGIN;
	SAVEPOINT x;
	INSERT INTO orders VALUES (105, 1, 'never');
	RELEASE x;
	ROLLBACK;
});
capture('60s');
is(events("sequence_number > '$mark'"),
	'INSERT:102:1 MODIFY:3:5',
	'aborted transactions and rolled-back savepoints leave no records');
is($node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records') - $before,
	2, 'exactly the committed changes were added');

# ---- a commit becomes visible on its own (no wait_for_capture) ----
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (200, 1, 'latency')});
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM orders_stream.records
	 WHERE record->'dynamodb'->'Keys'->'id'->>'N' = '200'}),
	'a committed change appears without waiting for it');

# ---- SIGHUP keeps the worker running ----
my $pid = worker_pids();
like($pid, qr/^\d+$/, 'one capture worker');
$node->safe_psql('postgres', q{ALTER SYSTEM SET orders_stream.capture_naptime = '500ms'});
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (201, 1, 'after reload')});
capture('60s');
is($node->safe_psql('postgres', q{SELECT count(*) FROM orders_stream.records
	 WHERE record->'dynamodb'->'Keys'->'id'->>'N' = '201'}), '1',
	'capture continues after SIGHUP');
ok($node->poll_query_until('postgres', q{SHOW orders_stream.capture_naptime}, '500ms'),
	'reloaded setting visible');
is(worker_pids(), $pid, 'same capture worker after SIGHUP');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET orders_stream.capture_naptime});
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');

# ---- DROP EXTENSION: no slot, no worker ----
# the TRUNCATE guard trigger on orders depends on the extension: CASCADE
$node->safe_psql('postgres', 'DROP EXTENSION orders_stream CASCADE');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name LIKE 'orders_stream%'}),
	'DROP EXTENSION: capture slot dropped');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'orders_stream capture'}),
	'DROP EXTENSION: capture worker stopped');
# and it stays stopped (no restart loop re-creating the slot)
my $dropped_at = $node->safe_psql('postgres', q{SELECT clock_timestamp()});
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (300, 1, 'no extension')});
# a negative check needs time to pass: poll until two seconds (two restart
# intervals) have gone by with no worker and no slot
ok($node->poll_query_until('postgres', qq{
	SELECT clock_timestamp() > '$dropped_at'::timestamptz + interval '2 s'
	   AND NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name LIKE 'orders_stream%')
	   AND NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'orders_stream capture')}),
	'two seconds after DROP EXTENSION, still no slot and no worker');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'orders_stream%'}),
	'0', 'no capture slot comes back without the extension');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'orders_stream capture'}),
	'0', 'no capture worker comes back without the extension');

# ---- CREATE EXTENSION again ----
$arn = setup_stream();
like($arn, qr{/stream/}, 're-created extension: stream enabled');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'orders_stream capture'}),
	're-created extension: capture worker running');
$node->safe_psql('postgres', q{
	INSERT INTO orders VALUES (400, 1, 'again');
	UPDATE orders SET version = version + 1 WHERE id = 400;
	DELETE FROM orders WHERE id = 300;
});
capture('60s');
is(events(), 'INSERT:400:1 MODIFY:400:2 REMOVE:300:1',
	're-created extension captures again, and only changes made since');

$node->stop;
done_testing();
