# 023_windows.pl: tumbling windows count each record in its window exactly
# once, in each lane, across SIGKILLs of the delivery worker and of the
# postmaster and a change of parallelization_factor.
#
# pgbench inserts, updates (quantities and items) and deletes orders while
# examples/window_totals.sql keeps per-window item totals through a mapping
# with 2-second tumbling windows, small batches (several invocations per
# window, then a final one) and two lanes, then three: each lane has its
# own windows, whose finals add up.  The delivery worker, or the postmaster, is
# killed with SIGKILL in the middle of it, again and again.  At the end,
# for every window, the totals the final invocations wrote equal the sums
# that the history of the table gives (OrdersStream::window_history_expected):
# no record counted twice or lost, no final invocation run twice or lost.
#
# Then a final invocation that hangs and swallows the cancel: its worker is
# terminated, the next worker counts it as a failed attempt (no failure row,
# the state kept), and once the function behaves the final invocation runs
# once, with the whole state.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep);

my $KILLS = $ENV{OS_WINDOW_KILLS} // 9;
OrdersStream::random_seed('OS_WINDOW_SEED');

my $node = OrdersStream::new_node('windows', extra_conf => q{
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
max_connections = 40
restart_after_crash = on
orders_stream.function_timeout = 1s
orders_stream.function_timeout_grace = 1s
});

OrdersStream::window_history_setup($node);
sql(slurp_file('examples/window_totals.sql'));
my $m = sql(q{
	SELECT orders_stream.create_event_source_mapping('worders', 'window_totals_aggregator(jsonb)',
		batch_size => 25, starting_position => 'TRIM_HORIZON', tumbling_window_in_seconds => 2,
		parallelization_factor => 2)});

my $script = OrdersStream::mixed_writes_script($node, 'worders');

my @load = (qw(-c 3 -j 1 --max-tries=20 -R 400), '-f', $script);

my ($worker_kills, $postmaster_kills) = (0, 0);
for my $round (1 .. $KILLS)
{
	my $h = start_pgbench(@load, qw(-T 300));
	# across window ends, now and then: where the kill lands, not a wait
	usleep(int(700_000 + rand(1_800_000)));
	if ($round % 3 == 0)
	{
		crash_restart("round $round", all => rand() < 0.5, pgbench => $h);
		$postmaster_kills++;
	}
	else
	{
		# the delivery worker inside a step (an invocation, most of the
		# time), a few milliseconds into it
		my $pid = busy_worker('orders_stream delivery', 'delivering stream records', 5);
		usleep(int(rand(5_000)));
		$pid ||= (split /\n/, worker_pid('orders_stream delivery'))[0];
		die "no delivery worker to kill" unless $pid =~ /^\d+$/;
		kill 'KILL', $pid or die "could not kill $pid: $!";
		note "round $round: SIGKILL of the delivery worker $pid";
		$worker_kills++;
		stop_pgbench($h);
		# the postmaster restarts the cluster after a child's crash
		wait_true(q{
			SELECT count(*) >= 1 FROM pg_stat_activity WHERE backend_type = 'orders_stream delivery'},
			'a delivery worker after the crash');
	}
	if ($round == int($KILLS / 2))
	{
		# re-partition mid-window: the old lanes end their windows, then drain
		sql("SELECT orders_stream.update_event_source_mapping('$m', parallelization_factor => 3)");
		note "round $round: parallelization_factor 2 -> 3";
	}
}

# the load stops; the mapping catches up and its last window ends
stop_pgbench(start_pgbench(@load, qw(-T 2)));
wait_mapping($m, '600s');
ok($node->poll_query_until('postgres', qq{
	SELECT bool_and(window_state IS NULL) FROM orders_stream.event_source_mapping_lanes WHERE mapping_uuid = '$m'}),
	'the last window ends once the stream is idle');

cmp_ok($worker_kills, '>=', 5, "delivery worker killed with SIGKILL $worker_kills times");
cmp_ok($postmaster_kills, '>=', 2, "postmaster killed with SIGKILL $postmaster_kills times");
ok($node->log_contains('background worker "orders_stream delivery" \(PID \d+\) was terminated by signal 9'),
	'the server log shows the SIGKILLed delivery worker');

