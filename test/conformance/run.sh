#!/usr/bin/env bash
# test/conformance/run.sh: the AWS conformance check of orders_stream's
# records.  Run as root, with the extension installed (test.sh does both).
#
#  1. npm ci (pinned @aws-sdk/util-dynamodb, @types/aws-lambda, @types/node,
#     typescript) as postgres, in a postgres-owned copy of this directory
#  2. a throwaway cluster (test/lib.sh), database "conformance":
#     schema.sql (tables of every mapped type, streams of every view type,
#     the independent SQL derivation of the expected values), then a slot,
#     changes.sql, and the slot's records and dump.sql's expectations as JSON;
#     the records the capture worker stored, read back through
#     orders_stream.records, must be the slot's, byte for byte
#  3. node check.mjs: values through the AWS SDK's unmarshall, record format,
#     sequence of records, replay (see check.mjs)
#  4. tsc --strict --noEmit: the records as aws-lambda's DynamoDBStreamEvent,
#     through a DynamoDBStreamHandler (types.ts); and a broken copy must fail
# Exits non-zero on any failure.  The JSON files stay in the output directory
# with ORDERS_STREAM_KEEP=1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
os_init

# Work in a postgres-owned copy of the repository unless already in one.
if [ "$(stat -c %U "$here")" = postgres ]; then
	C=$here
else
	work_copy "$here/../.."
	C=$OS_WORK/test/conformance
fi
OUT=$C/generated
as_postgres mkdir -p "$OUT"

failures=0
fail() { printf '\nCONFORMANCE FAILURE: %s\n' "$*"; failures=$((failures + 1)); }

os_log "conformance: npm ci ($(node --version), npm $(npm --version))"
as_postgres -C "$C" npm ci --no-audit --no-fund --cache "$OUT/npm-cache" --loglevel=warn
echo "installed: $(cd "$C" && node -e 'for (const p of ["@aws-sdk/util-dynamodb","@types/aws-lambda","@types/node","typescript"]) process.stdout.write(p + "@" + require(p + "/package.json").version + " ")')"

os_log "conformance: throwaway cluster"
os_mkdir_pg dir
start_cluster "$dir" conformance
if ! os_psql -q -d conformance -f "$C/schema.sql" >"$OUT/schema.out" 2>&1; then
	cat "$OUT/schema.out"; cluster_log "$dir" 40
	os_die "schema.sql failed"
fi
cat "$OUT/schema.out"
slot_lsn=$(os_psql -qAt -d conformance -c "SELECT lsn FROM pg_create_logical_replication_slot('conf', 'orders_stream')")

since=$(date +%s)
if ! os_psql -q -d conformance -f "$C/changes.sql" >"$OUT/changes.out" 2>&1; then
	cat "$OUT/changes.out"; cluster_log "$dir" 40
	os_die "changes.sql failed"
fi

# Decode in a session whose settings differ from the defaults in every way
# that could leak into the text of a value.
reader_opts="-c datestyle=SQL,DMY -c timezone=Pacific/Chatham -c intervalstyle=postgres_verbose -c extra_float_digits=-3 -c bytea_output=escape"
if ! PGOPTIONS=$reader_opts os_psql -qAt -d conformance -o "$OUT/records.json" -c "
	SELECT coalesce(json_agg(c.data ORDER BY c.n), '[]')
	FROM pg_logical_slot_get_changes('conf', NULL, NULL) WITH ORDINALITY AS c(lsn, xid, data, n)"; then
	cluster_log "$dir" 60
	os_die "pg_logical_slot_get_changes failed"
fi
until=$(date +%s)
# the same records as stored (the worker renders them for storage, the read
# side rebuilds them): every transaction that committed after the slot's start
os_psql -qAt -d conformance -c "SELECT orders_stream.wait_for_capture() IS NOT NULL" >/dev/null
os_psql -qAt -d conformance -o "$OUT/stored.json" -c "
	SELECT coalesce(json_agg(r.record::text ORDER BY r.sequence_key), '[]')
	  FROM orders_stream.records r
	 WHERE r.sequence_key OPERATOR(pg_catalog.>) orders_stream.sequence_key(orders_stream.sequence_number('$slot_lsn', 0))"
if cmp -s "$OUT/records.json" "$OUT/stored.json"; then
	echo "stored records: identical to the slot's ($(wc -c <"$OUT/stored.json") bytes)"
else
	fail "the stored records differ from the slot's: diff $OUT/records.json $OUT/stored.json"
fi
os_psql -qAt -d conformance -o "$OUT/expected.json" -f "$C/dump.sql"
os_psql -q -d conformance -c "SELECT pg_drop_replication_slot('conf')" >/dev/null
if grep -q 'ERROR\|PANIC\|TRAP' "$dir/server.log"; then
	echo "--- errors in the server log ---"
	grep -n -B2 -A3 'ERROR\|PANIC\|TRAP' "$dir/server.log" | head -n 60
fi
echo "records: $(wc -c <"$OUT/records.json") bytes, expected: $(wc -c <"$OUT/expected.json") bytes"

os_log "conformance: check.mjs (values via @aws-sdk/util-dynamodb unmarshall, record format, sequence)"
as_postgres -C "$C" node check.mjs "$OUT/records.json" "$OUT/expected.json" --since "$since" --until "$until" ||
	fail "check.mjs found mismatches (above)"

os_log "conformance: tsc --strict --noEmit (records as aws-lambda DynamoDBStreamEvent)"
as_postgres -C "$C" node gen-ts.mjs "$OUT/records.json" "$OUT"
tsc=(node node_modules/typescript/bin/tsc --strict --noEmit --target es2022 --lib es2022 --module nodenext --types aws-lambda,node)
if as_postgres -C "$C" "${tsc[@]}" types.ts generated/records.ts >"$OUT/tsc.out" 2>&1; then
	echo "types.ts and the records type-check"
else
	head -c 20000 "$OUT/tsc.out"
	fail "the records do not type-check as DynamoDBStreamEvent"
fi
if [ -f "$OUT/broken.ts" ]; then
	as_postgres -C "$C" "${tsc[@]}" generated/broken.ts >"$OUT/tsc-broken.out" 2>&1 || true
	if grep -q "TS2353.*NewImages" "$OUT/tsc-broken.out" && grep -q "TS2322" "$OUT/tsc-broken.out"; then
		echo "tsc rejects a misspelt and a mistyped field, as it should"
	else
		cat "$OUT/tsc-broken.out"
		fail "tsc did not reject broken.ts (misspelt NewImages, SizeBytes a string): the type check has no teeth"
	fi
fi

os_log "conformance: the Streams API through @aws-sdk/client-dynamodb-streams (sdk/check-api.mjs)"
as_postgres -C "$C/sdk" npm ci --no-audit --no-fund --cache "$OUT/npm-cache" --loglevel=warn
as_postgres -C "$C/sdk" env PGHOST="$OS_PGHOST" PGPORT="$OS_PGPORT" PGUSER=postgres PGDATABASE=conformance \
	PATH="$PG_BINDIR:$PATH" node check-api.mjs || fail "check-api.mjs: the SDK parsed an answer differently (above)"

if [ "$failures" -gt 0 ]; then
	echo "conformance: $failures check(s) failed; records: $OUT/records.json (ORDERS_STREAM_KEEP=1 keeps it)"
	exit 1
fi
echo "conformance: all checks passed"
