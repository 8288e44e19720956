# 019_endpoint_slowloris.pl: orders_stream_endpoint under slow and hostile
# clients, none of them holding a key (issue 15, class A9):
#
#  - a slowloris: 200 slow sockets from 17 loopback addresses (127/8 is all
#    loopback on Linux), some trickling a header byte every second, some a
#    body byte (more than the 4 database connections: none may hold one),
#    some sending nothing, reopened by the attacker whenever the endpoint
#    closes them, for longer than the 60 s idle timeout would allow; meanwhile a
#    client on 127.0.0.1 gets every health check and every signed request
#    answered within 1 s.  The endpoint closes each slow socket at its
#    request deadline, and one address never holds more connections than its
#    per-address limit however many it opens;
#  - a signed body nested 15,000 deep is AWS's 400 SerializationException,
#    answered before the database (no error in either log), and so is a
#    body that is no JSON;
#  - request bytes that are no UTF-8 (an Authorization header, a credential,
#    a date) come back in valid UTF-8 JSON bodies and valid UTF-8 log lines.
#
# ORDERS_STREAM_ENDPOINT_WRAPPER, if set, is a command line the endpoint runs
# under (e.g. "valgrind --leak-check=full --log-file=/tmp/vg.%p"), and
# ORDERS_STREAM_SLOWLORIS_SECONDS the length of the attack (default 70).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);
use Encode ();
use Errno qw(EAGAIN EWOULDBLOCK);
use IO::Select;
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use POSIX qw(strftime);
use Time::HiRes qw(usleep time);

my $node = OrdersStream::new_node('slowloris', extra_conf => q{
log_min_messages = warning
});
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $bin = $node->config_data('--bindir') . '/orders_stream_endpoint';
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $host = "127.0.0.1:$port";
my $eplog = "$tmp/endpoint.log";
my $conninfo = 'host=' . $node->host . ' port=' . $node->port
  . ' dbname=postgres user=orders_stream_endpoint';
my $attack_seconds = $ENV{ORDERS_STREAM_SLOWLORIS_SECONDS} // 70;
my $per_address = 32;			# the endpoint's default --max-clients-per-address
my $deadline = 10;				# ... and --request-deadline

$node->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, note text);
	SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
	CREATE ROLE reader LOGIN;
	GRANT SELECT ON orders TO reader;
	ALTER ROLE orders_stream_endpoint LOGIN;
});
my ($rc, $out, $err) = OrdersStream::psql_as($node, 'reader',
	q{SELECT access_key_id || ' ' || secret_access_key FROM orders_stream.create_access_key('reader')});
die "create_access_key: $err" if $rc;
my $key = [ split / /, $out ];
$SIG{PIPE} = 'IGNORE';			# writes to sockets the endpoint closed

sub wait_for_log
{
	my ($re) = @_;
	my $until = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $until)
	{
		return 1 if -f $eplog && slurp_file($eplog) =~ $re;
		usleep(100_000);
	}
	diag("not found in $eplog: $re");
	return 0;
}

my @wrapper = split ' ', ($ENV{ORDERS_STREAM_ENDPOINT_WRAPPER} // '');
my $ep = IPC::Run::start([ @wrapper, $bin, '--port', $port, '--db', $conninfo ],
	'>>', $eplog, '2>>', $eplog);
ok(wait_for_log(qr/access keys loaded: 1/), 'the endpoint started with its default limits');

# ------------------------------------------------------------- clients --
# A signed request (SigV4, header signing, as the SDKs do), raw
sub signed
{
	my ($target, $body, %h) = @_;
	my $amz = $h{date} // strftime('%Y%m%dT%H%M%SZ', gmtime);
	my $day = substr($amz, 0, 8);
	my $scope = "$day/local/dynamodb/aws4_request";
	my $ct = 'application/x-amz-json-1.0';
	my $names = 'content-type;host;x-amz-date;x-amz-target';
	my $creq = "POST\n/\n\ncontent-type:$ct\nhost:$host\nx-amz-date:$amz\nx-amz-target:$target\n\n"
	  . "$names\n" . sha256_hex($body);
	my $k = hmac_sha256($day, "AWS4$key->[1]");
	$k = hmac_sha256($_, $k) for ('local', 'dynamodb', 'aws4_request');
	my $sig = hmac_sha256_hex("AWS4-HMAC-SHA256\n$amz\n$scope\n" . sha256_hex($creq), $k);
	my $auth = $h{authorization}
	  // "AWS4-HMAC-SHA256 Credential=$key->[0]/$scope, SignedHeaders=$names, Signature=$sig";
	return "POST / HTTP/1.1\r\nHost: $host\r\nContent-Type: $ct\r\nX-Amz-Date: $amz\r\n"
	  . "X-Amz-Target: $target\r\nAuthorization: $auth\r\nContent-Length: " . length($body)
	  . "\r\nConnection: close\r\n\r\n$body";
}

# Sends a raw request from 127.0.0.1 and reads the answer: (status, body,
# seconds), status 0 if the endpoint closed or refused the connection
sub exchange
{
	my ($raw) = @_;
	my $t0 = time;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		LocalAddr => '127.0.0.1', Timeout => 30)
	  or return (0, "connect: $!", time - $t0);
	$s->autoflush(1);
	print $s $raw;
	my $answer = '';
	my $sel = IO::Select->new($s);
	while ($sel->can_read(30))
	{
		my $n = sysread($s, my $buf, 65536);
		last if !$n;
		$answer .= $buf;
	}
	close $s;
	my $elapsed = time - $t0;
	return (0, $answer, $elapsed) if $answer !~ m{^HTTP/1\.1 (\d+)[^\r]*\r\n(.*?)\r\n\r\n(.*)}s;
	return ($1, $3, $elapsed);
}

