# 027_delivery_owner.pl: a mapping runs its function as its creator, never as
# a superuser: current_user and is_superuser show the role, a table the role
# may not write stays untouched (permission denied in failures), a function
# the role may not execute is not run (even when set by a direct UPDATE of the
# mapping), settings the function makes do not outlive it (they used to reach
# the worker's superuser session: an escalation), and a revoked SELECT on the
# table stalls delivery (no copy of the records in failures) until it is
# granted again.
#
# (Split from 020_delivery.pl: the test names keep its section letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('delivery_owner', extra_conf => $OrdersStream::DELIVERY_CONF);

my $tz = sql('SHOW TimeZone');
my $work_mem = sql('SHOW work_mem');
sql(<<'SQL');
CREATE ROLE e_user LOGIN;
CREATE TABLE e_orders (id text PRIMARY KEY);
SELECT orders_stream.enable_stream('e_orders', 'KEYS_ONLY');
GRANT SELECT ON e_orders TO e_user;
CREATE TABLE e_secret (id text);		-- e_user has no privilege on it
CREATE TABLE e_who (fn text, usr text, is_superuser text, rolsuper boolean, search_path text,
					tz text, work_mem text);
GRANT INSERT ON e_who TO e_user;
CREATE SCHEMA e_user AUTHORIZATION e_user;
-- a SECURITY DEFINER function of the superuser that e_user may not execute
CREATE TABLE e_log (what text);
CREATE FUNCTION e_private(event jsonb) RETURNS void LANGUAGE sql SECURITY DEFINER
AS $$ INSERT INTO e_log VALUES ('e_private ran') $$;
REVOKE EXECUTE ON FUNCTION e_private(jsonb) FROM PUBLIC;
-- a superuser's mapping that looks at the settings it runs with
CREATE FUNCTION e_observe(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO e_who SELECT 'observe', current_user, current_setting('is_superuser'),
		(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_setting('search_path'),
		current_setting('TimeZone'), current_setting('work_mem') $$;
SQL
my $me_obs = sql(q{SELECT orders_stream.create_event_source_mapping('e_orders', 'e_observe(jsonb)', starting_position => 'LATEST')});
my ($me_write, $me_probe, $me_sneak) = split /\n/, sql(<<'SQL');
SET ROLE e_user;
SET search_path = e_user, public;
CREATE FUNCTION e_write_secret(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO public.e_secret SELECT r#>>'{dynamodb,Keys,id,S}' FROM jsonb_array_elements(event->'Records') r $$;
CREATE FUNCTION e_probe(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.e_who SELECT 'probe', current_user, current_setting('is_superuser'),
		(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_setting('search_path'),
		current_setting('TimeZone'), current_setting('work_mem');
	-- settings that must not outlive the invocation
	SET search_path = e_user, pg_catalog;
	SET TimeZone = 'Asia/Tokyo';
	PERFORM set_config('work_mem', '1234kB', false);
END
$$;
-- a trap for a superuser that would run with the search_path above
CREATE FUNCTION e_user.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'ALTER ROLE e_user SUPERUSER';
	END IF;
	RETURN pg_catalog.now();
END
$$;
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_write_secret(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_probe(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
CREATE FUNCTION e_harmless(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_harmless(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
SQL
# e_user cannot point its mapping at the function it may not execute
# directly: only the extension's functions write mappings
my ($sneak_rc, $sneak_out, $sneak_err) = $node->psql('postgres', qq{
	SET ROLE e_user;
	UPDATE orders_stream.event_source_mappings SET function_oid = 'public.e_private(jsonb)'::regprocedure
	 WHERE uuid = '$me_sneak'});
like($sneak_err, qr/permission denied for view event_source_mappings/, '(e) a direct UPDATE of a mapping is refused');
# and the worker checks again at every batch, whatever changed the row
sql(qq{
	UPDATE orders_stream.event_source_mappings SET function_oid = 'public.e_private(jsonb)'::regprocedure
	 WHERE uuid = '$me_sneak'});
for my $i (1 .. 3)
{
	sql(qq{INSERT INTO e_orders VALUES ('e$i')});
	wait_mapping($_) for ($me_obs, $me_write, $me_probe, $me_sneak);
}
is(sql(q{SELECT count(*) FROM e_secret}), '0', '(e) the table e_user may not write is untouched');
is(sql(qq{
	SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ')
	  FROM orders_stream.failures WHERE mapping_uuid = '$me_write'}),
	'42501 permission denied for table e_secret', '(e) the batch fails with permission denied');
is(sql(qq{SELECT sum(jsonb_array_length(records)) FROM orders_stream.failures WHERE mapping_uuid = '$me_write'}),
	'3', '(e) all three records are in failures');
is(sql(q{SELECT DISTINCT usr || ' ' || is_superuser || ' ' || rolsuper || ' ' || search_path FROM e_who WHERE fn = 'probe'}),
	'e_user off false e_user, public, pg_temp',
	'(e) inside the function: current_user is the creator, not a superuser, with its search_path');
is(sql(q{SELECT count(*) FROM e_who WHERE fn = 'probe'}), '3', '(e) the probe ran for each record');
is(sql(q{SELECT DISTINCT usr || ' ' || is_superuser || ' ' || search_path || ' ' || tz || ' ' || work_mem FROM e_who WHERE fn = 'observe'}),
	"postgres on \"\$user\", public, pg_temp $tz $work_mem",
	'(e) settings made by another mapping\'s function do not reach the next function');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'e_user'}), 'f',
	'(e) nor the worker\'s own queries (e_user.now() did not run as superuser)');
is(sql(q{SELECT count(*) FROM e_log}), '0', '(e) a function the owner may not execute is not run');
is(sql(qq{
	SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ')
	  FROM orders_stream.failures WHERE mapping_uuid = '$me_sneak'}),
	'42501 permission denied for function e_private', '(e) ... its batches fail with permission denied');

# SELECT revoked: the owner may no longer read the stream.  Its mapping
# stalls (as an AWS mapping whose role lost access): the records go neither
# to the function nor to failures, which the owner could read.
my $probe_checkpoint = mapping_status($me_probe)->{checkpoint};
sql('REVOKE SELECT ON e_orders FROM e_user');
sql(q{INSERT INTO e_orders VALUES ('e4')});
wait_mapping($me_obs);
poll(qq{SELECT last_error LIKE '42501: AccessDeniedException: %' AND state = 'Retrying'
		  FROM orders_stream.event_source_mapping_status WHERE uuid = '$me_probe'},
	'(e) after REVOKE SELECT the mapping reports AccessDeniedException');
# each look at the stalled lane counts an error: three more looks, and still
# no progress
my $stalled_errors = mapping_status($me_probe)->{errors};
poll(qq{SELECT errors >= $stalled_errors + 3
		  FROM orders_stream.event_source_mapping_status WHERE uuid = '$me_probe'},
	'(e) ... the stalled mapping keeps looking');
my $s = mapping_status($me_probe);
is("$s->{checkpoint} $s->{failures}", "$probe_checkpoint 0", '(e) ... and stalls, without failures');
is(sql(qq{SELECT count(*) FROM orders_stream.failures f, jsonb_array_elements(f.records) r
		   WHERE f.owner_oid = 'e_user'::regrole AND r->'dynamodb'->'Keys'->'id'->>'S' = 'e4'}),
	'0', '(e) ... e_user gets no copy of a record it may not read');
is(sql(q{SELECT count(*) FROM e_who WHERE fn = 'probe'}), '3', '(e) ... and the function does not run');
sql('GRANT SELECT ON e_orders TO e_user');
wait_mapping($me_probe);
is(sql(q{SELECT count(*) FROM e_who WHERE fn = 'probe'}), '4', '(e) GRANT SELECT again: delivery resumes, e4 included');

$node->stop;
done_testing();
