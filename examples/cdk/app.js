// examples/cdk/app.js: the seed's stack (dynamodb-streams-seed.md) as a CDK
// app.  `node app.js [outdir]` synthesizes it offline (app.synth(): no AWS
// account, no cdk CLI) and prints the CloudFormation template on stdout;
// import.sh hands it to orders_stream.import_stack().
const cdk = require('aws-cdk-lib');
const dynamodb = require('aws-cdk-lib/aws-dynamodb');
const lambda = require('aws-cdk-lib/aws-lambda');
const sqs = require('aws-cdk-lib/aws-sqs');
const { DynamoEventSource, SqsDlq } = require('aws-cdk-lib/aws-lambda-event-sources');

class DynamoStreamsStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);

    const ordersTable = new dynamodb.Table(this, 'OrdersTable', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_IMAGE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    });

    // The seed's echo Lambda (its runtime, nodejs10.x, is one CloudFormation
    // no longer accepts; the import maps the function to SQL anyway).
    const echoLambda = new lambda.Function(this, 'echoLambda', {
      code: lambda.Code.fromInline(
        'exports.handler = (event,context) => {console.log(event.Records.map(item=>Object.entries(item.dynamodb.NewImage))); context.succeed(event);}'
      ),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
    });

    const deadLetterQueue = new sqs.Queue(this, 'DLQ');

    echoLambda.addEventSource(
      new DynamoEventSource(ordersTable, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 5,
        bisectBatchOnError: true,
        onFailure: new SqsDlq(deadLetterQueue),
        retryAttempts: 10,
      })
    );
  }
}

const app = new cdk.App({ outdir: process.argv[2] || 'cdk.out' });
new DynamoStreamsStack(app, 'DynamoStreams');
const assembly = app.synth();
process.stdout.write(JSON.stringify(assembly.getStackByName('DynamoStreams').template, null, 1) + '\n');
