// test/conformance/check.mjs: checks orders_stream's records against AWS.
//
//   node check.mjs RECORDS.json EXPECTED.json [--since EPOCH] [--until EPOCH]
//
// RECORDS.json: a JSON array of the "data" strings that
// pg_logical_slot_get_changes returned, in order (one stream record each).
// EXPECTED.json: dump.sql's output: per table its view type, set columns,
// primary key, final rows; the streams; and conf.log, every change with the
// expected images, derived in SQL (schema.sql) independently of the plugin.
//
// For every record it checks
//  (a) the values: unmarshall(image, {wrapNumbers: true}) from
//      @aws-sdk/util-dynamodb, after {"B": base64} -> {"B": Uint8Array}
//      (the SDK takes raw bytes), gives the row's values column by column;
//  (b) the structure: the fields of an AWS Lambda DynamoDB Streams record,
//      their formats, and which images a view type and event carry;
//  (c) the sequence: one record per change in the order of the changes
//      (none for a no-op update, REMOVE + INSERT for a key change, none for
//      rolled back changes, tables without a stream or after disable_stream);
//  (d) replaying the records of each NEW_* stream gives the table's rows.
// Then it checks itself: a few mutated records must fail.
// Exits 1 with readable messages on any mismatch.

import { readFileSync } from "node:fs";
import { unmarshall, NumberValueImpl } from "@aws-sdk/util-dynamodb";

// ------------------------------------------------------------ arguments --
const args = process.argv.slice(2);
const opt = (name) => {
	const i = args.indexOf(name);
	if (i < 0) return undefined;
	const v = args[i + 1];
	args.splice(i, 2);
	return v;
};
const since = opt("--since");
const until = opt("--until");
const maxShown = Number(opt("--max-errors") ?? 60);
if (args.length !== 2) {
	console.error("usage: node check.mjs RECORDS.json EXPECTED.json [--since EPOCH] [--until EPOCH]");
	process.exit(2);
}
const rawRecords = JSON.parse(readFileSync(args[0], "utf8"));
const expected = JSON.parse(readFileSync(args[1], "utf8"));

// -------------------------------------------------------------- helpers --
const short = (v, n = 160) => {
	let s;
	try {
		s = JSON.stringify(v, (k, x) => (typeof x === "bigint" ? x.toString() : x));
	} catch {
		s = String(v);
	}
	if (s === undefined) s = String(v);
	return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
};
// JSON with sorted keys, for exact comparisons
const stable = (v) =>
	v === null || typeof v !== "object"
		? JSON.stringify(v)
		: Array.isArray(v)
			? `[${v.map(stable).join(",")}]`
			: `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(",")}}`;
const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// A decimal string in canonical form (sign, digits without leading or
// trailing zeros, exponent), or null if it is no decimal number.
function canonNum(s) {
	if (typeof s !== "string") return null;
	const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
	if (!m || (m[2] === "" && (m[3] ?? "") === "")) return null;
	const frac = m[3] ?? "";
	let digits = (m[2] + frac).replace(/^0+/, "");
	let exp = BigInt(m[4] ?? 0) - BigInt(frac.length);
	if (digits === "") return "0";
	const t = digits.match(/0*$/)[0].length;
	digits = digits.slice(0, digits.length - t);
	exp += BigInt(t);
	return `${m[1] === "-" ? "-" : ""}${digits}e${exp}`;
}
const sigDigits = (s) => {
	const c = canonNum(s);
	return c === null || c === "0" ? 0 : c.replace(/^-/, "").split("e")[0].length;
};

