# 006_read_api_security.pl: the DynamoDB Streams read API and who may use it.
#
#  - a role with SELECT on the source table reads the stream through
#    get_records and through orders_stream.records; a role without it gets
#    AccessDeniedException from the API and no rows from the table;
#  - ExpiredIteratorException, ResourceNotFoundException, ValidationException;
#  - LATEST, AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER, paging through 2500
#    records with limit 1000 via NextShardIterator;
#  - disable + enable: a new ARN, the old stream stays readable, and its
#    NextShardIterator becomes null once it has been read to its end.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep time);

my $node = OrdersStream::new_node('read_api', no_extension => 1);

$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
my $arn = $node->safe_psql('postgres', q{
	CREATE TABLE orders (id int PRIMARY KEY, version int NOT NULL DEFAULT 1, note text);
	CREATE ROLE reader LOGIN;
	CREATE ROLE stranger LOGIN;
	GRANT SELECT ON orders TO reader;
	SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
});
my $shard = $node->safe_psql('postgres',
	qq{SELECT orders_stream.describe_stream('$arn')->'StreamDescription'->'Shards'->0->>'ShardId'});
like($shard, qr/^shardId-\d{20}-[0-9a-f]{8}$/, 'describe_stream gives the shard');

# query as a role (a new session: SET ROLE would keep the superuser's session)
sub as
{
	my ($role, $sql) = @_;
	my ($stdout, $stderr);
	$node->psql('postgres', $sql, stdout => \$stdout, stderr => \$stderr,
		extra_params => [ '-U', $role ]);
	return wantarray ? ($stdout, $stderr) : $stdout;
}

sub iterator
{
	my ($role, $type, $seq, $stream) = @_;
	$stream //= $arn;
	my $seqarg = defined $seq ? ", '$seq'" : '';
	my ($out, $err) = as($role, qq{
		SELECT orders_stream.get_shard_iterator('$stream',
			orders_stream.describe_stream('$stream')->'StreamDescription'->'Shards'->0->>'ShardId',
			'$type'$seqarg)});
	die "get_shard_iterator failed: $err" if $err ne '';
	return $out;
}

# one get_records call: (sequence numbers, NextShardIterator or '')
sub page
{
	my ($role, $it, $limit) = @_;
	$limit //= 1000;
	my ($out, $err) = as($role, qq{
		SELECT coalesce((SELECT string_agg(e->'dynamodb'->>'SequenceNumber', ' ')
						   FROM jsonb_array_elements(r->'Records') e), '')
			   || '|' || coalesce(r->>'NextShardIterator', '<null>')
		  FROM orders_stream.get_records('$it', $limit) r});
	die "get_records failed: $err" if $err ne '';
	my ($seqs, $next) = split /\|/, $out, 2;
	return ([ split / /, $seqs ], $next eq '<null>' ? undef : $next);
}

# Reads from an iterator until a page comes back empty (or, with
# $until_closed, until NextShardIterator is null: a disabled stream's shard
# closes once capture has caught up); returns the sequence numbers, the page
# sizes and the last iterator.
sub read_all
{
	my ($role, $it, $limit, $until_closed) = @_;
	my (@all, @sizes);
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (defined $it)
	{
		my ($seqs, $next) = page($role, $it, $limit);
		push @sizes, scalar(@$seqs);
		push @all, @$seqs;
		$it = $next;
		next if @$seqs;
		last unless $until_closed;
		die 'the shard of a disabled stream did not close' if time > $deadline;
		usleep(100_000);
	}
	return (\@all, \@sizes, $it);
}

# ---- 2500 records ----
$node->safe_psql('postgres', q{
	INSERT INTO orders SELECT g, 1, 'first' FROM generate_series(1, 1200) g;
	INSERT INTO orders SELECT g, 1, 'second' FROM generate_series(1201, 2000) g;
	UPDATE orders SET version = 2 WHERE id <= 300;
	DELETE FROM orders WHERE id > 1800;
});
capture();
my @expected = split / /, $node->safe_psql('postgres',
	'SELECT string_agg(sequence_number, \' \' ORDER BY sequence_number) FROM orders_stream.records');
