#!/usr/bin/env bash
# bench/read_path.sh: what one read of the stream costs at a stream's length
# (issue 17), now and as it was at READ_BASE, on the same records.
#  1. READ_RECORDS changes are captured into one stream (NEW_IMAGE); the read
#     API of READ_BASE (40_read_api.sql, 45_streams_api.sql of that commit)
#     is installed beside the current one, in schema "before", over the same
#     record_store: the C functions are the current build's.
#  2. per call, ms (mean of READ_CALLS calls in one session, after 3 warm-up
#     calls, so plan caching is included), as a role that may read the
#     table, current and before interleaved in each of READ_ROUNDS rounds:
#     GetRecords (Limit 1000) from the middle, from TRIM_HORIZON and at
#     LATEST (caught up, empty), GetShardIterator AT_SEQUENCE_NUMBER,
#     DescribeStream, ListStreams, and the records view read by position
#     (WHERE stream_id = ... AND sequence_key > ... ORDER BY sequence_key
#     LIMIT 1000), each through orders_stream.dynamodb_streams() or
#     dynamodb_streams_text() (what the endpoint calls); twice: with the
#     partitions analyzed, and with their statistics removed and autovacuum
#     off for them (a fresh partition before autovacuum's first ANALYZE);
#  3. through orders_stream_endpoint (bench/endpoint_client.py, pages of
#     1000): one reader from the middle, READ_PAGES pages, records/s; then
#     READ_READERS concurrent readers at positions spread over the stream,
#     READ_PAGES pages each, records/s of each (min, median, max).
# The machine may be shared: the before/after ratios of one round are what
# to compare.  Run as root from the repository: bench/read_path.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
os_init

N=${READ_RECORDS:-2000000}
CALLS=${READ_CALLS:-20}
ROUNDS=${READ_ROUNDS:-3}
PAGES=${READ_PAGES:-200}
READERS=${READ_READERS:-16}
BASE=${READ_BASE:-d9ca7ee}

git rev-parse --verify -q "$BASE^{commit}" >/dev/null || os_die "READ_BASE $BASE is not a commit of this repository"
. bench/endpoint_lib.sh
os_log "capturing $N records"
endpoint_stream "$N" NEW_IMAGE
q -c "ANALYZE orders_stream.record_store"

# READ_BASE's read API over the same records, in schema "before"
{
	echo "CREATE SCHEMA before; GRANT USAGE ON SCHEMA before TO PUBLIC;"
	git show "$BASE:sql/install/40_read_api.sql" "$BASE:sql/install/45_streams_api.sql"
} | sed -E 's/orders_stream\.("DescribeStream"|"ListStreams"|"GetShardIterator"|"GetRecords")/before.\1/g;
	s/orders_stream\.(readable_streams|records|stream_status|dynamodb_streams|list_streams|describe_stream|get_shard_iterator|get_records)\b/before.\1/g' |
	q >/dev/null

sid=$(q -c "SELECT stream_id FROM orders_stream.readable_streams WHERE stream_arn = '$arn'")
# the SequenceNumber of the record at offset k of the stream
seq_at() { q -c "SELECT orders_stream.sequence_text(sequence_key) FROM orders_stream.record_store WHERE stream_id = $sid ORDER BY sequence_key OFFSET $1 LIMIT 1"; }
mid=$(seq_at $((N / 2)))

