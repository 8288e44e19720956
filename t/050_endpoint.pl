# 050_endpoint.pl: orders_stream_endpoint, the DynamoDB Streams API over
# HTTP, driven by clients nobody here wrote: the AWS CLI, boto3 and
# @aws-sdk/client-dynamodb-streams.
#
#  - access keys: create_access_key / revoke_access_key and who may call
#    them; the endpoint's role reads no stream as itself;
#  - each client reads 100,000 changes of "orders" to the end, across a
#    disable / enable (a closed shard, then a new stream), and the records
#    match the history oracle (t/OrdersStream.pm): none lost, none twice,
#    per-key order kept; boto3 and the JS SDK read concurrently while the
#    server restarts under them (the endpoint reconnects, the clients retry);
#  - AWS's errors through each client: a wrong secret, an unknown key, an
#    expired iterator, a role without SELECT (AccessDeniedException),
#    trimmed data; a revoked key, a role made superuser;
#  - a bad signature, an unknown or revoked key never reach SQL
#    (log_statement = all: no statement of the endpoint for them);
#  - no signature, an oversized body, GET /, --help, a role with rights of
#    its own refused at start, graceful SIGTERM.
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
use JSON::PP;
use Time::HiRes qw(usleep time);

my $node = OrdersStream::new_node('endpoint', extra_conf => q{
log_statement = all
log_min_messages = warning
});
my $repo = getcwd();
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $bin = $node->config_data('--bindir') . '/orders_stream_endpoint';
my $sdk_dir = "$repo/test/conformance/sdk";
my $http_port = PostgreSQL::Test::Cluster::get_free_port();
my $url = "http://127.0.0.1:$http_port";
my $eplog = "$tmp/endpoint.log";
my $conninfo = 'host=' . $node->host . ' port=' . $node->port
  . ' dbname=postgres user=orders_stream_endpoint application_name=orders_stream_endpoint';

# ------------------------------------------------------------ access keys --
OrdersStream::history_setup($node);
$node->safe_psql('postgres', q{
	CREATE ROLE reader LOGIN;
	CREATE ROLE stranger LOGIN;
	CREATE ROLE elevated LOGIN;
	GRANT SELECT ON orders TO reader, elevated;
	ALTER ROLE orders_stream_endpoint LOGIN;
});
my $arn1 = $node->safe_psql('postgres', 'SELECT "StreamArn" FROM orders_stream.list_streams()');

sub new_key
{
	my ($role, $as) = @_;
	my ($rc, $out, $err) = OrdersStream::psql_as($node, $as // $role,
		"SELECT access_key_id || ' ' || secret_access_key FROM orders_stream.create_access_key('$role')");
	die "create_access_key('$role'): $err" if $rc;
	return [ split / /, $out ];
}
my $reader = new_key('reader');
my $stranger = new_key('stranger');
my $elevated = new_key('elevated', 'postgres');
like($reader->[0], qr/^AKOS[0-9A-F]{16}$/, 'an access key id of 20 characters');
like($reader->[1], qr{^[A-Za-z0-9+/]{40}$}, 'a secret of 40 characters');

my ($rc, $out, $err) = OrdersStream::psql_as($node, 'stranger',
	q{SELECT orders_stream.create_access_key('reader')});
like($err, qr/permission denied to create an access key for role "reader"/,
	'a role cannot create a key for another role');
($rc, $out, $err) = $node->psql('postgres', q{SELECT orders_stream.create_access_key('postgres')});
like($err, qr/role "postgres" cannot have an access key/, 'no key for a superuser');
($rc, $out, $err) = $node->psql('postgres',
	q{SELECT orders_stream.create_access_key('orders_stream_endpoint')});
like($err, qr/role "orders_stream_endpoint" cannot have an access key/, 'no key for the endpoint role');
is((OrdersStream::psql_as($node, 'reader', 'SELECT role FROM orders_stream.access_keys'))[1],
	'reader', 'orders_stream.access_keys shows a role its own keys');
