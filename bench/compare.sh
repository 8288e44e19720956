#!/usr/bin/env bash
# bench/compare.sh: compares two source trees of orders_stream, interleaved,
# to check that a change makes capture cheaper.  Run as root.
#
#   bench/compare.sh SRC_A SRC_B [writer|capture|latency]   (default writer)
#
# Builds each tree into its own private installation (bench/lib.sh), starts
# one cluster per build with the same settings, and alternates between them
# round by round (A, B, B, A, A, B, ...), so that the other load of a shared
# machine hits both alike.  Only one cluster works at a time.
#   writer   per build and round: pgbench on the table without a stream, then
#            on the streamed one (WRITER_SECONDS each); reports per build the
#            stream/no-stream TPS ratio and the capture worker's CPU per
#            record, and B/A of both
#   capture  per build and round: one CAPTURE_ROWS-row INSERT; reports
#            COMMIT -> wait_for_capture() and the worker's CPU, B/A
#   latency  per build and round: LATENCY_SECONDS at LATENCY_RATE orders/s;
#            commit -> visible p50/p99 and worker CPU per record
# Environment: COMPARE_ROUNDS [6], WRITER_SECONDS [30], WRITER_CLIENTS [4],
# CAPTURE_ROWS [1000000], LATENCY_SECONDS [30], LATENCY_RATE [1000],
# BENCH_OUT [bench/results/compare-<date>-<time>], BENCH_KEEP.
set -euo pipefail
cd "$(dirname "$0")"
. ./lib.sh
os_init
bench_traps

[ $# -ge 2 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
SRC_A=$(cd "$1" && pwd)
SRC_B=$(cd "$2" && pwd)
MODE=${3:-writer}
case $MODE in writer | capture | latency) ;; *) os_die "unknown mode $MODE" ;; esac
ROUNDS=${COMPARE_ROUNDS:-6}
WRITER_SECONDS=${WRITER_SECONDS:-30}
WRITER_CLIENTS=${WRITER_CLIENTS:-4}
CAPTURE_ROWS=${CAPTURE_ROWS:-1000000}
LATENCY_SECONDS=${LATENCY_SECONDS:-30}
LATENCY_RATE=${LATENCY_RATE:-1000}
THREADS=$(($(nproc) < 4 ? $(nproc) : 4))
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/results/compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$BENCH_OUT"
bench_prereqs

declare -A BIN HOST PORT DATA WORKER
for b in A B; do
	src_var=SRC_$b
	bench_install "${!src_var}"
	extra=()
	[ "$MODE" = latency ] && extra=('track_commit_timestamp = on')
	bench_cluster "build-$b" "${extra[@]}"
	BIN[$b]=$PG_BINDIR HOST[$b]=$BENCH_HOST PORT[$b]=$BENCH_PORT DATA[$b]=$BENCH_DATA
	bench_psql -f "$BENCH_DIR/sql/writer_setup.sql" >/dev/null 2>&1
	bench_psql -f "$BENCH_DIR/sql/capture_setup.sql" >/dev/null 2>&1
	for v in nostream streamed; do
		printf '\\set n random(1, 1000000)\n\\set q random(1, 10)\nINSERT INTO orders_%s (item, quantity) VALUES (%s, :q);\n' \
			"$v" "'sku-' || :n::int" >"$BENCH_HOST/insert_$v.sql"
	done
	chown postgres "$BENCH_HOST"/insert_*.sql
	WORKER[$b]=$(capture_pid)
done
use() { PG_BINDIR=${BIN[$1]} BENCH_HOST=${HOST[$1]} BENCH_PORT=${PORT[$1]} BENCH_DATA=${DATA[$1]}; }
stream_records() { bench_sql "SELECT count(*) FROM orders_stream.records"; }
pgb() {
	as_postgres -C "$BENCH_HOST" "$PG_BINDIR/pgbench" -h "$BENCH_HOST" -p "$BENCH_PORT" -U postgres "$@" bench 2>&1 |
		awk '/^tps = / { print $3 }'
}

tsv=$BENCH_OUT/compare-$MODE.tsv
case $MODE in
	writer) printf 'round\tbuild\tnostream_tps\tstreamed_tps\tratio\tworker_cpu_ms_per_record\n' >"$tsv" ;;
	capture) printf 'round\tbuild\tcapture_s\tworker_cpu_s\n' >"$tsv" ;;
	latency) printf 'round\tbuild\tvisible_p50_ms\tvisible_p99_ms\tworker_cpu_ms_per_record\tstore_xacts\n' >"$tsv" ;;
