// stream-client.mjs: @aws-sdk/client-dynamodb-streams against
// orders_stream_endpoint, for t/050_endpoint.pl (same modes as
// t/endpoint/boto3_client.py):
//
//   node stream-client.mjs consume TABLE
//       every stream of TABLE read to its end; "SequenceNumber id eventName
//       version" per record
//   node stream-client.mjs call OPERATION JSON
//       one call; the response as JSON, or "error CODE HTTP_STATUS", exit 3
//
// The endpoint URL comes from ENDPOINT_URL; credentials and region from the
// AWS_* environment variables (the SDK's default provider chain).
import {
	DynamoDBStreamsClient, ListStreamsCommand, DescribeStreamCommand,
	GetShardIteratorCommand, GetRecordsCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { writeSync } from 'node:fs';

const client = new DynamoDBStreamsClient({
	endpoint: process.env.ENDPOINT_URL,
	region: process.env.AWS_DEFAULT_REGION,
	maxAttempts: 10,
});

async function consume(table) {
	const streams = [];
	let kw = { TableName: table };
	for (;;) {
		const r = await client.send(new ListStreamsCommand(kw));
		streams.push(...r.Streams);
		if (!r.LastEvaluatedStreamArn) break;
		kw = { ...kw, ExclusiveStartStreamArn: r.LastEvaluatedStreamArn };
	}
	let pages = 0;
	for (const s of streams) {
		const shards = [];
		let dk = { StreamArn: s.StreamArn };
		for (;;) {
			const d = (await client.send(new DescribeStreamCommand(dk))).StreamDescription;
			shards.push(...d.Shards);
			if (!d.LastEvaluatedShardId) break;
			dk = { ...dk, ExclusiveStartShardId: d.LastEvaluatedShardId };
		}
		for (const shard of shards) {
			let it = (await client.send(new GetShardIteratorCommand({
				StreamArn: s.StreamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON',
			}))).ShardIterator;
			while (it) {
				const r = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1000 }));
				const lines = r.Records.map((rec) => {
					const d = rec.dynamodb;
					const image = d.NewImage ?? d.OldImage;
					return `${d.SequenceNumber} ${d.Keys.id.N} ${rec.eventName} ${image.version.N}\n`;
				});
				if (lines.length) writeSync(1, lines.join(''));
				it = r.NextShardIterator;
				if (r.Records.length === 0) break;
				pages++;
			}
		}
	}
	console.error(`sdk: ${streams.length} streams, ${pages} pages`);
}

async function call(operation, request) {
	const commands = {
		ListStreams: ListStreamsCommand, DescribeStream: DescribeStreamCommand,
		GetShardIterator: GetShardIteratorCommand, GetRecords: GetRecordsCommand,
	};
	try {
		const r = await client.send(new commands[operation](JSON.parse(request)));
		delete r.$metadata;
		console.log(JSON.stringify(r));
	} catch (e) {
		console.log(`error ${e.name} ${e.$metadata?.httpStatusCode}`);
		process.exitCode = 3;
	}
}

if (process.argv[2] === 'consume') await consume(process.argv[3]);
else await call(process.argv[3], process.argv[4]);