// DynamoDB's canonical text of a decimal string (no exponent, no leading
// or trailing zeros, no negative zero), or null if DynamoDB cannot hold it
// (more than 38 significant digits, magnitude outside 1E-130..9.99E+125).
function ddbCanon(s) {
	const c = canonNum(s);
	if (c === null) return null;
	if (c === "0") return "0";
	const [, sign, digits, e] = /^(-?)(\d+)e(-?\d+)$/.exec(c);
	const lead = BigInt(e) + BigInt(digits.length - 1); // power of ten of the first digit
	if (digits.length > 38 || lead > 125n || lead < -130n) return null;
	const exp = Number(e);
	let text;
	if (exp >= 0) text = digits + "0".repeat(exp);
	else if (-exp < digits.length) text = `${digits.slice(0, digits.length + exp)}.${digits.slice(digits.length + exp)}`;
	else text = `0.${"0".repeat(-exp - digits.length)}${digits}`;
	return sign + text;
}
// the only N values unmarshall (without wrapNumbers) cannot convert, for
// AWS's own records too: beyond 2^53 and not integers (BigInt refuses them)
const unsafeForUnmarshall = (n) => Math.abs(Number(n)) > Number.MAX_SAFE_INTEGER && n.includes(".");

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const N_RE = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = ["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"];

// ------------------------------------------- attribute value validation --
// Strict DynamoDB typed JSON: exactly one type key, a value of its type.
function validateAV(av, path, err, notes) {
	if (!isObj(av)) return err(`${path}: attribute value is not an object: ${short(av)}`);
	const ks = Object.keys(av);
	if (ks.length !== 1 || !TYPES.includes(ks[0]))
		return err(`${path}: an attribute value has exactly one of ${TYPES.join("/")}, got keys ${short(ks)}`);
	const t = ks[0];
	const v = av[t];
	const setCheck = (arr, each) => {
		if (!Array.isArray(arr) || arr.length === 0) return err(`${path}.${t}: must be a non-empty array, got ${short(arr)}`);
		arr.forEach((e, i) => each(e, `${path}.${t}[${i}]`));
		const canon = arr.map((e) => (t === "NS" ? canonNum(e) : e));
		if (new Set(canon).size !== canon.length) err(`${path}.${t}: duplicates in a set: ${short(arr)}`);
	};
	switch (t) {
		case "S":
			if (typeof v !== "string") err(`${path}.S: not a string: ${short(v)}`);
			break;
		case "N":
			if (typeof v !== "string" || !N_RE.test(v)) err(`${path}.N: not a number string: ${short(v)}`);
			else if (ddbCanon(v) === null) err(`${path}.N: a number DynamoDB cannot hold (${sigDigits(v)} significant digits, or out of range): ${short(v, 60)}`);
			else if (ddbCanon(v) !== v) err(`${path}.N: not DynamoDB's canonical form ${short(ddbCanon(v), 60)}: ${short(v, 60)}`);
			break;
		case "B":
			if (typeof v !== "string" || !B64.test(v)) err(`${path}.B: not padded base64: ${short(v)}`);
			break;
		case "BOOL":
			if (typeof v !== "boolean") err(`${path}.BOOL: not a boolean: ${short(v)}`);
			break;
		case "NULL":
			if (v !== true) err(`${path}.NULL: must be true, got ${short(v)}`);
			break;
		case "SS":
			setCheck(v, (e, p) => typeof e !== "string" && err(`${p}: not a string: ${short(e)}`));
			break;
		case "NS":
			setCheck(v, (e, p) => (typeof e !== "string" || !N_RE.test(e)) ? err(`${p}: not a number string: ${short(e)}`)
				: ddbCanon(e) !== e && err(`${p}: not a canonical DynamoDB number (${short(ddbCanon(e), 60)}): ${short(e, 60)}`));
			break;
		case "BS":
			setCheck(v, (e, p) => (typeof e !== "string" || !B64.test(e)) && err(`${p}: not padded base64: ${short(e)}`));
			break;
		case "L":
			if (!Array.isArray(v)) err(`${path}.L: not an array: ${short(v)}`);
			else v.forEach((e, i) => validateAV(e, `${path}.L[${i}]`, err, notes));
			break;
		case "M":
			if (!isObj(v)) err(`${path}.M: not an object: ${short(v)}`);
			else for (const [k, e] of Object.entries(v)) validateAV(e, `${path}.M.${k}`, err, notes);
			break;
	}
}

