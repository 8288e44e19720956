# 020_delivery_bisect.pl: a batch whose function fails is retried, bisected or
# not, as AWS Lambda does.
#
#  (a) bisect isolates a poison record: with batch_size 5 and 3 retries the
#      one-record batch is invoked exactly 4 times, then it alone goes to
#      orders_stream.failures; every other record is applied exactly once,
#      in batches of at most 5 in SequenceNumber order, also while records
#      keep arriving; redrive after the function is fixed applies it, once;
#  (b) without bisect the whole batch is retried, then failed, and a retry
#      is the same batch (records that arrive meanwhile wait for the next).
#
# (Split from 020_delivery.pl: the test names keep its section letters.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('delivery_bisect', extra_conf => $OrdersStream::DELIVERY_CONF);

# ====================================================================
# (a) bisect isolates the poison record
# ====================================================================
sql(<<'SQL');
CREATE TABLE a_orders (id text PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('a_orders', 'NEW_IMAGE');
CREATE TABLE a_totals (item text PRIMARY KEY, total bigint NOT NULL);
-- every applied record, with the invocation (call) that applied it
CREATE TABLE a_seen (call bigint, pos int, id text, seq text);
-- nextval is not rolled back with a failing invocation: it counts them
CREATE SEQUENCE a_calls;
CREATE SEQUENCE a_alone_p1;		-- invocations with exactly [p1]
CREATE SEQUENCE a_alone_p2;
CREATE FUNCTION a_agg(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	call bigint := nextval('a_calls');
	recs jsonb := event->'Records';
	bad text;
BEGIN
	SELECT r#>>'{dynamodb,Keys,id,S}' INTO bad FROM jsonb_array_elements(recs) r
	 WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::int < 0 LIMIT 1;
	IF bad IS NOT NULL THEN
		IF jsonb_array_length(recs) = 1 THEN
			PERFORM nextval(format('a_alone_%s', bad));
		END IF;
		RAISE EXCEPTION 'order % has a negative quantity', bad;
	END IF;
	INSERT INTO a_seen
	SELECT call, o, r#>>'{dynamodb,Keys,id,S}', r#>>'{dynamodb,SequenceNumber}'
	  FROM jsonb_array_elements(recs) WITH ORDINALITY AS x(r, o);
	INSERT INTO a_totals AS t
	SELECT r#>>'{dynamodb,NewImage,item,S}', sum((r#>>'{dynamodb,NewImage,quantity,N}')::int)
	  FROM jsonb_array_elements(recs) r GROUP BY 1
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total;
	RETURN NULL;
END
$$;
SQL
my $ma = sql(q{
	SELECT orders_stream.create_event_source_mapping('a_orders', 'a_agg(jsonb)', batch_size => 5,
		starting_position => 'LATEST', bisect_batch_on_function_error => true,
		maximum_retry_attempts => 3, enabled => false)});
# r1-r6, the poison r7, r8-r13; delivered once all are captured, the
# batches are fixed: [r1-r5] ok, [r6-r10] fails, [r6-r8] fails, [r6-r7]
# fails, [r6] ok, [r7] fails 4 times, [r8] ok, [r9-r10] ok, [r11-r13] ok
sql(q{INSERT INTO a_orders SELECT 'a' || lpad(g::text, 2, '0'), 'item' || g % 3, g FROM generate_series(1, 6) g});
sql(q{INSERT INTO a_orders VALUES ('p1', 'item1', -1)});
sql(q{INSERT INTO a_orders SELECT 'a' || lpad(g::text, 2, '0'), 'item' || g % 3, g FROM generate_series(7, 12) g});
capture();
sql(qq{SELECT orders_stream.update_event_source_mapping('$ma', enabled => true)});
wait_mapping($ma);

is(seq_value('a_alone_p1'), '4',
	'(a) the one-record batch of the poison record is invoked exactly maximum_retry_attempts + 1 = 4 times');
is(sql(qq{
	SELECT count(*) || ' ' || string_agg(condition || ' ' || jsonb_array_length(records) || ' '
		|| (records->0->'dynamodb'->'Keys'->'id'->>'S') || ' '
		|| (payload->'requestContext'->>'approximateInvokeCount') || ' '
		|| (payload->'DDBStreamBatchInfo'->>'batchSize'), ',')
	  FROM orders_stream.failures WHERE mapping_uuid = '$ma'}),
	'1 RetryAttemptsExhausted 1 p1 7 1',
	'(a) exactly one failure, holding only the poison record, approximateInvokeCount 7: '
	  . 'the 3 batches it was halved from and its 4 invocations alone');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT id) FROM a_seen}), '12 12',
	'(a) every other record is applied exactly once');
