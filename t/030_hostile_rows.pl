# 030_hostile_rows.pl: no single row can stop capture, crash a process or
# hold WAL.
#
#  - json and jsonb nested 60,000 deep: the container at depth 33 is S with
#    its JSON text (DynamoDB nests 32 levels); the json parser never sees the
#    deep text (it recurses: "stack depth limit exceeded", forever);
#  - records over orders_stream.max_record_size (a document column's members
#    counted by their rendering): stored with their Keys only,
#    a WARNING and a capture_exceptions row; a 200,000,000-character chr(1)
#    text (6 bytes per character once escaped, past the 1 GB allocation
#    limit) with the default limit;
#  - a set column changed to int (a segfault of the worker on every restart);
#  - DDL that would break a stream is refused, with its SQLSTATE;
#  - and after all of it, the same capture worker still captures.
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = OrdersStream::new_node('hostile');
my $capture_pid = OrdersStream::worker_pid($node, 'orders_stream capture');
like($capture_pid, qr/^\d+$/, 'capture worker running');

$node->safe_psql('postgres', q{
CREATE TABLE h (id int PRIMARY KEY, j json, jb jsonb, t text, tags text[]);
SELECT orders_stream.enable_stream('h', 'NEW_AND_OLD_IMAGES', '{tags}');
});

# The newest record of key id, as jsonb.
sub record_of
{
	my ($id) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT record::jsonb FROM orders_stream.records
		 WHERE (record::jsonb->'dynamodb'->'Keys'->'id'->>'N')::int = $id
		 ORDER BY sequence_number DESC LIMIT 1});
}

# ---- json nested 60,000 deep, jsonb 2,000 deep ----
# json_in and jsonb_in recurse, and would refuse such values: json_build_array
# nests a json without parsing it, and the jsonb is parsed with a deeper
# stack than the capture worker's.
my $depth = 60000;
my $t0 = time;
my ($rc, $out, $err) = $node->psql('postgres', qq{
DO \$\$
DECLARE
	j json := '1';
BEGIN
	FOR i IN 1..$depth LOOP
		j := json_build_array(j);
	END LOOP;
	INSERT INTO h (id, j) VALUES (1, j);
END
\$\$;
SET max_stack_depth = '7MB';
UPDATE h SET jb = (repeat('{"a":', 2000) || '"deep"' || repeat('}', 2000))::jsonb WHERE id = 1;
}, on_error_stop => 1);
is($rc, 0, "a json value nested $depth deep and a jsonb 2000 deep are stored") or diag $err;
note sprintf('deep values built in %.1f s', time - $t0);
OrdersStream::capture($node);
my $path32 = join(',', ('L', '0') x 31);
is($node->safe_psql('postgres', qq{
	SELECT (record::jsonb->'dynamodb'->'NewImage'->'j') #> '{$path32,L,0}' ? 'S'
	  FROM orders_stream.records
	 WHERE (record::jsonb->'dynamodb'->'Keys'->'id'->>'N')::int = 1
	   AND record::jsonb->>'eventName' = 'INSERT'}),
	't', 'json: 32 levels of L, then S');
is($node->safe_psql('postgres', qq{
	SELECT (record::jsonb->'dynamodb'->'NewImage'->'j') #>> '{$path32,L,0,S}'
			= repeat('[', $depth - 32) || '1' || repeat(']', $depth - 32)
	  FROM orders_stream.records
	 WHERE (record::jsonb->'dynamodb'->'Keys'->'id'->>'N')::int = 1
	   AND record::jsonb->>'eventName' = 'INSERT'}),
	't', 'json: the S holds the JSON text of the rest');
my $mpath = join(',', ('M', 'a') x 32);
is($node->safe_psql('postgres', qq{
	SELECT (record::jsonb->'dynamodb'->'NewImage'->'jb') #>> '{$mpath,S}'
			= repeat('{"a": ', 2000 - 32) || '"deep"' || repeat('}', 2000 - 32)
	  FROM orders_stream.records
	 WHERE (record::jsonb->'dynamodb'->'Keys'->'id'->>'N')::int = 1
	   AND record::jsonb->>'eventName' = 'MODIFY'}),
	't', 'jsonb: 32 levels of M, then S with the JSON text');
