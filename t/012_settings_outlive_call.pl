# 012_settings_outlive_call.pl: settings and session state that user code
# makes in a worker's session never outlive the call, tried by a hostile
# ordinary role (ttl_a) against another (ttl_b):
#
#  (a) a TTL delete trigger of ttl_a calls set_config(..., false) on
#      search_path, statement_timeout, work_mem and a custom setting, and
#      takes a session advisory lock: the next owner's TTL trigger, in the
#      same TTL worker, sees its own search_path and the server's settings,
#      and the lock is gone;
#  (b) the same settings made by a mapping's function do not reach another
#      role's mapping function (nor a redrive of its failure).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('settings', extra_conf => q{
orders_stream.ttl_naptime = 100ms
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
});

sql(<<'SQL');
CREATE ROLE ttl_a LOGIN;
CREATE ROLE ttl_b LOGIN;
CREATE SCHEMA ttl_a AUTHORIZATION ttl_a;
CREATE SCHEMA ttl_b AUTHORIZATION ttl_b;
SQL

# ====================================================================
# (a) TTL
# ====================================================================
safe_psql_as('ttl_a', <<'SQL');
SET search_path = ttl_a, public;
CREATE TABLE sessions (id int PRIMARY KEY, expires_at timestamptz);
CREATE FUNCTION leave_settings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('search_path', 'ttl_a, pg_catalog', false);
	PERFORM set_config('statement_timeout', '1234', false);
	PERFORM set_config('work_mem', '1234kB', false);
	PERFORM set_config('ttl_a.leak', 'yes', false);
	PERFORM pg_advisory_lock(4711);
	RETURN OLD;
END
$$;
CREATE TRIGGER leave_settings AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION leave_settings();
SELECT orders_stream.update_time_to_live('sessions', 'expires_at', true);
INSERT INTO sessions VALUES (1, now() - interval '1 minute');
SQL
ok($node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM ttl_a.sessions}),
	"(a) the TTL worker expired ttl_a's row (its trigger ran)");
is(sql(q{SELECT pg_try_advisory_lock(4711)}), 't',
	'(a) the advisory lock the trigger took is gone from the TTL worker');
sql(q{SELECT pg_advisory_unlock(4711)});

safe_psql_as('ttl_b', <<'SQL');
SET search_path = ttl_b, public;
CREATE TABLE sessions (id int PRIMARY KEY, expires_at timestamptz);
CREATE TABLE observed (search_path text, statement_timeout text, work_mem text, leak text);
CREATE FUNCTION observe() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ttl_b.observed VALUES (current_setting('search_path'), current_setting('statement_timeout'),
		current_setting('work_mem'), coalesce(current_setting('ttl_a.leak', true), ''));
	RETURN OLD;
END
$$;
CREATE TRIGGER observe AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION observe();
SELECT orders_stream.update_time_to_live('sessions', 'expires_at', true);
INSERT INTO sessions VALUES (1, now() - interval '1 minute');
SQL
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM ttl_b.observed}),
	"(a) the TTL worker expired ttl_b's row");
my $defaults = sql(q{SELECT current_setting('statement_timeout') || '|' || current_setting('work_mem')});
is(sql(q{SELECT concat_ws('|', search_path, statement_timeout, work_mem, leak) FROM ttl_b.observed}),
	"ttl_b, public, pg_temp|$defaults|",
	"(a) ttl_b's trigger sees its own search_path and no setting of ttl_a's trigger");