is((OrdersStream::psql_as($node, 'stranger', q{SELECT count(*) FROM orders_stream.access_keys WHERE role = 'reader'}))[1],
	'0', '... and not the keys of others');
($rc, $out, $err) = OrdersStream::psql_as($node, 'reader',
	'SELECT * FROM orders_stream_internal.endpoint_access_keys()');
like($err, qr/permission denied/, 'only the endpoint role reads the secrets');
is($node->safe_psql('postgres', q{SELECT rolinherit FROM pg_roles WHERE rolname = 'orders_stream_endpoint'}),
	'f', 'the endpoint role is NOINHERIT');
($rc, $out, $err) = $node->psql('postgres', q{
	ALTER ROLE orders_stream_endpoint INHERIT;
	SELECT orders_stream.create_access_key('stranger');});
like($err, qr/role "orders_stream_endpoint" must exist and be NOINHERIT/,
	'no key while the endpoint role would inherit the rights of the roles it serves');
$node->safe_psql('postgres', 'ALTER ROLE orders_stream_endpoint NOINHERIT');
($rc, $out, $err) = $node->psql('postgres', q{SELECT orders_stream.create_access_key(NULL)});
like($err, qr/ValidationException: role must not be null/, 'a key needs a role');

# the endpoint's role, logged in as itself: a member of reader, with none of its rights
($rc, $out, $err) = OrdersStream::psql_login($node, 'orders_stream_endpoint', q{
	SELECT count(*) FROM orders_stream.list_streams();
	SELECT count(*) FROM orders_stream.records;});
is("$rc $out", "0 0\n0", 'the endpoint role sees no stream and no record as itself');
($rc, $out, $err) = OrdersStream::psql_login($node, 'orders_stream_endpoint',
	"SELECT orders_stream.describe_stream('$arn1')");
like($err, qr/AccessDeniedException/, 'the endpoint role may not describe the stream as itself');
($rc, $out, $err) = OrdersStream::psql_login($node, 'orders_stream_endpoint', 'SELECT count(*) FROM orders');
like($err, qr/permission denied for table orders/, 'nor read the table');
($rc, $out, $err) = OrdersStream::psql_login($node, 'orders_stream_endpoint',
	'SELECT count(*) FROM orders_stream_internal.access_keys');
like($err, qr/permission denied/, 'nor the key table');