// {"B": base64} -> {"B": Uint8Array}, {"BS": [base64]} -> {"BS": [Uint8Array]}
function decodeBinary(av) {
	if (!isObj(av)) return av;
	if (typeof av.B === "string") return { B: new Uint8Array(Buffer.from(av.B, "base64")) };
	if (Array.isArray(av.BS)) return { BS: av.BS.map((b) => new Uint8Array(Buffer.from(String(b), "base64"))) };
	if (Array.isArray(av.L)) return { L: av.L.map(decodeBinary) };
	if (isObj(av.M)) return { M: Object.fromEntries(Object.entries(av.M).map(([k, e]) => [k, decodeBinary(e)])) };
	return av;
}
const decodeImage = (img) => Object.fromEntries(Object.entries(img).map(([k, av]) => [k, decodeBinary(av)]));

// unmarshalled JS value -> tagged JSON (the form of the expected values)
const b64 = (u8) => Buffer.from(u8).toString("base64");
function tag(v, path) {
	if (v === null || typeof v === "string" || typeof v === "boolean") return v;
	if (v instanceof NumberValueImpl) return { $n: v.toString() };
	if (v instanceof Uint8Array) return { $b: b64(v) };
	if (v instanceof Set) {
		const a = [...v];
		if (a.every((e) => typeof e === "string")) return { $ss: a.sort() };
		if (a.every((e) => e instanceof NumberValueImpl)) return { $ns: a.map((e) => e.toString()) };
		if (a.every((e) => e instanceof Uint8Array)) return { $bs: a.map(b64).sort() };
		throw new Error(`${path}: unexpected set elements ${short(a)}`);
	}
	if (Array.isArray(v)) return v.map((e, i) => tag(e, `${path}[${i}]`));
	if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype)
		return { $m: Object.fromEntries(Object.entries(v).map(([k, e]) => [k, tag(e, `${path}.${k}`)])) };
	throw new Error(`${path}: unmarshall returned an unexpected ${typeof v}: ${short(v)}`);
}

const kind = (v) =>
	v === null ? "NULL" : typeof v === "string" ? "S" : typeof v === "boolean" ? "BOOL" : Array.isArray(v) ? "L"
		: isObj(v) ? (Object.keys(v).find((k) => k.startsWith("$")) ?? "?").slice(1).toUpperCase() : typeof v;
const shownTagged = (v) => `${kind(v)} ${short(v && typeof v === "object" && !Array.isArray(v) ? Object.values(v)[0] : v, 120)}`;

// compare an expected tagged value with an actual one
function compare(exp, act, path, err) {
	const mismatch = () => err(`${path}: expected ${shownTagged(exp)}, got ${shownTagged(act)}`);
	if (exp === null || typeof exp !== "object") {
		if (exp !== act) mismatch();
		return;
	}
	if (Array.isArray(exp)) {
		if (!Array.isArray(act)) return mismatch();
		if (exp.length !== act.length) return err(`${path}: expected L of ${exp.length}, got L of ${act.length}: ${short(act, 120)}`);
		exp.forEach((e, i) => compare(e, act[i], `${path}[${i}]`, err));
		return;
	}
	if (!isObj(act) || kind(exp) !== kind(act)) return mismatch();
	if ("$n" in exp) {
		if (canonNum(exp.$n) === null || canonNum(exp.$n) !== canonNum(act.$n)) mismatch();
	} else if ("$b" in exp) {
		if (exp.$b !== act.$b) mismatch();
	} else if ("$ss" in exp || "$bs" in exp) {
		const k = Object.keys(exp)[0];
		if (stable([...exp[k]].sort()) !== stable([...act[k]].sort())) mismatch();
	} else if ("$ns" in exp) {
		const c = (a) => a.map(canonNum).sort();
		if (stable(c(exp.$ns)) !== stable(c(act.$ns))) mismatch();
	} else if ("$m" in exp) {
		const ek = Object.keys(exp.$m);
		const ak = Object.keys(act.$m);
		for (const k of ek) if (!(k in act.$m)) err(`${path}.${k}: missing (expected ${shownTagged(exp.$m[k])})`);
		for (const k of ak) if (!(k in exp.$m)) err(`${path}.${k}: unexpected attribute ${shownTagged(act.$m[k])}`);
		for (const k of ek) if (k in act.$m) compare(exp.$m[k], act.$m[k], `${path}.${k}`, err);
	} else mismatch();
}

