# 016_internal_functions.pl: internal functions are not PUBLIC; what is
# rendered is escaped.
#
# Every function PUBLIC may execute is part of the documented SQL API (named
# in README.md); every other one lives in orders_stream_internal or has no
# PUBLIC EXECUTE.  record_json(), which the records view and the read API
# call as their caller, is callable by anyone: mallory feeds it hostile
# arguments, and its result is always valid JSON with nothing injected, or
# a ValidationException.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('internal_functions');

sql(q{CREATE ROLE mallory LOGIN});

# ---- PUBLIC executes only the documented API ----
# the SQL API as README documents it; truncate_guard() is the trigger
# function enable_stream puts on tables (CREATE TRIGGER, run as the table's
# owner, needs EXECUTE on it; called any other way it only raises an error);
# may_read() twice, for a role by OID and by name
my @api = qw(enable_stream disable_stream list_streams describe_stream get_shard_iterator
  get_records DescribeStream ListStreams GetShardIterator GetRecords dynamodb_streams
  dynamodb_streams_text get_records_text records_from records_page records_page_agg
  create_event_source_mapping update_event_source_mapping delete_event_source_mapping
  list_event_source_mappings get_event_source_mapping ListEventSourceMappings
  CreateEventSourceMapping wait_for_mapping redrive_failures wait_for_slot wait_for_capture
  capture_slot_name library_version
  update_time_to_live describe_time_to_live create_access_key revoke_access_key
  sequence_number sequence_key sequence_text record_json filter_matches delivery_workers
  import_stack lambda_function_name lambda_function_sql_name
  aws_error may_read may_read truncate_guard
  metrics_mappings metrics_streams metrics_note_request metrics_reset_time prometheus_metrics);
open my $fh, '<', 'README.md' or die "README.md: $!";
my $readme = do { local $/; <$fh> };
close $fh;
for my $f (grep { $_ ne 'truncate_guard' } @api)
{
	ok($readme =~ /\Q$f\E"?\(/, "README documents $f()");
}
my $public = sql(q{
SELECT string_agg(p.proname, ' ' ORDER BY p.proname COLLATE "C")
  FROM pg_proc p
 WHERE p.pronamespace IN ('orders_stream'::regnamespace, 'orders_stream_internal'::regnamespace)
   AND has_function_privilege('public', p.oid, 'EXECUTE')});
is($public, join(' ', sort @api), 'PUBLIC may execute the documented API, and nothing else');
is(sql(q{SELECT count(*) FROM pg_proc p
	WHERE p.pronamespace = 'orders_stream_internal'::regnamespace
	  AND has_function_privilege('mallory', p.oid, 'EXECUTE')}), '0',
	'mallory cannot execute any internal function');
is(sql(q{SELECT has_schema_privilege('mallory', 'orders_stream_internal', 'USAGE')}), 'f',
	'nor use their schema');
my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	q{SELECT orders_stream_internal.check_filter_criteria('{}')});
like($err, qr/permission denied for schema orders_stream_internal/,
	'the filter check of mappings is internal');

