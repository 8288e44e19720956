# 011_deferred_triggers_sro.pl: user code cannot leave anything behind that
# runs, or is found, after the switch back to a superuser (the class of
# CVE-2020-25695), tried by a hostile ordinary role, mallory:
#
#  (a) a mapping function that queues a DEFERRABLE INITIALLY DEFERRED
#      constraint trigger (or defers one with SET CONSTRAINTS) whose
#      function runs ALTER ROLE mallory SUPERUSER: the invocation fails
#      (security-restricted operation), the batch follows the retry and
#      failure rules, the next records are delivered, mallory stays an
#      ordinary role;
#  (b) an ordinary AFTER trigger fires inside the invocation, as mallory;
#  (c) a mapping function that creates a temporary view or table, or a
#      cursor WITH HOLD over a query that escalates (a held cursor's query
#      runs to completion at commit): refused;
#  (d) the same functions replayed by redrive_failures() called by a
#      superuser: they run in a redrive worker, never in the superuser's
#      session, which has no pg_temp object afterwards (pg_settings is
#      still pg_catalog's), and mallory is still not a superuser;
#  (e) a TTL delete whose trigger queues a deferred trigger: refused too;
#  (f) a replayed function that ignores the cancel at function_timeout ends
#      its redrive worker, not the caller's session: the failure gets the
#      timeout error and the next one is replayed in a new worker.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('sro', extra_conf => q{
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
orders_stream.ttl_naptime = 100ms
});

sub mallory_is_superuser
{
	return sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'});
}

sql(<<'SQL');
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
SQL

safe_psql_as('mallory', <<'SQL');
SET search_path = mallory;
CREATE TABLE orders (id text PRIMARY KEY);
SELECT orders_stream.enable_stream('mallory.orders', 'KEYS_ONLY');
CREATE TABLE applied (id text, pid int, application_name text);

-- the payload: runs with the rights of whoever fires it
CREATE FUNCTION escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'ALTER ROLE mallory SUPERUSER';
	RETURN NULL;
END
$$;
CREATE TABLE deferred_trap (id int);
CREATE CONSTRAINT TRIGGER escalate AFTER INSERT ON deferred_trap
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION escalate();
CREATE TABLE immediate_trap (id int);
CREATE CONSTRAINT TRIGGER escalate AFTER INSERT ON immediate_trap
	DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION escalate();
-- the same, as a function for a held cursor's query
CREATE FUNCTION escalate_now() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'ALTER ROLE mallory SUPERUSER';
	RETURN 1;
END
$$;
CREATE TABLE after_trap (id int);
CREATE TRIGGER escalate AFTER INSERT ON after_trap
	FOR EACH ROW EXECUTE FUNCTION escalate();

-- each record's key says which trick to play; "fail-<trick>" fails until
-- mallory's "fix" (a row in fixed), then plays the trick
CREATE TABLE fixed ();
CREATE FUNCTION agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	id text;
	trick text;
BEGIN
	FOR id IN SELECT r#>>'{dynamodb,Keys,id,S}' FROM jsonb_array_elements(event->'Records') r LOOP
		IF id LIKE 'fail%' AND NOT EXISTS (SELECT FROM mallory.fixed) THEN
			RAISE EXCEPTION 'not yet: %', id;
		END IF;
		trick := regexp_replace(id, '^fail-', '');
		IF trick LIKE 'deferred%' THEN
			INSERT INTO mallory.deferred_trap VALUES (1);
		ELSIF trick LIKE 'setconstraints%' THEN
			SET CONSTRAINTS ALL DEFERRED;
			INSERT INTO mallory.immediate_trap VALUES (1);
		ELSIF trick LIKE 'after%' THEN
			INSERT INTO mallory.after_trap VALUES (1);
		ELSIF trick LIKE 'tempview%' THEN
			CREATE TEMP VIEW pg_settings AS SELECT 'pwned'::text AS name, 'pwned'::text AS setting;
		ELSIF trick LIKE 'temptable%' THEN
			CREATE TEMP TABLE leftover (x int);
		ELSIF trick LIKE 'hold%' THEN
			EXECUTE 'DECLARE held CURSOR WITH HOLD FOR SELECT mallory.escalate_now()';
		END IF;
		INSERT INTO mallory.applied VALUES (id, pg_backend_pid(), current_setting('application_name'));
	END LOOP;
END
$$;
SELECT orders_stream.create_event_source_mapping('mallory.orders', 'mallory.agg(jsonb)',
	starting_position => 'LATEST', batch_size => 1, maximum_retry_attempts => 1);
SQL
my $m = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'mallory.agg(jsonb)'::regprocedure});

