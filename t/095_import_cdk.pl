# 095_import_cdk.pl: the seed's CDK app (examples/cdk) from app.synth() to a
# running pipeline with one import_stack() call.
#
#  - npm ci installs aws-cdk-lib and constructs (examples/cdk/package-lock.json,
#    about 15 s); node app.js synthesizes the stack offline;
#  - examples/cdk/demo.sql imports the template (dry run, then for real) and
#    writes the quick start's orders: item_totals match the orders, the poison
#    order is bisected out and lands alone in orders_stream.failures after
#    its ten retries, as the quick start says;
#  - the mapping has the CDK settings (batchSize 5, bisectBatchOnError,
#    retryAttempts 10, LATEST), and importing the template again changes
#    nothing.
# Skipped when node or npm is missing (test.sh installs both).
use strict;
use warnings;

use lib 't';
use OrdersStream;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use File::Copy qw(copy);

for my $tool (qw(node npm))
{
	plan skip_all => "$tool is not installed"
	  unless eval { IPC::Run::run([ $tool, '--version' ], '>', \my $version, '2>', \my $ignored) };
}

# a copy of examples/cdk, and the files its demo includes (../demo_setup.sql ...)
my $dir = PostgreSQL::Test::Utils::tempdir('import_cdk');
mkdir "$dir/cdk" or die "$dir/cdk: $!";
copy("examples/cdk/$_", "$dir/cdk/$_") or die "examples/cdk/$_: $!"
  for qw(package.json package-lock.json app.js demo.sql);
copy("examples/$_", "$dir/$_") or die "examples/$_: $!" for qw(item_totals.sql demo_setup.sql demo_orders.sql);

my ($out, $err) = ('', '');
ok( IPC::Run::run(
		[ 'npm', 'ci', '--no-audit', '--no-fund', '--loglevel=warn', '--cache', "$dir/npm-cache" ],
		'>', \$out, '2>', \$err, init => sub { chdir "$dir/cdk" or die $! }),
	'npm ci installs aws-cdk-lib and constructs') or diag("$out\n$err");

my $template = '';
ok( IPC::Run::run([ 'node', 'app.js', "$dir/cdk.out" ], '>', \$template, '2>', \$err,
		init => sub { chdir "$dir/cdk" or die $! }),
	'node app.js synthesizes the stack offline') or diag($err);
like($template, qr/"AWS::Lambda::EventSourceMapping"/, 'the template has the event source mapping');

my $node = OrdersStream::new_node('import_cdk');

($out, $err) = ('', '');
my $ok = IPC::Run::run(
	[ 'psql', '-X', '-h', $node->host, '-p', $node->port, '-d', 'postgres',
	  '-v', 'ON_ERROR_STOP=1', '-v', "template=$template", '-f', "$dir/cdk/demo.sql" ],
	'>', \$out, '2>', \$err);
ok($ok, 'examples/cdk/demo.sql runs') or diag("$out\n$err");
like($out, qr/echoLambdaDynamoDB\S*\s*\|\s*AWS::Lambda::EventSourceMapping\s*\|\s*create\s*\|/,
	'the dry run reports the mapping it would create');
like($out, qr/DLQ581697C4\s*\|\s*AWS::SQS::Queue\s*\|\s*skip\s*\|\s*not imported: failed batches go to orders_stream.failures/,
	'and the dead-letter queue it does not import');


is(sql(q{SELECT string_agg(item || '=' || total, ' ' ORDER BY item) FROM item_totals}),
	sql(q{SELECT string_agg(item || '=' || total, ' ' ORDER BY item)
			FROM (SELECT item, sum(quantity) AS total FROM orders WHERE id <> 'order-poison' GROUP BY item) s}),
	'item_totals match the orders, without the poison order');
is(sql(q{SELECT condition || ' ' || jsonb_array_length(records) || ' ' || (records->0->'dynamodb'->'Keys'->'id'->>'S')
		   || ' ' || (payload->'requestContext'->>'approximateInvokeCount')
		   FROM orders_stream.failures}),
	'RetryAttemptsExhausted 1 order-poison 14',
	'bisection isolates the poison order: one failure row, holding it alone, invoked 14 times (the batch of 5, halves of 3, 2 and 1, then ten retries)');
is(sql(q{SELECT c->>'BatchSize' || ' ' || (c->>'BisectBatchOnFunctionError') || ' ' || (c->>'MaximumRetryAttempts')
		   || ' ' || (c->>'StartingPosition') || ' ' || (c->>'FunctionArn')
		   FROM orders_stream.list_event_source_mappings('orders') c}),
	'5 true 10 LATEST arn:aws:lambda:local:000000000000:function:public--item_totals_aggregator',
	'the mapping has the CDK settings');
is(sql(q{SELECT view_type FROM orders_stream.readable_streams WHERE table_name = 'orders' AND enabled}),
	'NEW_IMAGE', 'the stream has the table\'s StreamViewType');
like($out, qr/importing the same template again changes nothing:\n.*\n-+\+-+\n\s*OrdersTable315BB997\s*\|\s*none\n\s*echoLambdaDynamoDB\S*\s*\|\s*none\n\(2 rows\)/,
	'importing the template again changes nothing');

$node->stop;
done_testing();