# -------------------------------------------------------------- attack --
# Slow sockets: [socket, address, kind, opened at, last byte at]
my @slow;
my %closed_after;				# kind => [seconds a socket lived before the endpoint closed it]

sub open_slow
{
	my ($addr, $kind) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
		LocalAddr => $addr, Timeout => 5);
	return undef if !$s;
	$s->blocking(0);
	syswrite($s, "GET / HTTP/1.1\r\nHost: $host\r\nX-Slow: ") if $kind eq 'trickle';
	syswrite($s, "POST / HTTP/1.1\r\nHost: $host\r\nX-Amz-Target: DynamoDBStreams_20120810.ListStreams\r\n"
		  . "Content-Length: 1000\r\n\r\n{") if $kind eq 'body';
	return [ $s, $addr, $kind, time, time ];
}

# whether the endpoint closed the socket (EOF, reset or a refused write)
sub gone
{
	my ($c) = @_;
	my $n = sysread($c->[0], my $buf, 4096);
	return 1 if defined $n && $n == 0;
	return 1 if !defined $n && $! != EAGAIN && $! != EWOULDBLOCK;
	return 0;
}

# 80 sockets trickling headers, 70 idle ones and 10 trickling a body, from
# 16 addresses, 10 each
for my $i (2 .. 17)
{
	my $kind = $i <= 9 ? 'trickle' : $i <= 16 ? 'idle' : 'body';
	push @slow, open_slow("127.0.0.$i", $kind) for 1 .. 10;
}
# 40 from one address, more than it may hold
my @crowd = grep { defined } map { open_slow('127.0.0.99', 'idle') } 1 .. 40;
push @slow, @crowd;
is(scalar(grep { defined } @slow), 200, '200 slow sockets connected');
@slow = grep { defined } @slow;