// --------------------------------------------------------- expectations --
const tables = new Map((expected.tables ?? []).map((t) => [t.tbl, t]));
const streamArn = new Map((expected.streams ?? []).map((s) => [s.TableName, s.StreamArn]));
const pickKeys = (img, tbl) => Object.fromEntries(tables.get(tbl).key_columns.map((k) => [k, img[k]]));
const keyText = (img, tbl) => tables.get(tbl).key_columns.map((k) => `${k}=${short(img[k], 40)}`).join(",");

// the records the log of changes calls for, in order
const want = [];
for (const e of expected.log ?? []) {
	const t = tables.get(e.tbl);
	if (!t || !e.streamed) continue;
	const push = (eventName, oldImg, newImg) => want.push({ tbl: e.tbl, eventName, oldImg, newImg, log: e.n });
	if (e.op === "INSERT") push("INSERT", null, e.new_image);
	else if (e.op === "DELETE") push("REMOVE", e.old_image, null);
	else if (stable(pickKeys(e.old_image, e.tbl)) !== stable(pickKeys(e.new_image, e.tbl))) {
		push("REMOVE", e.old_image, null);
		push("INSERT", null, e.new_image);
	} else if (stable(e.old_image) !== stable(e.new_image)) push("MODIFY", e.old_image, e.new_image);
}

// --------------------------------------------------------------- checks --
const ARN_RE = /^arn:aws:dynamodb:([^:]+):(\d{12}):table\/([^/]+)\/stream\/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})$/;
const TOP = ["eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN"];
const DDB = ["ApproximateCreationDateTime", "Keys", "NewImage", "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"];
const VIEWS = ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"];