sub failure_of
{
	my ($id) = @_;
	return sql(qq{SELECT sqlstate || ' ' || message FROM orders_stream.failures
		WHERE mapping_uuid = '$m' AND records->0#>>'{dynamodb,Keys,id,S}' = '$id'});
}

# mallory inserts orders with these ids, one transaction each; waits until
# her mapping has taken them all
sub deliver
{
	safe_psql_as('mallory', join('', map { "INSERT INTO mallory.orders VALUES ('$_');\n" } @_));
	capture();
	wait_mapping($m, '60s');
}

# ====================================================================
# (a)-(c) through delivery
# ====================================================================
deliver(qw(deferred1 setconstraints1 after1 tempview1 temptable1 hold1 good1));

is(mallory_is_superuser(), 'f', '(a) mallory is not a superuser after delivery');
is(failure_of('deferred1'), '42501 cannot fire deferred trigger within security-restricted operation',
	'(a) a deferred constraint trigger fails the invocation');
is(failure_of('setconstraints1'), '42501 cannot fire deferred trigger within security-restricted operation',
	'(a) SET CONSTRAINTS ALL DEFERRED does not get around it');
is(sql(qq{SELECT payload->'requestContext'->>'approximateInvokeCount' FROM orders_stream.failures
	WHERE mapping_uuid = '$m' AND records->0#>>'{dynamodb,Keys,id,S}' = 'deferred1'}),
	'2', '(a) the failing batch was retried (maximum_retry_attempts 1), then written to failures');
is(sql(q{SELECT count(*) FROM mallory.deferred_trap}) . sql(q{SELECT count(*) FROM mallory.immediate_trap}),
	'00', '(a) the failed invocations left nothing behind');
is(sql(q{SELECT string_agg(id, ',' ORDER BY id) FROM mallory.applied}), 'good1',
	'(a) the mapping is not wedged: the next record is delivered, once');
like(failure_of('after1'), qr/^42501 must be superuser/,
	'(b) an ordinary AFTER trigger fires inside the invocation, as mallory');
is(failure_of('tempview1'), '42501 cannot create temporary table within security-restricted operation',
	'(c) a temporary view is refused');
is(failure_of('temptable1'), '42501 cannot create temporary table within security-restricted operation',
	'(c) a temporary table is refused');
is(failure_of('hold1'), '42501 cannot create a cursor WITH HOLD within security-restricted operation',
	'(c) a cursor WITH HOLD is refused');
is(sql(qq{SELECT state FROM orders_stream.event_source_mapping_status WHERE uuid = '$m'}), 'Enabled',
	'(a) the mapping is still enabled');

# ====================================================================
# (d) redrive_failures() called by a superuser
# ====================================================================
# three more failures, with records that fail first and that mallory's
# function then turns into the tricks above
deliver(qw(fail-deferred fail-tempview fail-hold fail-ok));
is(sql(qq{SELECT count(*) FROM orders_stream.failures WHERE mapping_uuid = '$m'
	AND records->0#>>'{dynamodb,Keys,id,S}' LIKE 'fail-%'}), '4', '(d) four more failures');
sql(q{TRUNCATE mallory.applied});
# the "fix": the same tricks, played on whoever replays the records
safe_psql_as('mallory', 'INSERT INTO mallory.fixed DEFAULT VALUES');

my ($rc, $out, $err) = $node->psql('postgres', q{
SELECT string_agg(f.records->0#>>'{dynamodb,Keys,id,S}' || ' ' || r.result, E'\n' ORDER BY r.failure_id)
  FROM orders_stream.redrive_failures(NULL, (SELECT array_agg(failure_id) FROM orders_stream.failures
	WHERE records->0#>>'{dynamodb,Keys,id,S}' LIKE 'fail-%')) r
  JOIN orders_stream.failures f USING (failure_id);
SELECT 'temp objects: ' || count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema();
SELECT 'pg_settings: ' || count(*) FROM pg_settings WHERE name = 'work_mem';
SELECT 'my pid: ' || pg_backend_pid();
});
is($rc, 0, '(d) redrive_failures() as a superuser returns') or diag($err);
my ($my_pid) = $out =~ /my pid: (\d+)/;
like($out, qr/^fail-deferred ERROR: 42501: cannot fire deferred trigger within security-restricted operation$/m,
	'(d) the replayed deferred trigger is refused');
like($out, qr/^fail-tempview ERROR: 42501: cannot create temporary table within security-restricted operation$/m,
	'(d) the replayed temporary view is refused');
like($out, qr/^fail-hold ERROR: 42501: cannot create a cursor WITH HOLD within security-restricted operation$/m,
	'(d) the replayed cursor WITH HOLD is refused');
like($out, qr/^fail-ok OK$/m, '(d) the harmless record is replayed');
like($out, qr/^temp objects: 0$/m, "(d) the superuser's session has no pg_temp object");
like($out, qr/^pg_settings: 1$/m, "(d) pg_settings is still pg_catalog's in the superuser's session");
is(mallory_is_superuser(), 'f', '(d) mallory is not a superuser after the superuser redrove its failures');
is(sql(q{SELECT id || ' ' || application_name FROM mallory.applied}), 'fail-ok orders_stream redrive',
	'(d) the function ran in a redrive worker');
isnt(sql(q{SELECT pid FROM mallory.applied}), $my_pid, "(d) not in the caller's session");
is(sql(qq{SELECT string_agg(redrive_result, ',' ORDER BY failure_id) FROM orders_stream.failures
	WHERE mapping_uuid = '$m' AND records->0#>>'{dynamodb,Keys,id,S}' LIKE 'fail-%'}),
	'ERROR: 42501: cannot fire deferred trigger within security-restricted operation,'
	. 'ERROR: 42501: cannot create temporary table within security-restricted operation,'
	. 'ERROR: 42501: cannot create a cursor WITH HOLD within security-restricted operation,OK',
	'(d) the outcomes are recorded in the failure rows');
is(sql(q{SELECT count(*) FROM mallory.deferred_trap}), '0', '(d) the refused replay left nothing behind');
is(sql(q{SELECT count(*) FROM orders_stream.redrive_failures(NULL,
	(SELECT array_agg(failure_id) FROM orders_stream.failures WHERE records->0#>>'{dynamodb,Keys,id,S}' = 'fail-ok'))}),
	'0', '(d) a failure redriven successfully is not redriven again');

# ====================================================================
# (e) TTL: a delete trigger that queues a deferred trigger
# ====================================================================
safe_psql_as('mallory', <<'SQL');
CREATE TABLE mallory.sessions (id int PRIMARY KEY, expires_at timestamptz);
CREATE FUNCTION mallory.on_expire() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO mallory.deferred_trap VALUES (2);
	RETURN OLD;
END
$$;
CREATE TRIGGER on_expire AFTER DELETE ON mallory.sessions FOR EACH ROW EXECUTE FUNCTION mallory.on_expire();
SELECT orders_stream.update_time_to_live('mallory.sessions', 'expires_at', true);
INSERT INTO mallory.sessions VALUES (1, now() - interval '1 minute');
SQL
ok($node->wait_for_log(qr/could not expire rows of table mallory\.sessions: cannot fire deferred trigger within security-restricted operation/),
	'(e) the TTL batch is refused');
is(mallory_is_superuser(), 'f', '(e) mallory is not a superuser after TTL');
is(sql(q{SELECT count(*) FROM mallory.sessions}), '1', '(e) the row stays');

# ====================================================================
# (f) a replayed function that swallows the cancel
# ====================================================================
safe_psql_as('mallory', <<'SQL');
CREATE TABLE mallory.slow (id text PRIMARY KEY);
SELECT orders_stream.enable_stream('mallory.slow', 'KEYS_ONLY');
CREATE FUNCTION mallory.swallow(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'not yet';
END
$$;
SELECT orders_stream.create_event_source_mapping('mallory.slow', 'mallory.swallow(jsonb)',
	starting_position => 'LATEST', batch_size => 1, maximum_retry_attempts => 0);
INSERT INTO mallory.slow VALUES ('s1');
INSERT INTO mallory.slow VALUES ('s2');
SQL
my $ms = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'mallory.swallow(jsonb)'::regprocedure});
capture();
wait_mapping($ms, '60s');
swallow_cancels_function();
safe_psql_as('mallory', <<'SQL');
CREATE OR REPLACE FUNCTION mallory.swallow(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF event#>>'{Records,0,dynamodb,Keys,id,S}' = 's1' THEN
		PERFORM public.swallow_cancels();
	END IF;
END
$$;
SQL
sql(q{ALTER SYSTEM SET orders_stream.function_timeout = '1s'});
sql(q{ALTER SYSTEM SET orders_stream.function_timeout_grace = '1s'});
sql(q{SELECT pg_reload_conf()});
($rc, $out, $err) = $node->psql('postgres', qq{
SELECT string_agg(f.records->0#>>'{dynamodb,Keys,id,S}' || ' ' || r.result, E'\n' ORDER BY r.failure_id)
  FROM orders_stream.redrive_failures('$ms') r JOIN orders_stream.failures f USING (failure_id);
SELECT 'still here';
});
is($rc, 0, "(f) the caller's session survives") or diag($err);
is($out, "s1 ERROR: 57014: function mallory.swallow(jsonb) timed out after 1000 ms and ignored the cancel: its worker was terminated\n"
	. "s2 OK\nstill here", '(f) the swallowing replay timed out, the next one was replayed');
sql(q{ALTER SYSTEM RESET orders_stream.function_timeout});
sql(q{ALTER SYSTEM RESET orders_stream.function_timeout_grace});
sql(q{SELECT pg_reload_conf()});

done_testing();