# ------------------------------------------------------------- endpoint --
sub log_offset { return -s $_[0] // 0; }

sub wait_for_log
{
	my ($file, $re, $from) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my $text = -f $file ? slurp_file($file, $from // 0) : '';
		return 1 if $text =~ $re;
		usleep(50_000);
	}
	diag("not found in $file: $re\n" . (-f $file ? slurp_file($file) : ''));
	return 0;
}

sub start_endpoint
{
	my $from = log_offset($eplog);
	my $h = IPC::Run::start([ $bin, '--port', $http_port, '--db', $conninfo, '--pool-size', '4',
		'--log-level', 'debug', @_ ], '>>', $eplog, '2>>', $eplog);
	ok(wait_for_log($eplog, qr/access keys loaded: \d+/, $from), 'the endpoint started and loaded the keys');
	return $h;
}

($rc, $out, $err) = (0, '', '');
IPC::Run::run([ $bin, '--help' ], '>', \$out, '2>', \$err);
like($out, qr/--config=FILE.*--listen=ADDRESS.*--request-log-level/s, '--help lists the options');
{
	my $h = IPC::Run::start([ $bin, '--port', $http_port, '--db',
		'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=postgres' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(60));
	$h->finish;
	is($h->result(0), 1, 'the endpoint refuses to run as a role with rights of its own');
	like($err, qr/role "postgres" has rights of its own/, '... and says why');
}

my $ep = start_endpoint();

# The AWS CLI, boto3 and the JS SDK, with a key: one call each
$ENV{AWS_DEFAULT_REGION} = 'local';
$ENV{AWS_CONFIG_FILE} = "$tmp/no-aws-config";
$ENV{AWS_SHARED_CREDENTIALS_FILE} = "$tmp/no-aws-credentials";
$ENV{AWS_MAX_ATTEMPTS} = '10';
$ENV{AWS_RETRY_MODE} = 'standard';
$ENV{AWS_PAGER} = '';
$ENV{ENDPOINT_URL} = $url;
$ENV{HOME} = $tmp;

sub kebab { my $s = shift; $s =~ s/(?<!^)([A-Z])/-\l$1/g; return lc $s; }

# Calls an operation through a client with a key: ('ok', response) or
# (exception name, HTTP status or '').
sub call
{
	my ($client, $key, $op, $params, $query) = @_;
	local $ENV{AWS_ACCESS_KEY_ID} = $key->[0];
	local $ENV{AWS_SECRET_ACCESS_KEY} = $key->[1];
	my ($stdout, $stderr) = ('', '');
	if ($client eq 'cli')
	{
		my @args = ('aws', 'dynamodbstreams', kebab($op), '--endpoint-url', $url, '--output', 'json');
		push @args, '--' . kebab($_), $params->{$_} for sort keys %$params;
		push @args, '--query', $query if defined $query;
		IPC::Run::run(\@args, '>', \$stdout, '2>', \$stderr, IPC::Run::timeout(120));
		return ('ok', decode_json($stdout)) if $? == 0;
		return ($stderr =~ /An error occurred \((\w+)\)/ ? $1 : "failed: $stderr", '');
	}
	my @cmd = $client eq 'boto3'
	  ? ('python3', "$repo/t/endpoint/boto3_client.py", 'call', $op, encode_json($params))
	  : ('node', "$sdk_dir/stream-client.mjs", 'call', $op, encode_json($params));
	IPC::Run::run(\@cmd, '>', \$stdout, '2>', \$stderr, IPC::Run::timeout(120));
	return ('ok', decode_json($stdout)) if $? == 0;
	return ($1, $2) if $stdout =~ /^error (\w+) (\d+)/;
	return ("failed: $stdout $stderr", '');
}

# npm ci of the pinned @aws-sdk/client-dynamodb-streams (test/conformance/sdk)
if (!-d "$sdk_dir/node_modules/\@aws-sdk/client-dynamodb-streams")
{
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'npm', 'ci', '--no-audit', '--no-fund', '--loglevel=warn', '--cache', "$tmp/npm-cache" ],
		'>', \$o, '2>', \$e, init => sub { chdir $sdk_dir or die "chdir $sdk_dir: $!" },
		IPC::Run::timeout(600));
	is($?, 0, 'npm ci of @aws-sdk/client-dynamodb-streams') or diag("$o\n$e");
}

for my $client (qw(cli boto3 sdk))
{
	my ($status, $r) = call($client, $reader, 'ListStreams', { TableName => 'orders' });
	is($status, 'ok', "$client: ListStreams with the reader's key");
	is($status eq 'ok' && $r->{Streams}[0]{StreamArn}, $arn1, "$client: ... lists the stream");
}

# ------------------------------------------------- refused before any SQL --
# The endpoint's statements in the server log since $from, but the key loads
sub endpoint_statements
{
	my ($from) = @_;
	return join '', grep { /orders_stream_endpoint\s+(LOG|ERROR):\s+statement:/ && !/endpoint_access_keys\(\)/ }
	  split /^/m, slurp_file($node->logfile, $from);
}

my $from = log_offset($node->logfile);
call('boto3', $reader, 'ListStreams', {});
like(endpoint_statements($from), qr/SET LOCAL ROLE "reader"; SELECT orders_stream\.dynamodb_streams/,
	'a signed request runs the dispatcher as its role (positive control of the log check)');

for my $client (qw(cli boto3 sdk))
{
	$from = log_offset($node->logfile);
	my ($status, $http) = call($client, [ $reader->[0], 'wrong' . substr($reader->[1], 5) ], 'ListStreams', {});
	is($status, 'InvalidSignatureException', "$client: a wrong secret is InvalidSignatureException");
	is($http, '400', "$client: ... with HTTP 400") if $client ne 'cli';
	($status, $http) = call($client, [ 'AKOSFFFFFFFFFFFFFFFF', $reader->[1] ], 'ListStreams', {});
	is($status, 'UnrecognizedClientException', "$client: an unknown key is UnrecognizedClientException");
	is($http, '400', "$client: ... with HTTP 400") if $client ne 'cli';
	is(endpoint_statements($from), '', "$client: no SQL ran for the refused requests");
}

