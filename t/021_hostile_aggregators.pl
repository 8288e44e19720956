# 021_hostile_aggregators.pl: a hostile or careless aggregator stalls no one.
#
#  (a) a function that swallows the cancel at orders_stream.function_timeout
#      is ended (its worker terminated) after the grace period, counted as a
#      failed attempt, retried, then sent to orders_stream.failures with a
#      condition saying so, while another role's mapping keeps being
#      delivered;
#  (b) delete_event_source_mapping and update_event_source_mapping return
#      while the mapping's function runs; what that invocation did is rolled
#      back (deleted: never applied; updated: redone once, under the new
#      configuration);
#  (c) session state a function leaves (session advisory lock, settings)
#      is gone before the next invocation, of the same or another role's
#      mapping; a temporary table or prepared statement it tries to create
#      is refused (t/011_deferred_triggers_sro.pl);
#  (e) records of a dropped table are still delivered to its mappings; a
#      table with row-level security the owner does not bypass stalls its
#      mapping with AccessDeniedException.
#
# (Batch sizes in bytes, the delivery workers' memory and a missing
# orders_stream.database, once sections d, g and f here, are 032, 033 and
# 041.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('hostile', extra_conf => q{
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
orders_stream.function_timeout = 1s
orders_stream.function_timeout_grace = 1s
orders_stream.max_batch_size_bytes = 8kB
});

# Makes the delivery worker take a changed configuration: after a reload, a
# batch delivered once the worker has finished a round means it has read it.
my $probe_n = 0;
sub reload_worker
{
	my ($probe) = @_;
	sql('SELECT pg_reload_conf()');
	for (1 .. 2)
	{
		$probe_n++;
		sql("INSERT INTO probe VALUES ($probe_n)");
		wait_mapping($probe);
	}
}

