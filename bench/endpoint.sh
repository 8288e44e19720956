#!/usr/bin/env bash
# bench/endpoint.sh: orders_stream_endpoint against the same reads in psql.
#  1. GetRecords throughput, records/s: ENDPOINT_RECORDS changes are captured,
#     then 4 concurrent readers each read the whole shard from TRIM_HORIZON
#     in pages of 1,000 records,
#       - through the endpoint (bench/endpoint_client.py: SigV4 over one
#         keep-alive connection per reader; pages are not parsed), and
#       - through psql (one session per reader running
#         orders_stream.dynamodb_streams('GetRecords', ...) page after page,
#         each page's JSON sent to psql and the next iterator kept with \gset);
#     records/s = 4 x records / wall time of the slowest reader.
#  2. latency of an empty GetRecords (an iterator at LATEST), LATENCY_CALLS
#     calls in a row from one client: p50 and p99, through the endpoint and
#     through psql (\timing of the same statement).
# Each round runs the four measurements in turn (interleaved), and the ratios
# endpoint / psql are per round: the machine may be shared, the ratios are
# what to compare.  Run as root from the repository: bench/endpoint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
os_init

N=${ENDPOINT_RECORDS:-200000}
ROUNDS=${ENDPOINT_ROUNDS:-3}
CALLS=${LATENCY_CALLS:-2000}
READERS=4

. bench/endpoint_lib.sh
endpoint_stream "$N" NEW_AND_OLD_IMAGES
endpoint_start "$READERS" --request-log-level debug

# psql: a script of PAGES GetRecords, each keeping the next iterator
pages=$((N / 1000 + 2))
{
	echo "SET ROLE reader;"
	echo "SELECT orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', '$arn', 'ShardId', '$shard', 'ShardIteratorType', 'TRIM_HORIZON'))->>'ShardIterator' AS it \\gset"
	for _ in $(seq "$pages"); do
		echo "SELECT r::text AS page, coalesce(r->>'NextShardIterator', '') AS it FROM orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator', :'it', 'Limit', 1000)) r \\gset"
	done
} >"$dir/psql_pages.sql"
{
	echo "SET ROLE reader;"
	echo "SELECT orders_stream.dynamodb_streams('GetShardIterator', jsonb_build_object('StreamArn', '$arn', 'ShardId', '$shard', 'ShardIteratorType', 'LATEST'))->>'ShardIterator' AS it \\gset"
	echo "\\timing on"
	for _ in $(seq "$CALLS"); do
		echo "SELECT orders_stream.dynamodb_streams('GetRecords', jsonb_build_object('ShardIterator', :'it', 'Limit', 1000)) \\g /dev/null"
	done
} >"$dir/psql_latency.sql"
chown postgres:postgres "$dir"/psql_*.sql

now() { date +%s.%N; }
percentiles() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f %.2f\n", v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)] }'; }

printf 'round\tendpoint_rps\tpsql_rps\tratio_rps\tendpoint_p50_ms\tendpoint_p99_ms\tpsql_p50_ms\tpsql_p99_ms\tratio_p99\n' >"$dir/endpoint.tsv"
for round in $(seq "$ROUNDS"); do
	q -c CHECKPOINT >/dev/null
	t0=$(now)
	pids=()
	for r in $(seq "$READERS"); do client throughput "$url" "$arn" "$shard" >"$dir/tp.$r" & pids+=($!); done
	wait "${pids[@]}"
	t1=$(now)
	read -r got _ <"$dir/tp.1"
	[ "$got" = "$N" ] || os_die "the endpoint reader read $got records, not $N"
	ep_rps=$(awk -v n="$N" -v r="$READERS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * r / (b - a) }')

	t0=$(now)
	pids=()
	for r in $(seq "$READERS"); do os_psql -d bench -qAt -f "$dir/psql_pages.sql" >/dev/null & pids+=($!); done
	wait "${pids[@]}"
	t1=$(now)
	ps_rps=$(awk -v n="$N" -v r="$READERS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * r / (b - a) }')

	read -r ep50 ep99 < <(client latency "$url" "$arn" "$shard" "$CALLS" | percentiles)
	read -r ps50 ps99 < <(os_psql -d bench -qAt -f "$dir/psql_latency.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | percentiles)

	awk -v OFS='\t' -v round="$round" -v a="$ep_rps" -v b="$ps_rps" -v c="$ep50" -v d="$ep99" -v e="$ps50" -v f="$ps99" \
		'BEGIN { print round, a, b, sprintf("%.2f", a / b), c, d, e, f, sprintf("%.2f", d / f) }' >>"$dir/endpoint.tsv"
	tail -n 1 "$dir/endpoint.tsv"
done

os_log "results ($N records, $READERS readers, pages of 1000; $CALLS empty GetRecords; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
cat "$dir/endpoint.tsv"
out=${BENCH_OUT:-bench/results/endpoint-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
cp "$dir/endpoint.tsv" "$out/"
echo "saved in $out/endpoint.tsv"