function check(raw) {
	const errors = [];
	const notes = [];
	const records = [];
	// parse
	raw.forEach((s, i) => {
		try {
			records.push(JSON.parse(s));
		} catch (e) {
			errors.push(`record #${i}: not JSON (${e.message}): ${short(s)}`);
			records.push(null);
		}
	});
	const seenIds = new Set();
	const unmarshallNotes = [];
	const lastSeq = new Map();
	const state = new Map(); // replay: tbl -> key -> tagged NewImage

	const n = Math.max(records.length, want.length);
	for (let i = 0; i < n; i++) {
		const r = records[i];
		const w = want[i];
		const label = r && isObj(r)
			? `record #${i} (${r.eventName} ${(ARN_RE.exec(r.eventSourceARN ?? "") ?? [])[3] ?? "?"} ${isObj(r.dynamodb) && isObj(r.dynamodb.Keys) ? short(r.dynamodb.Keys, 80) : ""})`
			: `record #${i}`;
		const err = (m) => errors.push(`${label}: ${m}`);
		if (r === undefined) {
			errors.push(`record #${i}: missing: expected ${w.eventName} on ${w.tbl} ${keyText(w.newImg ?? w.oldImg, w.tbl)} (conf.log n=${w.log})`);
			continue;
		}
		if (r === null) continue;
		if (!isObj(r)) {
			err(`not a JSON object: ${short(r)}`);
			continue;
		}

		// (b) structure
		for (const k of TOP) if (!(k in r)) err(`missing field ${k}`);
		for (const k of Object.keys(r)) if (!TOP.includes(k)) err(`unexpected field ${k}: ${short(r[k], 80)}`);
		if (typeof r.eventID !== "string" || !/^[0-9a-f]{32}$/.test(r.eventID)) err(`eventID is not 32 lowercase hex digits: ${short(r.eventID)}`);
		else if (seenIds.has(r.eventID)) err(`eventID ${r.eventID} is not unique`);
		else seenIds.add(r.eventID);
		if (!["INSERT", "MODIFY", "REMOVE"].includes(r.eventName)) err(`eventName ${short(r.eventName)} is not INSERT, MODIFY or REMOVE`);
		if (r.eventVersion !== "1.1") err(`eventVersion ${short(r.eventVersion)} is not "1.1"`);
		if (r.eventSource !== "aws:dynamodb") err(`eventSource ${short(r.eventSource)} is not "aws:dynamodb"`);
		if (typeof r.awsRegion !== "string" || r.awsRegion === "") err(`awsRegion ${short(r.awsRegion)} is not a region name`);
		const arn = typeof r.eventSourceARN === "string" ? ARN_RE.exec(r.eventSourceARN) : null;
		let tbl = null;
		if (!arn) err(`eventSourceARN ${short(r.eventSourceARN)} does not match ${ARN_RE}`);
		else {
			tbl = arn[3];
			if (arn[1] !== r.awsRegion) err(`the ARN's region ${arn[1]} is not awsRegion ${short(r.awsRegion)}`);
			if (Number.isNaN(Date.parse(`${arn[4]}Z`))) err(`the ARN's stream label ${arn[4]} is no valid time`);
			if (!tables.has(tbl)) err(`a record for table ${tbl}, which has no stream under test`);
			else if (streamArn.get(tbl) !== r.eventSourceARN) err(`eventSourceARN ${r.eventSourceARN} is not list_streams()'s ${streamArn.get(tbl)}`);
		}
		const t = tbl && tables.get(tbl);
		const d = r.dynamodb;
		if (!isObj(d)) {
			err(`dynamodb is not an object: ${short(d)}`);
			continue;
		}
		for (const k of ["ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"])
			if (!(k in d)) err(`missing dynamodb.${k}`);
		for (const k of Object.keys(d)) if (!DDB.includes(k)) err(`unexpected field dynamodb.${k}: ${short(d[k], 80)}`);
		const acdt = d.ApproximateCreationDateTime;
		if (typeof acdt !== "number" || !Number.isFinite(acdt)) err(`ApproximateCreationDateTime ${short(acdt)} is not a number`);
		else if (since !== undefined && until !== undefined && (acdt < Number(since) - 5 || acdt > Number(until) + 5))
			err(`ApproximateCreationDateTime ${acdt} is not within the run (${since}..${until}, epoch seconds)`);
		if (typeof d.SequenceNumber !== "string" || !/^\d{21,40}$/.test(d.SequenceNumber))
			err(`SequenceNumber ${short(d.SequenceNumber)} is not a string of 21 to 40 digits`);
		else if (typeof r.eventSourceARN === "string") {
			const prev = lastSeq.get(r.eventSourceARN);
			if (prev !== undefined && !(BigInt(d.SequenceNumber) > prev))
				err(`SequenceNumber ${d.SequenceNumber} does not increase (previous in this stream: ${prev})`);
			lastSeq.set(r.eventSourceARN, BigInt(d.SequenceNumber));
		}
		if (!Number.isInteger(d.SizeBytes) || d.SizeBytes <= 0) err(`SizeBytes ${short(d.SizeBytes)} is not a positive integer`);
		if (!VIEWS.includes(d.StreamViewType)) err(`StreamViewType ${short(d.StreamViewType)} is not one of ${VIEWS.join(", ")}`);
		else if (t && d.StreamViewType !== t.view_type) err(`StreamViewType ${d.StreamViewType}, but the stream was enabled with ${t.view_type}`);

		const view = t ? t.view_type : d.StreamViewType;
		const wantNew = ["NEW_IMAGE", "NEW_AND_OLD_IMAGES"].includes(view) && r.eventName !== "REMOVE";
		const wantOld = ["OLD_IMAGE", "NEW_AND_OLD_IMAGES"].includes(view) && r.eventName !== "INSERT";
		if (wantNew !== ("NewImage" in d)) err(`${view} ${r.eventName}: NewImage must be ${wantNew ? "present" : "absent"}`);
		if (wantOld !== ("OldImage" in d)) err(`${view} ${r.eventName}: OldImage must be ${wantOld ? "present" : "absent"}`);

		const images = {};
		for (const part of ["Keys", "NewImage", "OldImage"]) {
			if (!(part in d)) continue;
			if (!isObj(d[part]) || Object.keys(d[part]).length === 0) {
				err(`dynamodb.${part} is not a non-empty object: ${short(d[part])}`);
				continue;
			}
			const before = errors.length;
			for (const [k, av] of Object.entries(d[part])) validateAV(av, `${part}.${k}`, err, notes);
			if (part === "Keys")
				for (const [k, av] of Object.entries(d[part]))
					if (isObj(av) && (!["S", "N", "B"].some((x) => x in av) || av.S === "" || av.B === ""))
						err(`Keys.${k}: a key attribute is a non-empty S, N or B, got ${short(av)}`);
			if (errors.length > before) continue;
			// a Lambda handler's unmarshall, numbers as JS numbers or BigInt
			try {
				unmarshall(decodeImage(d[part]));
			} catch (e) {
				const ns = [];
				JSON.stringify(d[part], (k, x) => (k === "N" && typeof x === "string" && ns.push(x), x));
				if (ns.some(unsafeForUnmarshall)) unmarshallNotes.push(`${part}: ${e.message}`);
				else err(`unmarshall(${part}) without wrapNumbers failed: ${e.message}`);
			}
			try {
				const js = unmarshall(decodeImage(d[part]), { wrapNumbers: true });
				images[part] = tag(js, part).$m;
			} catch (e) {
				err(`unmarshall(${part}) failed: ${e.message}`);
			}
		}
		// Keys are the primary key attributes of the item
		if (t && images.Keys) {
			const kc = t.key_columns;
			if (stable(Object.keys(images.Keys).sort()) !== stable([...kc].sort()))
				err(`Keys has attributes ${short(Object.keys(images.Keys))}, the primary key is ${short(kc)}`);
			const img = images.NewImage ?? images.OldImage;
			if (img) compare({ $m: pickKeys(img, tbl) }, { $m: images.Keys }, "Keys (vs image)", err);
		}

		// (a), (c) the change this record should be
		if (!w) {
			err(`unexpected: the changes call for only ${want.length} records`);
			continue;
		}
		const wl = `${w.eventName} on ${w.tbl} ${keyText(w.newImg ?? w.oldImg, w.tbl)} (conf.log n=${w.log})`;
		if (r.eventName !== w.eventName || tbl !== w.tbl) {
			err(`out of step: expected ${wl}`);
			continue;
		}
		if (images.Keys) compare({ $m: pickKeys(w.newImg ?? w.oldImg, w.tbl) }, { $m: images.Keys }, "Keys", err);
		if (images.NewImage && w.newImg) compare({ $m: w.newImg }, { $m: images.NewImage }, "NewImage", err);
		if (images.OldImage && w.oldImg) compare({ $m: w.oldImg }, { $m: images.OldImage }, "OldImage", err);

		// (d) replay
		if (t && images.Keys) {
			if (!state.has(tbl)) state.set(tbl, new Map());
			const k = stable(images.Keys);
			if (r.eventName === "REMOVE") state.get(tbl).delete(k);
			else if (images.NewImage) state.get(tbl).set(k, images.NewImage);
		}
	}

	// (d) the replayed items are the table's rows
	for (const t of tables.values()) {
		if (!t.enabled || !["NEW_IMAGE", "NEW_AND_OLD_IMAGES"].includes(t.view_type)) continue;
		const have = state.get(t.tbl) ?? new Map();
		const rows = new Map(t.final.map((img) => [stable(pickKeys(img, t.tbl)), img]));
		for (const [k, img] of rows) {
			if (!have.has(k)) errors.push(`replay of ${t.tbl}: row ${keyText(img, t.tbl)} is missing`);
			else compare({ $m: img }, { $m: have.get(k) }, `replay of ${t.tbl}, row ${keyText(img, t.tbl)}`, (m) => errors.push(m));
		}
		for (const [k, img] of have) if (!rows.has(k)) errors.push(`replay of ${t.tbl}: item ${keyText(img, t.tbl)} is not in the table`);
	}
	if (unmarshallNotes.length)
		notes.push(`${unmarshallNotes.length} images hold non-integers beyond 2^53, which unmarshall refuses without wrapNumbers for AWS's records too`);
	return { errors, notes, records };
}