sql(<<'SQL');
CREATE ROLE hostile LOGIN;
CREATE ROLE victim LOGIN;
GRANT CREATE ON SCHEMA public TO hostile, victim;
CREATE TABLE probe (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('probe', 'KEYS_ONLY');
CREATE FUNCTION probe_agg(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SQL
my $probe = sql(q{SELECT orders_stream.create_event_source_mapping('probe', 'probe_agg(jsonb)', starting_position => 'LATEST')});

# ====================================================================
# (a) a function that swallows the cancel
# ====================================================================
sql(<<'SQL');
CREATE TABLE a_bad (id int PRIMARY KEY);
CREATE TABLE a_good (id int PRIMARY KEY, inserted_at timestamptz NOT NULL DEFAULT clock_timestamp());
SELECT orders_stream.enable_stream('a_bad', 'KEYS_ONLY');
SELECT orders_stream.enable_stream('a_good', 'NEW_IMAGE');
GRANT SELECT ON a_bad TO hostile;
GRANT SELECT ON a_good TO victim;
CREATE SEQUENCE a_calls;
GRANT USAGE ON a_calls TO hostile;
SQL
swallow_cancels_function();
safe_psql_as('hostile', <<'SQL');
CREATE FUNCTION a_swallow(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM nextval('a_calls');
	PERFORM public.swallow_cancels();
END
$$;
SELECT orders_stream.create_event_source_mapping('a_bad', 'a_swallow(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 1);
SQL
my $ma = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'a_swallow(jsonb)'::regprocedure});
safe_psql_as('victim', <<'SQL');
CREATE TABLE a_seen (id int, seen_at timestamptz);
CREATE FUNCTION a_apply(event jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO a_seen SELECT (r#>>'{dynamodb,Keys,id,N}')::int, clock_timestamp()
	  FROM jsonb_array_elements(event->'Records') r
$$;
SELECT orders_stream.create_event_source_mapping('a_good', 'a_apply(jsonb)', starting_position => 'LATEST');
SQL
my $mg = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'a_apply(jsonb)'::regprocedure});

sql('INSERT INTO a_bad VALUES (1)');
# the victim's records keep coming through while the hostile function is
# invoked, terminated, and invoked again
# (bounded by time, not by a count of records: on a fast machine 40 of them
# are delivered before the first invocation is even terminated)
my $n = 0;
my $failed = 0;
my $a_deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (!$failed && time() < $a_deadline)
{
	$n++;
	sql("INSERT INTO a_good (id) VALUES ($n)");
	wait_mapping($mg, '30s');
	$failed = sql(qq{SELECT count(*) FROM orders_stream.failures WHERE mapping_uuid = '$ma'}) ne '0';
}
cmp_ok($n, '>=', 2, '(a) the other role\'s mapping was delivered meanwhile');
ok($failed, '(a) the cancel-swallowing batch reached orders_stream.failures');
is(sql(qq{SELECT count(*) FROM a_seen}), $n, '(a) every record of the other mapping was delivered');
note 'other mapping, commit to applied, max: '
  . sql(q{SELECT max(s.seen_at - g.inserted_at) FROM a_seen s JOIN a_good g USING (id)});
is(sql(q{SELECT last_value FROM a_calls}), '2', '(a) invoked twice: 1 + maximum_retry_attempts');
is(sql(qq{
	SELECT condition || ' ' || sqlstate || ' ' || (message LIKE '%a_swallow% timed out after 1000 ms and ignored the cancel%')
	  FROM orders_stream.failures WHERE mapping_uuid = '$ma'}),
	'RetryAttemptsExhausted 57014 true', '(a) the failure says the function timed out and ignored the cancel');
is(sql(qq{SELECT last_error LIKE '57014: %timed out%ignored the cancel%' FROM orders_stream.event_source_mapping_status WHERE uuid = '$ma'}),
	't', '(a) last_error too');
like(slurp_file($node->logfile), qr/previous worker was terminated while invoking the function of event source mapping $ma \(lane 0\) past orders_stream.function_timeout/,
	'(a) the restarted worker logs why');
sql("SELECT orders_stream.delete_event_source_mapping('$ma')");

# ====================================================================
# (b) delete and update return while the function runs
# ====================================================================
sql(<<'SQL');
ALTER SYSTEM SET orders_stream.function_timeout = '120s';
CREATE TABLE b_orders (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('b_orders', 'KEYS_ONLY');
CREATE TABLE b_go ();
CREATE TABLE b_seen (id int);
CREATE SEQUENCE b_started;
-- waits until the test lets its mapping go
CREATE FUNCTION b_gate(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM nextval('b_started');
	WHILE NOT EXISTS (SELECT FROM b_go) LOOP
		PERFORM pg_sleep(0.02);
	END LOOP;
	INSERT INTO b_seen SELECT (r#>>'{dynamodb,Keys,id,N}')::int
	  FROM jsonb_array_elements(event->'Records') r;
END
$$;
SQL
reload_worker($probe);
my $mb = sql(q{SELECT orders_stream.create_event_source_mapping('b_orders', 'b_gate(jsonb)', starting_position => 'LATEST')});
sql('INSERT INTO b_orders VALUES (1)');
poll(q{SELECT is_called FROM b_started}, '(b) the function runs');
my ($rc, $out, $err) = (0, '', '');
$rc = $node->psql('postgres', qq{SET statement_timeout = '5s'; SELECT orders_stream.delete_event_source_mapping('$mb')},
	stdout => \$out, stderr => \$err);
is($rc, 0, '(b) delete_event_source_mapping returns while the function runs') or diag $err;
sql(q{INSERT INTO b_go DEFAULT VALUES});
$probe_n++;
sql("INSERT INTO probe VALUES ($probe_n)");
wait_mapping($probe);
is(sql('SELECT count(*) FROM b_seen'), '0', '(b) the deleted mapping\'s invocation in flight was rolled back');

sql(q{TRUNCATE b_go; ALTER SEQUENCE b_started RESTART});
my $mu = sql(q{SELECT orders_stream.create_event_source_mapping('b_orders', 'b_gate(jsonb)', starting_position => 'LATEST')});
sql('INSERT INTO b_orders VALUES (2)');
poll(q{SELECT is_called FROM b_started}, '(b) the function runs again');
$rc = $node->psql('postgres', qq{SET statement_timeout = '5s'; SELECT orders_stream.update_event_source_mapping('$mu', batch_size => 7)},
	stdout => \$out, stderr => \$err);
is($rc, 0, '(b) update_event_source_mapping returns while the function runs') or diag $err;
sql(q{INSERT INTO b_go DEFAULT VALUES});
wait_mapping($mu);
is(sql('SELECT string_agg(id::text, \',\') FROM b_seen'), '2', '(b) the updated mapping applies its batch once');
is(sql('SELECT last_value FROM b_started'), '2', '(b) ... in a second invocation, under the new configuration');
sql("SELECT orders_stream.delete_event_source_mapping('$mu')");
sql('ALTER SYSTEM RESET orders_stream.function_timeout');
reload_worker($probe);

# ====================================================================
# (c) session state is cleared between invocations
# ====================================================================
sql(<<'SQL');
CREATE TABLE c_one (id int PRIMARY KEY);
CREATE TABLE c_two (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('c_one', 'KEYS_ONLY');
SELECT orders_stream.enable_stream('c_two', 'KEYS_ONLY');
GRANT SELECT ON c_one TO hostile;
GRANT SELECT ON c_two TO victim;
SQL
safe_psql_as('hostile', <<'SQL');
CREATE FUNCTION c_leave(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_lock(4242);
	-- both refused: the function runs as a security-restricted operation
	BEGIN
		CREATE TEMP TABLE c_tmp (x int);
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
	BEGIN
		EXECUTE 'PREPARE c_plan AS SELECT 1';
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
	PERFORM set_config('application_name', 'hostile', false);
END
$$;
SELECT orders_stream.create_event_source_mapping('c_one', 'c_leave(jsonb)', starting_position => 'LATEST');
SQL
my $mc1 = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'c_leave(jsonb)'::regprocedure});
safe_psql_as('victim', <<'SQL');
CREATE TABLE c_obs (lock_free boolean, temp_gone boolean, prepared bigint, app text);
CREATE FUNCTION c_check(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO c_obs SELECT pg_try_advisory_lock(4242),
		NOT EXISTS (SELECT FROM pg_class WHERE relname = 'c_tmp' AND relpersistence = 't'),
		(SELECT count(*) FROM pg_prepared_statements),
		current_setting('application_name');
	PERFORM pg_advisory_unlock(4242);
END
$$;
SELECT orders_stream.create_event_source_mapping('c_two', 'c_check(jsonb)', starting_position => 'LATEST');
SQL
my $mc2 = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'c_check(jsonb)'::regprocedure});
sql('INSERT INTO c_one VALUES (1)');
wait_mapping($mc1);
is(sql(q{SELECT pg_try_advisory_lock(4242)}), 't', '(c) another session can take the advisory lock the function left');
sql('INSERT INTO c_two VALUES (1)');
wait_mapping($mc2);
is(sql(q{SELECT concat_ws(' ', lock_free, temp_gone, prepared, app) FROM c_obs}),
	"t t 0 orders_stream $mc2 lane 0", '(c) the next function finds no lock, temp table, prepared statement or setting');
sql('INSERT INTO c_one VALUES (2)');
wait_mapping($mc1);
is(sql(qq{SELECT records_processed || ' ' || errors FROM orders_stream.event_source_mapping_status WHERE uuid = '$mc1'}),
	'2 0', '(c) the same function runs again');

# ====================================================================
# (e) dropped tables and row-level security
# ====================================================================
sql(<<'SQL');
CREATE TABLE e_orders (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('e_orders', 'KEYS_ONLY');
GRANT SELECT ON e_orders TO victim;
CREATE TABLE e_rls (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('e_rls', 'KEYS_ONLY');
GRANT SELECT ON e_rls TO victim;
SQL
safe_psql_as('victim', <<'SQL');
CREATE TABLE e_seen (src text, id int);
CREATE FUNCTION e_apply(event jsonb) RETURNS void LANGUAGE sql AS $$
	INSERT INTO e_seen SELECT split_part(r->>'eventSourceARN', '/', 2), (r#>>'{dynamodb,Keys,id,N}')::int
	  FROM jsonb_array_elements(event->'Records') r
$$;
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_apply(jsonb)', starting_position => 'LATEST', enabled => false);
SELECT orders_stream.create_event_source_mapping('e_rls', 'e_apply(jsonb)', starting_position => 'LATEST');
SQL
my $me = sql(q{SELECT uuid FROM orders_stream.event_source_mappings m JOIN orders_stream.streams s USING (stream_id) WHERE s.relid = 'e_orders'::regclass});
my $mr = sql(q{SELECT uuid FROM orders_stream.event_source_mappings m JOIN orders_stream.streams s USING (stream_id) WHERE s.relid = 'e_rls'::regclass});
# row-level security switched on after the mapping was made (made now, it would be refused)
sql(q{ALTER TABLE e_rls ENABLE ROW LEVEL SECURITY; CREATE POLICY e_some ON e_rls USING (id < 10)});
sql('INSERT INTO e_orders SELECT generate_series(1, 3)');
capture();
sql('DROP TABLE e_orders');
sql(qq{SELECT orders_stream.update_event_source_mapping('$me', enabled => true)});
wait_mapping($me);
is(sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM e_seen WHERE src = 'e_orders'}), '1,2,3',
	'(e) the records of a dropped table are delivered');

sql('INSERT INTO e_rls VALUES (1), (20)');
poll(qq{SELECT last_error LIKE '42501: AccessDeniedException%' FROM orders_stream.event_source_mapping_status WHERE uuid = '$mr'},
	'(e) row-level security the owner does not bypass stalls the mapping');
is(sql(q{SELECT count(*) FROM e_seen WHERE src = 'e_rls'}), '0', '(e) ... delivering nothing');
sql('ALTER TABLE e_rls DISABLE ROW LEVEL SECURITY');
wait_mapping($mr);
is(sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM e_seen WHERE src = 'e_rls'}), '1,20',
	'(e) delivery resumes once the owner may read every row');

$node->stop;
done_testing();
