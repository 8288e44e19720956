// test/conformance/types.ts: the records, as generated/records.ts exports
// them typed as aws-lambda's DynamoDBStreamEvent, fed to a Lambda handler
// typed DynamoDBStreamHandler.  Compiled with tsc --strict --noEmit by run.sh:
// a field that @types/aws-lambda does not know, or of another type, fails.
import type {
	AttributeValue,
	Context,
	DynamoDBBatchResponse,
	DynamoDBRecord,
	DynamoDBStreamEvent,
	DynamoDBStreamHandler,
	StreamRecord,
} from "aws-lambda";
import { event } from "./generated/records.js";

const events: DynamoDBStreamEvent[] = [event];

// a value in a plain form, the way a handler would read an image
type Plain = null | string | boolean | Plain[] | { [name: string]: Plain } | Set<string>;
function plain(av: AttributeValue): Plain {
	if (av.S !== undefined) return av.S;
	if (av.N !== undefined) return av.N;
	if (av.B !== undefined) return av.B;
	if (av.BOOL !== undefined) return av.BOOL;
	if (av.NULL !== undefined) return null;
	if (av.SS !== undefined) return new Set(av.SS);
	if (av.NS !== undefined) return new Set(av.NS);
	if (av.BS !== undefined) return new Set(av.BS);
	if (av.L !== undefined) return av.L.map(plain);
	if (av.M !== undefined) return image(av.M);
	throw new Error("empty attribute value");
}
function image(img: { [key: string]: AttributeValue }): { [name: string]: Plain } {
	const out: { [name: string]: Plain } = {};
	for (const [k, v] of Object.entries(img)) out[k] = plain(v);
	return out;
}

export const handler: DynamoDBStreamHandler = async (e: DynamoDBStreamEvent, _context: Context): Promise<DynamoDBBatchResponse> => {
	const batchItemFailures: DynamoDBBatchResponse["batchItemFailures"] = [];
	for (const record of e.Records) {
		const r: DynamoDBRecord = record;
		const d: StreamRecord | undefined = r.dynamodb;
		const name: "INSERT" | "MODIFY" | "REMOVE" | undefined = r.eventName;
		const view: "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES" | undefined = d?.StreamViewType;
		const when: number | undefined = d?.ApproximateCreationDateTime;
		const size: number | undefined = d?.SizeBytes;
		const seq: string | undefined = d?.SequenceNumber;
		const keys = d?.Keys ? image(d.Keys) : {};
		const after = d?.NewImage ? image(d.NewImage) : undefined;
		const before = d?.OldImage ? image(d.OldImage) : undefined;
		if (!name || !view || when === undefined || size === undefined || !seq || !r.eventID || !r.eventSourceARN)
			batchItemFailures.push({ itemIdentifier: seq ?? "" });
		void [keys, after, before];
	}
	return { batchItemFailures };
};

export const count: number = events.reduce((n, ev) => n + ev.Records.length, 0);