is(scalar(@expected), 2500, '2500 records captured');

# ---- paging ----
my ($all, $sizes, $end) = read_all('reader', iterator('reader', 'TRIM_HORIZON'), 1000);
is(join(',', @$sizes), '1000,1000,500,0', 'TRIM_HORIZON pages of 1000, 1000, 500, then an empty page');
is_deeply($all, \@expected, 'paging via NextShardIterator returns every record once, in order');
ok(defined $end, 'an enabled stream always gives a NextShardIterator');

# ---- the records view; the storage itself is closed ----
is(as('reader', 'SELECT count(*) FROM orders_stream.records'), '2500',
	'reader sees the records in orders_stream.records');
is(as('reader', q{SELECT count(*) FROM orders_stream.records r
	 WHERE r.record->'dynamodb'->>'SequenceNumber' = r.sequence_number}), '2500',
	'reader reads whole records');

# ---- a role without SELECT on the table ----
my ($out, $err) = as('stranger', qq{SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON')});
like($err, qr/AccessDeniedException/, 'stranger: get_shard_iterator raises AccessDeniedException');
my $reader_it = iterator('reader', 'TRIM_HORIZON');
($out, $err) = as('stranger', qq{SELECT orders_stream.get_records('$reader_it', 10)});
like($err, qr/AccessDeniedException/, 'stranger: get_records with a valid iterator raises AccessDeniedException');
($out, $err) = as('stranger', 'SELECT count(*) FROM orders_stream.records');
is($out, '0', 'stranger sees no rows of orders_stream.records');
is($err, '', '... without an error');
($out, $err) = as('stranger', 'SELECT count(*) FROM orders_stream.record_store');
like($err, qr/permission denied for table record_store/, 'stranger cannot read the storage behind it');
($out, $err) = as('stranger', q{SELECT count(*) FROM ONLY orders_stream.record_store});
like($err, qr/permission denied for table record_store/, 'nor its partitioned parent alone');
($out, $err) = as('reader', 'SELECT count(*) FROM orders_stream.record_store');
like($err, qr/permission denied for table record_store/,
	'reader reads the records through the view only, not the storage');
my $part = $node->safe_psql('postgres', q{
	SELECT inhrelid::regclass FROM pg_inherits
	 WHERE inhparent = 'orders_stream.record_store'::regclass LIMIT 1});
($out, $err) = as('stranger', "SELECT count(*) FROM $part");
like($err, qr/permission denied/, "stranger cannot read a partition ($part) directly");
($out, $err) = as('reader', "SELECT count(*) FROM $part");
like($err, qr/permission denied/, "nor can reader read a partition directly");
# once granted, the stranger can read
$node->safe_psql('postgres', 'GRANT SELECT ON orders TO stranger');
is(as('stranger', 'SELECT count(*) FROM orders_stream.records'), '2500',
	'after GRANT SELECT ON orders, stranger sees the records');
$node->safe_psql('postgres', 'REVOKE SELECT ON orders FROM stranger');
is(as('stranger', 'SELECT count(*) FROM orders_stream.records'), '0',
	'after REVOKE, nothing again');

# ---- errors ----
my $forge = sub {
	my ($stream, $shard_id, $age_ms) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT '$stream' || '|' || translate(encode(convert_to(jsonb_build_object(
			's', '$shard_id', 'p', '', 'i', false,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint - $age_ms)::text,
			'UTF8'), 'base64'), E'\\n', '')});
};
($out, $err) = as('reader', "SELECT orders_stream.get_records('" . $forge->($arn, $shard, 16 * 60 * 1000) . "', 10)");
like($err, qr/ExpiredIteratorException/, 'a 16-minute-old iterator: ExpiredIteratorException');
($out, $err) = as('reader', "SELECT jsonb_array_length(orders_stream.get_records('"
	  . $forge->($arn, $shard, 14 * 60 * 1000) . "', 10)->'Records')");
