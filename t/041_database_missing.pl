# 041_database_missing.pl: with orders_stream.database missing, one log
# line a minute instead of a worker restart every second; the workers start
# once it exists.
#
# (Split from 021_hostile_aggregators.pl: the test names keep its section
# letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(time usleep);

my $node = OrdersStream::new_node('nodb', no_extension => 1,
	extra_conf => "orders_stream.database = 'h_later'\n");
my $waiting = qr/orders_stream is waiting for database "h_later", which does not exist/;
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
usleep(50_000) until slurp_file($node->logfile) =~ $waiting || time > $deadline;
like(slurp_file($node->logfile), $waiting, '(f) the missing database is logged');
# a rate: a window of a few seconds, in which restarts every second would
# show (an observation window, not a wait for a condition)
my $t0 = time;
usleep(100_000) while time < $t0 + 4;
my $log = slurp_file($node->logfile);
my $lines = () = $log =~ /$waiting/g;
is($lines, 1, '(f) one log line in the first minute');
unlike($log, qr/FATAL/, '(f) no worker fails and restarts');
$node->safe_psql('postgres', 'CREATE DATABASE h_later');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 2 FROM pg_stat_activity WHERE datname = 'h_later'
	AND backend_type IN ('orders_stream capture', 'orders_stream delivery launcher')}),
	'(f) the workers start once the database exists');
$node->safe_psql('h_later', 'CREATE EXTENSION orders_stream');
is($node->safe_psql('h_later', 'SELECT orders_stream.wait_for_slot() IS NOT NULL'), 't', '(f) and capture runs there');
$node->stop;

done_testing();