my $s = mapping_status($ma);
is("$s->{invocations} $s->{records_processed} $s->{errors} $s->{retries} $s->{failures}",
	'12 12 7 3 1', '(a) counters: 12 invocations, 12 records, 7 errors, 3 retries, 1 failure');
is(seq_value('a_calls'), $s->{invocations}, '(a) invocations counted by the function = the counter');
is(sql(q{SELECT string_agg(n::text, ',' ORDER BY call) FROM (SELECT call, count(*) n FROM a_seen GROUP BY call) x}),
	'5,1,1,2,3', '(a) committed batches [r1-r5], [r6], [r8], [r9-r10], [r11-r13]');

# round 2: delivery running while the records arrive; whatever the batches,
# the poison record ends up alone and is invoked 4 times
for my $i (13 .. 40)
{
	sql(qq{INSERT INTO a_orders VALUES ('a$i', 'item' || $i % 3, $i)});
	sql(q{INSERT INTO a_orders VALUES ('p2', 'item2', -2)}) if $i == 20;
	sql(qq{INSERT INTO a_orders SELECT 'b$i-' || g, 'item' || g % 3, g FROM generate_series(1, 7) g})
	  if $i % 9 == 0;
}
wait_mapping($ma);
is(seq_value('a_alone_p2'), '4', '(a) with records arriving: the poison record alone, invoked 4 times');
is(sql(qq{
	SELECT count(*) FILTER (WHERE records->0->'dynamodb'->'Keys'->'id'->>'S' = 'p2' AND jsonb_array_length(records) = 1)
		|| ' ' || count(*)
	  FROM orders_stream.failures WHERE mapping_uuid = '$ma'}),
	'1 2', '(a) with records arriving: one more failure, holding only p2');
is(sql(q{SELECT count(*) - count(DISTINCT id) FROM a_seen}), '0', '(a) no record applied twice');
is(sql(q{SELECT count(*) FROM a_orders o WHERE quantity >= 0 AND NOT EXISTS (SELECT FROM a_seen s WHERE s.id = o.id)}),
	'0', '(a) every good record applied');
is(sql(q{SELECT max(n) FROM (SELECT call, count(*) n FROM a_seen GROUP BY call) x}), '5',
	'(a) batches of at most batch_size records');
is(sql(q{SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY call, pos) AS prev FROM a_seen) x WHERE seq <= prev}),
	'0', '(a) records applied in SequenceNumber order');
is(sql(q{
	SELECT count(*) FROM (SELECT item, sum(quantity) AS total FROM a_orders WHERE quantity >= 0 GROUP BY item) o
	  FULL JOIN a_totals t USING (item) WHERE o.total IS DISTINCT FROM t.total}),
	'0', '(a) totals exact, the poison records aside');

# redrive once the function accepts the records
sql(<<'SQL');
CREATE OR REPLACE FUNCTION a_agg(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	call bigint := nextval('a_calls');
BEGIN
	INSERT INTO a_seen
	SELECT call, o, r#>>'{dynamodb,Keys,id,S}', r#>>'{dynamodb,SequenceNumber}'
	  FROM jsonb_array_elements(event->'Records') WITH ORDINALITY AS x(r, o);
	INSERT INTO a_totals AS t
	SELECT r#>>'{dynamodb,NewImage,item,S}', sum((r#>>'{dynamodb,NewImage,quantity,N}')::int)
	  FROM jsonb_array_elements(event->'Records') r GROUP BY 1
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total;
	RETURN NULL;
END
$$;
SQL
is(sql(qq{SELECT string_agg(result, ',') FROM orders_stream.redrive_failures('$ma')}), 'OK,OK',
	'(a) redrive after the fix: both failures OK');
is(sql(qq{SELECT string_agg(redrive_result, ',') FROM orders_stream.failures WHERE mapping_uuid = '$ma' AND redriven_at IS NOT NULL}),
	'OK,OK', '(a) the failure rows are marked OK');
is(sql(qq{SELECT count(*) FROM orders_stream.redrive_failures('$ma')}), '0', '(a) a second redrive does nothing');
is(sql(q{
	SELECT count(*) FROM (SELECT item, sum(quantity) AS total FROM a_orders GROUP BY item) o
	  FULL JOIN a_totals t USING (item) WHERE o.total IS DISTINCT FROM t.total}),
	'0', '(a) after redrive the totals include the poison records, once');


# ====================================================================
# (b) without bisect
# ====================================================================
sql(<<'SQL');
CREATE TABLE b_orders (id text PRIMARY KEY, quantity int NOT NULL);
SELECT orders_stream.enable_stream('b_orders', 'NEW_IMAGE');
CREATE TABLE b_applied (id text);
CREATE SEQUENCE b_poisoned_calls;
CREATE FUNCTION b_agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM jsonb_array_elements(event->'Records') r
			   WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::int < 0) THEN
		PERFORM nextval('b_poisoned_calls');
		RAISE EXCEPTION 'poison in the batch' USING ERRCODE = 'check_violation';
	END IF;
	INSERT INTO b_applied SELECT r#>>'{dynamodb,Keys,id,S}' FROM jsonb_array_elements(event->'Records') r;
