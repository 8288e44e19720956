# 052_endpoint_startup.pl: orders_stream_endpoint's start and stop, without
# clients (t/050_endpoint.pl has those):
#
#  - the configuration file: '#' outside quotes starts a comment, after a
#    quoted value too; '#' inside quotes stays, '' is a quote; a quote left
#    open or text after it is refused;
#  - the log shows the connection string without its password, given as
#    keywords or as a URI;
#  - a failed start ends at once with a non-zero status: a connection
#    string libpq cannot read (exit 2, its password not echoed), a port
#    already taken (exit 1, before any database connection);
#  - the access key thread giving up (the endpoint's role has rights of
#    its own) ends in an orderly shutdown, exit 1.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use HTTP::Tiny;
use IO::Socket::INET;
use IPC::Run;

my $node = OrdersStream::new_node('endpoint_startup', extra_conf => q{
log_connections = on
});
$node->safe_psql('postgres', 'ALTER ROLE orders_stream_endpoint LOGIN');
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $bin = $node->config_data('--bindir') . '/orders_stream_endpoint';
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $conninfo = 'host=' . $node->host . ' port=' . $node->port
  . ' dbname=postgres user=orders_stream_endpoint';
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

# Runs the endpoint until it loaded the keys, then stops it with SIGTERM:
# (exit status, log)
sub run_to_keys_loaded
{
	my $log = '';
	my $h = IPC::Run::start([ $bin, '--port', $port, '--log-level', 'debug', @_ ],
		'>', \$log, '2>', \$log, IPC::Run::timeout($timeout));
	my $loaded = pump_until($h, IPC::Run::timeout($timeout), \$log, qr/access keys loaded: \d+/);
	ok($loaded, 'the endpoint started and loaded the keys') or diag($log);
	my $app = $node->safe_psql('postgres',
		q{SELECT string_agg(application_name, ',') FROM pg_stat_activity WHERE usename = 'orders_stream_endpoint'});
	my $health = HTTP::Tiny->new(timeout => 30)->get("http://127.0.0.1:$port/");
	$h->signal('TERM');
	$h->finish;
	return ($h->result(0), $log, $app, $health->{status});
}

# Runs the endpoint, which must stop by itself: (exit status, log), or
# status 'hung' if it did not stop within the timeout.
sub run_to_exit
{
	my $log = '';
	my $h = IPC::Run::start([ $bin, @_ ], '>', \$log, '2>', \$log, IPC::Run::timeout($timeout));
	if (!eval { $h->finish; 1 })
	{
		$h->kill_kill;
		return ('hung', $log);
	}
	return ($h->result(0), $log);
}

# ------------------------------------------------ the configuration file --
my $conf = "$tmp/endpoint.conf";
open my $fh, '>', $conf or die "$conf: $!";
print $fh <<"EOF";
# the 'orders' endpoint: a comment line with quotes
port = '$port'   # quoted, then a comment with a 'quote'
db = '$conninfo application_name=''ep#1''' # '#' inside the quotes stays
pool-size = 2# a bare value, then a comment
EOF
close $fh;
my ($status, $log, $app, $health) = run_to_keys_loaded('--config', $conf);
is($health, 200, "a quoted value followed by a comment: the endpoint listens on the file's port");
like($app, qr/(^|,)ep#1(,|$)/, "'#' inside quotes is part of the value, '' is a quote");
like($log, qr/listening on 127\.0\.0\.1 port \d+, 2 database connections/,
	'a bare value followed by a comment');
is($status, 0, 'SIGTERM: exit 0');

for my $bad ([ "port = '$port\n", qr/endpoint\.conf:1: unterminated quoted value/, 'a quote left open' ],
	[ "port = '$port' 8100\n", qr/endpoint\.conf:1: unexpected text after the quoted value/,
		'text after the closing quote' ])
{
	my ($line, $error, $what) = @$bad;
	open $fh, '>', $conf or die "$conf: $!";
	print $fh $line;
	close $fh;
	($status, $log) = run_to_exit('--config', $conf, '--db', $conninfo);
	is($status, 2, "$what: exit 2");
	like($log, $error, "$what: refused with the line");
}

# ----------------------------------------------------- no password logged --
my $uri = 'postgresql://orders_stream_endpoint:Uri-S3cret@/postgres?host=' . $node->host
  . '&port=' . $node->port;
for my $db ([ "$conninfo password=Kw-S3cret", 'Kw-S3cret', 'keywords' ], [ $uri, 'Uri-S3cret', 'a URI' ])
{
	my ($string, $password, $form) = @$db;
	($status, $log) = run_to_keys_loaded('--db', $string);
	like($log, qr/database "[^"]*dbname=postgres[^"]*"/, "--db as $form: the log names the database");
	unlike($log, qr/\Q$password\E/, "--db as $form: the log never shows the password");
}

# ------------------------------------------------------- failed starts --
($status, $log) = run_to_exit('--port', $port, '--db', 'postgresql://u:Bad-S3cret@[::1');
is($status, 2, 'a connection string libpq cannot read: exit 2 at once');
like($log, qr/invalid value for --db/, '... saying so');
unlike($log, qr/Bad-S3cret/, '... without echoing its password');

my $pg_from = -s $node->logfile;
my $taken = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 1, ReuseAddr => 1)
  or die "listen on $port: $!";
($status, $log) = run_to_exit('--port', $port, '--db', $conninfo);
close $taken;
is($status, 1, 'a port already taken: exit 1 at once');
like($log, qr/could not listen on 127\.0\.0\.1 port $port/, '... saying so');
unlike(slurp_file($node->logfile, $pg_from), qr/user=orders_stream_endpoint/,
	'... before any database connection');

# ------------------------------------------- the access key thread gives up --
($status, $log) = run_to_exit('--port', $port, '--db',
	'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=postgres');
is($status, 1, 'a role with rights of its own: exit 1');
like($log, qr/role "postgres" has rights of its own.*\n.*the access keys cannot be loaded: shutting down.*\n(.*\n)*.*stopped/,
	'... after an orderly shutdown');

# CREATEROLE could grant the endpoint's role any other role
$node->safe_psql('postgres', 'ALTER ROLE orders_stream_endpoint CREATEROLE');
($status, $log) = run_to_exit('--port', $port, '--db', $conninfo);
is($status, 1, 'a CREATEROLE endpoint role: exit 1');
like($log, qr/role "orders_stream_endpoint" has rights of its own/, '... saying so');
$node->safe_psql('postgres', 'ALTER ROLE orders_stream_endpoint NOCREATEROLE');

$node->stop;
done_testing();
