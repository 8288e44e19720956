# 020_delivery.pl: event source mappings deliver as AWS Lambda's do.
#
#  (a) bisect isolates a poison record: with batch_size 5 and 3 retries the
#      one-record batch is invoked exactly 4 times, then it alone goes to
#      orders_stream.failures; every other record is applied exactly once,
#      in batches of at most 5 in SequenceNumber order, also while records
#      keep arriving; redrive after the function is fixed applies it, once;
#  (b) without bisect the whole batch is retried, then failed, and a retry
#      is the same batch (records that arrive meanwhile wait for the next);
#  (c) ReportBatchItemFailures: the records before the lowest reported one
#      are checkpointed and the rest retried; exhausted retries send the rest
#      to failures; an identifier outside the batch fails the whole batch
#      and rolls its effects back; an empty or missing list is success; a
#      function returning neither jsonb nor void fails cleanly (it used to
#      crash the server);
#  (d) records older than maximum_record_age_in_seconds go to failures as
#      RecordAgeExceeded, before or while being retried; with -1, a minute
#      before the retention would trim them;
#  (e) a mapping runs its function as its creator, never as a superuser:
#      current_user and is_superuser show the role, a table the role may not
#      write stays untouched (permission denied in failures), a function the
#      role may not execute is not run (even when set by a direct UPDATE of
#      the mapping), settings the function makes do not outlive it (they
#      used to reach the worker's superuser session: an escalation), and a
#      revoked SELECT on the table stalls delivery (no copy of the records
#      in failures) until it is granted again;
#  (g) a mapping that always fails, retrying forever, holds up no other
#      mapping of the same stream;
#  (h) maximum_batching_window_in_seconds waits for a fuller batch, and only
#      when the batch is not full;
#  (i) no record is lost or skipped while clients (and the delivery worker)
#      read the stream during capture;
#  (f) item totals stay exact across SIGKILLs of the postmaster during
#      delivery, with INSERTs, UPDATEs (also of the item) and DELETEs going
#      on, for the PL/pgSQL and the C aggregator, each into the item_totals
#      of the search_path current when its mapping was created.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $KILLS = $ENV{OS_DELIVERY_KILLS} // 6;
my $seed = $ENV{OS_DELIVERY_SEED} // time;
srand($seed);
note "random seed $seed (set OS_DELIVERY_SEED to repeat)";

my $node = OrdersStream::new_node('delivery', no_extension => 1, extra_conf => q{
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
max_connections = 40
});

sub sql { return $node->safe_psql('postgres', shift); }

sub wait_mapping
{
	my ($m, $timeout) = @_;
	$timeout //= '120s';
	return sql("SELECT orders_stream.wait_for_mapping('$m', '$timeout')");
}

# The counters of a mapping, as a hash.
sub status
{
	my ($m) = @_;
	my @cols = qw(state checkpoint invocations records_processed errors retries failures
	  last_error last_processing_result);
	my $row = sql(qq{
		SELECT state, checkpoint_sequence_number, invocations, records_processed, errors,
			   retries, failures, coalesce(last_error, ''), last_processing_result
		  FROM orders_stream.event_source_mapping_status WHERE uuid = '$m'});
	my @v = split /\|/, $row, scalar(@cols);
	my %s;
	@s{@cols} = @v;
	return \%s;
}

sub seq_value
{
	my ($seq) = @_;
	return sql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM $seq");
}

# Waits until the query returns 't'.
sub poll
{
	my ($query, $what) = @_;
	ok($node->poll_query_until('postgres', $query), $what);
}

sql('CREATE EXTENSION orders_stream');
sql('SELECT orders_stream.wait_for_slot()');

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
sql('SELECT orders_stream.wait_for_capture()');
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
my $s = status($ma);
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
sql('SELECT orders_stream.wait_for_capture()');
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
$s = status($mb);
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
sql('SELECT orders_stream.wait_for_capture()');
my $r0 = status($mb2)->{retries};
poll(qq{SELECT retries >= $r0 + 3 FROM orders_stream.event_source_mapping_status WHERE uuid = '$mb2'},
	'(b) more retries once g3 and g4 are there');
sql('UPDATE b2_gate SET open = true');
wait_mapping($mb2);
is(sql(q{SELECT string_agg(ids, ' ' ORDER BY call) FROM b2_batches}), 'g1,g2 g3,g4',
	'(b) the retried batch stayed [g1, g2]; g3 and g4 came in the next batch');

