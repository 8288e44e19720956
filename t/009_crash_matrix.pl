# 009_crash_matrix.pl: the postmaster SIGKILLed (an OOM kill, an operator's
# kill -9) in every state the workers can be in.  After each kill no process
# of the server may outlive the postmaster by more than 5 s (an orphan keeps
# the dead server's shared memory attached, and the server cannot start
# again), "pg_ctl start" must succeed unaided, and at the end nothing is lost
# or doubled: every committed change has exactly one record
# (OrdersStream::history_check) and a mapping has applied each record exactly
# once.
#
# The states, each killed several times, in a shuffled order:
#   idle      capture caught up, nothing to do
#   load      pgbench writing small transactions, with savepoints
#   big       a 20,000-row transaction being decoded and stored
#   function  a mapping function in the middle of a batch, busy on the CPU
#             (it never waits on its latch) or sleeping
#   ttl       the TTL worker deleting expired rows, batch after batch
#   window    writes stopped, windows of a 1-second tumbling window mapping
#             closing
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(shuffle);
use Time::HiRes qw(usleep);

my $ROUNDS = $ENV{OS_CRASH_MATRIX_ROUNDS} // 4;
OrdersStream::random_seed('OS_CRASH_SEED');

my $node = OrdersStream::new_node('crash_matrix', extra_conf => q{
checkpoint_timeout = 30s
max_connections = 40
orders_stream.ttl_naptime = 100ms
orders_stream.ttl_batch_size = 200
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
});

