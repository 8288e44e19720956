// check-api.mjs: the DynamoDB Streams API of orders_stream through the AWS
// SDK's own deserializers.
//
// A local HTTP server answers @aws-sdk/client-dynamodb-streams the way AWS
// would: the operation from X-Amz-Target and the JSON body go to
// orders_stream.dynamodb_streams() (through psql); its result is the 200
// body, and an error's DETAIL ({"__type", "message"}) the 400 body.  Each
// response the SDK parsed is compared, field by field, with what the SQL
// returned (dates and binaries turned into the SDK's Date and Uint8Array).
// psql connects with the PG* environment variables.
import http from 'node:http';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
	DynamoDBStreamsClient, ListStreamsCommand, DescribeStreamCommand,
	GetShardIteratorCommand, GetRecordsCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
	LambdaClient, CreateEventSourceMappingCommand, GetEventSourceMappingCommand,
	ListEventSourceMappingsCommand,
} from '@aws-sdk/client-lambda';

let failures = 0;
function check(name, fn) {
	return Promise.resolve().then(fn).then(
		() => console.log(`ok - ${name}`),
		(e) => { failures++; console.log(`not ok - ${name}\n${e.stack ?? e}`); });
}

function psql(sql, vars = {}) {
	const args = ['-X', '-qAt', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=default'];
	for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
	const r = spawnSync('psql', args, { input: sql, encoding: 'utf8' });
	return { ok: r.status === 0, out: r.stdout.trim(), err: r.stderr };
}
function sqlJson(sql) {
	const r = psql(sql);
	if (!r.ok) throw new Error(r.err);
	return r.out;
}

// the dispatcher, as an HTTP front end calls it
function dispatch(operation, body) {
	const r = psql(`SELECT orders_stream.dynamodb_streams(:'op', :'body'::jsonb)`, { op: operation, body });
	if (r.ok) return { status: 200, body: r.out };
	const detail = /^DETAIL:\s+(\{.*\})$/m.exec(r.err);
	if (!detail) return { status: 500, body: JSON.stringify({ __type: 'InternalServerError', message: r.err }) };
	return { status: 400, body: detail[1] };
}

const server = http.createServer((req, res) => {
	let body = '';
	req.on('data', (c) => { body += c; });
	req.on('end', () => {
		const target = req.headers['x-amz-target'] ?? '';
		const r = dispatch(target, body || '{}');
		res.writeHead(r.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'local' });
		res.end(r.body);
	});
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const region = sqlJson(`SELECT current_setting('orders_stream.region')`);
const client = new DynamoDBStreamsClient({
	endpoint: `http://127.0.0.1:${server.address().port}`, region,
	credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1,
});

// what the SQL returned, as the SDK types it
const DATE_KEYS = new Set(['CreationRequestDateTime', 'ApproximateCreationDateTime', 'LastModified']);
function typed(v, key) {
	if (Array.isArray(v)) return v.map((x) => typed(x, key === 'BS' ? 'B' : undefined));
	if (v !== null && typeof v === 'object')
		return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typed(x, k)]));
	if (DATE_KEYS.has(key)) return new Date(Math.round(v * 1000));
	if (key === 'B') return new Uint8Array(Buffer.from(v, 'base64'));
	return v;
}
// an iterator carries its issue time ("t"): compare the rest of it
function untimed(o) {
	if (typeof o?.NextShardIterator !== 'string') return o;
	const cut = o.NextShardIterator.lastIndexOf('|');
	const { t, ...payload } = JSON.parse(Buffer.from(o.NextShardIterator.slice(cut + 1), 'base64').toString());
	assert.equal(typeof t, 'number');
	return { ...o, NextShardIterator: [o.NextShardIterator.slice(0, cut), payload] };
}
async function same(command, operation, input) {
	const sql = JSON.parse(dispatch(operation, JSON.stringify(input)).body);
	const { $metadata, ...sdk } = await client.send(command);
	assert.equal($metadata.httpStatusCode, 200);
	assert.deepStrictEqual(untimed(sdk), untimed(typed(sql)));
	return sql;
}

// ---- a table with a closed stream and an open one ----
sqlJson(`
	DROP TABLE IF EXISTS sdk_t;
	CREATE TABLE sdk_t (id int PRIMARY KEY, s text, b bytea, n numeric, l jsonb, f boolean);
	SELECT orders_stream.enable_stream('sdk_t') IS NOT NULL;
	INSERT INTO sdk_t VALUES (1, 'one', '\\x00ff10', 1.5, '[1, "a", {"x": null}]', true), (2, 'two', NULL, -3, '{}', false);
	UPDATE sdk_t SET s = 'uno' WHERE id = 1;
	DELETE FROM sdk_t WHERE id = 2;
	SELECT orders_stream.disable_stream('sdk_t') IS NOT NULL;
	SELECT orders_stream.enable_stream('sdk_t', 'KEYS_ONLY') IS NOT NULL;
	INSERT INTO sdk_t VALUES (3, 'three', '\\x', 0, 'null', NULL);
	SELECT orders_stream.wait_for_capture() IS NOT NULL;`);

