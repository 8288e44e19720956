# 053_endpoint_metrics.pl: GET /metrics on orders_stream_endpoint.
#
#  - on --listen, only signed (SigV4, as the key's role): a role that may
#    read the stream sees its mapping's and stream's series, one that may
#    not sees none, and no signature is refused;
#  - on --metrics-listen, without authentication, as --metrics-role, and
#    nothing but GET /metrics there; --metrics-listen needs --metrics-role;
#  - every answer passes `promtool check metrics` (Debian's prometheus),
#    and two scrapes around deliveries see the counters move.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Cwd qw(getcwd);
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $node = OrdersStream::new_node('endpoint_metrics');
my $repo = getcwd();
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $bin = $node->config_data('--bindir') . '/orders_stream_endpoint';
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $mport = PostgreSQL::Test::Cluster::get_free_port();
my $eplog = "$tmp/endpoint.log";
my $conninfo = 'host=' . $node->host . ' port=' . $node->port
  . ' dbname=postgres user=orders_stream_endpoint';


sql(q{
CREATE ROLE reader LOGIN;
CREATE ROLE stranger LOGIN;
CREATE ROLE scraper LOGIN;
ALTER ROLE orders_stream_endpoint LOGIN;
CREATE TABLE orders (id int PRIMARY KEY, quantity int NOT NULL);
GRANT SELECT ON orders TO reader, scraper;
CREATE FUNCTION apply_orders(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
});
sql(q{SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE')});
my $mapping = sql(q{SELECT orders_stream.create_event_source_mapping('orders', 'apply_orders(jsonb)',
	starting_position => 'TRIM_HORIZON', metrics_config => '{"Metrics": ["EventCount"]}')});

sub new_key
{
	my ($role) = @_;
	return [ split / /, sql("SELECT access_key_id || ' ' || secret_access_key FROM orders_stream.create_access_key('$role')") ];
}
my $reader = new_key('reader');
my $stranger = new_key('stranger');
# scrapes without a key SET ROLE to scraper: the endpoint role is made its member with a key
new_key('scraper');

my ($out, $err);
IPC::Run::run([ $bin, '--db', $conninfo, '--metrics-listen', "127.0.0.1:$mport" ],
	'>', \$out, '2>', \$err);
like($err, qr/--metrics-listen needs --metrics-role/, '--metrics-listen needs --metrics-role');

my $endpoint = IPC::Run::start([ $bin, '--port', $port, '--db', $conninfo,
	'--metrics-listen', "127.0.0.1:$mport", '--metrics-role', 'scraper', '--log-level', 'debug' ],
	'>>', $eplog, '2>>', $eplog);
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
usleep(50_000) until (-f $eplog && slurp_file($eplog) =~ /access keys loaded: \d+/) || time > $deadline;
like(slurp_file($eplog), qr/serving GET \/metrics without authentication on 127\.0\.0\.1:$mport as role "scraper"/,
	'the endpoint says where it serves unauthenticated scrapes');

# promtool's verdict on a scrape
sub promtool_ok
{
	my ($text, $what) = @_;
	my ($pout, $perr);
	my $ok = IPC::Run::run([ 'promtool', 'check', 'metrics' ], '<', \$text, '>', \$pout, '2>', \$perr);
	ok($ok, "promtool check metrics: $what") or diag("$pout$perr");
}

sub signed_get
{
	my ($key, $path) = @_;
	my ($sout, $serr);
	local $ENV{AWS_ACCESS_KEY_ID} = $key->[0];
	local $ENV{AWS_SECRET_ACCESS_KEY} = $key->[1];
	IPC::Run::run([ 'python3', "$repo/t/endpoint/signed_get.py", "http://127.0.0.1:$port$path" ],
		'>', \$sout, '2>', \$serr) or die "signed_get.py: $serr";
	my ($head, $body) = split /\n/, $sout, 2;
	return ($head, $body // '');
}

# the value of a series (name, a label it has), or undef
sub value
{
	my ($text, $name, $label) = @_;
	return $text =~ /^\Q$name\E\{[^}]*\Q$label\E[^}]*\} (\S+)$/m ? $1 : undef;
}

sql(q{INSERT INTO orders SELECT g, g FROM generate_series(1, 10) g});
ok($node->poll_query_until('postgres', qq{SELECT "InvokedEventCount" = 10
	FROM orders_stream.mapping_metrics WHERE uuid = '$mapping'}), 'the first records are delivered');

# ---- on --listen: signed only ----
my $http = HTTP::Tiny->new(timeout => 30);
my $r = $http->get("http://127.0.0.1:$port/metrics");
is($r->{status}, 400, 'an unsigned GET /metrics on --listen is refused');
like($r->{content}, qr/MissingAuthenticationTokenException/, '... as AWS refuses a request without a signature');
my ($head, $body) = signed_get($reader, '/metrics');
is($head, '200 text/plain; version=0.0.4; charset=utf-8', 'a signed scrape gets the text exposition format');
promtool_ok($body, 'as reader');
is(value($body, 'orders_stream_mapping_invoked_events_total', qq{mapping="$mapping"}), 10,
	'reader sees the mapping\'s counters');
like($body, qr/^orders_stream_stream_request_latency_seconds_bucket\{.*le="\+Inf"\} \d+$/m,
	'and the latency histogram of its stream');
($head, $body) = signed_get($stranger, '/metrics');
is($head, '200 text/plain; version=0.0.4; charset=utf-8', 'stranger may scrape too');
promtool_ok($body, 'as stranger');
unlike($body, qr/^orders_stream_[a-z_]+\{/m, 'but sees no series of a stream it may not read');
is(HTTP::Tiny->new->get("http://127.0.0.1:$port/")->{status}, 200, 'GET / is still the health check');

# ---- on --metrics-listen: unauthenticated, as scraper, twice ----
my $murl = "http://127.0.0.1:$mport/metrics";
$r = $http->get($murl);
is($r->{status}, 200, 'an unauthenticated scrape on --metrics-listen');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4}, 'in the text exposition format');
promtool_ok($r->{content}, 'unauthenticated');
my $first = value($r->{content}, 'orders_stream_mapping_invocations_total', qq{mapping="$mapping"});
my $stored = value($r->{content}, 'orders_stream_capture_records_stored_total', 'table="orders"');
ok(defined $first && $first >= 1, 'scraper sees the mapping\'s invocations');
sql(q{INSERT INTO orders SELECT g, g FROM generate_series(11, 20) g});
my $moved = 0;
$deadline = time + $PostgreSQL::Test::Utils::timeout_default;
while (time < $deadline)
{
	$r = $http->get($murl);
	my $now = value($r->{content}, 'orders_stream_mapping_invoked_events_total', qq{mapping="$mapping"});
	if (defined $now && $now == 20)
	{
		$moved = 1;
		last;
	}
	usleep(100_000);
}
ok($moved, 'a later scrape sees the counters move');
cmp_ok(value($r->{content}, 'orders_stream_mapping_invocations_total', qq{mapping="$mapping"}), '>', $first,
	'Invocations grew');
cmp_ok(value($r->{content}, 'orders_stream_capture_records_stored_total', 'table="orders"'), '>=', $stored + 10,
	'so did the records capture stored');
promtool_ok($r->{content}, 'the second scrape');
is($http->get("http://127.0.0.1:$mport/")->{status}, 404, 'nothing but GET /metrics on --metrics-listen');
is($http->post_form("http://127.0.0.1:$mport/metrics", {})->{status}, 404, 'not even a POST');

$endpoint->signal('TERM');
$endpoint->finish;
$node->stop;
done_testing();