OrdersStream::history_setup($node);
sql(q{
ALTER TABLE orders ADD COLUMN expires_at timestamptz;
SELECT orders_stream.update_time_to_live('orders', 'expires_at', true);

-- What the mapping function does, set by the test: fast, or busy on the CPU
-- or sleeping until set back to fast.
CREATE TABLE knob (mode text NOT NULL);
INSERT INTO knob VALUES ('fast');
CREATE TABLE delivered (seq text NOT NULL);
CREATE FUNCTION apply(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	m text := (SELECT mode FROM knob);
	started timestamptz := clock_timestamp();
	n bigint := 0;
BEGIN
	INSERT INTO delivered
	SELECT r#>>'{dynamodb,SequenceNumber}' FROM jsonb_array_elements(event->'Records') r;
	IF m = 'fast' THEN
		RETURN;
	END IF;
	PERFORM set_config('application_name', 'crash matrix: in function', true);
	WHILE clock_timestamp() < started + interval '6 s' AND (SELECT mode FROM knob) <> 'fast' LOOP
		IF m = 'cpu' THEN
			FOR i IN 1..20000 LOOP
				n := n + i;
			END LOOP;
		ELSE
			PERFORM pg_sleep(0.05);
		END IF;
	END LOOP;
END
$$;

CREATE TABLE window_counts (window_start timestamptz NOT NULL, n bigint NOT NULL);
CREATE FUNCTION count_window(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	n bigint := coalesce((event#>>'{state,n}')::bigint, 0);
BEGIN
	IF (event->>'isFinalInvokeForWindow')::boolean THEN
		INSERT INTO window_counts VALUES ((event#>>'{window,start}')::timestamptz, n);
		RETURN jsonb_build_object('state', '{}'::jsonb);
	END IF;
	RETURN jsonb_build_object('state',
		jsonb_build_object('n', n + jsonb_array_length(event->'Records')));
END
$$;
});
my $apply = sql(q{
	SELECT orders_stream.create_event_source_mapping('orders', 'apply(jsonb)',
		batch_size => 500, starting_position => 'TRIM_HORIZON')});
my $window = sql(q{
	SELECT orders_stream.create_event_source_mapping('orders', 'count_window(jsonb)',
		batch_size => 100, starting_position => 'TRIM_HORIZON',
		tumbling_window_in_seconds => 1)});

# Small transactions (OrdersStream::history_small_script), more upserts.
my $small = OrdersStream::history_small_script($node, 40);

sub start_load
{
	my ($secs) = @_;
	return start_pgbench(qw(-c 3 -j 1 --max-tries=20 -T), $secs, '-f', $small);
}

my $kills = 0;

# Each entry brings the server into its state; the random usleep at its end
# picks where in that state the kill lands (not a wait for a condition).
my $big_round = 0;
my $function_round = 0;
my $ttl_base = 1_000_000;
my %prepare = (
	idle => sub {
		OrdersStream::capture($node);
		usleep(int(rand(300_000)));
		return;
	},
	load => sub {
		my $h = start_load(60);
		usleep(int(500_000 + rand(1_500_000)));
		return $h;
	},
	big => sub {
		my $sql = (
			'INSERT INTO orders SELECT g, 1, md5(g::text) FROM generate_series(100001, 120000) g',
			'UPDATE orders SET version = version + 1 WHERE id BETWEEN 100001 AND 120000',
			'DELETE FROM orders WHERE id BETWEEN 100001 AND 120000')[ $big_round++ % 3 ];
		sql($sql);
		poll_true(q{SELECT count(*) > 0 FROM pg_stat_activity
					 WHERE backend_type = 'orders_stream capture'
					   AND query IN ('decoding', 'storing stream records')}, 10);
		usleep(int(rand(150_000)));
		note 'big: capture is ' . $node->safe_psql('postgres', q{
			SELECT state || ': ' || query FROM pg_stat_activity
			 WHERE backend_type = 'orders_stream capture'});
		return;
	},
	function => sub {
		my $mode = $function_round++ % 2 ? 'sleep' : 'cpu';
		sql("UPDATE knob SET mode = '$mode'");
		sql(q{INSERT INTO orders VALUES (-1, 1, 'poke') ON CONFLICT (id) DO UPDATE SET version = orders.version + 1});
		ok(poll_true(q{SELECT count(*) > 0 FROM pg_stat_activity
						WHERE application_name = 'crash matrix: in function'}, 30),
			"function ($mode): the mapping function is running");
		usleep(int(rand(300_000)));
		return;
	},
	ttl => sub {
		my $base = $ttl_base;
		$ttl_base += 10_000;
		sql("INSERT INTO orders (id, version, expires_at)
			 SELECT g, 1, now() - interval '1 day' FROM generate_series($base, $base + 2999) g");
		ok(poll_true(q{SELECT count(*) > 0 FROM pg_stat_activity
						WHERE backend_type = 'orders_stream ttl' AND query = 'expiring rows'}, 30),
			'ttl: the TTL worker is deleting');
		usleep(int(rand(100_000)));
		return;
	},
	window => sub {
		stop_pgbench(start_load(1));
		# windows of the burst close on the idle stream within a second or so
		usleep(int(rand(1_500_000)));
		return;
	},
);

my @rounds = shuffle(map { my $s = $_; map { $s } 1 .. $ROUNDS } sort keys %prepare);
for my $state (@rounds)
{
	my $h = $prepare{$state}->();
	# the postmaster alone: each of its children must notice and exit
	crash_restart($state);
	$kills++;
	sql(q{UPDATE knob SET mode = 'fast'});
	stop_pgbench($h) if $h;
}
cmp_ok($kills, '>=', 20, "postmaster killed with SIGKILL $kills times");

# Let capture, TTL and both mappings finish, then the oracle.
sql(q{UPDATE knob SET mode = 'fast'});
OrdersStream::capture($node, '300s');
ok(poll_true(q{SELECT count(*) = 0 FROM orders WHERE expires_at IS NOT NULL}, 120),
	'TTL deleted every expired row');
OrdersStream::capture($node, '300s');
OrdersStream::history_check($node);
wait_mapping($apply, '300s');
is(sql(q{SELECT count(*) - count(DISTINCT seq) FROM delivered}), '0',
	'the mapping applied no record twice');
is(sql(q{SELECT count(*) FROM orders_stream.records r
		  WHERE NOT EXISTS (SELECT FROM delivered d
							 WHERE d.seq = r.record#>>'{dynamodb,SequenceNumber}')}),
	'0', 'the mapping applied every record');
ok($node->log_contains('database system was interrupted|database system was not properly shut down'),
	'the server went through crash recovery');

$node->stop;
done_testing();
