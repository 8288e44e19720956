# 022_lanes.pl: the pool of delivery workers and ParallelizationFactor lanes.
#
#  (a) factor 4 over 100k records on 1,000 hot keys, with SIGKILLs of
#      delivery workers and of the postmaster while the load runs: every
#      item's records are applied exactly once and in SequenceNumber order
#      (the history oracle of OrdersStream.pm), each item by one lane only,
#      the lane ((uint32) key_hash) % 4, and the lanes ran in several workers
#      named in pg_stat_activity;
#  (b) a poison record holds its own lane, retrying, and no other: the other
#      lanes deliver everything;
#  (c) changing the factor of a live mapping (2 -> 4 -> 3) while records
#      arrive keeps each item's records in order, with none delivered twice
#      or lost; the old lanes drain and the status view shows the epochs;
#  (d) isolation: while mapping A's function sleeps 5 s in a batch, mapping
#      B's records are applied (before A's batch ends).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep time);

my $RECORDS = $ENV{OS_LANES_RECORDS} // 100_000;
OrdersStream::random_seed('OS_LANES_SEED');

# a delivery worker's SIGKILL restarts every process, as in production
my $node = OrdersStream::new_node('lanes', extra_conf => q{
restart_after_crash = on
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
max_connections = 40
});

# A delivered record per row, in the order the aggregator applied them.
sub delivered_table
{
	my ($prefix) = @_;
	sql(<<"SQL");
CREATE TABLE ${prefix}_delivered (did bigserial PRIMARY KEY, id int NOT NULL, event text NOT NULL,
	version int NOT NULL, seq text NOT NULL, app text NOT NULL, pid int NOT NULL);
CREATE FUNCTION ${prefix}_agg(event jsonb) RETURNS void LANGUAGE sql AS \$\$
	INSERT INTO ${prefix}_delivered (id, event, version, seq, app, pid)
	SELECT (r#>>'{dynamodb,Keys,id,N}')::int, r->>'eventName',
		   (coalesce(r#>'{dynamodb,NewImage}', r#>'{dynamodb,OldImage}')->'version'->>'N')::int,
		   r#>>'{dynamodb,SequenceNumber}', current_setting('application_name'), pg_backend_pid()
	  FROM jsonb_array_elements(event->'Records') WITH ORDINALITY AS x(r, o) ORDER BY o
\$\$;
SQL
}

# Per item, the delivered (event, version) sequence differs from the history's: count.
sub order_mismatches
{
	my ($delivered, $history) = @_;
	return sql(qq{
	SELECT count(*) FROM
	  (SELECT id, array_agg(event || ':' || version ORDER BY did) AS evs FROM $delivered GROUP BY id) d
	  FULL JOIN
	  (SELECT id, array_agg(event || ':' || version ORDER BY hid) AS evs FROM $history GROUP BY id) h
	  USING (id)
	 WHERE d.evs IS DISTINCT FROM h.evs});
}

# ====================================================================
# (a) factor 4, 1,000 hot keys, SIGKILLs
# ====================================================================
OrdersStream::history_setup($node);
delivered_table('a');
sql(q{INSERT INTO orders SELECT i, 1, 'n' FROM generate_series(1, 1000) i});
my $ma = sql(q{SELECT orders_stream.create_event_source_mapping('orders', 'a_agg(jsonb)',
	starting_position => 'TRIM_HORIZON', batch_size => 100, parallelization_factor => 4)});

# ten neighbouring items per transaction, the clients' ranges overlapping
my $script = $node->basedir . '/lanes.sql';
open(my $fh, '>', $script) or die;
print $fh <<'EOS';
\set a random(1, 991)
UPDATE orders SET version = version + 1 WHERE id BETWEEN :a AND :a + 9;
EOS
close $fh;

my @load = (qw(-c 4 -j 2 --max-tries=50), '-f', $script);

my %workers_seen;
for my $kill ('delivery worker', 'delivery worker', 'postmaster')
{
	my $h = start_pgbench(@load, qw(-T 300));
	# a random moment of the workload: where the kill lands, not a wait
	usleep(int(1_500_000 + rand(1_500_000)));
	$workers_seen{$_} = 1 for split /\n/, OrdersStream::worker_pid($node, 'orders_stream delivery');
	if ($kill eq 'postmaster')
	{
		crash_restart('(a) a machine crash', all => 1, pgbench => $h);
	}
	else
	{
		# a delivery worker inside a batch, most of the time
		my $pid = busy_worker('orders_stream delivery', 'delivering stream records', 10)
		  || (split /\n/, worker_pid('orders_stream delivery'))[0];
		note "SIGKILL of delivery worker $pid";
		kill 'KILL', $pid;
		stop_pgbench($h);
		# the postmaster restarts every process after a child's crash
		wait_true('SELECT true', 'the server after the crash restart');
	}
	note "killed the $kill: " . sql('SELECT count(*) FROM history') . ' changes so far';
}
my $left = $RECORDS - sql('SELECT count(*) FROM history');
if ($left > 0)
{
	stop_pgbench(start_pgbench(@load, '-t', int($left / 40) + 1));
}
OrdersStream::capture($node, '300s');
wait_mapping($ma, '600s');

OrdersStream::history_check($node);
my $n = sql('SELECT count(*) FROM history');
cmp_ok($n, '>=', $RECORDS, "(a) $n changes of 1,000 items");
is(sql('SELECT count(*) FROM a_delivered'), $n, '(a) as many records applied as changes committed');
is(order_mismatches('a_delivered', 'history'), '0',
	'(a) per item, the records applied are the changes, each once, in their order');
is(sql(q{SELECT count(*) FROM (SELECT id FROM a_delivered GROUP BY id HAVING count(DISTINCT app) > 1) x}), '0',
	'(a) each item is applied by one lane');
is(sql(qq{
	SELECT count(*) FROM a_delivered d JOIN orders_stream.records r ON r.sequence_number = d.seq
	 WHERE d.app <> 'orders_stream $ma lane ' || ((r.key_hash::bigint & 4294967295) % 4)}), '0',
	'(a) ... its lane: ((uint32) key_hash) % 4, as pg_stat_activity names the worker');
is(sql('SELECT count(DISTINCT app) FROM a_delivered'), '4', '(a) the four lanes delivered');
cmp_ok(sql(q{SELECT count(DISTINCT pid) FROM a_delivered}), '>=', 2, '(a) in several workers');
cmp_ok(scalar(keys %workers_seen), '>=', 2, '(a) several delivery workers ran at once');
is(sql(qq{SELECT records_processed || ' ' || failures || ' ' || jsonb_array_length(lanes)
	FROM orders_stream.event_source_mapping_status WHERE uuid = '$ma'}), "$n 0 4",
	'(a) the status view counts every record once, over four lanes');
# done with (a): its workers are free for the rest
sql("SELECT orders_stream.update_event_source_mapping('$ma', enabled => false)");

# ====================================================================
# (b) a poison record holds its lane only
# ====================================================================
sql(<<'SQL');
CREATE TABLE b_orders (id int PRIMARY KEY, version int NOT NULL);
SELECT orders_stream.enable_stream('b_orders', 'NEW_IMAGE');
CREATE TABLE b_seen (id int PRIMARY KEY);
CREATE FUNCTION b_agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM jsonb_array_elements(event->'Records') r WHERE r#>>'{dynamodb,Keys,id,N}' = '13') THEN
		RAISE EXCEPTION 'poison item 13';
	END IF;
	INSERT INTO b_seen SELECT (r#>>'{dynamodb,Keys,id,N}')::int FROM jsonb_array_elements(event->'Records') r;
END
$$;
SQL
my $mb = sql(q{SELECT orders_stream.create_event_source_mapping('b_orders', 'b_agg(jsonb)',
	starting_position => 'LATEST', batch_size => 10, parallelization_factor => 4, maximum_retry_attempts => -1)});
sql('INSERT INTO b_orders SELECT i, 1 FROM generate_series(1, 400) i');
OrdersStream::capture($node);
my $poison_lane = sql(q{SELECT (r.key_hash::bigint & 4294967295) % 4 FROM orders_stream.records r
	JOIN orders_stream.streams s USING (stream_id) WHERE s.relid = 'b_orders'::regclass
	 AND r.record#>>'{dynamodb,Keys,id,N}' = '13'});
poll(qq{SELECT count(*) = 0 FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
	WHERE s.relid = 'b_orders'::regclass AND (r.key_hash::bigint & 4294967295) % 4 <> $poison_lane
	  AND NOT EXISTS (SELECT FROM b_seen WHERE id = (r.record#>>'{dynamodb,Keys,id,N}')::int)},
	'(b) every record of the other three lanes is applied');
poll(qq{SELECT (l->>'state') = 'BACKOFF' AND (l->>'attempts')::int >= 2
	FROM orders_stream.event_source_mapping_status s, jsonb_array_elements(s.lanes) l
	WHERE s.uuid = '$mb' AND (l->>'lane')::int = $poison_lane},
	'(b) the poison record\'s lane retries it, in BACKOFF');
is(sql('SELECT count(*) FROM b_seen WHERE id = 13'), '0', '(b) the poison record is not applied');
is(sql(qq{SELECT state FROM orders_stream.event_source_mapping_status WHERE uuid = '$mb'}), 'Retrying',
	'(b) the mapping shows it is retrying');
sql("SELECT orders_stream.update_event_source_mapping('$mb', enabled => false)");

# ====================================================================
# (c) a new factor on a live mapping
# ====================================================================
sql(<<'SQL');
CREATE TABLE c_orders (id int PRIMARY KEY, version int NOT NULL);
SELECT orders_stream.enable_stream('c_orders', 'NEW_AND_OLD_IMAGES');
CREATE TABLE c_history (hid bigserial PRIMARY KEY, id int NOT NULL, event text NOT NULL, version int NOT NULL);
CREATE FUNCTION c_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO c_history (id, event, version) VALUES (NEW.id, CASE TG_OP WHEN 'INSERT' THEN 'INSERT' ELSE 'MODIFY' END, NEW.version);
	RETURN NULL;
END
$$;
CREATE TRIGGER c_history AFTER INSERT OR UPDATE ON c_orders FOR EACH ROW EXECUTE FUNCTION c_log();
INSERT INTO c_orders SELECT i, 1 FROM generate_series(1, 200) i;
SQL
delivered_table('c');
# slow enough that the old lanes still have work when the factor changes
sql(q{CREATE OR REPLACE FUNCTION c_slow(event jsonb) RETURNS void LANGUAGE sql AS $$
	SELECT c_agg(event); SELECT pg_sleep(0.01) $$});
my $mc = sql(q{SELECT orders_stream.create_event_source_mapping('c_orders', 'c_slow(jsonb)',
	starting_position => 'TRIM_HORIZON', batch_size => 20, parallelization_factor => 2)});
my $cscript = $node->basedir . '/lanes_c.sql';
open($fh, '>', $cscript) or die;
print $fh <<'EOS';
\set a random(1, 196)
UPDATE c_orders SET version = version + 1 WHERE id BETWEEN :a AND :a + 4;
EOS
close $fh;
my $ch = start_pgbench(qw(-c 2 -T 12 -R 200 --max-tries=50), '-f', $cscript);
# each factor change once the lanes have applied another 2000 records of the
# workload, so that lanes of every factor have work
for my $factor (4, 3)
{
	my $applied = sql('SELECT count(*) FROM c_delivered');
	$node->poll_query_until('postgres', "SELECT count(*) >= $applied + 2000 FROM c_delivered")
	  or die 'the lanes apply nothing';
	sql("SELECT orders_stream.update_event_source_mapping('$mc', parallelization_factor => $factor)");
}
stop_pgbench($ch);
OrdersStream::capture($node);
wait_mapping($mc);
my $nc = sql('SELECT count(*) FROM c_history');
cmp_ok($nc, '>', 1000, "(c) $nc changes while the factor changed twice");
is(sql('SELECT count(*) FROM c_delivered'), $nc, '(c) as many records applied as changes');
is(order_mismatches('c_delivered', 'c_history'), '0', '(c) per item, in order, each once');
is(sql(qq{SELECT string_agg(l->>'epoch' || '.' || (l->>'lane') || ':' || (l->>'state'), ' ' ORDER BY (l->>'epoch')::int, (l->>'lane')::int)
	FROM orders_stream.event_source_mapping_status s, jsonb_array_elements(s.lanes) l WHERE s.uuid = '$mc'}),
	'0.0:DRAINED 0.1:DRAINED 1.0:DRAINED 1.1:DRAINED 1.2:DRAINED 1.3:DRAINED 2.0:READY 2.1:READY 2.2:READY',
	'(c) the lanes of the old factors drained, the three new ones run');
is(sql(qq{SELECT orders_stream.get_event_source_mapping('$mc')->>'ParallelizationFactor'}),
	'3', '(c) GetEventSourceMapping shows the new factor');
cmp_ok(sql(qq{SELECT count(DISTINCT l->>'epoch') FROM orders_stream.event_source_mapping_status s,
	jsonb_array_elements(s.lanes) l WHERE s.uuid = '$mc' AND (l->>'records_processed')::int > 0}),
	'>=', 2, '(c) records went through the lanes of several epochs');
sql("SELECT orders_stream.update_event_source_mapping('$mc', enabled => false)");

# ====================================================================
# (d) a slow function holds one worker, never the others
# ====================================================================
sql(<<'SQL');
CREATE TABLE d_a (id int PRIMARY KEY);
CREATE TABLE d_b (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('d_a', 'KEYS_ONLY');
SELECT orders_stream.enable_stream('d_b', 'KEYS_ONLY');
CREATE TABLE d_seen (src text, id int, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION d_sleepy(event jsonb) RETURNS void LANGUAGE sql AS $$
	SELECT pg_sleep(5);
	INSERT INTO d_seen (src, id) SELECT 'a', (r#>>'{dynamodb,Keys,id,N}')::int FROM jsonb_array_elements(event->'Records') r
$$;
CREATE FUNCTION d_quick(event jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO d_seen (src, id) SELECT 'b', (r#>>'{dynamodb,Keys,id,N}')::int FROM jsonb_array_elements(event->'Records') r
$$;
SQL
my $mda = sql(q{SELECT orders_stream.create_event_source_mapping('d_a', 'd_sleepy(jsonb)', starting_position => 'LATEST')});
my $mdb = sql(q{SELECT orders_stream.create_event_source_mapping('d_b', 'd_quick(jsonb)', starting_position => 'LATEST')});
sql('INSERT INTO d_a VALUES (1)');
poll(q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'orders_stream delivery'
	AND wait_event = 'PgSleep'}, '(d) mapping A\'s function sleeps in its batch');
my $t0 = time;
sql('INSERT INTO d_b VALUES (1)');
wait_mapping($mdb, '60s');
my $took = time - $t0;
note sprintf('(d) mapping B applied its record %.3f s after the commit', $took);
is(sql(q{SELECT string_agg(src, ',') FROM d_seen}), 'b', '(d) mapping B is applied while A\'s batch still sleeps');
wait_mapping($mda, '60s');
is(sql(q{SELECT string_agg(src, ',' ORDER BY at) FROM d_seen}), 'b,a', '(d) then A finishes its batch');

$node->stop;
done_testing();
