#!/usr/bin/env bash
# bench/run.sh: orders_stream benchmarks.  Run as root on Debian 12 with
# PostgreSQL 15 (servers run as postgres).  Not tests: never wired into CI.
#
#   bench/run.sh [BENCH...]      BENCH: writer capture latency all (default all)
#
#   writer   (a)+(b)  pgbench INSERT TPS: no stream (baseline) vs stream vs
#                     AFTER ROW trigger writing to_jsonb(NEW) to a log table
#   capture  (c)+(e)  1,000,000-row INSERT: commit -> wait_for_capture(), vs
#                     hand decode+store with test_decoding on the same WAL;
#                     capture worker memory sampled throughout
#   latency  (d)      commit -> record visible, at --rate 1000 for 4 clients
#   (aliases: a b -> writer, c e memory -> capture, d -> latency)
#
# Every comparison is interleaved within one run (rounds of A, B, A, B, ...,
# the order rotated from round to round) and reported as the median of the
# per-round ratios with their min and max: the machine is shared, absolute
# figures drift, ratios taken minutes apart would not mean much.
#
# Environment (defaults in brackets):
#   BENCH_SRC=DIR        source tree to build [this repository's working tree]
#   BENCH_OUT=DIR        results directory [bench/results/<date>-<time>]
#   WRITER_ROUNDS [5]  WRITER_SECONDS [30]  WRITER_CLIENTS [4]
#   CAPTURE_ROUNDS [3] CAPTURE_ROWS [1000000]
#   LATENCY_ROUNDS [3] LATENCY_SECONDS [60] LATENCY_RATE [1000] LATENCY_CLIENTS [4]
#   BENCH_PERF=1         also record a perf profile of the capture worker
#                        (writer: stream rounds; capture: our side)
#   BENCH_KEEP=1         keep clusters' directories (logs) after the run
#   BENCH_SYSTEM_INSTALL=1  use the installed orders_stream (see lib.sh)
set -euo pipefail
cd "$(dirname "$0")"
. ./lib.sh
os_init
bench_traps

WRITER_ROUNDS=${WRITER_ROUNDS:-5}
WRITER_SECONDS=${WRITER_SECONDS:-30}
WRITER_CLIENTS=${WRITER_CLIENTS:-4}
CAPTURE_ROUNDS=${CAPTURE_ROUNDS:-3}
CAPTURE_ROWS=${CAPTURE_ROWS:-1000000}
LATENCY_ROUNDS=${LATENCY_ROUNDS:-3}
LATENCY_SECONDS=${LATENCY_SECONDS:-60}
LATENCY_RATE=${LATENCY_RATE:-1000}
LATENCY_CLIENTS=${LATENCY_CLIENTS:-4}
PGBENCH_THREADS=$(($(nproc) < 4 ? $(nproc) : 4))

benches=()
for arg in "${@:-all}"; do
	case $arg in
		all) benches+=(writer capture latency) ;;
		writer | a | b | trigger) benches+=(writer) ;;
		capture | c | e | memory) benches+=(capture) ;;
		latency | d) benches+=(latency) ;;
		-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
		*) os_die "unknown benchmark \"$arg\" (writer, capture, latency, all)" ;;
	esac
done
# run each once, in the order given
mapfile -t benches < <(printf '%s\n' "${benches[@]}" | awk '!seen[$0]++')

BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$BENCH_OUT"
BENCH_OUT=$(cd "$BENCH_OUT" && pwd)
SUMMARY=$BENCH_OUT/summary.md

bench_prereqs
src=${BENCH_SRC:-$BENCH_DIR/..}
{
	echo "# orders_stream benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo '```'
	bench_machine
	bench_source "$src"
	echo "command: bench/run.sh ${*:-all}"
	echo '```'
} >"$SUMMARY"
bench_install "$src"
if [ -n "${BENCH_BUILD:-}" ]; then
	# what exactly was measured
	tar -C "$BENCH_BUILD" -czf "$BENCH_OUT/source.tar.gz" src sql Makefile orders_stream.control
