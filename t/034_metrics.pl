# 034_metrics.pl: AWS's metrics move under real delivery, and a hostile
# role can neither see nor inflate another role's.
#
#  (a) a mapping whose function fails on a poison record: Invocations,
#      Errors, the EventCount group, DroppedEventCount and
#      OnFailureDestinationDeliveredEventCount move, IteratorAge is set; a
#      failure destination that refuses the batch counts in
#      DestinationDeliveryFailures;
#  (b) one delivery worker for two mappings: while one lane holds it in a
#      slow call, ConcurrentExecutions is 1 and the other lane's wait is
#      counted in Throttles;
#  (c) capture's counters and the read API's move with each request;
#  (d) mallory, who may not read the table, sees no row of either, and her
#      requests (forged iterators, metrics_note_request) add nothing.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('metrics', extra_conf => q{
orders_stream.max_delivery_workers = 1
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
});


sql(q{
CREATE ROLE mallory LOGIN;
CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
CREATE TABLE applied (id int, quantity int);
CREATE FUNCTION apply_orders(event jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM jsonb_array_elements(event->'Records') r
			   WHERE (r#>>'{dynamodb,NewImage,quantity,N}')::int < 0) THEN
		RAISE EXCEPTION 'negative quantity';
	END IF;
	INSERT INTO applied SELECT (r#>>'{dynamodb,Keys,id,N}')::int, (r#>>'{dynamodb,NewImage,quantity,N}')::int
	  FROM jsonb_array_elements(event->'Records') r;
END $$;
CREATE TABLE slow_calls (n int);
CREATE FUNCTION slow(event jsonb) RETURNS void LANGUAGE sql
AS $$ INSERT INTO slow_calls VALUES (1); SELECT pg_sleep(3) $$;
});
my $arn = sql(q{SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE')});
my $m = sql(q{SELECT orders_stream.create_event_source_mapping('orders', 'apply_orders(jsonb)',
	starting_position => 'TRIM_HORIZON', batch_size => 5, maximum_retry_attempts => 0,
	metrics_config => '{"Metrics": ["EventCount"]}')});

# ---- (a) counters move with deliveries and failures ----
sql(q{INSERT INTO orders SELECT g, 'a', g FROM generate_series(1, 20) g});
poll(qq{SELECT "Invocations" >= 4 AND "InvokedEventCount" = 20
	FROM orders_stream.mapping_metrics WHERE uuid = '$m'}, 'Invocations and InvokedEventCount count the batches delivered');
my $before = sql(qq{SELECT "Invocations" FROM orders_stream.mapping_metrics WHERE uuid = '$m'});
sql(q{INSERT INTO orders VALUES (100, 'a', -1)});
poll(qq{SELECT "Errors" = 1 AND "FailedInvokeEventCount" = 1 AND "DroppedEventCount" = 1
	AND "OnFailureDestinationDeliveredEventCount" = 1 AND "Invocations" = $before + 1
	FROM orders_stream.mapping_metrics WHERE uuid = '$m'},
	'a failed batch counts in Errors, FailedInvokeEventCount, and once given up, DroppedEventCount and OnFailureDestinationDeliveredEventCount');
is(sql(qq{SELECT "PolledEventCount" = 21 AND "IteratorAge" >= 0 AND "Throttles" >= 0
	FROM orders_stream.mapping_metrics WHERE uuid = '$m'}), 't', 'PolledEventCount and IteratorAge');
is(sql(q{SELECT count(*) FROM orders_stream.failures}), '1', 'the failure destination holds the batch');

# a failure destination that refuses the batch: DestinationDeliveryFailures,
# and the batch is given up again once it takes it
sql(q{
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'destination down'; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON orders_stream_internal.failures FOR EACH ROW EXECUTE FUNCTION refuse();
INSERT INTO orders VALUES (101, 'a', -1);
});
poll(qq{SELECT "DestinationDeliveryFailures" >= 1 FROM orders_stream.mapping_metrics WHERE uuid = '$m'},
	'a batch the failure destination refuses counts in DestinationDeliveryFailures');
sql(q{DROP TRIGGER refuse ON orders_stream_internal.failures});
poll(qq{SELECT "OnFailureDestinationDeliveredEventCount" = 2 FROM orders_stream.mapping_metrics WHERE uuid = '$m'},
	'once the destination takes it, the batch is delivered there');

# ---- (b) ConcurrentExecutions and Throttles: one worker, two mappings ----
my $s = sql(q{SELECT orders_stream.create_event_source_mapping('orders', 'slow(jsonb)',
	starting_position => 'LATEST')});
sql(q{INSERT INTO orders VALUES (200, 'b', 1)});
poll(qq{SELECT "ConcurrentExecutions" = 1 FROM orders_stream.mapping_metrics WHERE uuid = '$s'},
	'a lane in a call counts in ConcurrentExecutions');
sql(q{INSERT INTO orders VALUES (201, 'b', 1)});
poll(qq{SELECT sum("Throttles") > 0 FROM orders_stream.mapping_metrics},
	'a lane waiting for the only worker counts in Throttles');
poll(qq{SELECT "ConcurrentExecutions" = 0 AND "Invocations" >= 1
	FROM orders_stream.mapping_metrics WHERE uuid = '$s'}, 'ConcurrentExecutions falls back to 0');

# ---- (c) capture and the read API ----
is(sql(qq{SELECT records_stored >= 23 AND bytes_stored > 0 AND capture_exceptions = 0
	FROM orders_stream.stream_metrics WHERE stream_arn = '$arn'}), 't', 'capture counts what it stored');
my $shard = sql(qq{SELECT shard_id FROM orders_stream.readable_streams WHERE stream_arn = '$arn'});
my $iterator = sql(qq{SELECT orders_stream.dynamodb_streams('GetShardIterator',
	'{"StreamArn": "$arn", "ShardId": "$shard", "ShardIteratorType": "TRIM_HORIZON"}')->>'ShardIterator'});
my $read = sub {
	return sql(qq{SELECT "ReturnedRecordsCount" || ' ' || "UserErrors" || ' ' || "SystemErrors"
		FROM orders_stream.stream_metrics WHERE stream_arn = '$arn'});
};
is($read->(), '0 0 0', 'no record returned yet');
sql(qq{SELECT orders_stream.dynamodb_streams('GetRecords', '{"ShardIterator": "$iterator", "Limit": 10}')});
is($read->(), '10 0 0', 'GetRecords counts the records it returned');
sql(qq{SELECT orders_stream.dynamodb_streams('GetRecords', '{"ShardIterator": "$iterator", "Limit": 3}')});
is($read->(), '13 0 0', 'and again');
$node->psql('postgres', q{SELECT orders_stream.dynamodb_streams('GetRecords', '{"ShardIterator": "garbage"}')});
$node->psql('postgres', qq{SELECT orders_stream.dynamodb_streams('GetRecords', '{"ShardIterator": "$arn|Zm9v"}')});
is($read->(), '13 1 0', 'an invalid iterator of the stream is a UserError; one naming no stream counts nowhere');
is(sql(qq{SELECT requests FROM orders_stream.stream_operation_metrics
	WHERE stream_arn = '$arn' AND operation = 'GetRecords'}), '2', 'successful requests, per operation');

# ---- (d) mallory ----
my ($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', q{
SELECT (SELECT count(*) FROM orders_stream.mapping_metrics) || ' ' ||
	   (SELECT count(*) FROM orders_stream.stream_metrics) || ' ' ||
	   (SELECT count(*) FROM orders_stream.stream_operation_metrics) || ' ' ||
	   (SELECT count(*) FROM orders_stream.metrics_mappings()) || ' ' ||
	   (SELECT count(*) FROM orders_stream.metrics_streams())});
is($out, '0 0 0 0 0', 'mallory sees no metrics of a stream she may not read');
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', qq{
SELECT orders_stream.metrics_note_request('$arn', 'GetRecords', now() - interval '1 hour', 1000000, 1000000, NULL);
SELECT orders_stream.metrics_note_request('$arn', 'GetRecords', now(), 0, 0, 'XX000');
SELECT orders_stream.metrics_note_request('$arn', 'DescribeStream', now(), 0, 0, '42501');});
is($rc, 0, 'metrics_note_request accepts her call');
$node->psql('postgres', qq{SELECT orders_stream.dynamodb_streams('GetRecords', '{"ShardIterator": "$iterator"}')},
	extra_params => [ '-U', 'mallory' ]);
$node->psql('postgres', qq{SELECT orders_stream.dynamodb_streams('DescribeStream', '{"StreamArn": "$arn"}')},
	extra_params => [ '-U', 'mallory' ]);
is($read->(), '13 1 0', 'but nothing she does adds to the stream\'s counters');
is(sql(qq{SELECT requests FROM orders_stream.stream_operation_metrics
	WHERE stream_arn = '$arn' AND operation = 'GetRecords'}), '2', 'nor to its requests');
($rc, $out, $err) = OrdersStream::psql_login($node, 'mallory', q{SELECT orders_stream.reset_metrics()});
like($err, qr/permission denied for function reset_metrics/, 'she cannot reset them');

# ---- reset ----
sql(q{SELECT orders_stream.reset_metrics()});
is(sql(qq{SELECT "Invocations" || ' ' || "Errors" FROM orders_stream.mapping_metrics WHERE uuid = '$m'}),
	'0 0', 'reset_metrics() sets the counters back to zero');
is($read->(), '0 0 0', 'the stream\'s too');

$node->stop;
done_testing();