esac
for ((round = 1; round <= ROUNDS; round++)); do
	order=(A B)
	((round % 4 == 2 || round % 4 == 3)) && order=(B A)
	for b in "${order[@]}"; do
		use "$b"
		wait_capture >/dev/null
		bench_sql CHECKPOINT >/dev/null
		case $MODE in
			writer)
				t0=$(pgb -n -M prepared -c "$WRITER_CLIENTS" -j "$THREADS" -T "$WRITER_SECONDS" -f "$BENCH_HOST/insert_nostream.sql")
				wait_capture >/dev/null
				bench_sql CHECKPOINT >/dev/null
				r0=$(stream_records) c0=$(proc_cpu "${WORKER[$b]}")
				t1=$(pgb -n -M prepared -c "$WRITER_CLIENTS" -j "$THREADS" -T "$WRITER_SECONDS" -f "$BENCH_HOST/insert_streamed.sql")
				wait_capture >/dev/null
				r1=$(stream_records) c1=$(proc_cpu "${WORKER[$b]}")
				line=$(awk -v t0="$t0" -v t1="$t1" -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" -v n=$((r1 - r0)) \
					'BEGIN { printf "%s\t%s\t%.3f\t%.4f", t0, t1, t1 / t0, 1000 * c / n }')
				;;
			capture)
				bench_psql -c 'SET orders_stream.allow_truncate = on' -c 'TRUNCATE orders_load' >/dev/null
				wait_capture >/dev/null
				bench_sql CHECKPOINT >/dev/null
				c0=$(proc_cpu "${WORKER[$b]}")
				out=$(bench_psql -At -v rows="$CAPTURE_ROWS" -f "$BENCH_DIR/sql/capture_load.sql")
				wait_capture >/dev/null
				c1=$(proc_cpu "${WORKER[$b]}")
				line=$(printf '%s\t%s' "$(echo "$out" | sed -n 3p)" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')")
				;;
			latency)
				before=$(bench_sql 'SELECT sequence_number FROM orders_stream.capture_progress')
				r0=$(stream_records) c0=$(proc_cpu "${WORKER[$b]}")
				pgb -n -M prepared -c 4 -j "$THREADS" -T "$LATENCY_SECONDS" -R "$LATENCY_RATE" -f "$BENCH_HOST/insert_streamed.sql" >/dev/null
				wait_capture >/dev/null
				r1=$(stream_records) c1=$(proc_cpu "${WORKER[$b]}")
				vis=$(bench_psql -At -F$'\t' -v before="$before" -f "$BENCH_DIR/sql/latency_report.sql")
				line=$(printf '%s\t%s\t%s\t%s' "$(echo "$vis" | cut -f1)" "$(echo "$vis" | cut -f2)" \
					"$(awk -v a="$c0" -v b="$c1" -v n=$((r1 - r0)) 'BEGIN { printf "%.4f", 1000 * (b - a) / n }')" "$(echo "$vis" | cut -f8)")
				;;
		esac
		printf '%d\t%s\t%s\n' "$round" "$b" "$line" | tee -a "$tsv"
	done
done

# per-build medians, and B/A of the per-round values
report() { # column label
	local col=$1 label=$2 b
	for b in A B; do
		awk -F'\t' -v b="$b" 'NR == 1 || $2 == b' "$tsv" >"$BENCH_OUT/.$b.tsv"
		echo "$label, $b: $(bench_stats "$BENCH_OUT/.$b.tsv" "$col")"
	done
	awk -F'\t' -v c="$col" 'NR > 1 { v[$1, $2] = $c; if ($1 > n) n = $1 }
		END { print "h"; for (r = 1; r <= n; r++) if (v[r, "A"] != 0) print v[r, "B"] / v[r, "A"] }' "$tsv" >"$BENCH_OUT/.ba.tsv"
	echo "$label, B/A per round: $(bench_stats "$BENCH_OUT/.ba.tsv" 1)"
}
{
	echo "A = $SRC_A"
	echo "B = $SRC_B"
	case $MODE in
		writer) report 5 "streamed/nostream TPS"; report 6 "worker CPU ms per record"; report 4 "streamed TPS" ;;
		capture) report 3 "COMMIT -> captured s"; report 4 "worker CPU s" ;;
		latency) report 3 "visible p50 ms"; report 4 "visible p99 ms"; report 5 "worker CPU ms per record"; report 6 "storing transactions" ;;
	esac
} | tee "$BENCH_OUT/compare-$MODE.txt"