// ------------------------------------------------------------------ run --
const { errors, notes, records } = check(rawRecords);

const count = (list) => {
	const m = new Map();
	for (const x of list) if (x) m.set(x, (m.get(x) ?? 0) + 1);
	return [...m].sort().map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
};
console.log(`records: ${records.length} (${count(records.map((r) => r && isObj(r) && `${(ARN_RE.exec(r.eventSourceARN ?? "") ?? [])[3]} ${r.eventName}`))})`);
console.log(`expected: ${want.length} (${count(want.map((w) => `${w.tbl} ${w.eventName}`))}), from ${(expected.log ?? []).length} logged row changes`);
if (notes.length) {
	console.log(`notes (not failures): ${notes.length}`);
	for (const m of notes.slice(0, 10)) console.log(`  note: ${m}`);
}

// self-test: mutations of good records must be caught
const selfTest = [];
if (records.length > 0 && errors.length === 0) {
	const applied = [];
	const mutate = (desc, f) => {
		const i = records.findIndex((r) => r && f(structuredClone(r)) !== undefined);
		if (i < 0) return;
		applied.push(desc);
		const copy = records.map((r) => structuredClone(r));
		f(copy[i]);
		const res = check(copy.map((r) => JSON.stringify(r)));
		if (res.errors.length === 0) selfTest.push(`self-test: "${desc}" on record #${i} went unnoticed`);
	};
	mutate("a number changed", (r) => {
		const img = r.dynamodb.NewImage ?? r.dynamodb.OldImage;
		const k = img && Object.keys(img).find((a) => "N" in img[a] && a !== "id");
		if (k) return (img[k] = { N: `${img[k].N}1` });
	});
	mutate("a number not in canonical form", (r) => {
		const img = r.dynamodb.NewImage ?? r.dynamodb.OldImage;
		const k = img && Object.keys(img).find((a) => "N" in img[a] && a !== "id");
		if (k) return (img[k] = { N: `${img[k].N}${img[k].N.includes(".") ? "0" : ".0"}` });
	});
	mutate("S instead of N", (r) => {
		const img = r.dynamodb.NewImage;
		const k = img && Object.keys(img).find((a) => "N" in img[a] && a !== "id");
		if (k) return (img[k] = { S: img[k].N });
	});
	mutate("bytes changed", (r) => {
		const img = r.dynamodb.NewImage;
		const k = img && Object.keys(img).find((a) => "B" in img[a] && img[a].B.length > 0);
		if (k) return (img[k] = { B: Buffer.from("other").toString("base64") });
	});
	mutate("an attribute dropped", (r) => {
		const img = r.dynamodb.OldImage;
		const k = img && Object.keys(img).find((a) => a !== "id");
		if (k) return delete img[k];
	});
	mutate("eventVersion 1.0", (r) => (r.eventVersion = "1.0"));
	mutate("ARN without millis", (r) => (r.eventSourceARN = r.eventSourceARN.replace(/\.\d{3}$/, "")));
	mutate("SizeBytes as a string", (r) => (r.dynamodb.SizeBytes = String(r.dynamodb.SizeBytes)));
	if (selfTest.length === 0) console.log(`self-test: broken records are caught (${applied.join(", ")})`);
}

const all = [...errors, ...selfTest];
if (all.length) {
	console.log(`\nFAILED: ${all.length} problems${all.length > maxShown ? ` (first ${maxShown} shown)` : ""}:`);
	for (const m of all.slice(0, maxShown)) console.log(`  ${m}`);
	const first = records.find((r) => r && isObj(r));
	if (first) console.log(`\nfirst record, for reference:\n${short(first, 3000)}`);
	process.exit(1);
}
console.log(`conformance: ${records.length} records match AWS's format and the changes`);