# ---- record_json: hostile arguments ----
my $arn = 'arn:aws:dynamodb:local:000000000000:table/t/stream/x';
my $body = '"ApproximateCreationDateTime":1,"Keys":{"id":{"N":"1"}}';
my @cases = (
	[ 'eventName breaking out of its string', $arn, 'NEW_IMAGE', q|INSERT","evil":"x|, $body ],
	[ 'eventName that is no event',           $arn, 'NEW_IMAGE', 'DROP', $body ],
	[ 'StreamViewType breaking out',          $arn, q|NEW_IMAGE"},"evil":{"a":"|, 'INSERT', $body ],
	[ 'StreamViewType with a backslash',      $arn, q|NEW_IMAGE\\|, 'INSERT', $body ],
	[ 'a body that closes the record',        $arn, 'NEW_IMAGE', 'INSERT', q|"Keys":{}}},"evil":{"a":1| ],
	[ 'a body that is no JSON',               $arn, 'NEW_IMAGE', 'INSERT', q|"Keys":[| ],
	[ 'an ARN with quotes and controls',      qq|arn:aws:dynamodb:r"\\\t:1:table/t/stream/"evil"|, 'NEW_IMAGE', 'INSERT', $body ]);
for my $c (@cases)
{
	my ($name, @args) = @$c;
	my ($qa, $qv, $qe, $qb) = map { my $x = $_; $x =~ s/'/''/g; "E'" . ($x =~ s/\\/\\\\/gr) . "'" } @args;
	($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{\\set VERBOSITY sqlstate
SELECT (j ? 'evil') OR (j->'dynamodb' ? 'evil') OR j->>'eventSourceARN' <> $qa
	   OR j->>'eventName' <> $qe OR j->'dynamodb'->>'StreamViewType' <> $qv
  FROM (SELECT orders_stream.record_json($qa, $qv, '\\x000000000100000000000001'::bytea, $qe, $qb, 10, false)::jsonb) x(j)});
	ok(($rc == 0 && $out eq 'f') || $err =~ /ERROR:\s+22023/,
		"record_json, $name: valid JSON holding what was passed, or ValidationException (22023)")
	  or diag("rc=$rc out=$out err=$err");
}

# ---- the records view still works for readers, through record_json ----
sql(q{CREATE TABLE t (id int PRIMARY KEY, v text);
	  GRANT SELECT ON t TO mallory;});
sql(q{SELECT orders_stream.enable_stream('t')});
sql(q|INSERT INTO t VALUES (1, E'"},\\\\ \x01 quote')|);
OrdersStream::capture($node);
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	q{SELECT record::jsonb->'dynamodb'->'NewImage'->'v'->>'S' FROM orders_stream.records});
is($out, qq|"},\\ \x01 quote|, 'a reader of the records view gets the records, escaped')
  or diag($err);
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	q{SELECT orders_stream.get_records((orders_stream.get_shard_iterator(s.stream_arn, s.shard_id, 'TRIM_HORIZON')))->'Records'->0->>'eventName'
	    FROM orders_stream.readable_streams s WHERE s.readable});
is($out, 'INSERT', 'and get_records too') or diag($err);

# ---- records_page: only records of the stream named, cut to valid JSON ----
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	q{SELECT (orders_stream.records_page(s.stream_arn, array_agg(r.record), 'it"')::jsonb
			  #>> '{Records,0,dynamodb,NewImage,v,S}')
	    FROM orders_stream.readable_streams s JOIN orders_stream.records r USING (stream_id)
	   WHERE s.readable GROUP BY s.stream_arn});
is($out, qq|"},\\ \x01 quote|, 'records_page renders the records of a stream, valid JSON')
  or diag($err);
for my $forged (q|'{"a":1,"eventSourceARN":"x"}'|, q|'{"a":"b"}'|, q|'[]'|)
{
	($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{\\set VERBOSITY sqlstate
SELECT orders_stream.records_page(s.stream_arn, ARRAY[${forged}::json])
  FROM orders_stream.readable_streams s WHERE s.readable});
	like($err, qr/ERROR:\s+22023/, "records_page refuses $forged, no record of the stream")
	  or diag("rc=$rc out=$out err=$err");
}

# ---- records_page_agg: the same rule, row by row, and one stream per page ----
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	q{SELECT ('{"Records":[' || orders_stream.records_page_agg(s.stream_arn, r.record) || ']}')::jsonb
			  #>> '{Records,0,dynamodb,NewImage,v,S}'
	    FROM orders_stream.readable_streams s JOIN orders_stream.records r USING (stream_id)
	   WHERE s.readable GROUP BY s.stream_arn});
is($out, qq|"},\\ \x01 quote|, 'records_page_agg writes the records of a stream, valid JSON in a page')
  or diag($err);
for my $forged (q|'{"a":1,"eventSourceARN":"x"}'|, q|'{"a":"b"}'|, q|'[]'|, q|NULL|)
{
	($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{\\set VERBOSITY sqlstate
SELECT orders_stream.records_page_agg(s.stream_arn, x.r)
  FROM orders_stream.readable_streams s, ((SELECT r.record FROM orders_stream.records r LIMIT 1)
										  UNION ALL SELECT ${forged}::json) x(r)
 WHERE s.readable});
	like($err, qr/ERROR:\s+22023/, "records_page_agg refuses $forged after a record, no record of the stream")
	  or diag("rc=$rc out=$out err=$err");
}
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{\\set VERBOSITY sqlstate
SELECT orders_stream.records_page_agg(x.arn, r.record)
  FROM (SELECT r.record FROM orders_stream.records r LIMIT 1) r,
	   (VALUES (1, (SELECT stream_arn FROM orders_stream.readable_streams WHERE readable LIMIT 1)),
			   (2, 'arn:aws:dynamodb:local:000000000000:table/t/stream/other')) x(n, arn)});
like($err, qr/ERROR:\s+22023/, 'records_page_agg refuses records of two streams in one page')
  or diag("rc=$rc out=$out err=$err");

# ---- dynamodb_streams() reaches the text dispatcher as a call from SQL would ----
sql(q{REVOKE EXECUTE ON FUNCTION orders_stream.dynamodb_streams_text(text, jsonb) FROM PUBLIC});
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory',
	q{SELECT orders_stream.dynamodb_streams('ListStreams')});
like($err, qr/permission denied for function dynamodb_streams_text/,
	'dynamodb_streams() needs EXECUTE on dynamodb_streams_text()');
sql(q{GRANT EXECUTE ON FUNCTION orders_stream.dynamodb_streams_text(text, jsonb) TO PUBLIC});

# ---- the install script replaces nothing (the class of CVE-2022-2625) ----
# the install script of the default version (the control file's); update
# scripts may CREATE OR REPLACE the extension's own members
my $extdir = $node->config_data('--sharedir') . '/extension';
my ($version) = slurp_file("$extdir/orders_stream.control") =~ /^default_version = '([^']+)'/m;
my $script = "$extdir/orders_stream--$version.sql";
open my $sfh, '<', $script or die "$script: $!";
my $install = do { local $/; <$sfh> };
close $sfh;
unlike($install, qr/\bCREATE\s+OR\s+REPLACE\b/i, 'the install script has no CREATE OR REPLACE');
unlike($install, qr/\bCREATE\s+(?:\w+\s+)*?(?:TABLE|SCHEMA|INDEX|SEQUENCE|VIEW|ROLE|TYPE)\s+IF\s+NOT\s+EXISTS\b/i,
	'nor CREATE ... IF NOT EXISTS');
# (a schema orders_stream made beforehand by another role: t/024_redteam.pl (d))

done_testing();