is($node->safe_psql('postgres', qq{
	SELECT (record::jsonb->'dynamodb'->'OldImage'->'j') #> '{$path32,L,0}' ? 'S'
	  FROM orders_stream.records
	 WHERE (record::jsonb->'dynamodb'->'Keys'->'id'->>'N')::int = 1
	   AND record::jsonb->>'eventName' = 'MODIFY'}),
	't', 'json in OldImage: the same');

# ---- a record over orders_stream.max_record_size ----
$node->safe_psql('postgres', q{
ALTER SYSTEM SET orders_stream.max_record_size = '64kB';
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres',
	q{SELECT current_setting('orders_stream.max_record_size') = '64kB'})
  or die 'setting not reloaded';
# the worker reloads when woken: a first small change does that
$node->safe_psql('postgres', q{INSERT INTO h (id, t) VALUES (2, 'small')});
OrdersStream::capture($node);
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
INSERT INTO h (id, t) VALUES (3, repeat('x', 100000));
UPDATE h SET t = t || 'y' WHERE id = 3;
});
OrdersStream::capture($node);
my $rec = record_of(3);
unlike($rec, qr/NewImage|OldImage/, 'an oversized record has no images');
like($rec, qr/"Keys": \{"id": \{"N": "3"\}\}/, 'but has its Keys');
like($rec, qr/"SizeBytes": 4\b/, 'and SizeBytes counts what it holds');
is($node->safe_psql('postgres', q{
	SELECT string_agg(event_name || ':' || (record_size > 65536)::text || ':' || reason, ' | ' ORDER BY exception_id)
	  FROM orders_stream.capture_exceptions}),
	'INSERT:true:record larger than orders_stream.max_record_size: stored without NewImage and OldImage | '
	  . 'MODIFY:true:record larger than orders_stream.max_record_size: stored without NewImage and OldImage',
	'one capture_exceptions row per oversized record');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM orders_stream.capture_exceptions e
	  JOIN orders_stream.records r USING (stream_id, sequence_number)}),
	'2', 'each exception row names its stored record');
ok($node->log_contains('WARNING:  INSERT record \d+ of stream \S+ exceeds orders_stream.max_record_size', $log_offset),
	'with a WARNING');

# a document column's members count by their rendering: 3,000 {"S": "x"}
# take more than 64 kB as jsonb, but less rendered; 6,000 do not fit
$node->safe_psql('postgres', q{
CREATE TABLE hd (id int PRIMARY KEY, item jsonb);
SELECT orders_stream.enable_stream('hd', 'NEW_IMAGE', document_column => 'item');
INSERT INTO hd SELECT n, (SELECT jsonb_object_agg(format('k%s', lpad(i::text, 4, '0')), '{"S": "x"}'::jsonb)
						FROM generate_series(1, n) i)
  FROM (VALUES (3000), (6000)) v(n);
});
OrdersStream::capture($node);
is($node->safe_psql('postgres', q{SELECT pg_column_size(item::text::jsonb) > 65536 FROM hd WHERE id = 3000}),
	't', 'the smaller document is over the limit as jsonb');
is($node->safe_psql('postgres', q{
	SELECT string_agg(coalesce((SELECT count(*) FROM jsonb_object_keys(r.record::jsonb->'dynamodb'->'NewImage')), 0)::text,
					  ',' ORDER BY r.sequence_number)
	  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
	 WHERE s.relid = 'hd'::regclass}),
	'3001,0', 'a document column under the limit as rendered is whole, one over it has no image');

# ---- 200,000,000 x chr(1): past 1 GB once escaped, with the default limit ----
$node->safe_psql('postgres', q{
ALTER SYSTEM RESET orders_stream.max_record_size;
SELECT pg_reload_conf();
});
$node->poll_query_until('postgres',
	q{SELECT current_setting('orders_stream.max_record_size') = '6MB'})
  or die 'setting not reloaded';
