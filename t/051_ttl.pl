# 051_ttl.pl: Time to Live under load.
#
#  - expiry within the bound: rows expire a few seconds after their time
#    (orders_stream.ttl_naptime = 200ms here), never before it; rows with
#    no time, a later time or a time more than five years ago stay;
#  - the deletes run as the table's owner (not a superuser), and their
#    REMOVE records, and only those, carry AWS's userIdentity: a user's
#    DELETE has none;
#  - a mapping filtered on userIdentity (AWS's documented pattern) sees the
#    TTL deletes and nothing else;
#  - concurrent updates extending the TTL of the same rows: no row is
#    deleted whose time had not come as of its delete (the REMOVE's
#    OldImage is the row as deleted), extended rows stay;
#  - a batch that runs past orders_stream.ttl_batch_timeout is cancelled and
#    the next ones are halved: every row still goes;
#  - SIGKILL of the TTL worker in the middle of a batch: after the restart
#    every expired row is deleted once, with one REMOVE record each.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $node = OrdersStream::new_node('ttl', extra_conf => q{
orders_stream.ttl_naptime = 200ms
restart_after_crash = on
max_connections = 30
});

my $TTL_FILTER = q{'{"Filters": [{"Pattern": "{\"userIdentity\": {\"type\": [\"Service\"], \"principalId\": [\"dynamodb.amazonaws.com\"]}}"}]}'};

$node->safe_psql('postgres', qq{
CREATE ROLE alice LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
SET ROLE alice;
CREATE TABLE sessions (id int PRIMARY KEY, expires_at timestamptz, v int NOT NULL DEFAULT 0);
CREATE INDEX ON sessions (expires_at);
CREATE TABLE deleted_by (id int, role name, expires_at timestamptz, deleted_at timestamptz);
CREATE FUNCTION note_deleter() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	INSERT INTO deleted_by VALUES (OLD.id, current_user, OLD.expires_at, clock_timestamp());
	RETURN OLD;
END \$\$;
CREATE TRIGGER note_deleter BEFORE DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION note_deleter();
CREATE TABLE archive (id int PRIMARY KEY, event text, identity jsonb);
CREATE FUNCTION archive_expired(event jsonb) RETURNS jsonb LANGUAGE sql AS \$\$
	INSERT INTO archive
	SELECT (r#>>'{dynamodb,Keys,id,N}')::int, r->>'eventName', r->'userIdentity'
	  FROM jsonb_array_elements(event->'Records') r;
	SELECT NULL::jsonb;
\$\$;
SELECT orders_stream.enable_stream('sessions', 'NEW_AND_OLD_IMAGES');
SELECT orders_stream.update_time_to_live('sessions', 'expires_at', true);
});
my $mapping = $node->safe_psql('postgres', qq{
SET ROLE alice;
SELECT orders_stream.create_event_source_mapping('sessions', 'archive_expired(jsonb)',
	starting_position => 'TRIM_HORIZON', filter_criteria => $TTL_FILTER)});

# 1. Expiry within the bound, never early.
my $t0 = time;
$node->safe_psql('postgres', q{
INSERT INTO sessions (id, expires_at)
SELECT g, CASE WHEN g <= 2000 THEN now() + interval '2 seconds'
			   WHEN g <= 2010 THEN now() + interval '1 hour'
			   WHEN g <= 2020 THEN now() - interval '6 years'
			   ELSE NULL END
  FROM generate_series(1, 2030) g;
DELETE FROM sessions WHERE id IN (2001, 2021);
});
$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM sessions WHERE id <= 2000')
  or die 'expired rows were not deleted';
is($node->safe_psql('postgres', 'SELECT count(*) FROM deleted_by WHERE id <= 2000 AND deleted_at < expires_at'),
	'0', 'no row is deleted before its time');
my $elapsed = time - $t0 - 2;
note sprintf('2000 rows expired %.1f s after their time', $elapsed);
cmp_ok($elapsed, '<', 60, 'expired rows go within a minute of their time');
is($node->safe_psql('postgres', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM sessions WHERE id > 2000 AND id <= 2030'),
	join(',', 2002 .. 2020, 2022 .. 2030),
	'rows with a later time, a time more than five years ago or none stay');
is($node->safe_psql('postgres', q{SELECT role, count(*) FROM deleted_by GROUP BY 1 ORDER BY 1}),
	"alice|2000\npostgres|2", 'the TTL deletes ran as the table\'s owner, not as a superuser');

OrdersStream::capture($node);
is($node->safe_psql('postgres', q{
SELECT r.record->'userIdentity' IS NOT NULL AS ttl, count(*),
	   count(DISTINCT r.record->'dynamodb'->'Keys'->'id'->>'N'),
	   min((r.record->'dynamodb'->'Keys'->'id'->>'N')::int), max((r.record->'dynamodb'->'Keys'->'id'->>'N')::int)
  FROM orders_stream.records r
 WHERE r.record->>'eventName' = 'REMOVE'
 GROUP BY 1 ORDER BY 1}),
	"f|2|2|2001|2021\nt|2000|2000|1|2000",
	'one REMOVE record per TTL delete with userIdentity; the user\'s deletes without');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM orders_stream.records r
 WHERE r.record::jsonb ? 'userIdentity'
   AND (r.record->>'eventName' <> 'REMOVE'
		OR (r.record->'userIdentity')::jsonb <> '{"type": "Service", "principalId": "dynamodb.amazonaws.com"}'::jsonb)}),
	'0', 'userIdentity is AWS\'s object, on REMOVE records only');