# ====================================================================
# (c) ReportBatchItemFailures
# ====================================================================
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
sql('SELECT orders_stream.wait_for_capture()');
sql(qq{SELECT orders_stream.update_event_source_mapping('$mc', enabled => true)});
wait_mapping($mc);
is(sql(q{SELECT string_agg(first_id || ':' || n, ' ' ORDER BY call) FROM c_batches}), 'c01:6 c04:3',
	'(c) after c04 is reported, the retry starts at c04 (and ends where the batch did)');
is(sql(q{SELECT string_agg(id || ':' || call, ' ' ORDER BY id) FROM c_applied}),
	'c01:1 c02:1 c03:1 c04:2 c05:2 c06:2', '(c) records before the reported one are checkpointed, each applied once');
$s = status($mc);
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
$s = status($mct);
is("$s->{records_processed} $s->{failures}", '1 0', '(c) a text response is parsed: success');

# ====================================================================
# (d) record age
# ====================================================================
sql(<<'SQL');
CREATE TABLE d_orders (id text PRIMARY KEY, quantity int NOT NULL);
SELECT orders_stream.enable_stream('d_orders', 'NEW_IMAGE');
CREATE TABLE d_applied (id text);
CREATE FUNCTION d_agg(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM jsonb_array_elements(event->'Records') r
			   WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::int < 0) THEN
		RAISE EXCEPTION 'poison';
	END IF;
	INSERT INTO d_applied SELECT r#>>'{dynamodb,Keys,id,S}' FROM jsonb_array_elements(event->'Records') r;
END
$$;
-- makes records of d_orders older by the given interval (as superuser)
CREATE FUNCTION d_backdate(ids text[], by interval) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	oldest timestamptz;
BEGIN
	/* not in the query that reads record_store: a partition cannot be created meanwhile */
	SELECT min(captured_at) - by INTO oldest FROM orders_stream.records r
	 JOIN orders_stream.streams s USING (stream_id)
	 WHERE s.relid = 'd_orders'::regclass AND r.record->'dynamodb'->'Keys'->'id'->>'S' = ANY (ids);
	PERFORM orders_stream_internal.ensure_partition(oldest);
	UPDATE orders_stream.record_store r SET captured_at = r.captured_at - by
	  FROM orders_stream.records v, orders_stream.streams s
	 WHERE v.stream_id = r.stream_id AND v.sequence_key = r.sequence_key
	   AND s.stream_id = r.stream_id AND s.relid = 'd_orders'::regclass
	   AND v.record->'dynamodb'->'Keys'->'id'->>'S' = ANY (ids);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
SQL
my $md = sql(q{
	SELECT orders_stream.create_event_source_mapping('d_orders', 'd_agg(jsonb)', batch_size => 10,
		starting_position => 'LATEST', maximum_record_age_in_seconds => 60, enabled => false)});
sql(q{INSERT INTO d_orders VALUES ('d01', 1), ('d02', 1), ('d03', 1), ('d04', 1)});
sql(q{INSERT INTO d_orders VALUES ('d05', 1), ('d06', 1)});
sql('SELECT orders_stream.wait_for_capture()');
is(sql(q{SELECT d_backdate('{d01,d02,d03,d04}', '2 minutes')}), '4', '(d) four records made 2 minutes old');
sql(qq{SELECT orders_stream.update_event_source_mapping('$md', enabled => true)});
wait_mapping($md);
is(sql(qq{
	SELECT condition || ' ' || (SELECT string_agg(r->'dynamodb'->'Keys'->'id'->>'S', ',') FROM jsonb_array_elements(records) r)
		|| ' ' || (payload->'requestContext'->>'approximateInvokeCount')
	  FROM orders_stream.failures WHERE mapping_uuid = '$md'}),
	'RecordAgeExceeded d01,d02,d03,d04 0', '(d) records older than maximum_record_age_in_seconds go to failures, uninvoked');
is(sql(q{SELECT string_agg(id, ',' ORDER BY id) FROM d_applied}), 'd05,d06', '(d) the younger records are delivered');

# a record that expires while it is retried (one mapping per stream and function)
sql(qq{SELECT orders_stream.delete_event_source_mapping('$md')});
my $md2 = sql(q{
	SELECT orders_stream.create_event_source_mapping('d_orders', 'd_agg(jsonb)', batch_size => 10,
		starting_position => 'LATEST', maximum_record_age_in_seconds => 60, maximum_retry_attempts => -1)});