END
$$;
SQL
my $mb = sql(q{
	SELECT orders_stream.create_event_source_mapping('b_orders', 'b_agg(jsonb)', batch_size => 5,
		starting_position => 'LATEST', maximum_retry_attempts => 2, enabled => false)});
sql(q{INSERT INTO b_orders VALUES ('b1', 1), ('b2', 2)});
sql(q{INSERT INTO b_orders VALUES ('bp', -1)});
sql(q{INSERT INTO b_orders VALUES ('b3', 3), ('b4', 4), ('b5', 5), ('b6', 6)});
capture();
sql(qq{SELECT orders_stream.update_event_source_mapping('$mb', enabled => true)});
wait_mapping($mb);
is(seq_value('b_poisoned_calls'), '3', '(b) the failing batch is invoked 1 + 2 retries = 3 times');
is(sql(qq{
	SELECT string_agg(r->'dynamodb'->'Keys'->'id'->>'S', ',' ORDER BY o) || ' '
		|| min(f.payload->'requestContext'->>'approximateInvokeCount') || ' '
		|| min(f.payload->'DDBStreamBatchInfo'->>'batchSize') || ' ' || min(f.sqlstate) || ' '
		|| bool_and(f.payload->'DDBStreamBatchInfo'->>'startSequenceNumber' = f.records->0->'dynamodb'->>'SequenceNumber'
					AND f.payload->'DDBStreamBatchInfo'->>'endSequenceNumber' = f.records->-1->'dynamodb'->>'SequenceNumber')
	  FROM orders_stream.failures f, jsonb_array_elements(f.records) WITH ORDINALITY AS x(r, o)
	 WHERE f.mapping_uuid = '$mb'}),
	'b1,b2,bp,b3,b4 3 5 23514 true', '(b) the whole batch goes to failures, in order, with its SequenceNumber range');
is(sql(q{SELECT string_agg(id, ',' ORDER BY id) FROM b_applied}), 'b5,b6', '(b) the records after it are delivered');
$s = mapping_status($mb);
is("$s->{invocations} $s->{records_processed} $s->{errors} $s->{retries} $s->{failures}",
	'4 2 3 2 1', '(b) counters');

# a retry is the same batch: records arriving meanwhile come in the next one
sql(<<'SQL');
CREATE TABLE b2_orders (id text PRIMARY KEY);
SELECT orders_stream.enable_stream('b2_orders', 'KEYS_ONLY');
CREATE TABLE b2_gate (open boolean NOT NULL);
INSERT INTO b2_gate VALUES (false);
CREATE TABLE b2_batches (call serial, ids text);
CREATE FUNCTION b2_agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF NOT (SELECT open FROM b2_gate) THEN
		RAISE EXCEPTION 'gate closed';
	END IF;
	INSERT INTO b2_batches (ids)
	SELECT string_agg(r#>>'{dynamodb,Keys,id,S}', ',' ORDER BY o)
	  FROM jsonb_array_elements(event->'Records') WITH ORDINALITY AS x(r, o);
END
$$;
SQL
my $mb2 = sql(q{
	SELECT orders_stream.create_event_source_mapping('b2_orders', 'b2_agg(jsonb)', batch_size => 10,
		starting_position => 'LATEST', maximum_retry_attempts => -1)});
sql(q{INSERT INTO b2_orders VALUES ('g1'), ('g2')});
poll(qq{SELECT retries >= 2 FROM orders_stream.event_source_mapping_status WHERE uuid = '$mb2'},
	'(b) the batch [g1, g2] is being retried');
sql(q{INSERT INTO b2_orders VALUES ('g3'), ('g4')});
capture();
my $r0 = mapping_status($mb2)->{retries};
poll(qq{SELECT retries >= $r0 + 3 FROM orders_stream.event_source_mapping_status WHERE uuid = '$mb2'},
	'(b) more retries once g3 and g4 are there');
sql('UPDATE b2_gate SET open = true');
wait_mapping($mb2);
is(sql(q{SELECT string_agg(ids, ' ' ORDER BY call) FROM b2_batches}), 'g1,g2 g3,g4',
	'(b) the retried batch stayed [g1, g2]; g3 and g4 came in the next batch');

$node->stop;
done_testing();