is($out, '10', 'a 14-minute-old iterator still works');

my $bogus_arn = 'arn:aws:dynamodb:local:000000000000:table/nope/stream/2020-01-01T00:00:00.000';
($out, $err) = as('reader', qq{SELECT orders_stream.get_shard_iterator('$bogus_arn', '$shard', 'TRIM_HORIZON')});
like($err, qr/ResourceNotFoundException/, 'unknown ARN: ResourceNotFoundException (get_shard_iterator)');
($out, $err) = as('reader', qq{SELECT orders_stream.describe_stream('$bogus_arn')});
like($err, qr/ResourceNotFoundException/, 'unknown ARN: ResourceNotFoundException (describe_stream)');
($out, $err) = as('reader', "SELECT orders_stream.get_records('" . $forge->($bogus_arn, $shard, 0) . "', 10)");
like($err, qr/ResourceNotFoundException/, 'unknown ARN: ResourceNotFoundException (get_records)');
($out, $err) = as('reader', qq{SELECT orders_stream.get_shard_iterator('$arn', 'shardId-00000000000000000000-deadbeef', 'TRIM_HORIZON')});
like($err, qr/ResourceNotFoundException/, 'unknown shard: ResourceNotFoundException (get_shard_iterator)');
($out, $err) = as('reader', "SELECT orders_stream.get_records('"
	  . $forge->($arn, 'shardId-00000000000000000000-deadbeef', 0) . "', 10)");
like($err, qr/ResourceNotFoundException/, 'unknown shard: ResourceNotFoundException (get_records)');

my $it = iterator('reader', 'TRIM_HORIZON');
for my $limit (0, 1001, -1)
{
	($out, $err) = as('reader', "SELECT orders_stream.get_records('$it', $limit)");
	like($err, qr/ValidationException/, "limit $limit: ValidationException");
}
($out, $err) = as('reader', "SELECT jsonb_array_length(orders_stream.get_records('$it', 1)->'Records')");
is($out, '1', 'limit 1 is valid');
($out, $err) = as('reader', "SELECT orders_stream.get_records('not an iterator', 10)");
like($err, qr/ValidationException/, 'garbage iterator: ValidationException');
($out, $err) = as('reader', qq{SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'SOMEWHERE')});
like($err, qr/ValidationException/, 'unknown iterator type: ValidationException');
($out, $err) = as('reader', qq{SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'AT_SEQUENCE_NUMBER')});
like($err, qr/ValidationException/, 'AT_SEQUENCE_NUMBER without a SequenceNumber: ValidationException');

# ---- AT vs AFTER ----
my $k = 1234;
my ($at) = page('reader', iterator('reader', 'AT_SEQUENCE_NUMBER', $expected[$k]), 3);
is_deeply($at, [ @expected[ $k .. $k + 2 ] ], 'AT_SEQUENCE_NUMBER starts with that record');
my ($after) = page('reader', iterator('reader', 'AFTER_SEQUENCE_NUMBER', $expected[$k]), 3);
is_deeply($after, [ @expected[ $k + 1 .. $k + 3 ] ], 'AFTER_SEQUENCE_NUMBER starts with the next one');
($all) = read_all('reader', iterator('reader', 'AFTER_SEQUENCE_NUMBER', $expected[-1]));
is(scalar(@$all), 0, 'AFTER_SEQUENCE_NUMBER of the last record: nothing yet');

