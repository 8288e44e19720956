# 070_failover.pl: promotion of a streaming standby under write load.
#
# PostgreSQL 15 does not carry logical slots to standbys: the promoted
# standby has the records and capture_progress, not the capture slot.  The
# capture worker there must start without crashing or looping, create a new
# slot, store no change twice, and record the changes it cannot capture (from
# what capture_progress says was stored to where the new slot starts) as a
# GAP row in orders_stream.capture_exceptions.  The oracle: the history table
# of t/OrdersStream.pm (written by a trigger in each change's transaction),
# and pg_walinspect for the commit LSN of each change's transaction.
#
# To make the gap certain, capture on the primary is held up (a lock on
# capture_progress) for the last seconds before the primary crashes; writes
# go on against the new primary right after the promotion.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# wal_keep_size: the oracle reads the gap's WAL with pg_walinspect after the
# promotion, and the checkpoints there must not have removed it yet
my $primary = OrdersStream::new_node('primary', init => { allows_streaming => 'logical' },
	extra_conf => "max_connections = 30\nwal_keep_size = '1GB'\n");
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_walinspect');
OrdersStream::history_setup($primary);
# every change gets a version of its own: (id, event, version) names it
$primary->safe_psql('postgres', q{
CREATE SEQUENCE v START 1000;
INSERT INTO orders SELECT g, 1, 'seed' FROM generate_series(1, 200) g;
});
OrdersStream::capture($primary);
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

my $script = $primary->basedir . '/writes.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set id random(1, 500)
\set r random(1, 3)
\if :r = 1
INSERT INTO orders VALUES (:id, nextval('v'), 'w') ON CONFLICT (id) DO UPDATE SET version = nextval('v');
\elif :r = 2
UPDATE orders SET version = nextval('v') WHERE id = :id;
\else
DELETE FROM orders WHERE id = :id;
\endif
});
sub pgbench
{
	my ($node, $secs) = @_;
	return start_pgbench($node, qw(-c 3 -j 1 -T), $secs, '-f', $script);
}

# writes on the primary; its capture runs, then is held up
my $seeded = $primary->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
my $load = pgbench($primary, 60);
$primary->poll_query_until('postgres', "SELECT count(*) > $seeded + 100 FROM orders_stream.records")
  or die 'capture stores nothing of the writes';
my $holder = $primary->background_psql('postgres');
$holder->query_safe('BEGIN; LOCK TABLE orders_stream.capture_progress IN EXCLUSIVE MODE');
# held up: the worker waits for the lock, and writes go on meanwhile
my $changes = $primary->safe_psql('postgres', 'SELECT count(*) FROM history');
$primary->poll_query_until('postgres', qq{
	SELECT (SELECT count(*) FROM pg_stat_activity
			 WHERE backend_type = 'orders_stream capture' AND wait_event_type = 'Lock') = 1
	   AND (SELECT count(*) FROM history) > $changes + 100})
  or die 'capture is not held up behind the writes';
my $captured_before = $primary->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$primary->stop('immediate');
$load->kill_kill;
note "primary crashed with $captured_before records stored";

# promotion, and writes on the new primary at once
my $t_promote = time;
$standby->promote;
my $load2 = pgbench($standby, 5);
$standby->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'orders_stream capture'})
  or die 'no capture worker after the promotion';
$standby->safe_psql('postgres', q{INSERT INTO orders VALUES (100000, 1, 'marker')});
$standby->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM orders_stream.records
	 WHERE record->'dynamodb'->'Keys'->'id'->>'N' = '100000'})
  or die 'capture is not live after the promotion';
my $live_after = time - $t_promote;
note sprintf('capture live %.1f s after the promotion', $live_after);
cmp_ok($live_after, '<', 60, 'capture is live again within seconds of the promotion');
$load2->finish;
OrdersStream::capture($standby);

my $gap = $standby->safe_psql('postgres', q{
SELECT count(*), bool_and(gap_start_lsn < gap_end_lsn), bool_and(gap_start_time <= gap_end_time),
	   bool_and(reason LIKE 'changes committed from LSN % to %')
  FROM orders_stream.capture_exceptions WHERE event_name = 'GAP'});
is($gap, '1|t|t|t', 'one capture gap, with its LSN and time ranges');
is($standby->safe_psql('postgres', q{SELECT capture_exceptions FROM orders_stream.stream_status}),
	'1', 'visible in stream_status');
ok($standby->log_contains('orders_stream did not capture the changes of table "orders" committed from LSN'),
	'and logged as a WARNING naming the table');

# the oracle
OrdersStream::history_records($standby, 'rec');
$standby->safe_psql('postgres', q{
CREATE TABLE gap AS SELECT gap_start_lsn, gap_end_lsn FROM orders_stream.capture_exceptions WHERE event_name = 'GAP';
CREATE TABLE gap_commits AS
SELECT w.xid FROM gap, pg_get_wal_records_info(gap.gap_start_lsn, gap.gap_end_lsn) w
 WHERE w.resource_manager = 'Transaction' AND w.record_type LIKE 'COMMIT%';
ANALYZE rec;
-- an anti-join: NOT IN over a subquery the planner does not hash (unanalyzed,
-- larger than work_mem) compares every pair, minutes for 40,000 records
CREATE TABLE missing AS
SELECT h.id, h.event, h.version, h.xmin::text::xid AS xid
  FROM history h
 WHERE NOT EXISTS (SELECT FROM rec r WHERE r.id = h.id AND r.event = h.event AND r.version = h.version);
});
note 'history: ' . $standby->safe_psql('postgres', 'SELECT count(*) FROM history')
  . ', records: ' . $standby->safe_psql('postgres', 'SELECT count(*) FROM rec')
  . ', missing: ' . $standby->safe_psql('postgres', 'SELECT count(*) FROM missing')
  . ', commits in the gap: ' . $standby->safe_psql('postgres', 'SELECT count(*) FROM gap_commits');
cmp_ok($standby->safe_psql('postgres', 'SELECT count(*) FROM missing'), '>', 0,
	'the held-up capture left changes to miss');
is($standby->safe_psql('postgres', 'SELECT count(*) - count(DISTINCT seq) FROM rec'),
	'0', 'no SequenceNumber twice');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT id, event, version FROM rec
					  EXCEPT ALL SELECT id, event, version FROM history) x}),
	'0', 'no record without a committed change, none twice');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM missing WHERE xid NOT IN (SELECT xid FROM gap_commits)}),
	'0', 'every missing change committed inside the gap');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM history h
 WHERE h.xmin::text::xid IN (SELECT xid FROM gap_commits)
   AND (h.id, h.event, h.version) IN (SELECT id, event, version FROM rec WHERE id IS NOT NULL)}),
	'0', 'and no change committed inside the gap was captured (the gap is exact)');

# the worker did not crash or loop on the way
my $log = slurp_file($standby->logfile);
unlike($log, qr/"orders_stream (capture|delivery|ttl)".*exited with exit code [^0]/,
	'no orders_stream worker failed on the new primary');

eval { $holder->quit };
$standby->stop;
done_testing();
