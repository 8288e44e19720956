# 025_delivery_batch_item_failures.pl: ReportBatchItemFailures: the records
# before the lowest reported one are checkpointed and the rest retried;
# exhausted retries send the rest to failures; an identifier outside the batch
# fails the whole batch and rolls its effects back; an empty or missing list
# is success; a function returning neither jsonb nor void fails cleanly (it
# used to crash the server).
#
# (Split from 020_delivery.pl: the test names keep its section letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(time);

my $node = OrdersStream::new_node('delivery_item_failures', extra_conf => $OrdersStream::DELIVERY_CONF);

sql(<<'SQL');
CREATE TABLE c_orders (id text PRIMARY KEY, quantity int NOT NULL);
SELECT orders_stream.enable_stream('c_orders', 'NEW_IMAGE');
CREATE TABLE c_applied (id text, call bigint);
CREATE TABLE c_attempts (id text PRIMARY KEY, n int NOT NULL);
CREATE TABLE c_batches (call bigint, first_id text, n int);
CREATE SEQUENCE c_calls;
-- quantity 13 fails at the first attempt, 666 always; 99 reports an
-- identifier that is not in the batch; 98 and 97 answer with an empty
-- list and without the key
CREATE FUNCTION c_agg(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	call bigint := nextval('c_calls');
	r jsonb;
	rid text;
	q int;
	n int;
	resp jsonb := NULL;
BEGIN
	INSERT INTO c_batches VALUES (call, event#>>'{Records,0,dynamodb,Keys,id,S}', jsonb_array_length(event->'Records'));
	FOR r IN SELECT x FROM jsonb_array_elements(event->'Records') x LOOP
		rid := r#>>'{dynamodb,Keys,id,S}';
		q := (r#>>'{dynamodb,NewImage,quantity,N}')::int;
		INSERT INTO c_attempts VALUES (rid, 1)
		ON CONFLICT (id) DO UPDATE SET n = c_attempts.n + 1 RETURNING c_attempts.n INTO n;
		IF (q = 13 AND n = 1) OR q = 666 THEN
			RETURN jsonb_build_object('batchItemFailures',
				jsonb_build_array(jsonb_build_object('itemIdentifier', r#>>'{dynamodb,SequenceNumber}')));
		END IF;
		INSERT INTO c_applied VALUES (rid, call);
		IF q = 99 THEN
			RETURN '{"batchItemFailures": [{"itemIdentifier": "bogus"}]}';
		ELSIF q = 98 THEN
			resp := '{"batchItemFailures": []}';
		ELSIF q = 97 THEN
			resp := '{"somethingElse": 1}';
		END IF;
	END LOOP;
	RETURN resp;
END
$$;
-- with ReportBatchItemFailures: an int is not a response; text is parsed
CREATE FUNCTION c_int(event jsonb) RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;
CREATE FUNCTION c_text(event jsonb) RETURNS text LANGUAGE sql AS $$ SELECT '{"batchItemFailures": []}' $$;
SQL
my $mc = sql(q{
	SELECT orders_stream.create_event_source_mapping('c_orders', 'c_agg(jsonb)', batch_size => 10,
		starting_position => 'LATEST', maximum_retry_attempts => 1, enabled => false,
		function_response_types => '{ReportBatchItemFailures}')});
sql(q{INSERT INTO c_orders VALUES ('c01', 1), ('c02', 1), ('c03', 1), ('c04', 13), ('c05', 1), ('c06', 1)});
capture();
sql(qq{SELECT orders_stream.update_event_source_mapping('$mc', enabled => true)});
wait_mapping($mc);
is(sql(q{SELECT string_agg(first_id || ':' || n, ' ' ORDER BY call) FROM c_batches}), 'c01:6 c04:3',
	'(c) after c04 is reported, the retry starts at c04 (and ends where the batch did)');
is(sql(q{SELECT string_agg(id || ':' || call, ' ' ORDER BY id) FROM c_applied}),
	'c01:1 c02:1 c03:1 c04:2 c05:2 c06:2', '(c) records before the reported one are checkpointed, each applied once');
my $s = mapping_status($mc);
is("$s->{invocations} $s->{records_processed} $s->{errors} $s->{retries} $s->{failures}",
	'2 6 1 1 0', '(c) counters after a partial failure');

sql(q{INSERT INTO c_orders VALUES ('c07', 1), ('c08', 666), ('c09', 1)});
wait_mapping($mc);
is(sql(qq{
	SELECT condition || ' ' || (SELECT string_agg(r->'dynamodb'->'Keys'->'id'->>'S', ',') FROM jsonb_array_elements(records) r)
		|| ' ' || (payload->'requestContext'->>'approximateInvokeCount') || ' ' || coalesce(sqlstate, 'no sqlstate')
		|| ' ' || (payload->'responseContext'->'functionError')::text
	  FROM orders_stream.failures WHERE mapping_uuid = '$mc'}),
	'RetryAttemptsExhausted c08,c09 2 no sqlstate null',
	'(c) a record reported every time: it and the rest of its batch go to failures after the retries');
is(sql(q{SELECT string_agg(id, ',' ORDER BY id) FROM c_applied WHERE id IN ('c07', 'c08', 'c09')}), 'c07',
	'(c) the record before it was applied');

sql(q{INSERT INTO c_orders VALUES ('c10', 1), ('c11', 99), ('c12', 1)});
wait_mapping($mc);
is(sql(qq{
	SELECT (SELECT string_agg(r->'dynamodb'->'Keys'->'id'->>'S', ',') FROM jsonb_array_elements(records) r)
		|| ' ' || sqlstate || ' ' || (message LIKE '%"bogus"%not a SequenceNumber of the batch%')
		|| ' ' || (payload->'responseContext'->'functionError')::text
	  FROM orders_stream.failures WHERE mapping_uuid = '$mc' AND sqlstate IS NOT NULL}),
	'c10,c11,c12 22023 true null',
	'(c) an identifier outside the batch fails the whole batch; the function returned: functionError null');
is(sql(q{SELECT count(*) FROM c_applied WHERE id IN ('c10', 'c11', 'c12')}), '0',
	'(c) and rolls back its effects');

sql(q{INSERT INTO c_orders VALUES ('c13', 98)});
sql(q{INSERT INTO c_orders VALUES ('c14', 97)});
wait_mapping($mc);
is(sql(q{SELECT string_agg(id, ',' ORDER BY id) FROM c_applied WHERE id IN ('c13', 'c14')}), 'c13,c14',
	'(c) an empty batchItemFailures list, or none, is success');
is(sql(qq{SELECT count(*) FROM orders_stream.failures WHERE mapping_uuid = '$mc'}), '2', '(c) no more failures');

# a crash would restart every process: the checkpointer's pid tells
my $checkpointer_pid = $node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity WHERE backend_type = \'checkpointer\'');
my $mci = sql(q{
	SELECT orders_stream.create_event_source_mapping('c_orders', 'c_int(jsonb)', starting_position => 'LATEST',
		maximum_retry_attempts => 0, function_response_types => '{ReportBatchItemFailures}')});
my $mct = sql(q{
	SELECT orders_stream.create_event_source_mapping('c_orders', 'c_text(jsonb)', starting_position => 'LATEST',
		maximum_retry_attempts => 0, function_response_types => '{ReportBatchItemFailures}')});
sql(q{INSERT INTO c_orders VALUES ('c15', 1)});
wait_mapping($mci);
wait_mapping($mct);
is(sql(qq{SELECT sqlstate || ' ' || message FROM orders_stream.failures WHERE mapping_uuid = '$mci'}),
	'42804 function returns integer, not a ReportBatchItemFailures response',
	'(c) a function returning int with ReportBatchItemFailures fails its batch');
is($node->safe_psql('postgres', 'SELECT pid FROM pg_stat_activity WHERE backend_type = \'checkpointer\''),
	$checkpointer_pid, '(c) ... and the server did not crash');
$s = mapping_status($mct);
is("$s->{records_processed} $s->{failures}", '1 0', '(c) a text response is parsed: success');

$node->stop;
done_testing();