# ---------------------------------------------------------- the workload --
# 100,000 changes: 60,000 on the first stream, which is then disabled (its
# shard closes), 40,000 on a new stream.
$node->safe_psql('postgres', q{
	INSERT INTO orders SELECT g, 1, 'first' FROM generate_series(1, 40000) g;
	UPDATE orders SET version = version + 1 WHERE id <= 20000;
	SELECT orders_stream.disable_stream('orders');
});
OrdersStream::capture($node);
$node->safe_psql('postgres', q{
	SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
	UPDATE orders SET version = version + 1 WHERE id > 20000;
	DELETE FROM orders WHERE id <= 10000;
	INSERT INTO orders SELECT g, 1, 'second' FROM generate_series(40001, 50000) g;
});
OrdersStream::capture($node);
is($node->safe_psql('postgres', 'SELECT count(*) FROM history'), '100000', '100,000 committed changes');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM orders_stream.readable_streams WHERE ending_sequence_number IS NOT NULL}),
	'1', 'the first stream has a closed shard');

sub load_consumed
{
	my ($table, $file) = @_;
	$node->safe_psql('postgres', qq{
		CREATE TABLE $table (n bigserial, seq text, id int, event text, version int);
		COPY $table (seq, id, event, version) FROM '$file' WITH (DELIMITER ' ');});
}

# boto3 and the JS SDK concurrently; the server restarts while boto3 waits
# after its 20th page, and is down for a while (503, retried by the clients)
my $pause = "$tmp/pause";
mkdir $pause;
my ($boto3_err, $sdk_err) = ('', '');
my $boto3 = IPC::Run::start([ 'python3', "$repo/t/endpoint/boto3_client.py", 'consume', 'orders', $pause, '20' ],
	'>', "$tmp/boto3.out", '2>', \$boto3_err,
	init => sub { @ENV{qw(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY)} = @$reader });
my $sdk = IPC::Run::start([ 'node', "$sdk_dir/stream-client.mjs", 'consume', 'orders' ],
	'>', "$tmp/sdk.out", '2>', \$sdk_err,
	init => sub { @ENV{qw(AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY)} = @$reader });
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
usleep(100_000) until -e "$pause/paused" || time > $deadline || !$boto3->pumpable;
ok(-e "$pause/paused", 'boto3 read 20 pages and paused');
$node->stop('fast');
open my $fh, '>', "$pause/resume" or die;
close $fh;
sleep 2;
$node->start;
$boto3->finish;
is($boto3->result(0), 0, 'boto3 read the stream to its end across the restart') or diag($boto3_err);
$sdk->finish;
is($sdk->result(0), 0, 'the JS SDK read the stream to its end meanwhile') or diag($sdk_err);
like(slurp_file($eplog), qr/database connection lost, reconnecting|could not connect to the database/,
	'the endpoint noticed the restart');
load_consumed('got_boto3', "$tmp/boto3.out");
OrdersStream::history_compare($node, 'got_boto3', 'boto3');
load_consumed('got_sdk', "$tmp/sdk.out");
OrdersStream::history_compare($node, 'got_sdk', 'JS SDK');