# one psql session per round: every call of both versions, interleaved
calls_sql() {
	local round=$1
	cat <<-EOF
	SET ROLE reader;
	CREATE FUNCTION pg_temp.per_call(q text, n int) RETURNS numeric LANGUAGE plpgsql AS \$f\$
	DECLARE t0 timestamptz;
	BEGIN
		FOR i IN 1..3 LOOP EXECUTE q; END LOOP;
		t0 := clock_timestamp();
		FOR i IN 1..n LOOP EXECUTE q; END LOOP;
		RETURN round((extract(epoch FROM clock_timestamp() - t0) * 1000 / n)::numeric, 3);
	END
	\$f\$;
	SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'AFTER_SEQUENCE_NUMBER', '$mid') AS itm \gset
	SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'TRIM_HORIZON') AS itt \gset
	SELECT orders_stream.get_shard_iterator('$arn', '$shard', 'LATEST') AS itl \gset
	CREATE TEMP TABLE calls (call text, now text, before text);
	INSERT INTO calls VALUES
	  ('GetRecords from the middle', format('SELECT orders_stream.dynamodb_streams_text(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itm')),
	                                 format('SELECT before.dynamodb_streams(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itm'))),
	  ('GetRecords from the middle, jsonb', format('SELECT orders_stream.dynamodb_streams(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itm')),
	                                 format('SELECT before.dynamodb_streams(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itm'))),
	  ('GetRecords from TRIM_HORIZON', format('SELECT orders_stream.dynamodb_streams_text(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itt')),
	                                 format('SELECT before.dynamodb_streams(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itt'))),
	  ('GetRecords at LATEST', format('SELECT orders_stream.dynamodb_streams_text(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itl')),
	                                 format('SELECT before.dynamodb_streams(''GetRecords'', %L)', jsonb_build_object('ShardIterator', :'itl'))),
	  ('GetShardIterator AT_SEQUENCE_NUMBER', format('SELECT orders_stream.dynamodb_streams_text(''GetShardIterator'', %L)', jsonb_build_object('StreamArn', '$arn', 'ShardId', '$shard', 'ShardIteratorType', 'AT_SEQUENCE_NUMBER', 'SequenceNumber', '$mid')),
	                                 format('SELECT before.dynamodb_streams(''GetShardIterator'', %L)', jsonb_build_object('StreamArn', '$arn', 'ShardId', '$shard', 'ShardIteratorType', 'AT_SEQUENCE_NUMBER', 'SequenceNumber', '$mid'))),
	  ('DescribeStream', format('SELECT orders_stream.dynamodb_streams_text(''DescribeStream'', %L)', jsonb_build_object('StreamArn', '$arn')),
	                     format('SELECT before.dynamodb_streams(''DescribeStream'', %L)', jsonb_build_object('StreamArn', '$arn'))),
	  ('ListStreams', 'SELECT orders_stream.dynamodb_streams_text(''ListStreams'')', 'SELECT before.dynamodb_streams(''ListStreams'')'),
	  ('records view by position, ORDER BY, LIMIT 1000',
	   format('SELECT * FROM orders_stream.records WHERE stream_id = $sid AND sequence_key > %L ORDER BY sequence_key LIMIT 1000', orders_stream.sequence_key('$mid')),
	   format('SELECT * FROM before.records WHERE stream_id = $sid AND sequence_key > %L ORDER BY sequence_key LIMIT 1000', orders_stream.sequence_key('$mid'))),
	  ('records_from() by position, 1000',
	   format('SELECT * FROM orders_stream.records_from($sid, %L, 1000)', orders_stream.sequence_key('$mid') || '\x00'::bytea),
	   NULL);
	SELECT c.call, n.ms, b.ms, round(b.ms / n.ms, 1)
	  FROM calls c,
	       LATERAL (SELECT pg_temp.per_call(c.now, $CALLS) AS ms) n,
	       LATERAL (SELECT CASE WHEN c.before IS NOT NULL THEN pg_temp.per_call(c.before, CASE WHEN c.call ~ 'view' THEN 3 ELSE $CALLS END) END AS ms) b;
	EOF
}

now() { date +%s.%N; }
printf 'stats\tround\tcall\tnow_ms\tbefore_ms\tbefore/now\n' >"$dir/calls.tsv"
for stats in analyzed none; do
	if [ "$stats" = none ]; then
		q -c "SELECT format('ALTER TABLE %s SET (autovacuum_enabled = false);', partition) FROM orders_stream.partitions" | q >/dev/null
		q -c "DELETE FROM pg_statistic s USING orders_stream.partitions p WHERE s.starelid = p.partition" \
		  -c "UPDATE pg_class c SET reltuples = -1, relpages = 0 FROM orders_stream.partitions p WHERE c.oid = p.partition" >/dev/null
	fi
	for round in $(seq "$ROUNDS"); do
		calls_sql "$round" | q -F $'\t' | sed "s/^/$stats\t$round\t/" | tee -a "$dir/calls.tsv"
	done
done

# ---- through the endpoint ----
endpoint_start "$READERS"
rps() { awk '{ printf "%.0f\n", $1 / $2 }'; }

# the readers' positions, spread over the stream
starts=()
for r in $(seq "$READERS"); do starts+=("$(seq_at $(((r - 1) * (N - PAGES * 1000) / READERS)))"); done
printf 'round\tone_reader_rps\treaders\tmin_rps\tmedian_rps\tmax_rps\n' >"$dir/endpoint.tsv"
for round in $(seq "$ROUNDS"); do
	one=$(client window "$url" "$arn" "$shard" "$mid" "$PAGES" | rps)
	pids=()
	for r in $(seq "$READERS"); do
		client window "$url" "$arn" "$shard" "${starts[$((r - 1))]}" "$PAGES" >"$dir/w.$r" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$dir"/w.* | rps | sort -n | awk -v OFS='\t' -v round="$round" -v one="$one" -v k="$READERS" \
		'{ v[NR] = $1 } END { print round, one, k, v[1], v[int((NR + 1) / 2)], v[NR] }' | tee -a "$dir/endpoint.tsv"
done

os_log "results ($N records in one stream; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
cat "$dir/calls.tsv" "$dir/endpoint.tsv"
out=${BENCH_OUT:-bench/results/read_path-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
cp "$dir/calls.tsv" "$dir/endpoint.tsv" "$out/"
echo "saved in $out"