$node->safe_psql('postgres', q{INSERT INTO h (id, t) VALUES (4, 'small')});
OrdersStream::capture($node);
$t0 = time;
$node->safe_psql('postgres', q{INSERT INTO h (id, t) VALUES (5, repeat(chr(1), 200000000))});
OrdersStream::capture($node, '300s');
note sprintf('200M-character row inserted and captured in %.1f s', time - $t0);
$rec = record_of(5);
like($rec, qr/"Keys": \{"id": \{"N": "5"\}\}/, 'a 200M-character chr(1) row is captured with its Keys');
unlike($rec, qr/NewImage/, 'without its image');
is($node->safe_psql('postgres', q{SELECT count(*) FROM orders_stream.capture_exceptions}),
	'4', 'and an exception row');

# ---- a set column that stops being an array ----
$node->safe_psql('postgres', q{
INSERT INTO h (id, tags) VALUES (6, '{a,b}');
ALTER TABLE h ALTER COLUMN tags TYPE int USING 42;
INSERT INTO h (id, tags) VALUES (7, 7);
});
OrdersStream::capture($node);
like(record_of(6), qr/"tags": \{"SS": \["a", "b"\]\}/, 'a set column is SS');
like(record_of(7), qr/"tags": \{"N": "7"\}/, 'and, once its type is int, N');

# ---- DDL that would break the stream is refused ----
sub refused
{
	my ($sql, $sqlstate, $what) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$sql");
	like($err, qr/ERROR:  $sqlstate: .*\n.*\n.*HINT:  .*disable_stream/, "$what: refused with $sqlstate and a hint");
}
refused('ALTER TABLE h SET UNLOGGED', '55000', 'SET UNLOGGED');
refused('ALTER TABLE h DROP CONSTRAINT h_pkey', '55000', 'DROP primary key');
refused('ALTER TABLE h DROP COLUMN id', '55000', 'DROP key column');
refused('ALTER TABLE h RENAME COLUMN id TO hid', '55000', 'rename key column');
refused('ALTER TABLE h DROP CONSTRAINT h_pkey, ADD PRIMARY KEY (id, tags)', '55000', 'another primary key');
refused('CREATE TABLE h_child () INHERITS (h)', '0A000', 'CREATE TABLE ... INHERITS');
$node->safe_psql('postgres',
	'CREATE TABLE h_other (id int NOT NULL, j json, jb jsonb, t text, tags int)');
refused('ALTER TABLE h_other INHERIT h', '0A000', 'ALTER TABLE ... INHERIT');
is($node->safe_psql('postgres', q{
	SELECT string_agg(a.attname, ',' ORDER BY k.ord)
	  FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord), pg_attribute a
	 WHERE i.indrelid = 'h'::regclass AND i.indisprimary
	   AND a.attrelid = i.indrelid AND a.attnum = k.attnum}),
	'id', 'the primary key is unchanged');
is($node->safe_psql('postgres', q{SELECT relpersistence FROM pg_class WHERE oid = 'h'::regclass}),
	'p', 'the table is still logged');

# ---- capture goes on, in the same worker ----
$node->safe_psql('postgres', q{INSERT INTO h (id, t) VALUES (8, 'after')});
OrdersStream::capture($node);
like(record_of(8), qr/"t": \{"S": "after"\}/, 'a later insert is captured');
is(OrdersStream::worker_pid($node, 'orders_stream capture'), $capture_pid,
	'by the same capture worker: it never restarted');
ok(!$node->log_contains('terminated by signal|stack depth limit exceeded|Cannot enlarge string buffer|server process .* was terminated'),
	'no crash, no stack overflow, no oversized buffer in the log');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_replication_slots
	 WHERE slot_name LIKE 'orders_stream%' AND confirmed_flush_lsn < pg_current_wal_lsn() - 16 * 1024 * 1024}),
	'0', 'the slot does not hold WAL');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE key_hash IS DISTINCT FROM hashtext((record->'dynamodb'->'Keys')::text))
	  FROM orders_stream.records}),
	'0', 'key_hash is hash_bytes() of the text of Keys, oversized records included');

$node->stop;
done_testing();
