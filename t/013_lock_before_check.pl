# 013_lock_before_check.pl: permission before lock.
#
# alice owns tables; one of her sessions holds an open transaction on each
# (a writer's lock, or a maintenance lock).  mallory, with no privilege at
# all, calls every API function that takes a table (by OID, which needs no
# privilege to name) or another role's object.  Each call must fail with a
# permission error at once, without waiting for or holding a lock on
# alice's object: a waiting lock request would make every later writer of
# the table queue behind it.  A writer of alice's then runs while mallory's
# call is outstanding, and must not wait.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('lock_before_check');

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
});
OrdersStream::psql_login($node, 'alice', q{
CREATE TABLE plain (id int PRIMARY KEY, v text, expires_at timestamptz);
CREATE TABLE streamed (id int PRIMARY KEY, v text);
SELECT orders_stream.enable_stream('streamed');
});
my $plain = sql(q{SELECT 'plain'::regclass::oid});
my $streamed = sql(q{SELECT 'streamed'::regclass::oid});
my $key = sql(q{SELECT access_key_id FROM orders_stream.create_access_key('alice')});

# $hold (SQL, run by a session of alice's, or of the superuser, that stays open)
# locks $relid; mallory then calls $attack; $writer (alice's, may be '')
# runs meanwhile with a lock_timeout.
sub attack
{
	my ($name, %o) = @_;
	my $holder = $node->background_psql('postgres',
		extra_params => $o{superuser} ? [] : [ '-U', 'alice' ]);
	$holder->query_safe("BEGIN; $o{hold}");

	my $m = $node->background_psql('postgres', on_error_stop => 0,
		extra_params => [ '-U', 'mallory' ]);
	my $pid = $m->query_safe('SELECT pg_backend_pid()');
	$m->query_until(qr/sent/, "\\echo sent\nSELECT $o{attack};\n");

	# idle after running the call (not just before it started)
	ok(poll_true(qq{SELECT state = 'idle' AND query LIKE '%orders_stream.%'
		FROM pg_stat_activity WHERE pid = $pid}, 10),
		"$name: mallory's call returns at once, while alice's transaction is open");
	is(sql(qq{SELECT count(*) FROM pg_locks WHERE pid = $pid AND NOT granted}), '0',
		"$name: mallory waits for no lock");
	if ($o{relid})
	{
		is(sql(qq{SELECT count(*) FROM pg_locks WHERE pid = $pid AND relation = $o{relid}}), '0',
			"$name: mallory holds no lock on alice's table");
	}
	if ($o{writer})
	{
		my ($rc, $out, $err) = OrdersStream::psql_login($node, 'alice',
			"SET lock_timeout = '5s';\n$o{writer}");
		is($rc, 0, "$name: alice's writer does not queue behind mallory")
		  or diag($err);
	}
	$holder->query_safe('COMMIT');
	$holder->quit;
	$m->query('SELECT 1');
	like($m->{stderr}, $o{error}, "$name: mallory gets a permission error");
	$m->quit;
}

# enable_stream and disable_stream want ShareRowExclusiveLock, which an open
# INSERT of alice's (RowExclusiveLock) blocks, and later INSERTs queue behind.
attack('enable_stream',
	hold   => q{INSERT INTO plain VALUES (1, 'open')},
	attack => "orders_stream.enable_stream(${plain}::oid::regclass)",
	relid  => $plain,
	writer => q{INSERT INTO plain VALUES (2, 'writer')},
	error  => qr/must be owner of table plain/);
attack('disable_stream',
	hold   => q{INSERT INTO streamed VALUES (1, 'open')},
	attack => "orders_stream.disable_stream(${streamed}::oid::regclass)",
	relid  => $streamed,
	writer => q{INSERT INTO streamed VALUES (2, 'writer')},
	error  => qr/must be owner of table streamed/);
# update_time_to_live wants ShareUpdateExclusiveLock: a VACUUM's, or here
# an explicit lock of alice's, blocks it; CREATE INDEX would queue behind.
attack('update_time_to_live',
	hold   => q{LOCK TABLE plain IN SHARE UPDATE EXCLUSIVE MODE},
	attack => "orders_stream.update_time_to_live(${plain}::oid::regclass, 'expires_at', true)",
	relid  => $plain,
	error  => qr/must be owner of table plain/);
# revoke_access_key locked the key's row before deciding mallory may not
attack('revoke_access_key',
	superuser => 1,
	hold   => qq{SELECT FROM orders_stream_internal.access_keys WHERE access_key_id = '$key' FOR UPDATE},
	attack => "orders_stream.revoke_access_key('$key')",
	error  => qr/ResourceNotFoundException: access key "$key" does not exist/);

is(sql(qq{SELECT count(*) FROM orders_stream_internal.access_keys WHERE access_key_id = '$key'}), '1',
	"alice's key is still there");
is(sql(q{SELECT count(*) FROM plain}), '2', "alice's writes all committed");

done_testing();
