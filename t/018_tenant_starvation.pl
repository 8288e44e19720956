# 018_tenant_starvation.pl: one tenant cannot starve another (issue #15, A4).
#
# mallory, an ordinary role, floods the pool of delivery workers: mappings
# at parallelization_factor 10 and batch_size 1 whose function sleeps until
# orders_stream.function_timeout cancels it, then fails, with no retries so
# that every lane always has the next record to fail.  alice, another
# ordinary role, has one normal mapping on her own table.  Each of alice's
# records must be delivered within a bound derived from the pool's design
# (README, "Fairness between owners"): mallory gets more than its share of
# the workers (2 of 4) only while it leaves one free, so alice's lane finds
# a worker at once and waits for none of mallory's invocations; with turns
# per lane it waited behind every lane of mallory's queued before it.  A
# lane backing off before a retry gives its worker back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep);

my $WORKERS = 4;
my $TIMEOUT_MS = 4000;		# one of mallory's invocations
my $MAPPINGS = 5;			# of mallory's, 10 lanes each
my $ROUNDS = 3;

# mallory holds no more than its share while a worker is free: alice's
# record finds that worker at once, and waits for none of mallory's
# invocations, only for capture, the launcher and her own batch
# (milliseconds).  Half of one of mallory's invocations leaves a loaded
# machine ample slack.  A pool with turns per lane made it wait behind
# about (10 * MAPPINGS - WORKERS) / WORKERS of them (46 s), one with turns
# per owner but no worker kept free for one of them (4 s).
my $BOUND = $TIMEOUT_MS / 2000;

my $node = OrdersStream::new_node('tenant_starvation', extra_conf => qq{
orders_stream.max_delivery_workers = $WORKERS
orders_stream.function_timeout = ${TIMEOUT_MS}ms
orders_stream.retry_base_delay = 1h
orders_stream.retry_max_delay = 1h
});

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE SCHEMA mallory AUTHORIZATION mallory;
});

safe_psql_login('alice', q{
CREATE TABLE alice.orders (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE alice.seen (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp());
SELECT orders_stream.enable_stream('alice.orders', 'KEYS_ONLY');
CREATE FUNCTION alice.apply(event jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO alice.seen (id)
	SELECT (r#>>'{dynamodb,Keys,id,N}')::int FROM jsonb_array_elements(event->'Records') r
$$;
SELECT orders_stream.create_event_source_mapping('alice.orders', 'alice.apply(jsonb)',
	starting_position => 'LATEST');
});

# mallory's lanes that fail at once and back off an hour before their retry
safe_psql_login('mallory', q{
CREATE TABLE mallory.retried (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('mallory.retried', 'KEYS_ONLY');
CREATE FUNCTION mallory.retrier(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'fails at once, retried';
END
$$;
SELECT orders_stream.create_event_source_mapping('mallory.retried', 'mallory.retrier(jsonb)',
	starting_position => 'LATEST', batch_size => 1, parallelization_factor => 10);
});
safe_psql_login('mallory', 'INSERT INTO mallory.retried SELECT generate_series(1, 100)');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 10 FROM orders_stream.event_source_mapping_lanes x
	  JOIN orders_stream.event_source_mappings m ON m.uuid = x.mapping_uuid
	 WHERE m.function_name = 'mallory.retrier(jsonb)' AND x.state = 'BACKOFF'}),
	"mallory's retrying lanes back off");

my $mallory = q{
CREATE TABLE mallory.flood (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('mallory.flood', 'KEYS_ONLY');
};
for my $i (1 .. $MAPPINGS)
{
	# sleeps until function_timeout cancels it, and fails
	$mallory .= qq{
CREATE FUNCTION mallory.hog$i(event jsonb) RETURNS void LANGUAGE plpgsql AS \$\$
BEGIN
	PERFORM pg_sleep(3600);
	RAISE EXCEPTION 'never reached';
END
\$\$;
SELECT orders_stream.create_event_source_mapping('mallory.flood', 'mallory.hog$i(jsonb)',
	starting_position => 'LATEST', batch_size => 1, parallelization_factor => 10,
	maximum_retry_attempts => 0);
};
}
safe_psql_login('mallory', $mallory);
safe_psql_login('mallory', 'INSERT INTO mallory.flood SELECT generate_series(1, 500)');

# mallory's functions sleeping in workers
my $sleeping = q{
	SELECT count(*) FROM pg_stat_activity a
	  JOIN orders_stream.delivery_workers() w USING (pid)
	 WHERE a.wait_event = 'PgSleep'};
# two owners of enabled mappings: mallory's share is 2 workers, and it may
# take more while it leaves one free
ok($node->poll_query_until('postgres', "SELECT ($sleeping) >= " . ($WORKERS - 1)),
	"mallory's sleeping functions hold " . ($WORKERS - 1) . " of the $WORKERS workers or more");

# alice's records, one at a time: how long each took from commit to applied
my @delays;
my @hogs;
for my $round (1 .. $ROUNDS)
{
	push @hogs, sql($sleeping);
	safe_psql_login('alice', "INSERT INTO alice.orders (id) VALUES ($round)");
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM alice.seen WHERE id = $round"),
		"alice's record $round is applied");
	my $delay = sql(qq{SELECT extract(epoch FROM s.at - o.at)
		FROM alice.orders o JOIN alice.seen s USING (id) WHERE id = $round});
	note sprintf("alice's record %d applied %.3f s after its commit", $round, $delay);
	push @delays, $delay;
}
my ($worst) = sort { $b <=> $a } @delays;
note sprintf("alice's worst delay %.3f s (bound %.1f s)", $worst, $BOUND);
cmp_ok($worst, '<', $BOUND,
	"each of alice's records is applied within half of one of mallory's invocations");
is(sql(q{SELECT count(*) FROM orders_stream.failures WHERE owner_oid = 'alice'::regrole}),
	'0', 'alice has no failures');

# A lane backing off before its retry holds no worker, while mallory's
# other lanes wait for one: two looks 1 s apart never see one worker on the
# same BACKOFF lane, waiting for the same retry.
my $backoff_held = q{
	SELECT x.mapping_uuid || ':' || x.lane || ':' || x.next_attempt_at || ':' || w.pid
	  FROM orders_stream.event_source_mapping_lanes x
	  JOIN orders_stream.delivery_workers() w
	    ON w.mapping_uuid = x.mapping_uuid AND w.epoch = x.epoch AND w.lane = x.lane
	 WHERE x.state = 'BACKOFF' AND x.next_attempt_at > now() + interval '2 s'
	 ORDER BY 1};
my $held = 0;
for (1 .. 5)
{
	my $before = sql($backoff_held);
	push @hogs, sql($sleeping);
	# a sampling interval between two looks, not a wait for a condition
	usleep(1_000_000);
	my %after = map { $_ => 1 } split /\n/, sql($backoff_held);
	$held += grep { $after{$_} } split /\n/, $before;
}
is($held, 0, 'no worker stays on a lane while it backs off before a retry');
is((sort { $b <=> $a } @hogs)[0], $WORKERS - 1,
	'mallory never sleeps in the worker kept free for other owners');

$node->stop('immediate');
done_testing();