is(sql(qq{SELECT string_agg(DISTINCT epoch || ':' || lanes || ':' || state, ' ')
			FROM orders_stream.event_source_mapping_lanes WHERE mapping_uuid = '$m'}),
	'0:2:DRAINED 1:3:READY', 'two lanes, then three (the first two drained)');
is(OrdersStream::window_history_expected($node, 2, $m), '0',
	'every committed change has exactly one record');
my $changes = sql('SELECT count(*) FROM whistory');
my $windows = sql('SELECT count(DISTINCT window_start) FROM wexpected');
note "$changes changes in $windows windows";
cmp_ok($changes, '>', 1000, 'the workload made a fair number of changes');
cmp_ok($windows, '>', 5, 'the changes span many windows');
is(sql(q{
	SELECT count(*) FROM wexpected e FULL JOIN window_item_totals w USING (window_start, item)
	 WHERE e.total IS DISTINCT FROM w.total}), '0',
	'for every window, the final state\'s item totals equal the sums from the history');
is(sql(q{SELECT count(*) FROM window_item_totals WHERE window_end - window_start <> interval '2 s'
				OR extract(epoch FROM window_start)::bigint % 2 <> 0}),
	'0', 'every window is two seconds long, aligned on the epoch');
is(sql(qq{SELECT failures || '/' || coalesce(last_error, '') FROM orders_stream.event_source_mapping_status
		  WHERE uuid = '$m'}), '0/', 'no batch was given up on');

# ---- a final invocation that swallows the cancel ----
swallow_cancels_function();
sql(q{
CREATE TABLE kt (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('kt', 'KEYS_ONLY');
CREATE TABLE khang (hang boolean NOT NULL);
INSERT INTO khang VALUES (true);
CREATE TABLE klog (event jsonb NOT NULL);
CREATE FUNCTION khang_agg(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
	IF (event->>'isFinalInvokeForWindow')::boolean AND (SELECT hang FROM khang) THEN
		PERFORM public.swallow_cancels();
	END IF;
	INSERT INTO klog VALUES (event);
	RETURN jsonb_build_object('state', jsonb_build_object('n',
		coalesce((event#>>'{state,n}')::int, 0) + jsonb_array_length(event->'Records')));
END
$$;
});
my $mk = sql(q{
	SELECT orders_stream.create_event_source_mapping('kt', 'khang_agg(jsonb)',
		starting_position => 'LATEST', tumbling_window_in_seconds => 1, maximum_retry_attempts => 0)});
sql('INSERT INTO kt SELECT generate_series(1, 3)');
ok($node->poll_query_until('postgres', qq{
	SELECT errors >= 1 AND last_error LIKE '%timed out after 1000 ms and ignored the cancel: its worker was terminated'
	  FROM orders_stream.event_source_mapping_status WHERE uuid = '$mk'}),
	'a final invocation that ignores the cancel ends its worker and counts as a failed attempt');
ok($node->log_contains("the previous worker was terminated while invoking the function of event source mapping $mk"),
	'the next worker logs why');
is(sql(qq{SELECT s.failures || ' ' || l.window_state::text FROM orders_stream.event_source_mapping_status s
		  JOIN orders_stream.event_source_mapping_lanes l ON l.mapping_uuid = s.uuid WHERE s.uuid = '$mk'}),
	'0 {"n": 3}', 'no failure row: the window keeps its state');
sql('UPDATE khang SET hang = false');
ok($node->poll_query_until('postgres', qq{
	SELECT bool_and(window_state IS NULL) FROM orders_stream.event_source_mapping_lanes WHERE mapping_uuid = '$mk'}),
	'once the function behaves, the window ends');
is(sql(q{SELECT string_agg(jsonb_array_length(event->'Records') || ':' || (event->'state')::text
						   || ':' || (event->>'isFinalInvokeForWindow'), ' ' ORDER BY ctid) FROM klog}),
	'3:{}:false 0:{"n": 3}:true', 'the final invocation ran once, with the whole state');

done_testing();
