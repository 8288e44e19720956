# 014_mapping_squatting.pl: squatting and leaking through mappings.
#
# alice owns "orders" (streamed) and a function alice_agg; bob may only
# SELECT from orders.  A stream has one mapping per function, so a mapping
# bob made of alice's function would take alice's own (stream, function)
# pair, and her create would fail naming bob's mapping.  The creator of a
# mapping must own its function (or be a member of its owner); errors never
# name another role's mapping.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('mapping_squatting');

sub as { my ($role, $q) = @_; return OrdersStream::psql_login($node, $role, "\\set VERBOSITY verbose\n$q"); }

sql(q{
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE team NOLOGIN;
GRANT team TO alice, bob;
GRANT CREATE ON SCHEMA public TO alice, bob, team;
});
as('alice', q{
CREATE TABLE orders (id int PRIMARY KEY, v text);
SELECT orders_stream.enable_stream('orders');
GRANT SELECT ON orders TO bob;
CREATE FUNCTION alice_agg(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
});
as('bob', q{CREATE FUNCTION bob_agg(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';});
sql(q{CREATE FUNCTION team_agg(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
	  ALTER FUNCTION team_agg(jsonb) OWNER TO team;});

# ---- bob maps alice's function ----
my ($rc, $out, $err) = as('bob', q{
SELECT orders_stream.create_event_source_mapping('orders', 'alice_agg(jsonb)', starting_position => 'LATEST')});
isnt($rc, 0, "bob cannot map alice's function");
like($err, qr/42501: AccessDeniedException: function public\.alice_agg\(jsonb\) is not yours/,
	'AccessDeniedException (42501)');
($rc, $out, $err) = as('bob', q{SELECT orders_stream."CreateEventSourceMapping"('{"EventSourceArn": "orders", "FunctionName": "alice_agg", "StartingPosition": "LATEST"}')});
like($err, qr/AccessDeniedException/, 'nor through CreateEventSourceMapping');

# ---- alice's own pair is hers ----
my $alice;
($rc, $alice, $err) = as('alice', q{
SELECT orders_stream.create_event_source_mapping('orders', 'alice_agg(jsonb)', starting_position => 'LATEST')});
is($rc, 0, 'alice maps her function to her stream') or diag($err);

# ---- bob maps his own function, then points it at alice's ----
my $bob;
($rc, $bob, $err) = as('bob', q{
SELECT orders_stream.create_event_source_mapping('orders', 'bob_agg(jsonb)', starting_position => 'LATEST')});
is($rc, 0, 'bob maps his own function to a stream he may read') or diag($err);
($rc, $out, $err) = as('bob', qq{
SELECT orders_stream.update_event_source_mapping('$bob', function_name => 'alice_agg(jsonb)')});
like($err, qr/AccessDeniedException: function public\.alice_agg\(jsonb\) is not yours/,
	"bob cannot move his mapping onto alice's function");
unlike($err, qr/$alice/, "and the error does not name alice's mapping");

# ---- alice's mapping, seen from bob ----
for my $call (qq{orders_stream.get_event_source_mapping('$alice')},
	qq{orders_stream.update_event_source_mapping('$alice', batch_size => 5)},
	qq{orders_stream.delete_event_source_mapping('$alice')},
	qq{orders_stream.wait_for_mapping('$alice', '1s')})
{
	($rc, $out, $err) = as('bob', "SELECT $call");
	like($err, qr/ResourceNotFoundException: event source mapping $alice does not exist/,
		"bob: $call is ResourceNotFoundException, as for a mapping that does not exist");
}
is((as('bob', q{SELECT count(*) FROM orders_stream.list_event_source_mappings('orders')}))[1], '1',
	'bob lists his own mapping only');

# ---- a function of a role both are members of ----
my $team_alice;
($rc, $team_alice, $err) = as('alice', q{
SELECT orders_stream.create_event_source_mapping('orders', 'team_agg(jsonb)', starting_position => 'LATEST')});
is($rc, 0, 'alice maps a function of a role she is a member of') or diag($err);
($rc, $out, $err) = as('bob', q{
SELECT orders_stream.create_event_source_mapping('orders', 'team_agg(jsonb)', starting_position => 'LATEST')});
like($err, qr/42710: ResourceConflictException/, 'bob, also a member: the pair is taken');
unlike($err, qr/$team_alice/, "but the error does not name alice's mapping");
($rc, $out, $err) = as('alice', q{
SELECT orders_stream.create_event_source_mapping('orders', 'team_agg(jsonb)', starting_position => 'LATEST')});
like($err, qr/HINT:  It is mapping $team_alice:/, 'alice, its owner, is told which mapping it is');

is(sql(q{SELECT string_agg(function_name || '=' || (SELECT r.rolname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = anchor), ',' ORDER BY function_name)
	FROM orders_stream.event_source_mappings}),
	'public.alice_agg(jsonb)=alice,public.bob_agg(jsonb)=bob,public.team_agg(jsonb)=alice', 'every mapping is its function owner\'s');

done_testing();
