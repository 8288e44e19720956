# 097_records_row_security.pl: the records view under row security.
#
# orders_stream.records reads record_store as its owner orders_stream_reader,
# whose policy keeps the retained records of the streams the caller may read
# (41_records_view.sql).  Here, as bob, who may read one of two streams:
#  - leaky functions (cheap, not leakproof) on every column, in WHERE, JOIN,
#    ORDER BY, GROUP BY, LATERAL, CTEs, subqueries, and through
#    records_from() and GetRecords, see bob's stream only; an error that
#    would fire on a hidden row does not; estimators of bob's operators see
#    no statistics;
#  - row_security = off is an error, not rows; plans cached by a superuser
#    run as bob show bob's rows;
#  - record_store and its partitions cannot be read by name: not by bob, and
#    no rows for a role with SELECT on every table (pg_read_all_data) that
#    the source table's row security blocks;
#  - a role orders_stream_reader that exists already with LOGIN or with a
#    member is refused by CREATE EXTENSION (in a second database), with a
#    clear error; as created, it is accepted; DROP and CREATE again work;
#  - a view given an owner that bypasses row security, or record_store's
#    row security turned off, shows nothing rather than everything;
#  - pg_dump and pg_restore of the database: no error, one policy.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('records_row_security');

sub as { my ($role, $q) = @_; return OrdersStream::psql_login($node, $role, $q); }

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE reporter LOGIN IN ROLE pg_read_all_data;
CREATE SCHEMA bob AUTHORIZATION bob;
CREATE TABLE secret_orders (id text PRIMARY KEY, secret text);
CREATE TABLE open_orders (id text PRIMARY KEY, note text);
ALTER TABLE secret_orders OWNER TO alice;
ALTER TABLE open_orders OWNER TO alice;
SELECT orders_stream.enable_stream('secret_orders', 'NEW_AND_OLD_IMAGES');
SELECT orders_stream.enable_stream('open_orders', 'NEW_AND_OLD_IMAGES');
GRANT SELECT ON open_orders TO bob;
ALTER TABLE secret_orders ENABLE ROW LEVEL SECURITY;
INSERT INTO secret_orders SELECT 's' || i, 'topsecret' || i FROM generate_series(1, 40) i;
INSERT INTO open_orders SELECT 'o' || i, 'open' || i FROM generate_series(1, 10) i;
});
capture();
sql('ANALYZE orders_stream.record_store');
my $secret_id = sql(q{SELECT stream_id FROM orders_stream.streams WHERE table_name = 'secret_orders'});
my $open_id = sql(q{SELECT stream_id FROM orders_stream.streams WHERE table_name = 'open_orders'});
my $open_arn = sql(q{SELECT stream_arn FROM orders_stream.streams WHERE table_name = 'open_orders'});
is(sql('SELECT count(*) FROM orders_stream.records'), '50', 'a superuser reads both streams');