sql(q{INSERT INTO d_orders VALUES ('dp1', -1)});
poll(qq{SELECT retries >= 3 FROM orders_stream.event_source_mapping_status WHERE uuid = '$md2'},
	'(d) the poison record is retried');
sql(q{SELECT d_backdate('{dp1}', '2 minutes')});
wait_mapping($md2);
is(sql(qq{
	SELECT condition || ' ' || (records->0->'dynamodb'->'Keys'->'id'->>'S') || ' '
		|| ((payload->'requestContext'->>'approximateInvokeCount')::int >= 3)
	  FROM orders_stream.failures WHERE mapping_uuid = '$md2'}),
	'RecordAgeExceeded dp1 true', '(d) a record that ages out while retried goes to failures');

sql(qq{SELECT orders_stream.delete_event_source_mapping('$md2')});

# maximum_record_age_in_seconds -1 and retries -1: until a minute before the
# retention (orders_stream.retention, 24 h) would trim the record
my $md3 = sql(q{
	SELECT orders_stream.create_event_source_mapping('d_orders', 'd_agg(jsonb)', batch_size => 10,
		starting_position => 'LATEST')});
sql(q{INSERT INTO d_orders VALUES ('dp2', -1)});
poll(qq{SELECT retries >= 3 FROM orders_stream.event_source_mapping_status WHERE uuid = '$md3'},
	'(d) -1: the poison record is retried');
sql(q{SELECT d_backdate('{dp2}', '86400 s' - '90 s'::interval)});
my $r3 = status($md3)->{retries};
poll(qq{SELECT retries >= $r3 + 3 FROM orders_stream.event_source_mapping_status WHERE uuid = '$md3'},
	'(d) -1: 90 s before the trim it is still retried');
is(sql(qq{SELECT count(*) FROM orders_stream.failures WHERE mapping_uuid = '$md3'}), '0', '(d) -1: not given up yet');
sql(q{SELECT d_backdate('{dp2}', '60 s')});
wait_mapping($md3);
is(sql(qq{
	SELECT condition || ' ' || (records->0->'dynamodb'->'Keys'->'id'->>'S')
	  FROM orders_stream.failures WHERE mapping_uuid = '$md3'}),
	'RecordAgeExceeded dp2', '(d) -1: 30 s before the trim it goes to failures');
# these two would retry the poison records for a day: stop them
sql(qq{SELECT orders_stream.delete_event_source_mapping('$md3')});

# ====================================================================
# (e) the owner rule
# ====================================================================
my $tz = sql('SHOW TimeZone');
my $work_mem = sql('SHOW work_mem');
sql(<<'SQL');
CREATE ROLE e_user LOGIN;
CREATE TABLE e_orders (id text PRIMARY KEY);
SELECT orders_stream.enable_stream('e_orders', 'KEYS_ONLY');
GRANT SELECT ON e_orders TO e_user;
CREATE TABLE e_secret (id text);		-- e_user has no privilege on it
CREATE TABLE e_who (fn text, usr text, is_superuser text, rolsuper boolean, search_path text,
					tz text, work_mem text);