my ($answered, $signed_ok, $failed, $slowest) = (0, 0, 0, 0);
my ($crowd_held, $crowd_checked);
my $start = time;
my $round = 0;
while (time - $start < $attack_seconds)
{
	$round++;
	# the attacker: a byte per second on each trickling socket, and a new
	# socket for each one the endpoint closed
	for my $c (@slow)
	{
		next if !$c;
		if (gone($c))
		{
			push @{ $closed_after{ $c->[2] } }, time - $c->[3];
			close $c->[0];
			$c = open_slow($c->[1], $c->[2]);
			next;
		}
		if ($c->[2] ne 'idle' && time - $c->[4] >= 1)
		{
			syswrite($c->[0], $c->[2] eq 'trickle' ? 'a' : ' ');
			$c->[4] = time;
		}
	}
	# what one address holds, once the endpoint had time to refuse the rest
	if (!$crowd_checked && time - $start > 2)
	{
		$crowd_held = grep { !gone($_) } @crowd;
		$crowd_checked = 1;
	}

	# the normal client: the health check, and every fifth round a signed call
	my ($status, $body, $secs) = exchange("GET / HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
	$slowest = $secs if $secs > $slowest;
	if ($status == 200 && $secs < 1) { $answered++ }
	else
	{
		$failed++;
		diag(sprintf('GET / at %.1f s: status %s in %.2f s', time - $start, $status, $secs)) if $failed <= 5;
	}
	if ($round % 5 == 0)
	{
		($status, $body, $secs) = exchange(signed('DynamoDBStreams_20120810.ListStreams', '{"TableName":"orders"}'));
		$slowest = $secs if $secs > $slowest;
		if ($status == 200 && $secs < 1 && $body =~ /"StreamArn"/) { $signed_ok++ }
		else
		{
			$failed++;
			diag(sprintf('ListStreams at %.1f s: status %s in %.2f s: %s', time - $start, $status, $secs,
				substr($body, 0, 200))) if $failed <= 5;
		}
	}
	usleep(200_000);
}
is($failed, 0, "during ${attack_seconds} s of slowloris, every request of another address was answered within 1 s");
cmp_ok($answered, '>', 50, "... $answered health checks");
cmp_ok($signed_ok, '>', 10, "... and $signed_ok signed ListStreams calls");
note(sprintf('slowest answer: %.3f s', $slowest));
ok(defined $crowd_held && $crowd_held <= $per_address,
	"one address opening 40 sockets holds at most $per_address (held " . ($crowd_held // 'none') . ')');
for my $kind (qw(trickle idle body))
{
	my @lived = @{ $closed_after{$kind} // [] };
	my $longest = 0;
	$longest = $_ > $longest ? $_ : $longest for @lived;
	cmp_ok(scalar(@lived), '>=', $kind eq 'body' ? 10 : 70,
		"the endpoint closed the $kind sockets (" . scalar(@lived) . ' times)');
	cmp_ok($longest, '<', $deadline + 5, "... each within the request deadline of $deadline s");
}
close $_->[0] for grep { defined } @slow;

# --------------------------------------------------- hostile contents --
my $pg_from = -s $node->logfile;
my $ep_from = -s $eplog;
my ($status, $body) = exchange(signed('DynamoDBStreams_20120810.ListStreams',
	'{"a":' . ('[' x 15000) . (']' x 15000) . '}'));
is($status, 400, 'a signed body nested 15,000 deep is refused with 400');
my $doc = eval { decode_json($body) };
is($doc && $doc->{__type}, 'com.amazon.coral.service#SerializationException', '... SerializationException')
  or diag($body);
($status, $body) = exchange(signed('DynamoDBStreams_20120810.ListStreams', '{"TableName": "orders"'));
$doc = eval { decode_json($body) };
is("$status " . ($doc && $doc->{__type}), '400 com.amazon.coral.service#SerializationException',
	'a signed body that is no JSON is SerializationException');
($status, $body) = exchange(signed('DynamoDBStreams_20120810.ListStreams', qq({"TableName": "or\xffders"})));
$doc = eval { decode_json($body) };
is("$status " . ($doc && $doc->{__type}), '400 com.amazon.coral.service#SerializationException',
	'a signed body that is no UTF-8 is SerializationException');
unlike(slurp_file($node->logfile, $pg_from), qr/ERROR|stack depth/, 'none of them reached the database as an error');
unlike(slurp_file($eplog, $ep_from), qr/^\S+ error /m, 'and the endpoint logged no error');

sub valid_utf8_json
{
	my ($text) = @_;
	my $chars = eval { Encode::decode('UTF-8', $text, Encode::FB_CROAK | Encode::LEAVE_SRC) };
	return defined $chars && defined eval { JSON::PP->new->decode($chars) };
}

$ep_from = -s $eplog;
my @hostile = (
	[ 'an Authorization header that is no UTF-8', authorization => "AWS4\xff\xfe\x01 HMAC \xc3" ],
	[ 'a credential that is no UTF-8', authorization =>
		"AWS4-HMAC-SHA256 Credential=AKOS\xff\x80\x7f/" . strftime('%Y%m%d', gmtime)
		  . '/local/dynamodb/aws4_request, SignedHeaders=host, Signature=00' ],
	[ 'a credential cut in a character', authorization => 'AWS4-HMAC-SHA256 Credential=A' . ("\xc3\xa9" x 300) ],
	[ 'an X-Amz-Date that is no UTF-8', date => "2026\xff0101T000000Z" ],
);
for my $h (@hostile)
{
	my ($what, %opts) = @$h;
	($status, $body) = exchange(signed('DynamoDBStreams_20120810.ListStreams', '{}', %opts));
	is($status, 400, "$what: 400");
	ok(valid_utf8_json($body), "$what: the body is valid UTF-8 JSON") or diag($body);
}
my $log = slurp_file($eplog, $ep_from);
like($log, qr/status=400 error=IncompleteSignatureException/, 'the refusals are logged');
ok(defined eval { Encode::decode('UTF-8', $log, Encode::FB_CROAK | Encode::LEAVE_SRC) },
	'every log line is valid UTF-8') or diag($log);
unlike($log, qr/[\x00-\x09\x0b-\x1f\x7f]/, 'with no control characters');

$ep->signal('TERM');
$ep->finish;
is($ep->result(0), 0, 'SIGTERM: the endpoint exits 0');
$node->stop;
done_testing();