const streams = await same(new ListStreamsCommand({ TableName: 'sdk_t' }), 'ListStreams', { TableName: 'sdk_t' });
await check('ListStreams: two streams of sdk_t', () => assert.equal(streams.Streams.length, 2));
await check('ListStreams with Limit, LastEvaluatedStreamArn', async () => {
	const p1 = await same(new ListStreamsCommand({ TableName: 'sdk_t', Limit: 1 }), 'ListStreams', { TableName: 'sdk_t', Limit: 1 });
	assert.equal(p1.LastEvaluatedStreamArn, streams.Streams[0].StreamArn);
	const input = { TableName: 'sdk_t', Limit: 1, ExclusiveStartStreamArn: p1.LastEvaluatedStreamArn };
	const p2 = await same(new ListStreamsCommand(input), 'ListStreams', input);
	assert.equal(p2.LastEvaluatedStreamArn, undefined);
});
for (const [i, s] of streams.Streams.entries()) {
	const closed = i === 0;
	let desc;
	await check(`DescribeStream of the ${closed ? 'closed' : 'open'} stream`, async () => {
		desc = await same(new DescribeStreamCommand({ StreamArn: s.StreamArn }), 'DescribeStream', { StreamArn: s.StreamArn });
		assert.equal(desc.StreamDescription.StreamStatus, closed ? 'DISABLED' : 'ENABLED');
		assert.equal('EndingSequenceNumber' in desc.StreamDescription.Shards[0].SequenceNumberRange, closed);
	});
	if (!desc) continue;
	const shard = desc.StreamDescription.Shards[0].ShardId;
	await check(`DescribeStream with Limit and ExclusiveStartShardId (${closed ? 'closed' : 'open'})`, async () => {
		const input = { StreamArn: s.StreamArn, Limit: 1, ExclusiveStartShardId: shard };
		const d = await same(new DescribeStreamCommand(input), 'DescribeStream', input);
		assert.deepStrictEqual(d.StreamDescription.Shards, []);
	});
	await check(`GetShardIterator and GetRecords (${closed ? 'closed' : 'open'})`, async () => {
		const input = { StreamArn: s.StreamArn, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' };
		const { $metadata, ...it } = await client.send(new GetShardIteratorCommand(input));
		assert.equal(typeof it.ShardIterator, 'string');
		// iterators carry their issue time: compare GetRecords of one iterator
		const recs = await same(new GetRecordsCommand({ ShardIterator: it.ShardIterator }), 'GetRecords', { ShardIterator: it.ShardIterator });
		assert.equal(recs.Records.length, closed ? 4 : 1);
		assert.equal('NextShardIterator' in recs, !closed);
		if (closed)
			assert.equal(recs.Records.at(-1).dynamodb.SequenceNumber,
				desc.StreamDescription.Shards[0].SequenceNumberRange.EndingSequenceNumber);
		const seq = recs.Records[0].dynamodb.SequenceNumber.replace(/^0+/, '');
		const at = { StreamArn: s.StreamArn, ShardId: shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER', SequenceNumber: seq };
		const it2 = await client.send(new GetShardIteratorCommand(at));
		const page = await same(new GetRecordsCommand({ ShardIterator: it2.ShardIterator, Limit: 1 }), 'GetRecords', { ShardIterator: it2.ShardIterator, Limit: 1 });
		assert.deepStrictEqual(page.Records, recs.Records.slice(0, 1));
	});
}
const unknown = 'arn:aws:dynamodb:local:000000000000:table/nope/stream/2000-01-01T00:00:00.000';
const errorCases = [
	['an unknown ARN', new DescribeStreamCommand({ StreamArn: unknown }), 'ResourceNotFoundException'],
	['a malformed ARN', new DescribeStreamCommand({ StreamArn: 'nope' }), 'ValidationException'],
	['Limit 0', new ListStreamsCommand({ Limit: 0 }), 'ValidationException'],
	['a garbage iterator', new GetRecordsCommand({ ShardIterator: 'garbage' }), 'ValidationException'],
	['an unknown shard', new GetShardIteratorCommand({ StreamArn: streams.Streams[0].StreamArn, ShardId: 'shardId-00000000000000000000-00000000', ShardIteratorType: 'LATEST' }), 'ResourceNotFoundException'],
];
for (const [what, command, name] of errorCases)
	await check(`${what}: the SDK raises ${name}`, async () => {
		await assert.rejects(client.send(command), (e) => {
			assert.equal(e.name, name);
			assert.equal(e.$metadata.httpStatusCode, 400);
			assert.ok(e.message.length > 0);
			return true;
		});
	});

// ---- Lambda: Get/List/CreateEventSourceMapping through @aws-sdk/client-lambda ----
// restJson1: the operation is the method and path, errors name their
// exception in X-Amzn-ErrorType.  The server calls the mapping functions.
const LAMBDA_STATUS = { ResourceNotFoundException: 404, ResourceConflictException: 409, InvalidParameterValueException: 400 };
function lambdaSql(sql, vars) {
	const r = psql(sql, vars);
	if (r.ok) return { status: 200, body: r.out };
	const m = /^ERROR:\s+(\w+Exception): (.*)$/m.exec(r.err);
	if (!m) return { status: 500, type: 'ServiceException', body: JSON.stringify({ Type: 'Service', message: r.err }) };
	return { status: LAMBDA_STATUS[m[1]] ?? 400, type: m[1], body: JSON.stringify({ Type: 'User', message: m[2] }) };
}
const GET_SQL = `SELECT orders_stream.get_event_source_mapping(:'uuid')`;
const LIST_SQL = `SELECT orders_stream."ListEventSourceMappings"(NULLIF(:'arn', ''), NULLIF(:'fn', ''), NULLIF(:'marker', ''), NULLIF(:'max', '')::int)`;
const CREATE_SQL = `SELECT orders_stream."CreateEventSourceMapping"(:'body'::jsonb)`;
function lambdaRoute(method, url, body) {
	const u = new URL(url, 'http://x');
	const q = (k) => u.searchParams.get(k) ?? '';
	const get = /^\/2015-03-31\/event-source-mappings\/([^/]+)$/.exec(u.pathname);
	if (method === 'GET' && get) return lambdaSql(GET_SQL, { uuid: decodeURIComponent(get[1]) });
	if (method === 'GET' && /^\/2015-03-31\/event-source-mappings\/?$/.test(u.pathname))
		return lambdaSql(LIST_SQL, { arn: q('EventSourceArn'), fn: q('FunctionName'), marker: q('Marker'), max: q('MaxItems') });
	if (method === 'POST' && /^\/2015-03-31\/event-source-mappings\/?$/.test(u.pathname)) {
		const r = lambdaSql(CREATE_SQL, { body });
		return r.status === 200 ? { ...r, status: 202 } : r;
	}
	return { status: 404, type: 'UnknownOperationException', body: '{}' };
}
const lambdaServer = http.createServer((req, res) => {
	let body = '';
	req.on('data', (c) => { body += c; });
	req.on('end', () => {
		const r = lastAnswer = lambdaRoute(req.method, req.url, body || '{}');
		res.writeHead(r.status, { 'content-type': 'application/json', 'x-amzn-requestid': 'local',
			...(r.type ? { 'x-amzn-errortype': r.type } : {}) });
		res.end(r.body);
	});
});
await new Promise((ok) => lambdaServer.listen(0, '127.0.0.1', ok));
const lambda = new LambdaClient({
	endpoint: `http://127.0.0.1:${lambdaServer.address().port}`, region,
	credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1,
});
let lastAnswer;
async function sameLambda(command, _unused, status = 200) {
	const { $metadata, ...sdk } = await lambda.send(command);
	const sqlAnswer = lastAnswer;
	assert.equal($metadata.httpStatusCode, status);
	assert.equal(sqlAnswer.status, status);
	const sql = JSON.parse(sqlAnswer.body);
	assert.deepStrictEqual(sdk, typed(sql));
	return { sql, sdk };
}

sqlJson(`
	DROP FUNCTION IF EXISTS sdk_agg(jsonb), sdk_agg2(jsonb);
	CREATE FUNCTION sdk_agg(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';
	CREATE FUNCTION sdk_agg2(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';`);
const openArn = streams.Streams[1].StreamArn;
const pattern = JSON.stringify({ eventName: ['INSERT'], dynamodb: { NewImage: { n: { N: [{ numeric: ['>', 5] }] } } } });
const createInputs = [
	{ EventSourceArn: openArn, FunctionName: 'sdk_agg', StartingPosition: 'TRIM_HORIZON', Enabled: false },
	{ EventSourceArn: openArn, FunctionName: 'sdk_agg2', StartingPosition: 'LATEST', Enabled: false, BatchSize: 7,
	  MaximumBatchingWindowInSeconds: 2, ParallelizationFactor: 3, BisectBatchOnFunctionError: true,
	  MaximumRetryAttempts: 4, MaximumRecordAgeInSeconds: 3600, FunctionResponseTypes: ['ReportBatchItemFailures'],
	  TumblingWindowInSeconds: 60,
	  FilterCriteria: { Filters: [{ Pattern: pattern }] } },
];
const created = [];
for (const input of createInputs)
	await check(`CreateEventSourceMapping (${input.FunctionName})`, async () => {
		const { sql: c } = await sameLambda(new CreateEventSourceMappingCommand(input), null, 202);
		created.push(c);
		for (const [k, v] of Object.entries(input))
			if (k !== 'FunctionName' && k !== 'Enabled') assert.deepStrictEqual(c[k], v, k);
		assert.equal(c.State, 'Disabled');
		assert.match(c.FunctionArn, new RegExp(`:function:public--${input.FunctionName}$`));
		// Lambda's FunctionName pattern (API reference, CreateEventSourceMapping): no dot
		assert.match(c.FunctionArn.split(':function:')[1], /^[a-zA-Z0-9-_]+$/);
	});
for (const c of created)
	await check(`GetEventSourceMapping (${c.UUID})`, async () => {
		const { sdk } = await sameLambda(new GetEventSourceMappingCommand({ UUID: c.UUID }), null);
		assert.ok(sdk.LastModified instanceof Date);
		assert.ok(Array.isArray(sdk.FunctionResponseTypes));
		assert.deepStrictEqual(JSON.parse(JSON.stringify({ ...sdk, LastModified: undefined })),
			JSON.parse(JSON.stringify({ ...c, LastModified: undefined })));
	});
await check('ListEventSourceMappings of the stream, all and by function, with MaxItems and Marker', async () => {
	const all = await sameLambda(new ListEventSourceMappingsCommand({ EventSourceArn: openArn }));
	assert.deepStrictEqual(all.sql.EventSourceMappings.map((m) => m.UUID), created.map((m) => m.UUID));
	assert.equal(all.sql.NextMarker, undefined);
	const one = await sameLambda(new ListEventSourceMappingsCommand({ EventSourceArn: openArn, FunctionName: 'sdk_agg2' }));
	assert.deepStrictEqual(one.sql.EventSourceMappings.map((m) => m.UUID), [created[1].UUID]);
	const byArn = await sameLambda(new ListEventSourceMappingsCommand({ FunctionName: created[1].FunctionArn }));
	assert.deepStrictEqual(byArn.sql.EventSourceMappings.map((m) => m.UUID), [created[1].UUID]);
	const p1 = await sameLambda(new ListEventSourceMappingsCommand({ EventSourceArn: openArn, MaxItems: 1 }));
	assert.deepStrictEqual(p1.sql.EventSourceMappings.map((m) => m.UUID), [created[0].UUID]);
	assert.equal(typeof p1.sql.NextMarker, 'string');
	const q2 = { EventSourceArn: openArn, MaxItems: 1, Marker: p1.sql.NextMarker };
	const p2 = await sameLambda(new ListEventSourceMappingsCommand(q2));
	assert.deepStrictEqual(p2.sql.EventSourceMappings.map((m) => m.UUID), [created[1].UUID]);
	assert.equal(p2.sql.NextMarker, undefined);
});
const lambdaErrors = [
	['an unknown mapping', new GetEventSourceMappingCommand({ UUID: '00000000-0000-0000-0000-000000000000' }), 'ResourceNotFoundException', 404],
	['a duplicate mapping', new CreateEventSourceMappingCommand(createInputs[0]), 'ResourceConflictException', 409],
	['BatchSize 0', new CreateEventSourceMappingCommand({ ...createInputs[0], FunctionName: 'sdk_agg3', BatchSize: 0 }), 'InvalidParameterValueException', 400],
];
sqlJson(`DROP FUNCTION IF EXISTS sdk_agg3(jsonb); CREATE FUNCTION sdk_agg3(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT';`);
for (const [what, command, name, status] of lambdaErrors)
	await check(`Lambda, ${what}: the SDK raises ${name}`, async () => {
		await assert.rejects(lambda.send(command), (e) => {
			assert.equal(e.name, name);
			assert.equal(e.$metadata.httpStatusCode, status);
			assert.ok(e.message.length > 0);
			return true;
		});
	});
sqlJson(`SELECT count(orders_stream.delete_event_source_mapping(uuid)) >= 0 FROM orders_stream.event_source_mapping_status
	WHERE function::text LIKE 'sdk_agg%'`);
lambdaServer.close();

server.close();
if (failures) {
	console.log(`check-api: ${failures} failure(s)`);
	process.exit(1);
}
console.log('check-api: the SDK parsed every answer as the SQL gave it');