GRANT INSERT ON e_who TO e_user;
CREATE SCHEMA e_user AUTHORIZATION e_user;
-- a SECURITY DEFINER function of the superuser that e_user may not execute
CREATE TABLE e_log (what text);
CREATE FUNCTION e_private(event jsonb) RETURNS void LANGUAGE sql SECURITY DEFINER
AS $$ INSERT INTO e_log VALUES ('e_private ran') $$;
REVOKE EXECUTE ON FUNCTION e_private(jsonb) FROM PUBLIC;
-- a superuser's mapping that looks at the settings it runs with
CREATE FUNCTION e_observe(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO e_who SELECT 'observe', current_user, current_setting('is_superuser'),
		(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_setting('search_path'),
		current_setting('TimeZone'), current_setting('work_mem') $$;
SQL
my $me_obs = sql(q{SELECT orders_stream.create_event_source_mapping('e_orders', 'e_observe(jsonb)', starting_position => 'LATEST')});
my ($me_write, $me_probe, $me_sneak) = split /\n/, sql(<<'SQL');
SET ROLE e_user;
SET search_path = e_user, public;
CREATE FUNCTION e_write_secret(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO public.e_secret SELECT r#>>'{dynamodb,Keys,id,S}' FROM jsonb_array_elements(event->'Records') r $$;
CREATE FUNCTION e_probe(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.e_who SELECT 'probe', current_user, current_setting('is_superuser'),
		(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), current_setting('search_path'),
		current_setting('TimeZone'), current_setting('work_mem');
	-- settings that must not outlive the invocation
	SET search_path = e_user, pg_catalog;
	SET TimeZone = 'Asia/Tokyo';
	PERFORM set_config('work_mem', '1234kB', false);
END
$$;
-- a trap for a superuser that would run with the search_path above
CREATE FUNCTION e_user.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
		EXECUTE 'ALTER ROLE e_user SUPERUSER';
	END IF;
	RETURN pg_catalog.now();
END
$$;
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_write_secret(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_probe(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
CREATE FUNCTION e_harmless(event jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT orders_stream.create_event_source_mapping('e_orders', 'e_harmless(jsonb)',
	starting_position => 'LATEST', maximum_retry_attempts => 0);
SQL
# e_user cannot point its mapping at the function it may not execute
# directly: only the extension's functions write mappings
my ($sneak_rc, $sneak_out, $sneak_err) = $node->psql('postgres', qq{
	SET ROLE e_user;
	UPDATE orders_stream.event_source_mappings SET function_oid = 'public.e_private(jsonb)'::regprocedure
	 WHERE uuid = '$me_sneak'});
like($sneak_err, qr/permission denied for view event_source_mappings/, '(e) a direct UPDATE of a mapping is refused');
# and the worker checks again at every batch, whatever changed the row
sql(qq{
	UPDATE orders_stream.event_source_mappings SET function_oid = 'public.e_private(jsonb)'::regprocedure
	 WHERE uuid = '$me_sneak'});
for my $i (1 .. 3)
{
	sql(qq{INSERT INTO e_orders VALUES ('e$i')});
	wait_mapping($_) for ($me_obs, $me_write, $me_probe, $me_sneak);
}
is(sql(q{SELECT count(*) FROM e_secret}), '0', '(e) the table e_user may not write is untouched');
is(sql(qq{
	SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ')
	  FROM orders_stream.failures WHERE mapping_uuid = '$me_write'}),
	'42501 permission denied for table e_secret', '(e) the batch fails with permission denied');
is(sql(qq{SELECT sum(jsonb_array_length(records)) FROM orders_stream.failures WHERE mapping_uuid = '$me_write'}),
	'3', '(e) all three records are in failures');
is(sql(q{SELECT DISTINCT usr || ' ' || is_superuser || ' ' || rolsuper || ' ' || search_path FROM e_who WHERE fn = 'probe'}),
	'e_user off false e_user, public, pg_temp',
	'(e) inside the function: current_user is the creator, not a superuser, with its search_path');
is(sql(q{SELECT count(*) FROM e_who WHERE fn = 'probe'}), '3', '(e) the probe ran for each record');
is(sql(q{SELECT DISTINCT usr || ' ' || is_superuser || ' ' || search_path || ' ' || tz || ' ' || work_mem FROM e_who WHERE fn = 'observe'}),
	"postgres on \"\$user\", public, pg_temp $tz $work_mem",
	'(e) settings made by another mapping\'s function do not reach the next function');
is(sql(q{SELECT rolsuper FROM pg_roles WHERE rolname = 'e_user'}), 'f',
	'(e) nor the worker\'s own queries (e_user.now() did not run as superuser)');
is(sql(q{SELECT count(*) FROM e_log}), '0', '(e) a function the owner may not execute is not run');
is(sql(qq{
	SELECT string_agg(DISTINCT sqlstate || ' ' || message, '; ')
	  FROM orders_stream.failures WHERE mapping_uuid = '$me_sneak'}),
	'42501 permission denied for function e_private', '(e) ... its batches fail with permission denied');

# SELECT revoked: the owner may no longer read the stream.  Its mapping
# stalls (as an AWS mapping whose role lost access): the records go neither
# to the function nor to failures, which the owner could read.
my $probe_checkpoint = status($me_probe)->{checkpoint};
sql('REVOKE SELECT ON e_orders FROM e_user');
sql(q{INSERT INTO e_orders VALUES ('e4')});
wait_mapping($me_obs);
poll(qq{SELECT last_error LIKE '42501: AccessDeniedException: %' AND state = 'Retrying'
		  FROM orders_stream.event_source_mapping_status WHERE uuid = '$me_probe'},
	'(e) after REVOKE SELECT the mapping reports AccessDeniedException');
usleep(300_000);
$s = status($me_probe);
is("$s->{checkpoint} $s->{failures}", "$probe_checkpoint 0", '(e) ... and stalls, without failures');
is(sql(qq{SELECT count(*) FROM orders_stream.failures f, jsonb_array_elements(f.records) r
		   WHERE f.owner_oid = 'e_user'::regrole AND r->'dynamodb'->'Keys'->'id'->>'S' = 'e4'}),
	'0', '(e) ... e_user gets no copy of a record it may not read');
is(sql(q{SELECT count(*) FROM e_who WHERE fn = 'probe'}), '3', '(e) ... and the function does not run');
sql('GRANT SELECT ON e_orders TO e_user');
wait_mapping($me_probe);
is(sql(q{SELECT count(*) FROM e_who WHERE fn = 'probe'}), '4', '(e) GRANT SELECT again: delivery resumes, e4 included');

# ====================================================================
# (g) a failing mapping holds up no other
# ====================================================================
sql(<<'SQL');
CREATE TABLE g_orders (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('g_orders', 'KEYS_ONLY');
CREATE TABLE g_seen (id int);
CREATE FUNCTION g_fail(event jsonb) RETURNS void LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'always'; END $$;
CREATE FUNCTION g_ok(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO g_seen SELECT (r#>>'{dynamodb,Keys,id,N}')::int FROM jsonb_array_elements(event->'Records') r $$;
SQL
# created first, so served first in every round
my $mg_fail = sql(q{
	SELECT orders_stream.create_event_source_mapping('g_orders', 'g_fail(jsonb)', batch_size => 4,
		starting_position => 'LATEST', bisect_batch_on_function_error => true)});
my $mg_ok = sql(q{
	SELECT orders_stream.create_event_source_mapping('g_orders', 'g_ok(jsonb)', batch_size => 4,
		starting_position => 'LATEST')});
my $g_checkpoint = status($mg_fail)->{checkpoint};
sql(qq{INSERT INTO g_orders SELECT g FROM generate_series($_ * 10 + 1, $_ * 10 + 10) g}) for (0 .. 4);
my $t0 = time;
wait_mapping($mg_ok, '30s');
is(sql(q{SELECT count(*) || ' ' || count(DISTINCT id) FROM g_seen}), '50 50', '(g) the healthy mapping delivered everything');
note sprintf('(g) in %.2f s', time - $t0);
$s = status($mg_fail);
is("$s->{state} $s->{failures} " . ($s->{checkpoint} eq $g_checkpoint ? 'same' : 'moved'),
	'Retrying 0 same', '(g) while the failing one is still retrying its first record');
cmp_ok($s->{retries}, '>', 0, '(g) it has retried');
sql(qq{SELECT orders_stream.delete_event_source_mapping('$mg_fail')});

# ====================================================================
# (h) the batching window
# ====================================================================
sql(<<'SQL');
CREATE TABLE h_orders (id int PRIMARY KEY);
SELECT orders_stream.enable_stream('h_orders', 'KEYS_ONLY');
CREATE TABLE h_batches (n int, at timestamptz);
CREATE FUNCTION h_agg(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO h_batches VALUES (jsonb_array_length(event->'Records'), clock_timestamp()) $$;
SQL
my $mh = sql(q{
	SELECT orders_stream.create_event_source_mapping('h_orders', 'h_agg(jsonb)', batch_size => 5,
		starting_position => 'LATEST', maximum_batching_window_in_seconds => 3)});
my $h_start = sql(q{SELECT clock_timestamp()});
sql(q{INSERT INTO h_orders SELECT g FROM generate_series(1, 12) g});
poll(q{SELECT coalesce(sum(n), 0) = 10 FROM h_batches}, '(h) full batches go at once');
is(sql(qq{SELECT count(*) FROM h_batches WHERE at < '$h_start'::timestamptz + interval '2.5 s'}), '2',
	'(h) ... both full batches within the window');
wait_mapping($mh);
is(sql(q{SELECT string_agg(n::text, ',' ORDER BY at) FROM h_batches}), '5,5,2', '(h) the rest waits');
is(sql(qq{SELECT max(at) >= '$h_start'::timestamptz + interval '3 s' FROM h_batches}), 't',
	'(h) ... for the batching window');

# ====================================================================
# (i) no record is skipped while clients watch the stream
# ====================================================================
# Readers of orders_stream.records (the delivery worker itself when it has
# caught up, wait_for_mapping, the status view, get_records) reach the rows
# the capture worker is storing.  Those rows must look in progress to them,
# never aborted, or they vanish for good.
sql(<<'SQL');
CREATE TABLE i_orders (id bigserial PRIMARY KEY, quantity int NOT NULL);
SELECT orders_stream.enable_stream('i_orders', 'NEW_IMAGE');
CREATE TABLE i_seen (seq text);
CREATE FUNCTION i_agg(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO i_seen SELECT r#>>'{dynamodb,SequenceNumber}' FROM jsonb_array_elements(event->'Records') r $$;
SQL
my $mi = sql(q{
	SELECT orders_stream.create_event_source_mapping('i_orders', 'i_agg(jsonb)', batch_size => 50,
		starting_position => 'LATEST')});
my $i_script = $node->basedir . '/i_orders.sql';
PostgreSQL::Test::Utils::append_to_file($i_script, "INSERT INTO i_orders (quantity) VALUES (1);\n");
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			$node->installed_command('pgbench'), '-n', '-c', '4', '-j', '2', '-T', '4',
			'-f', $i_script, $node->connstr('postgres')
		],
		'>', \$out, '2>', \$err, IPC::Run::timeout(120));
	my $watch = $node->background_psql('postgres');
	while ($h->pumpable)
	{
		$watch->query_safe(qq{
			SELECT latest_sequence_number, iterator_age_ms FROM orders_stream.event_source_mapping_status WHERE uuid = '$mi';
			SELECT trim_point FROM orders_stream.readable_streams WHERE relid = 'i_orders'::regclass});
		$h->pump_nb;
		usleep(2_000);
	}
	$h->finish;
	$watch->quit;
}
wait_mapping($mi);
my ($i_rows, $i_records, $i_seen) = split /\|/, sql(q{
	SELECT (SELECT count(*) FROM i_orders),
		   (SELECT count(*) FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
			 WHERE s.relid = 'i_orders'::regclass),
		   (SELECT count(DISTINCT seq) FROM i_seen)});
note "(i) $i_rows rows, $i_records records, $i_seen delivered";
is($i_records, $i_rows, '(i) every committed INSERT has its record, although clients read the stream meanwhile');
is($i_seen, $i_rows, '(i) and the mapping delivered every one');

# ====================================================================
# (f) exact totals across SIGKILLs of the postmaster
# ====================================================================
sql(<<'SQL');
CREATE TABLE f_orders (id int PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
SELECT orders_stream.enable_stream('f_orders', 'NEW_AND_OLD_IMAGES');
CREATE SCHEMA f_pl;
CREATE SCHEMA f_c;
CREATE TABLE f_pl.item_totals (item text PRIMARY KEY, total bigint NOT NULL);
CREATE TABLE f_c.item_totals (item text PRIMARY KEY, total bigint NOT NULL);
CREATE FUNCTION f_pl.item_totals_aggregator(event jsonb)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
	poison jsonb;
BEGIN
	SELECT r INTO poison
	  FROM jsonb_array_elements(event->'Records') AS r
	 WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::numeric < 0
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'order % has a negative quantity', poison#>>'{dynamodb,Keys,id,S}';
	END IF;
	INSERT INTO item_totals AS t (item, total)
	SELECT item, sum(delta)
	  FROM (SELECT r#>>'{dynamodb,NewImage,item,S}' AS item,
				   (r#>>'{dynamodb,NewImage,quantity,N}')::bigint AS delta
			  FROM jsonb_array_elements(event->'Records') AS r
			 WHERE r#> '{dynamodb,NewImage}' IS NOT NULL
			   AND (r->>'eventName' = 'INSERT' OR r#> '{dynamodb,OldImage}' IS NOT NULL)
			UNION ALL
			SELECT r#>>'{dynamodb,OldImage,item,S}',
				   -(r#>>'{dynamodb,OldImage,quantity,N}')::bigint
			  FROM jsonb_array_elements(event->'Records') AS r
			 WHERE r->>'eventName' IN ('MODIFY', 'REMOVE')
			   AND r#> '{dynamodb,OldImage}' IS NOT NULL) AS d
	 GROUP BY item
	ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total;
	RETURN NULL;
END
$$;
CREATE FUNCTION f_c.item_totals_aggregator_c(event jsonb)
RETURNS jsonb
AS 'orders_stream_item_totals', 'item_totals_aggregator'
LANGUAGE C STRICT;
SQL
my $mf_pl = sql(q{
	SET search_path = f_pl;
	SELECT orders_stream.create_event_source_mapping('public.f_orders', 'item_totals_aggregator(jsonb)',
		batch_size => 10, starting_position => 'LATEST', bisect_batch_on_function_error => true,
		maximum_retry_attempts => 10)});
my $mf_c = sql(q{
	SET search_path = f_c;
	SELECT orders_stream.create_event_source_mapping('public.f_orders', 'item_totals_aggregator_c(jsonb)',
		batch_size => 7, starting_position => 'LATEST')});

my $script = OrdersStream::mixed_writes_script($node, 'f_orders');

sub start_pgbench
{
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[
			$node->installed_command('pgbench'), '-n', '-c', '4', '-j', '2', '-T', '300',
			'--max-tries=20', '-f', $script, $node->connstr('postgres')
		],
		'>', \$out, '2>', \$err, IPC::Run::timeout(600));
}

# SIGKILL the postmaster, and maybe all its children (a machine crash);
# returns how long the last child took to exit
my %orphan_titles;
sub crash
{
	my ($what) = @_;
	my $all = rand() < 0.5;
	my ($orphans, $last) = OrdersStream::kill_postmaster($node, $all);
	$orphan_titles{$_} = 1 for @$orphans;
	note sprintf('crashed %s (%s); the last child exited after %.2f s',
		$what, $all ? 'with all children' : 'postmaster only', $last);
	return $last;
}

my $crashes = 0;
for my $round (1 .. $KILLS)
{
	my $h = start_pgbench();
	usleep(int(500_000 + rand(1_500_000)));
	# a moment when a delivery worker is inside a batch, most of the time
	my $act = '';
	if ($round % 3 != 0)
	{
		my $deadline = time + 5;
		while (time < $deadline)
		{
			$act = $node->safe_psql('postgres', q{
				SELECT coalesce(max(query), '') FROM pg_stat_activity
				 WHERE backend_type = 'orders_stream delivery' AND query = 'delivering stream records'});
			last if $act eq 'delivering stream records';
			usleep(1_000);
		}
		usleep(int(rand(5_000)));
	}
	crash("round $round (delivery worker: '$act')");
	$crashes++;
	OrdersStream::stop_pgbench($h);
	$node->start;
}

# the workload ends; every mapping catches up
my $h = start_pgbench();
usleep(1_500_000);
$node->safe_psql('postgres', q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgbench'});
$h->kill_kill;
$node->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgbench'});
wait_mapping($mf_pl, '600s');
wait_mapping($mf_c, '600s');

cmp_ok($crashes, '>=', 5, "(f) postmaster killed with SIGKILL $crashes times");
is(join(', ', sort keys %orphan_titles), '',
	'(f) no process outlives the postmaster by 5 s');
ok($node->log_contains('database system was interrupted|database system was not properly shut down'),
	'(f) the server went through crash recovery');
my $n = sql(q{SELECT count(*) FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
			  WHERE s.relid = 'f_orders'::regclass});
note "(f) $n records of f_orders";
cmp_ok($n, '>', 500, '(f) the workload made a fair number of changes');
for my $t ([ 'PL/pgSQL', 'f_pl', $mf_pl ], [ 'C', 'f_c', $mf_c ])
{
	my ($lang, $schema, $m) = @$t;
	is(sql(qq{
		SELECT count(*) FROM (SELECT item, sum(quantity) AS total FROM f_orders GROUP BY item) o
		  FULL JOIN $schema.item_totals t USING (item)
		 WHERE coalesce(o.total, 0) <> coalesce(t.total, 0)}),
		'0', "(f) $lang aggregator: item_totals = SELECT item, sum(quantity) FROM orders GROUP BY item");
	$s = status($m);
	is("$s->{failures} $s->{records_processed}", "0 $n", "(f) $lang aggregator: every record processed once, no failure");
}

$node->stop;
done_testing();