# ====================================================================
# (b) mapping functions, and a redrive
# ====================================================================
sql(<<'SQL');
CREATE TABLE m_one (id int PRIMARY KEY);
CREATE TABLE m_two (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('m_one', 'KEYS_ONLY');
SELECT orders_stream.enable_stream('m_two', 'KEYS_ONLY');
GRANT SELECT ON m_one TO ttl_a;
GRANT SELECT ON m_two TO ttl_b;
SQL
safe_psql_as('ttl_a', <<'SQL');
SET search_path = ttl_a, public;
CREATE FUNCTION ttl_a.leave(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('search_path', 'ttl_a, pg_catalog', false);
	PERFORM set_config('statement_timeout', '1234', false);
	PERFORM set_config('work_mem', '1234kB', false);
	PERFORM set_config('ttl_a.leak', 'yes', false);
	IF EXISTS (SELECT FROM jsonb_array_elements(event->'Records') r WHERE r#>>'{dynamodb,Keys,id,N}' = '2') THEN
		RAISE EXCEPTION 'fails, to be redriven';
	END IF;
END
$$;
SELECT orders_stream.create_event_source_mapping('m_one', 'ttl_a.leave(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
SQL
safe_psql_as('ttl_b', <<'SQL');
SET search_path = ttl_b, public;
CREATE TABLE ttl_b.seen (fn text, search_path text, statement_timeout text, work_mem text, leak text);
CREATE FUNCTION ttl_b.observe(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ttl_b.seen VALUES ('mapping', current_setting('search_path'), current_setting('statement_timeout'),
		current_setting('work_mem'), coalesce(current_setting('ttl_a.leak', true), ''));
END
$$;
SELECT orders_stream.create_event_source_mapping('m_two', 'ttl_b.observe(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
SQL
my $m1 = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'ttl_a.leave(jsonb)'::regprocedure});
my $m2 = sql(q{SELECT uuid FROM orders_stream.event_source_mappings WHERE function_oid = 'ttl_b.observe(jsonb)'::regprocedure});
for my $i (1 .. 3)
{
	sql(qq{INSERT INTO m_one VALUES ($i); INSERT INTO m_two VALUES ($i)});
	capture();
	wait_mapping($_, '60s') for ($m1, $m2);
}
is(sql(q{SELECT DISTINCT concat_ws('|', search_path, statement_timeout, work_mem, leak) FROM ttl_b.seen}),
	"ttl_b, public, pg_temp|$defaults|",
	"(b) ttl_b's mapping function sees none of ttl_a's function's settings");
is(sql(qq{SELECT count(*) FROM orders_stream.failures WHERE mapping_uuid = '$m1'}), '1',
	"(b) ttl_a's function failed one batch");
# the redrive worker replays it (and fails it again), then replays ttl_b's
# function on a record of its own; ttl_b's function sees clean settings
sql(q{UPDATE ttl_b.seen SET fn = 'before'});
sql(qq{SELECT orders_stream.update_event_source_mapping('$m2', enabled => false)});
safe_psql_as('ttl_b', q{
CREATE OR REPLACE FUNCTION ttl_b.observe(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ttl_b.seen VALUES ('redrive', current_setting('search_path'), current_setting('statement_timeout'),
		current_setting('work_mem'), coalesce(current_setting('ttl_a.leak', true), ''));
	RAISE EXCEPTION 'observed';
END
$$;
});
sql(qq{SELECT orders_stream.update_event_source_mapping('$m2', enabled => true)});
sql(q{INSERT INTO m_two VALUES (4)});
capture();
wait_mapping($m2, '60s');
safe_psql_as('ttl_b', q{
CREATE OR REPLACE FUNCTION ttl_b.observe(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO ttl_b.seen VALUES ('redrive', current_setting('search_path'), current_setting('statement_timeout'),
		current_setting('work_mem'), coalesce(current_setting('ttl_a.leak', true), ''));
END
$$;
});
is(sql(qq{SELECT string_agg(result, ',') FROM orders_stream.redrive_failures()}),
	'ERROR: P0001: fails, to be redriven,OK', '(b) both failures are redriven, in order');
is(sql(q{SELECT concat_ws('|', search_path, statement_timeout, work_mem, leak) FROM ttl_b.seen WHERE fn = 'redrive'}),
	"ttl_b, public, pg_temp|$defaults|",
	"(b) in the redrive worker too, ttl_b's function sees none of ttl_a's settings");

done_testing();