# ---- LATEST ----
my $latest = iterator('reader', 'LATEST');
my ($nothing) = page('reader', $latest);
is(scalar(@$nothing), 0, 'LATEST: nothing before new changes');
$node->safe_psql('postgres', q{
	INSERT INTO orders VALUES (5001, 1, 'after LATEST');
	UPDATE orders SET version = 3 WHERE id = 1;
});
capture();
my ($new) = page('reader', $latest);
is(scalar(@$new), 2, 'LATEST returns only the records that came after it');
cmp_ok($new->[0], 'gt', $expected[-1], '... all newer than the last record before it');

# ---- disable, enable: a new stream; the old one stays readable, then closes ----
my $old_total = $node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
my $disabled = $node->safe_psql('postgres', q{SELECT orders_stream.disable_stream('orders')});
is($disabled, $arn, 'disable_stream returns the ARN');
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (6000, 1, 'while disabled')});
my $arn2 = $node->safe_psql('postgres', q{SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES')});
isnt($arn2, $arn, 'enable after disable gives a new ARN');
is($node->safe_psql('postgres', qq{
	SELECT orders_stream.describe_stream('$arn')->'StreamDescription'->>'StreamStatus'}),
	'DISABLED', 'the old stream is DISABLED');
is($node->safe_psql('postgres', qq{
	SELECT orders_stream.describe_stream('$arn2')->'StreamDescription'->>'StreamStatus'}),
	'ENABLED', 'the new stream is ENABLED');
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (6001, 1, 'new stream')});
capture();

($all, $sizes, $end) = read_all('reader', iterator('reader', 'TRIM_HORIZON', undef, $arn), 1000, 1);
is(scalar(@$all), $old_total, 'the old stream is still readable to its end');
is($end, undef, 'and its NextShardIterator is null once read to the end');
($all) = read_all('reader', iterator('reader', 'TRIM_HORIZON', undef, $arn2));
is(scalar(@$all), 1, 'the new stream has only what changed after it was enabled');
is(as('reader', q{SELECT count(*) FROM orders_stream.records
	 WHERE record->'dynamodb'->'Keys'->'id'->>'N' = '6000'}), '0',
	'a change made while no stream was enabled is in no stream');
($out, $err) = as('stranger', qq{SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON')});
like($err, qr/AccessDeniedException/, 'stranger: no access to the disabled stream either');

# ---- a closed shard must not end before capture has caught up ----
# A change committed before disable_stream belongs to the old stream, but is
# stored only once the capture worker gets to it.  Hold the worker back
# (its UPDATE of capture_progress fails), change, disable, read the old
# stream to its end, then let the worker catch up.
$node->safe_psql('postgres', q{
	ALTER TABLE orders_stream.capture_progress
		ADD CONSTRAINT hold_back CHECK (updated_at IS NULL) NOT VALID});
$node->safe_psql('postgres', q{INSERT INTO orders VALUES (7000, 1, 'just before disable')});
$node->safe_psql('postgres', q{SELECT orders_stream.disable_stream('orders')});
my ($seen, $seen_sizes, $open_it) = read_all('reader', iterator('reader', 'TRIM_HORIZON', undef, $arn2));
is(scalar(@$seen), 1, 'capture held back: the disabled stream has only its captured record');
ok(defined $open_it, 'its shard stays open while capture is behind the disable');
my ($none, $still_open) = page('reader', $open_it);
ok(@$none == 0 && defined $still_open, 'and stays open on the next read');
$node->safe_psql('postgres', q{ALTER TABLE orders_stream.capture_progress DROP CONSTRAINT hold_back});
capture();
my ($rest, $rest_sizes, $closed) = read_all('reader', $still_open, 1000, 1);
is(scalar(@$rest), 1, 'the change made just before disable_stream is read from the old stream');
is($node->safe_psql('postgres', qq{SELECT record->'dynamodb'->'Keys'->'id'->>'N' FROM orders_stream.records
	 WHERE sequence_number = '$rest->[0]'}), '7000', '... it is the one');
ok(!defined $closed, 'then the shard closes');

$node->stop;
done_testing();
