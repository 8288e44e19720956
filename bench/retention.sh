#!/usr/bin/env bash
# bench/retention.sh: what trimming a stream costs, by the size of what it
# trims.  Trimming is DROP TABLE of an expired partition (t/005_retention.pl
# asserts that no record is ever deleted); this times it.
#  - maintain_partitions() dropping one expired partition of 100 records and
#    one of RETENTION_RECORDS records (test/expired_partition.sql makes them),
#    interleaved, RETENTION_ROUNDS rounds: the median of each, and their
#    ratio (a per-record cost would make it about RETENTION_RECORDS / 100);
#  - for scale, a DELETE of as many records of the same shape.
# Run as root from the repository: bench/retention.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
os_init

N=${RETENTION_RECORDS:-200000}
ROUNDS=${RETENTION_ROUNDS:-3}

bench_prereqs
bench_install
bench_cluster retention
bench_psql -c "CREATE TABLE orders (id int PRIMARY KEY, note text)" \
	-c "SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE')" >/dev/null
bench_psql <test/expired_partition.sql >/dev/null

# the milliseconds of a psql \timing line
timed_ms() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }

# drop_ms N HOURS: how long maintain_partitions() takes to drop a partition
# of N records that expired HOURS hours ago
drop_ms() {
	local part
	part=$(bench_sql "SELECT make_old_partition($1,
		current_setting('orders_stream.retention')::interval + interval '$2 hours')")
	bench_psql -c CHECKPOINT -c 'SELECT orders_stream_internal.maintain_partitions()' \
		-c "SELECT make_visible('$part')" >/dev/null
	bench_psql -c '\timing on' -c 'SELECT orders_stream_internal.maintain_partitions()' | timed_ms
}

tsv=$(mktemp "${TMPDIR:-/tmp}/retention.XXXXXX.tsv")
os_rm_later "$tsv"
printf 'round\trecords\tms\n' >"$tsv"
hours=0
for round in $(seq 1 "$ROUNDS"); do
	for n in 100 "$N"; do
		hours=$((hours + 1))
		printf '%s\t%s\t%s\n' "$round" "$n" "$(drop_ms "$n" "$hours")" >>"$tsv"
	done
done

bench_psql -c 'CREATE TABLE delete_reference (LIKE orders_stream.record_store INCLUDING INDEXES)' \
	-c "INSERT INTO delete_reference SELECT 1, now(), 0, 0,
			orders_stream.sequence_key(lpad(g::text, 30, '0')), 'INSERT',
			format('\"ApproximateCreationDateTime\":0,\"Keys\":{\"id\":{\"N\":\"%s\"}},\"NewImage\":{\"note\":{\"S\":\"%s\"}}',
				   g, repeat('x', 200)), false
		  FROM generate_series(1, $N) g" -c CHECKPOINT >/dev/null
delete_ms=$(bench_psql -c '\timing on' -c 'DELETE FROM delete_reference' | timed_ms)

bench_log "trimming: maintain_partitions() dropping one expired partition ($ROUNDS rounds)"
cat "$tsv"
small=$(awk -F'\t' 'NR == 1 || $2 == 100' "$tsv" > "$tsv.small" && bench_median "$tsv.small" 3)
big=$(awk -F'\t' -v n="$N" 'NR == 1 || $2 == n' "$tsv" > "$tsv.big" && bench_median "$tsv.big" 3)
rm -f "$tsv.small" "$tsv.big"
awk -v s="$small" -v b="$big" -v n="$N" -v d="$delete_ms" 'BEGIN {
	printf "median %.3f ms dropping 100 records, %.3f ms dropping %d: ratio %.2f\n", s, b, n, b / s
	printf "for scale: a DELETE of %d records takes %.1f ms\n", n, d
}'