# the AWS CLI, one command per call, as a shell script would
{
	open my $cli_out, '>', "$tmp/cli.out" or die;
	my ($status, $r) = call('cli', $reader, 'ListStreams', { TableName => 'orders' });
	my @streams = $status eq 'ok' ? @{ $r->{Streams} } : ();
	is(scalar(@streams), 2, 'cli: two streams of orders, the disabled one first');
	my $pages = 0;
	for my $s (@streams)
	{
		(undef, $r) = call('cli', $reader, 'DescribeStream', { StreamArn => $s->{StreamArn} });
		for my $shard (@{ $r->{StreamDescription}{Shards} })
		{
			(undef, $r) = call('cli', $reader, 'GetShardIterator', { StreamArn => $s->{StreamArn},
				ShardId => $shard->{ShardId}, ShardIteratorType => 'TRIM_HORIZON' });
			my $it = $r->{ShardIterator};
			while (defined $it)
			{
				# the CLI's own JMESPath picks the fields, as a shell consumer would
				($status, $r) = call('cli', $reader, 'GetRecords', { ShardIterator => $it, Limit => 1000 },
					'{next: NextShardIterator, records: Records[].[dynamodb.SequenceNumber, dynamodb.Keys.id.N, '
					  . 'eventName, dynamodb.NewImage.version.N || dynamodb.OldImage.version.N]}');
				die "cli get-records: $status" if $status ne 'ok';
				print $cli_out join(' ', @$_) . "\n" for @{ $r->{records} };
				$it = $r->{next};
				last if !@{ $r->{records} };
				$pages++;
			}
		}
	}
	close $cli_out;
	note "cli: $pages pages";
	load_consumed('got_cli', "$tmp/cli.out");
	OrdersStream::history_compare($node, 'got_cli', 'AWS CLI');
}

# ------------------------------------------------------- AWS's errors --
my $arn2 = $node->safe_psql('postgres',
	q{SELECT "StreamArn" FROM orders_stream.list_streams() ORDER BY "StreamLabel" DESC LIMIT 1});