fi

summary() { printf '%s\n' "$@" | tee -a "$SUMMARY"; }

# run_pgbench OUTFILE [pgbench args]: pgbench under /usr/bin/time -v; prints
# "tps client_cpu_seconds transactions".
run_pgbench() {
	local out=$1
	shift
	as_postgres -C "$BENCH_HOST" /usr/bin/time -v -o "$out.time" "$PG_BINDIR/pgbench" \
		-h "$BENCH_HOST" -p "$BENCH_PORT" -U postgres "$@" bench >"$out" 2>&1 ||
		{ cat "$out"; os_die "pgbench failed"; }
	awk '/^tps = / { tps = $3 }
		/^number of transactions actually processed: / { split($NF, a, "/"); tx = a[1] }
		/User time \(seconds\)/ { cpu += $NF }
		/System time \(seconds\)/ { cpu += $NF }
		END { printf "%.1f %.2f %d\n", tps, cpu, tx }' "$out" "$out.time"
}

# perf_start PID NAME / perf_stop: optional perf profile of one process.
PERF_PID=
perf_start() {
	[ "${BENCH_PERF:-0}" = 1 ] || return 0
	command -v perf >/dev/null || { echo "perf not installed (apt-get install linux-perf)"; return 0; }
	perf record -q -F 499 -g -p "$1" -o "$BENCH_OUT/$2.perf.data" >/dev/null 2>&1 &
	PERF_PID=$!
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
}
perf_reports() {
	local f
	for f in "$BENCH_OUT"/*.perf.data; do
		[ -f "$f" ] || continue
		perf report -i "$f" --no-children --sort dso,symbol -g none --percent-limit 0.7 \
			2>/dev/null | grep -v '^#' | grep -v '^$' >"${f%.data}.txt" || true
		"$BENCH_DIR/perf_frames.sh" "$f" >"${f%.data}.frames.txt" 2>/dev/null || true
	done
}

# ------------------------------------------------------------------ writer --
bench_writer() {
	local tsv=$BENCH_OUT/writer.tsv round i v order res tps cpu tx lag wcpu0 wcpu1 ccpu0 ccpu1 worker
	bench_log "writer TPS: $WRITER_ROUNDS rounds x {nostream, streamed, trigger} x ${WRITER_SECONDS}s, $WRITER_CLIENTS clients"
	bench_cluster writer
	bench_psql -f "$BENCH_DIR/sql/writer_setup.sql" >/dev/null
	for v in nostream streamed trigger; do
		printf '\\set n random(1, 1000000)\n\\set q random(1, 10)\nINSERT INTO orders_%s (item, quantity) VALUES (%s, :q);\n' \
			"$v" "'sku-' || :n::int" >"$(bench_file "insert_$v.sql")"
	done
	chown postgres "$BENCH_HOST"/insert_*.sql
	worker=$(capture_pid)
	[ "$worker" != 0 ] || os_die "no capture worker running"

	# warm-up, not measured
	for v in nostream streamed trigger; do
		run_pgbench "$BENCH_HOST/warmup.out" -n -M prepared -c "$WRITER_CLIENTS" -j "$PGBENCH_THREADS" \
			-T 5 -f "$BENCH_HOST/insert_$v.sql" >/dev/null
	done
	wait_capture >/dev/null

	printf 'round\tvariant\ttps\ttransactions\tserver_cpu_ms_per_tx\tpgbench_cpu_ms_per_tx\tworker_cpu_ms_per_tx\tcapture_lag_s\tloadavg\n' >"$tsv"
	for ((round = 1; round <= WRITER_ROUNDS; round++)); do
		# rotate the order, so that no variant always runs first or last
		order=(nostream streamed trigger)
		for ((i = 1; i < round; i++)); do order=("${order[@]:1}" "${order[0]}"); done
		for v in "${order[@]}"; do
			wait_capture >/dev/null
			bench_sql 'CHECKPOINT' >/dev/null
			wcpu0=$(proc_cpu "$worker")
			ccpu0=$(cluster_cpu)
			[ "$v" = streamed ] && perf_start "$worker" "writer-worker-r$round"
			res=$(run_pgbench "$BENCH_HOST/writer-r$round-$v.out" -n -M prepared \
				-c "$WRITER_CLIENTS" -j "$PGBENCH_THREADS" -T "$WRITER_SECONDS" -f "$BENCH_HOST/insert_$v.sql")
			read -r tps cpu tx <<<"$res"
			# the capture of this round's transactions belongs to its cost
			lag=$(wait_capture)
			[ "$v" = streamed ] && perf_stop
			wcpu1=$(proc_cpu "$worker")
			ccpu1=$(cluster_cpu)
			awk -v r="$round" -v v="$v" -v tps="$tps" -v tx="$tx" -v c0="$ccpu0" -v c1="$ccpu1" -v pc="$cpu" \
				-v w0="$wcpu0" -v w1="$wcpu1" -v lag="$lag" -v load="$(cut -d' ' -f1 /proc/loadavg)" \
				'BEGIN { printf "%d\t%s\t%s\t%d\t%.4f\t%.4f\t%.4f\t%s\t%s\n", r, v, tps, tx, 1000 * (c1 - c0) / tx,
					1000 * pc / tx, 1000 * (w1 - w0) / tx, lag, load }' >>"$tsv"
			echo "round $round $v: $tps tps; server CPU $(tail -1 "$tsv" | cut -f5) ms/tx (capture worker $(tail -1 "$tsv" | cut -f7)); capture caught up ${lag}s after the run"
		done
	done
	[ "$(capture_pid)" = "$worker" ] || os_die "the capture worker restarted during the run (see $BENCH_HOST/server.log)"
	echo "records stored: $(bench_sql 'SELECT count(*) FROM orders_stream.records')"
	bench_stop

	# per-round ratios against the no-stream run of the same round; the CPU
	# estimate is what the TPS ratio would be on a machine where the
	# benchmark had both cores to itself (CPU-bound: TPS ~ 1 / CPU per tx,
	# pgbench's own CPU included)
	awk -F'\t' 'NR > 1 { tps[$1, $2] = $3; srv[$1, $2] = $5; cli[$1, $2] = $6; wrk[$1, $2] = $7; lag[$1, $2] = $8; if ($1 > n) n = $1 }
		END {
			print "round\tstream_tps_ratio\ttrigger_tps_ratio\tstream_cpu_ratio\ttrigger_cpu_ratio\tnostream_tps\tstream_tps\ttrigger_tps\tnostream_ms_tx\tstream_ms_tx\ttrigger_ms_tx\tstream_worker_ms_tx\tnostream_worker_ms_tx\tstream_lag_s"
			for (r = 1; r <= n; r++) {
				b = srv[r, "nostream"] + cli[r, "nostream"]
				printf "%d\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%s\t%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\n", r,
					tps[r, "streamed"] / tps[r, "nostream"], tps[r, "trigger"] / tps[r, "nostream"],
					b / (srv[r, "streamed"] + cli[r, "streamed"]), b / (srv[r, "trigger"] + cli[r, "trigger"]),
					tps[r, "nostream"], tps[r, "streamed"], tps[r, "trigger"],
					srv[r, "nostream"], srv[r, "streamed"], srv[r, "trigger"],
					wrk[r, "streamed"], wrk[r, "nostream"], lag[r, "streamed"]
			}
		}' "$tsv" >"$BENCH_OUT/writer-ratios.tsv"
	local R=$BENCH_OUT/writer-ratios.tsv
	summary "" "## (a)+(b) writer TPS ($WRITER_ROUNDS rounds x ${WRITER_SECONDS}s per variant, $WRITER_CLIENTS clients, single-row INSERT)" "" \
		"Measured TPS ratios (same round, interleaved):" \
		"- stream / no stream:  $(bench_stats "$R" 2)   (target >= 0.90)" \
		"- trigger / no stream: $(bench_stats "$R" 3)" \
		"CPU-based ratios (no-stream CPU per transaction / variant's, server + pgbench; the TPS ratio of a CPU-bound dedicated machine):" \
		"- stream / no stream:  $(bench_stats "$R" 4)" \
		"- trigger / no stream: $(bench_stats "$R" 5)" \
		"Raw figures:" \
		"- TPS no stream $(bench_stats "$R" 6)" \
		"- TPS stream    $(bench_stats "$R" 7)" \
		"- TPS trigger   $(bench_stats "$R" 8)" \
		"- server CPU ms per transaction: no stream $(bench_stats "$R" 9)" \
		"- server CPU ms per transaction: stream    $(bench_stats "$R" 10)" \
		"- server CPU ms per transaction: trigger   $(bench_stats "$R" 11)" \
		"- of which capture worker, stream rounds:    $(bench_stats "$R" 12)" \
		"- of which capture worker, no-stream rounds: $(bench_stats "$R" 13)" \
		"- capture lag when pgbench stopped (stream rounds), s: $(bench_stats "$R" 14)" \
		"" '```' "$(column -t -s$'\t' "$R" 2>/dev/null || cat "$R")" '```'
}

# ----------------------------------------------------------------- capture --
# mem_sampler PID FILE: samples the memory of PID every 100 ms until killed.
mem_sampler() {
	local pid=$1 file=$2 data=$BENCH_DATA
	printf 'ms\tvm_rss_kb\tvm_hwm_kb\trss_anon_kb\trss_file_kb\trss_shmem_kb\tpss_kb\tpss_anon_kb\tprivate_dirty_kb\treplslot_spill_kb\ttemp_files_kb\n' >"$file"
	while [ -e "/proc/$pid/status" ]; do
		{
			awk '/^(VmRSS|VmHWM|RssAnon|RssFile|RssShmem):/ { s[$1] = $2 }
				/^(Pss|Pss_Anon|Private_Dirty):/ { s[$1] = $2 }
				END { printf "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d", 0, s["VmRSS:"], s["VmHWM:"], s["RssAnon:"],
					s["RssFile:"], s["RssShmem:"], s["Pss:"], s["Pss_Anon:"], s["Private_Dirty:"] }' \
				"/proc/$pid/status" "/proc/$pid/smaps_rollup" 2>/dev/null
			printf '\t%s\t%s\n' "$(du -sk "$data"/pg_replslot 2>/dev/null | cut -f1)" \
				"$(du -sk "$data"/base/pgsql_tmp 2>/dev/null | cut -f1 || echo 0)"
		} | awk -v ms="$(date +%s%3N)" 'BEGIN { OFS = FS = "\t" } { $1 = ms; print }' >>"$file" || true
		sleep 0.1
	done
}

bench_capture() {
	local tsv=$BENCH_OUT/capture.tsv round worker out sampler
	bench_log "capture throughput and memory: $CAPTURE_ROUNDS rounds x {stream, test_decoding} x $CAPTURE_ROWS rows"
	bench_cluster capture
	bench_psql -f "$BENCH_DIR/sql/capture_setup.sql" >/dev/null
	worker=$(capture_pid)
	[ "$worker" != 0 ] || os_die "no capture worker running"
	printf 'round\trows\tload_s\tcapture_s\tself_decode_tail_s\tworker_cpu_s\ttd_s\ttd_cpu_s\tratio\tcpu_ratio\trecords\ttd_rows\tpeak_rss_anon_mb\tvm_hwm_mb\tpeak_rss_shmem_mb\tpeak_pss_mb\tpeak_spill_mb\tpeak_temp_mb\n' >"$tsv"
	for ((round = 1; round <= CAPTURE_ROUNDS; round++)); do
		bench_psql -c 'SET orders_stream.allow_truncate = on' -c 'TRUNCATE orders_load, td_out' >/dev/null
		wait_capture >/dev/null
		bench_sql 'CHECKPOINT' >/dev/null
		bench_sql "SELECT 1 FROM pg_create_logical_replication_slot('bench_td', 'test_decoding')" >/dev/null
		local before wcpu0 wcpu1 wcpu2
		before=$(bench_sql 'SELECT sequence_number FROM orders_stream.capture_progress')

		# A: ours.  The worker consumes the WAL as it comes (it reads what is
		# flushed every orders_stream.capture_naptime while the load runs);
		# the clock starts at COMMIT.
		echo 5 >"/proc/$worker/clear_refs"	# resets VmHWM
		mem_sampler "$worker" "$BENCH_OUT/capture-r$round-memory.tsv" &
		sampler=$!
		perf_start "$worker" "capture-worker-r$round"
		wcpu0=$(proc_cpu "$worker")
		out=$(bench_psql -At -v rows="$CAPTURE_ROWS" -f "$BENCH_DIR/sql/capture_load.sql")
		wcpu1=$(proc_cpu "$worker")
		perf_stop
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		# load_s commit_lsn capture_s: from capture_load.sql
		local load_s lsn capture_s tail_s
		read -r load_s lsn capture_s <<<"$(echo "$out" | tr '\n' ' ')"
		# anything left: before the origin filter, the worker decoding its own
		# inserts into orders_stream.records (5-6 s per 1,000,000 records)
		tail_s=$(wait_capture)
		wcpu2=$(proc_cpu "$worker")
		local records
		records=$(bench_sql "SELECT count(*) FROM orders_stream.records WHERE sequence_number > '$before'")

		# B: test_decoding on the same WAL, decoded and stored by hand
		bench_sql 'CHECKPOINT' >/dev/null
		local td td_s td_cpu td_rows
		td=$(bench_psql -At -v lsn="$lsn" -f "$BENCH_DIR/sql/capture_td.sql")
		read -r td_s td_cpu td_rows <<<"$(echo "$td" | tr '\n' ' ')"
		bench_sql "SELECT pg_drop_replication_slot('bench_td')" >/dev/null
		wait_capture >/dev/null	# the worker decodes td_out's inserts: not measured

		local mem
		mem=$(awk -F'\t' 'NR > 1 { for (i = 2; i <= NF; i++) if ($i + 0 > m[i]) m[i] = $i + 0 }
			END { printf "%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f", m[4] / 1024, m[3] / 1024, m[6] / 1024, m[7] / 1024, m[10] / 1024, m[11] / 1024 }' \
			"$BENCH_OUT/capture-r$round-memory.tsv")
		printf '%d\t%d\t%s\t%s\t%s\t%.2f\t%s\t%s\t%.3f\t%.3f\t%s\t%s\t%s\n' "$round" "$CAPTURE_ROWS" "$load_s" \
			"$capture_s" "$tail_s" "$(awk -v a="$wcpu0" -v b="$wcpu2" 'BEGIN { print b - a }')" "$td_s" "$td_cpu" \
			"$(awk -v a="$capture_s" -v b="$td_s" 'BEGIN { print b / a }')" \
			"$(awk -v a="$wcpu0" -v b="$wcpu2" -v c="$td_cpu" 'BEGIN { print c / (b - a) }')" \
			"$records" "$td_rows" "$mem" >>"$tsv"
		echo "round $round: load ${load_s}s; ours: commit -> captured ${capture_s}s (+${tail_s}s self-decode tail, worker CPU $(awk -v a="$wcpu0" -v b="$wcpu2" 'BEGIN { print b - a }')s), $records records; test_decoding: ${td_s}s (CPU ${td_cpu}s), $td_rows rows"
		[ "$records" = "$CAPTURE_ROWS" ] || os_die "expected $CAPTURE_ROWS records, found $records"
	done
	[ "$(capture_pid)" = "$worker" ] || os_die "the capture worker restarted during the run (see $BENCH_HOST/server.log)"
	bench_stop
	summary "" "## (c) capture of one ${CAPTURE_ROWS}-row INSERT transaction ($CAPTURE_ROUNDS rounds)" "" \
		"- rate ratio ours / test_decoding+INSERT (= td seconds / our seconds): $(bench_stats "$tsv" 9)   (target >= 1.0)" \
		"- ours, COMMIT -> wait_for_capture() returns, s: $(bench_stats "$tsv" 4)" \
		"- test_decoding: INSERT INTO t SELECT * FROM pg_logical_slot_get_changes(), s: $(bench_stats "$tsv" 7)" \
		"- a second wait_for_capture() right after, s: $(bench_stats "$tsv" 5) (5-6 s per 1,000,000 records while the worker decoded its own inserts)" \
		"- CPU ratio test_decoding backend / capture worker (whole round: during the load, after COMMIT, own inserts): $(bench_stats "$tsv" 10)" \
		"- capture worker CPU per round, s: $(bench_stats "$tsv" 6); test_decoding backend CPU, s: $(bench_stats "$tsv" 8)" \
		"- the load itself (INSERT ... SELECT generate_series), s: $(bench_stats "$tsv" 3)" \
		"" "## (e) capture worker memory during (c), sampled every 100 ms" "" \
		"- peak RssAnon (the worker's private memory), MB: $(bench_stats "$tsv" 13)" \
		"- VmHWM (kernel's peak RSS: private + touched shared memory + mapped files), MB: $(bench_stats "$tsv" 14)" \
		"- peak RssShmem (shared buffers etc. this process touched, not its own), MB: $(bench_stats "$tsv" 15)" \
		"- peak Pss (shared pages divided among the processes mapping them), MB: $(bench_stats "$tsv" 16)" \
		"- peak disk: reorder-buffer spill (pg_replslot) MB: $(bench_stats "$tsv" 17); capture buffer temp files MB: $(bench_stats "$tsv" 18)" \
		"" '```' "$(column -t -s$'\t' "$tsv" 2>/dev/null || cat "$tsv")" '```'
}

# ----------------------------------------------------------------- latency --
bench_latency() {
	local tsv=$BENCH_OUT/latency.tsv round v worker
	bench_log "commit -> visible latency: $LATENCY_ROUNDS rounds x {nostream, streamed} x ${LATENCY_SECONDS}s at $LATENCY_RATE tx/s, $LATENCY_CLIENTS clients"
	bench_cluster latency 'track_commit_timestamp = on'
	bench_psql -f "$BENCH_DIR/sql/writer_setup.sql" >/dev/null
	for v in nostream streamed; do
		printf '\\set n random(1, 1000000)\n\\set q random(1, 10)\nINSERT INTO orders_%s (item, quantity) VALUES (%s, :q);\n' \
			"$v" "'sku-' || :n::int" >"$(bench_file "insert_$v.sql")"
	done
	chown postgres "$BENCH_HOST"/insert_*.sql
	worker=$(capture_pid)
	run_pgbench "$BENCH_HOST/warmup.out" -n -M prepared -c "$LATENCY_CLIENTS" -j "$PGBENCH_THREADS" \
		-T 5 -R "$LATENCY_RATE" -f "$BENCH_HOST/insert_streamed.sql" >/dev/null
	wait_capture >/dev/null
	printf 'round\tvariant\ttps\twriter_p50_ms\twriter_p99_ms\tvisible_p50_ms\tvisible_p99_ms\tvisible_p999_ms\tvisible_max_ms\tcaptured_at_p50_ms\tcaptured_at_p99_ms\trecords\tstore_xacts\n' >"$tsv"
	for ((round = 1; round <= LATENCY_ROUNDS; round++)); do
		local order=(nostream streamed)
		((round % 2 == 0)) && order=(streamed nostream)
		for v in "${order[@]}"; do
			wait_capture >/dev/null
			bench_sql 'CHECKPOINT' >/dev/null
			local before res tps wlat vis
			before=$(bench_sql 'SELECT sequence_number FROM orders_stream.capture_progress')
			rm -f "$BENCH_HOST"/lat.*
			res=$(run_pgbench "$BENCH_HOST/latency-r$round-$v.out" -n -M prepared \
				-c "$LATENCY_CLIENTS" -j "$PGBENCH_THREADS" -T "$LATENCY_SECONDS" -R "$LATENCY_RATE" \
				-l --log-prefix="$BENCH_HOST/lat" -f "$BENCH_HOST/insert_$v.sql")
			read -r tps _ <<<"$res"
			# per-transaction log: client tx latency_us script epoch us schedule_lag
			wlat=$(cat "$BENCH_HOST"/lat.* | awk '{ print $3 / 1000 }' | sort -n |
				awk '{ v[NR] = $1 } END { printf "%.2f\t%.2f", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1] }')
			wait_capture >/dev/null
			if [ "$v" = streamed ]; then
				vis=$(bench_psql -At -F$'\t' -v before="$before" -f "$BENCH_DIR/sql/latency_report.sql")
			else
				vis=$'\t\t\t\t\t\t\t'
			fi
			printf '%d\t%s\t%s\t%s\t%s\n' "$round" "$v" "$tps" "$wlat" "$vis" >>"$tsv"
			echo "round $round $v: $tps tps, writer p50/p99 $(echo "$wlat" | tr '\t' /) ms$([ "$v" = streamed ] && echo "; commit -> visible p50/p99/p99.9/max $(echo "$vis" | cut -f1-4 | tr '\t' /) ms")"
		done
	done
	[ "$(capture_pid)" = "$worker" ] || os_die "the capture worker restarted during the run (see $BENCH_HOST/server.log)"
	bench_stop
	awk -F'\t' 'NR > 1 { p99[$1, $2] = $5; p50[$1, $2] = $4; if ($1 > n) n = $1 }
		END { print "round\twriter_p50_ratio\twriter_p99_ratio"
			for (r = 1; r <= n; r++) printf "%d\t%.3f\t%.3f\n", r, p50[r, "streamed"] / p50[r, "nostream"], p99[r, "streamed"] / p99[r, "nostream"] }' \
		"$tsv" >"$BENCH_OUT/latency-ratios.tsv"
	{ echo header; grep -P '^\d+\tstreamed\t' "$tsv" || true; } >"$BENCH_OUT/latency-stream.tsv"
	summary "" "## (d) commit -> record visible at $LATENCY_RATE orders/s ($LATENCY_ROUNDS rounds x ${LATENCY_SECONDS}s, $LATENCY_CLIENTS clients)" "" \
		"Latency = commit timestamp of the storing transaction - commit timestamp of the order (track_commit_timestamp)." "" \
		"- p50, ms: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 6)" \
		"- p99, ms: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 7)   (target <= 100)" \
		"- p99.9, ms: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 8); max, ms: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 9)" \
		"- commit -> captured_at (start of the storing transaction) p50, ms: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 10); p99: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 11)" \
		"- storing transactions per round: $(bench_stats "$BENCH_OUT/latency-stream.tsv" 13)" \
		"- writer latency with stream / without (same round): p50 $(bench_stats "$BENCH_OUT/latency-ratios.tsv" 2); p99 $(bench_stats "$BENCH_OUT/latency-ratios.tsv" 3)" \
		"" '```' "$(column -t -s$'\t' "$tsv" 2>/dev/null || cat "$tsv")" '```'
}

for b in "${benches[@]}"; do
	"bench_$b"
done
perf_reports
bench_log "done: $SUMMARY"
cat "$SUMMARY"
