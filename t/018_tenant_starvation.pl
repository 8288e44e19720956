# 018_tenant_starvation.pl: one tenant cannot starve another (issue #15, A4).
#
# mallory, an ordinary role, floods the pool of delivery workers: mappings
# at parallelization_factor 10 and batch_size 1 whose function sleeps until
# orders_stream.function_timeout cancels it, then fails, with no retries so
# that every lane always has the next record to fail.  alice, another
# ordinary role, has one normal mapping on her own table.  Each of alice's
# records must be delivered within a bound derived from the pool's design
# (see README, "The pool of delivery workers"): a free worker goes to the
# ready lane whose owner holds the fewest workers, so alice's lane waits at
# most for the first of mallory's invocations to end (function_timeout),
# whatever the number of mallory's lanes; on a FIFO pool it waited behind
# every lane of mallory's queued before it.  A lane backing off before a
# retry gives its worker back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep time);

my $WORKERS = 4;
my $TIMEOUT_MS = 3000;		# one of mallory's invocations
my $MAPPINGS = 5;			# of mallory's, 10 lanes each
my $ROUNDS = 3;

# alice's record waits at most for one of mallory's invocations to end
# (function_timeout) and one quantum (200 ms), then takes its own batch and
# capture's latency: milliseconds.  5 s of slack for a loaded machine.  A
# FIFO pool made it wait behind ~(10 * MAPPINGS - WORKERS) / WORKERS of
# mallory's invocations: about 34 s here.
my $BOUND = $TIMEOUT_MS / 1000 + 5;

my $node = OrdersStream::new_node('tenant_starvation', extra_conf => qq{
orders_stream.max_delivery_workers = $WORKERS
orders_stream.function_timeout = ${TIMEOUT_MS}ms
orders_stream.retry_base_delay = 20s
orders_stream.retry_max_delay = 20s
});

sub sql { return $node->safe_psql('postgres', shift); }

sub as
{
	my ($role, $q) = @_;
	my ($rc, $out, $err) = OrdersStream::psql_login($node, $role, $q);
	die "as $role: $err" if $rc != 0;
	return $out;
}

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
CREATE SCHEMA alice AUTHORIZATION alice;
CREATE SCHEMA mallory AUTHORIZATION mallory;
});

as('alice', q{
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
# and one that retries, backing off 20 s between attempts
$mallory .= q{
CREATE FUNCTION mallory.retrier(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'fails at once, retried';
END
$$;
SELECT orders_stream.create_event_source_mapping('mallory.flood', 'mallory.retrier(jsonb)',
	starting_position => 'LATEST', batch_size => 1, parallelization_factor => 10);
};
as('mallory', $mallory);
as('mallory', 'INSERT INTO mallory.flood SELECT generate_series(1, 500)');

ok($node->poll_query_until('postgres', qq{
	SELECT count(*) = $WORKERS FROM pg_stat_activity a
	  JOIN orders_stream.delivery_workers() w USING (pid)
	 WHERE a.wait_event = 'PgSleep'}),
	"mallory's sleeping functions hold all $WORKERS workers");

# alice's records, one at a time: how long each took from commit to applied
my @delays;
for my $round (1 .. $ROUNDS)
{
	as('alice', "INSERT INTO alice.orders (id) VALUES ($round)");
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
	"each of alice's records is applied within function_timeout + 5 s while mallory floods the pool");
is(sql(q{SELECT count(*) FROM orders_stream.failures WHERE owner_oid = 'alice'::regrole}),
	'0', 'alice has no failures');

# A lane backing off before its retry holds no worker: two looks 1 s apart
# never see one worker on the same BACKOFF lane, waiting for the same retry.
my $backoff_held = q{
	SELECT x.lane::text || ':' || (x.next_attempt_at)::text || ':' || w.pid
	  FROM orders_stream.event_source_mapping_lanes x
	  JOIN orders_stream.delivery_workers() w
	    ON w.mapping_uuid = x.mapping_uuid AND w.epoch = x.epoch AND w.lane = x.lane
	 WHERE x.state = 'BACKOFF' AND x.next_attempt_at > now() + interval '2 s'
	 ORDER BY 1};
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM orders_stream.event_source_mapping_lanes x
	  JOIN orders_stream.event_source_mappings m ON m.uuid = x.mapping_uuid
	 WHERE m.function_name = 'mallory.retrier(jsonb)' AND x.state = 'BACKOFF'}),
	"mallory's retrying lanes back off");
my $held = 0;
for (1 .. 5)
{
	my $before = sql($backoff_held);
	# a sampling interval between two looks, not a wait for a condition
	usleep(1_000_000);
	my %after = map { $_ => 1 } split /\n/, sql($backoff_held);
	$held += grep { $after{$_} } split /\n/, $before;
}
is($held, 0, 'no worker stays on a lane while it backs off before a retry');

$node->stop('immediate');
done_testing();