# ---- leaky functions, as bob ----
my ($rc, $out, $err) = as('bob', qq{
CREATE TABLE bob.seen (what text, v text);
CREATE FUNCTION bob.leak(text, anyelement) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
AS \$\$ BEGIN INSERT INTO bob.seen VALUES (\$1, \$2::text); RETURN true; END \$\$;
CREATE FUNCTION bob.lk(integer, integer) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
AS \$\$ BEGIN INSERT INTO bob.seen VALUES ('operator', \$1::text); RETURN true; END \$\$;
CREATE OPERATOR bob.<<< (LEFTARG = integer, RIGHTARG = integer, PROCEDURE = bob.lk,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
SET search_path = bob, pg_catalog;
SELECT count(*) FROM orders_stream.records
 WHERE leak('record', record) AND leak('sequence_number', sequence_number) AND leak('key_hash', key_hash)
   AND leak('captured_at', captured_at) AND leak('stream_id', stream_id) AND leak('sequence_key', sequence_key);
SELECT count(*) FROM orders_stream.records r JOIN (VALUES (${secret_id}::bigint), ($open_id)) v(x)
	ON leak('join', r.record) AND r.stream_id = v.x;
SELECT count(*) FROM (SELECT stream_id FROM orders_stream.records ORDER BY leak('order', record)) x;
SELECT count(*) FROM (SELECT 1 FROM orders_stream.records GROUP BY leak('group', record)) x;
SELECT count(*) FROM (SELECT row_number() OVER (PARTITION BY leak('window', record)) FROM orders_stream.records) x;
SELECT count(*) FROM (VALUES (1)) v(x), LATERAL (SELECT 1 FROM orders_stream.records r WHERE leak('lateral', r.record)) l;
WITH c AS MATERIALIZED (SELECT * FROM orders_stream.records WHERE leak('cte', record)) SELECT count(*) FROM c;
SELECT count(*) FROM orders_stream.records WHERE stream_id IN (SELECT x FROM generate_series(1, 9) x WHERE leak('in', x))
   AND leak('subquery', record);
SELECT count(*) FROM orders_stream.records WHERE stream_id = $secret_id AND key_hash / 0 = 1;
SELECT count(*) FROM orders_stream.records WHERE key_hash <<< 0;
SELECT count(*) FROM orders_stream.records_from($secret_id, ''::bytea) WHERE leak('records_from', record);
SELECT count(*) FROM orders_stream.records_from($open_id, ''::bytea) WHERE leak('records_from', record);
SELECT pg_catalog.json_array_length(orders_stream.dynamodb_streams_text('GetRecords',
	pg_catalog.jsonb_build_object('ShardIterator', orders_stream.get_shard_iterator('$open_arn',
		(SELECT shard_id FROM orders_stream.readable_streams WHERE stream_arn = '$open_arn'), 'TRIM_HORIZON')))::json->'Records');
});
is($rc, 0, 'bob runs his leaky queries') or diag $err;
is($out, join("\n", qw(10 10 10 1 10 10 10 10 0 10 0 10 10)),
	"bob's queries count bob's stream only; the division by zero is never reached");
is(sql(q{SELECT count(*) FROM bob.seen WHERE v LIKE '%topsecret%' OR v LIKE '%secret_orders%'}),
	'0', "bob's leaky functions never see a record of the secret stream");
is(sql(q{SELECT string_agg(DISTINCT what, ',' ORDER BY what) FROM bob.seen}),
	'captured_at,cte,group,in,join,key_hash,lateral,operator,order,record,records_from,sequence_key,sequence_number,stream_id,subquery,window',
	"every leaky function ran");
is(sql(qq{SELECT count(*) FROM bob.seen WHERE what = 'operator'}), '10',
	"the estimator of bob's operator called it on no statistic");

# ---- row_security, SET ROLE, cached plans ----
($rc, $out, $err) = as('bob', 'SET row_security = off; SELECT count(*) FROM orders_stream.records');
like($err, qr/query would be affected by row-level security policy for table "record_store"/,
	'row_security = off: an error, not rows');
$out = sql(qq{
SET plan_cache_mode = force_generic_plan;
PREPARE p(bigint) AS SELECT count(*) FROM orders_stream.records WHERE stream_id = \$1 OR \$1 IS NULL;
EXECUTE p(NULL); EXECUTE p(NULL);
SET ROLE bob;
EXECUTE p(NULL); EXECUTE p($secret_id);
});
is($out, "50\n50\n10\n0", 'a plan cached by a superuser shows bob his rows only');

# ---- record_store and its partitions by name ----
my $partition = sql(q{
	SELECT tableoid::regclass FROM orders_stream.record_store GROUP BY 1 ORDER BY count(*) DESC LIMIT 1});
($rc, $out, $err) = as('bob', 'SELECT count(*) FROM orders_stream.record_store');
like($err, qr/permission denied for table record_store/, 'bob cannot read record_store');
($rc, $out, $err) = as('bob', "SELECT count(*) FROM $partition");
like($err, qr/permission denied for table/, 'bob cannot read a partition');
($rc, $out, $err) = as('bob', "BEGIN; LOCK orders_stream.records IN ROW EXCLUSIVE MODE");
like($err, qr/permission denied for view records/, 'bob cannot lock records beyond ACCESS SHARE');
($rc, $out, $err) = as('reporter', qq{
SELECT count(*) FROM secret_orders;
SELECT count(*) FROM orders_stream.records WHERE stream_id = $secret_id;
SELECT count(*) FROM orders_stream.record_store WHERE stream_id = $secret_id;
SELECT count(*) FROM $partition WHERE stream_id = $secret_id;
SELECT count(*) FROM orders_stream.records WHERE stream_id = $open_id;
});
is($out, "0\n0\n0\n0\n10",
	'pg_read_all_data, blocked by the row security of the source table, reads none of its stream, by any name');
is(sql(q{SELECT count(*) FROM orders_stream.partitions p JOIN pg_class c ON c.oid = p.partition
	WHERE NOT c.relrowsecurity}), '0', 'every partition has row security');

# ---- a role orders_stream_reader as CREATE EXTENSION does not create it ----
sql('CREATE DATABASE second');
sub create_in_second
{
	my ($out, $err);
	$node->psql('second', 'CREATE EXTENSION orders_stream', stdout => \$out, stderr => \$err);
	return $err;
}
sql('ALTER ROLE orders_stream_reader LOGIN');
like(create_in_second(), qr/role "orders_stream_reader" exists already, and not as orders_stream creates it/,
	'refused: orders_stream_reader may log in');
sql('ALTER ROLE orders_stream_reader NOLOGIN; GRANT orders_stream_reader TO bob');
like(create_in_second(), qr/role "orders_stream_reader" exists already, and not as orders_stream creates it/,
	'refused: orders_stream_reader has a member');
sql('REVOKE orders_stream_reader FROM bob; GRANT pg_read_all_data TO orders_stream_reader');
like(create_in_second(), qr/role "orders_stream_reader" exists already, and not as orders_stream creates it/,
	'refused: orders_stream_reader is a member');
sql('REVOKE pg_read_all_data FROM orders_stream_reader');
unlike(create_in_second(), qr/ERROR/, 'CREATE EXTENSION in a second database');
$node->safe_psql('second', 'DROP EXTENSION orders_stream');
unlike(create_in_second(), qr/ERROR/, 'DROP EXTENSION and CREATE EXTENSION again');

# ---- shut, not open, once the view's owner bypasses row security ----
sql('ALTER VIEW orders_stream.records OWNER TO CURRENT_USER');
($rc, $out, $err) = as('bob', 'SELECT count(*) FROM orders_stream.records');
is("$out$err", '0', 'a records view owned by a superuser shows bob nothing, not every stream');
is(sql('SELECT count(*) FROM orders_stream.records'), '0', 'nor a superuser');
sql('ALTER VIEW orders_stream.records OWNER TO orders_stream_reader');
sql('ALTER TABLE orders_stream.record_store DISABLE ROW LEVEL SECURITY');
($rc, $out, $err) = as('bob', 'SELECT count(*) FROM orders_stream.records');
is("$out$err", '0', 'with row security off on record_store, the view shows nothing');
sql('ALTER TABLE orders_stream.record_store ENABLE ROW LEVEL SECURITY');
($rc, $out, $err) = as('bob', 'SELECT count(*) > 0 FROM orders_stream.records');
is("$out$err", 't', 'as created again, bob reads his stream');

# ---- pg_dump and pg_restore ----
my $bindir = $node->config_data('--bindir');
my $dump = $node->basedir . '/records.dump';
$node->command_ok([ "$bindir/pg_dump", '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump -Fc');
sql('CREATE DATABASE restored');
my ($stdout, $stderr) = ('', '');
IPC::Run::run([ "$bindir/pg_restore", '--no-owner', '-d', $node->connstr('restored'), $dump ],
	'>', \$stdout, '2>', \$stderr);
is($stderr, '', 'pg_restore --no-owner: no error');
is($node->safe_psql('restored', q{SELECT count(*) FROM pg_policy WHERE polrelid = 'orders_stream.record_store'::regclass}),
	'1', 'the restored database has the policy once');

done_testing();
