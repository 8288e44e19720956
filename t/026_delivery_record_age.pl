# 026_delivery_record_age.pl: records older than maximum_record_age_in_seconds
# go to failures as RecordAgeExceeded, before or while being retried; with -1,
# a minute before the retention would trim them.
#
# (Split from 020_delivery.pl: the test names keep its section letter.)
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('delivery_record_age', extra_conf => $OrdersStream::DELIVERY_CONF);

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
capture();
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
my $r3 = mapping_status($md3)->{retries};
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

$node->stop;
done_testing();