my $shard2 = $node->safe_psql('postgres',
	qq{SELECT orders_stream.describe_stream('$arn2')#>>'{StreamDescription,Shards,0,ShardId}'});
# an iterator issued 16 minutes ago: shard iterators live 15
my $expired = $node->safe_psql('postgres', qq{
	SELECT '$arn2' || '|' || translate(encode(convert_to(jsonb_build_object('s', '$shard2', 'p', '',
		'i', false, 't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - 16 * 60 * 1000)::text,
		'UTF8'), 'base64'), E'\\n', '')});
my $first_seq = $node->safe_psql('postgres', 'SELECT min(seq) FROM got_boto3');
for my $client (qw(cli boto3 sdk))
{
	my ($status, $http) = call($client, $reader, 'GetRecords', { ShardIterator => $expired });
	is($status, 'ExpiredIteratorException', "$client: an expired iterator is ExpiredIteratorException");
	is($http, '400', "$client: ... with HTTP 400") if $client ne 'cli';
	($status, $http) = call($client, $reader, 'GetRecords', { ShardIterator => "$arn2|bm90IGpzb24=" });
	is($status, 'ValidationException', "$client: a forged iterator is ValidationException");
	($status, $http) = call($client, $stranger, 'DescribeStream', { StreamArn => $arn2 });
	is($status, 'AccessDeniedException', "$client: a role without SELECT on the table gets AccessDeniedException");
	is($http, '400', "$client: ... with HTTP 400") if $client ne 'cli';
	($status, $http) = call($client, $reader, 'DescribeStream', { StreamArn => $arn2 . 'x' });
	is($status, 'ResourceNotFoundException', "$client: an unknown stream is ResourceNotFoundException");
}

# a role made superuser after its key was loaded: refused by the dispatch
# guard, then (SIGHUP reloads the keys) before any SQL
is((call('boto3', $elevated, 'ListStreams', {}))[0], 'ok', 'a key of an ordinary role works');
$node->safe_psql('postgres', 'ALTER ROLE elevated SUPERUSER');
is((call('boto3', $elevated, 'ListStreams', {}))[0], 'UnrecognizedClientException',
	'a request never runs as a role that has become superuser');
my $eplog_from = log_offset($eplog);
$ep->signal('HUP');
ok(wait_for_log($eplog, qr/access keys loaded: 2\n/, $eplog_from), 'SIGHUP reloads the keys, without the superuser\'s');
$from = log_offset($node->logfile);
is((call('sdk', $elevated, 'ListStreams', {}))[0], 'UnrecognizedClientException',
	'the superuser\'s key is refused...');
is(endpoint_statements($from), '', '... before any SQL');

# a revoked key: refused at once (NOTIFY), before any SQL
$eplog_from = log_offset($eplog);
OrdersStream::psql_as($node, 'stranger', "SELECT orders_stream.revoke_access_key('$stranger->[0]')");
ok(wait_for_log($eplog, qr/access keys loaded: 1\n/, $eplog_from), 'revoke_access_key: the endpoint drops the key');
is($node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_auth_members WHERE roleid = 'stranger'::regrole AND member = 'orders_stream_endpoint'::regrole}),
	'0', 'with its role\'s last key, the endpoint\'s membership goes');
$from = log_offset($node->logfile);
for my $client (qw(cli boto3 sdk))
{
	is((call($client, $stranger, 'ListStreams', {}))[0], 'UnrecognizedClientException',
		"$client: a revoked key is UnrecognizedClientException");
}
is(endpoint_statements($from), '', 'no SQL ran for the revoked key');
($rc, $out, $err) = OrdersStream::psql_as($node, 'stranger', "SELECT orders_stream.revoke_access_key('$reader->[0]')");
like($err, qr/ResourceNotFoundException: access key "\Q$reader->[0]\E" does not exist/,
	'a role cannot revoke the keys of others');

# --------------------------------------------------------- HTTP itself --
my $http = HTTP::Tiny->new(timeout => 60);
my $res = $http->get("$url/");
is("$res->{status} $res->{content}", '200 healthy: orders_stream_endpoint ', 'GET / is the health check');
$res = $http->post("$url/", { headers => { 'Content-Type' => 'application/x-amz-json-1.0',
	'X-Amz-Target' => 'DynamoDBStreams_20120810.ListStreams' }, content => '{}' });
is($res->{status}, 400, 'an unsigned request is refused with 400');
like($res->{content}, qr/"__type":"com.amazon.coral.service#MissingAuthenticationTokenException"/,
	'... MissingAuthenticationTokenException');
is($res->{headers}{'content-type'}, 'application/x-amz-json-1.0', '... as AWS JSON 1.0');
like($res->{headers}{'x-amzn-requestid'}, qr/^[A-Z0-9]{52}$/, '... with a request id');
$res = $http->post("$url/", { headers => { 'Content-Type' => 'application/x-amz-json-1.0' },
	content => '{"TableName": "' . ('x' x 100_000) . '"}' });
is($res->{status}, 413, 'a body over --max-request-bytes is 413');

# ----------------------------------------------------- trimmed records --
$node->append_conf('postgresql.conf', "orders_stream.retention = '2s'");
$node->reload;
ok($node->poll_query_until('postgres', qq{
	SELECT count(*) > 0 FROM orders_stream.readable_streams WHERE trim_point >= '$first_seq'}),
	'retention trims the first records');
for my $client (qw(cli boto3 sdk))
{
	my ($status, $http_status) = call($client, $reader, 'GetShardIterator', { StreamArn => $arn1,
		ShardId => $node->safe_psql('postgres',
			qq{SELECT orders_stream.describe_stream('$arn1')#>>'{StreamDescription,Shards,0,ShardId}'}),
		ShardIteratorType => 'AT_SEQUENCE_NUMBER', SequenceNumber => $first_seq });
	is($status, 'TrimmedDataAccessException', "$client: a trimmed SequenceNumber is TrimmedDataAccessException");
	is($http_status, '400', "$client: ... with HTTP 400") if $client ne 'cli';
}

# ------------------------------------------------------------ shutdown --
$eplog_from = log_offset($eplog);
$ep->signal('TERM');
$ep->finish;
is($ep->result(0), 0, 'SIGTERM: the endpoint exits 0');
like(slurp_file($eplog, $eplog_from), qr/shutting down.*\n(.*\n)*.*stopped/, '... after a graceful shutdown');
like(slurp_file($eplog), qr/request 127\.0\.0\.1 key=AKOS\w+ role=reader op=GetRecords status=200 in=\d+ out=\d+ ms=[\d.]+ id=\w{52}/,
	'one log line per request');

$node->stop;
done_testing();