wait_mapping($mapping, '60s');
is($node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT id), min(id), max(id), bool_and(event = 'REMOVE'),
	   bool_and(identity->>'principalId' = 'dynamodb.amazonaws.com')
  FROM archive}),
	'2000|2000|1|2000|t|t', 'the mapping filtered on userIdentity sees exactly the TTL deletes');

# 2. Concurrent updates extending the TTL of the same rows.
$node->safe_psql('postgres', q{
TRUNCATE deleted_by;
INSERT INTO sessions (id, expires_at)
SELECT g, now() + (g % 40) * interval '100 milliseconds' + interval '500 milliseconds'
  FROM generate_series(10001, 10400) g;
});
my $extend = $node->basedir . '/extend.sql';
PostgreSQL::Test::Utils::append_to_file($extend, q{
\set id random(10001, 10400)
\set r random(1, 3)
\if :r = 1
UPDATE sessions SET expires_at = now() + interval '1 hour', v = v + 1 WHERE id = :id;
\else
UPDATE sessions SET expires_at = now() + interval '300 milliseconds', v = v + 1 WHERE id = :id;
\endif
});
my ($pb_out, $pb_err) = ('', '');
my $pgbench = IPC::Run::start(
	[
		$node->installed_command('pgbench'), '-n', '-c', '4', '-j', '2',
		'-T', '8', '-f', $extend, $node->connstr('postgres')
	],
	'>', \$pb_out, '2>', \$pb_err, IPC::Run::timeout(120));
$pgbench->finish;
note "pgbench: " . join(' ', grep { /tps|processed/ } split /\n/, $pb_out);
like($pb_out, qr/number of failed transactions: 0/, 'no writer failed while TTL deleted the same rows');
# every row not extended by an hour expires within a second of the load's
# end (on a fast machine the writers extended every row until then, so the
# deletes may all come after it): wait until TTL has deleted them all
$node->poll_query_until('postgres', q{
	SELECT count(*) = 0 FROM sessions WHERE id > 10000 AND expires_at < now() + interval '30 minutes'})
  or die 'expired rows were not deleted';
OrdersStream::capture($node);
my $ttl_removes = $node->safe_psql('postgres', q{
SELECT count(*) FROM orders_stream.records r
 WHERE r.record->>'eventName' = 'REMOVE' AND r.record::jsonb ? 'userIdentity'
   AND (r.record->'dynamodb'->'Keys'->'id'->>'N')::int > 10000});
cmp_ok($ttl_removes, '>', 0, "TTL deleted rows under concurrent updates ($ttl_removes)");
is($node->safe_psql('postgres', q{
SELECT count(*) FROM orders_stream.records r
 WHERE r.record->>'eventName' = 'REMOVE' AND r.record::jsonb ? 'userIdentity'
   AND (r.record->'dynamodb'->'OldImage'->'expires_at'->>'S')::timestamptz
	   > to_timestamp((r.record->'dynamodb'->>'ApproximateCreationDateTime')::bigint + 1)}),
	'0', 'no row was deleted whose time, as of its delete, had not come');
is($node->safe_psql('postgres', q{
WITH last AS (
	SELECT DISTINCT ON (id) id, r.record->>'eventName' AS event,
		   (r.record->'dynamodb'->'NewImage'->'v'->>'N')::int AS v
	  FROM orders_stream.records r,
		   LATERAL (SELECT (r.record->'dynamodb'->'Keys'->'id'->>'N')::int AS id) k
	 WHERE id > 10000
	 ORDER BY id, r.sequence_number DESC)
SELECT count(*) FROM last FULL JOIN sessions s USING (id)
 WHERE (last.id > 10000 OR s.id > 10000)
   AND ((last.event = 'REMOVE') = (s.id IS NOT NULL) OR (s.id IS NOT NULL AND s.v <> last.v))}),
	'0', 'the records replay to the final table: every extended row that stayed, every delete');
is($node->safe_psql('postgres', q{SELECT count(*) FROM sessions WHERE id > 10000 AND expires_at > now() + interval '30 minutes'}) > 0 ? 'yes' : 'no',
	'yes', 'rows whose time was extended stay');

# 3. A batch past orders_stream.ttl_batch_timeout is cancelled, then halved.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET orders_stream.ttl_batch_timeout = '300ms';
SELECT pg_reload_conf();
SET ROLE alice;
CREATE OR REPLACE FUNCTION note_deleter() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO deleted_by VALUES (OLD.id, current_user);
	PERFORM pg_sleep(0.005);	-- a slow delete: batches run past the timeout
	RETURN OLD;
END $$;
INSERT INTO sessions (id, expires_at) SELECT g, now() FROM generate_series(20001, 20300) g;
});
my $log_offset = -s $node->logfile;
$node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM sessions WHERE id > 20000')
  or die 'slow rows were not deleted';
ok($node->log_contains('ran past orders_stream.ttl_batch_timeout; the next one deletes at most 250 rows', $log_offset),
	'a batch past the timeout was cancelled and the next one halved');

# 4. SIGKILL of the worker in the middle of a batch.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET orders_stream.ttl_batch_timeout = '60s';
SELECT pg_reload_conf();
TRUNCATE deleted_by;
INSERT INTO sessions (id, expires_at) SELECT g, now() FROM generate_series(30001, 31500) g;
});
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity
	 WHERE backend_type = 'orders_stream ttl' AND state = 'active' AND query = 'expiring rows'})
  or die 'the TTL worker did not start a batch';
# a moment into the batch: where the kill lands, not a wait
usleep(300_000);
my $pid = OrdersStream::worker_pid($node, 'orders_stream ttl');
chomp $pid;
ok($pid =~ /^\d+$/, "TTL worker running ($pid)");
my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM sessions WHERE id > 30000');
$log_offset = -s $node->logfile;
kill 'KILL', $pid;
note "killed the TTL worker with $before rows left";
$node->wait_for_log(qr/orders_stream ttl.*was terminated by signal 9/, $log_offset);
wait_true('SELECT count(*) = 0 FROM sessions WHERE id > 30000', 'the rows to be deleted after the crash');
OrdersStream::capture($node);
is($node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT r.record->'dynamodb'->'Keys'->'id'->>'N'), count(DISTINCT r.sequence_number)
  FROM orders_stream.records r
 WHERE r.record->>'eventName' = 'REMOVE' AND r.record::jsonb ? 'userIdentity'
   AND (r.record->'dynamodb'->'Keys'->'id'->>'N')::int > 30000}),
	'1500|1500|1500', 'after the SIGKILL, every expired row has exactly one TTL REMOVE record');
is($node->safe_psql('postgres', 'SELECT count(*), count(DISTINCT id) FROM deleted_by WHERE id > 30000'),
	'1500|1500', 'and was deleted once (the killed batch rolled back)');

$node->stop;
done_testing();
