#!/usr/bin/env bash
# bench/perf_frames.sh PERF.DATA [FRAME...]: inclusive share of the samples
# whose call stack contains each frame: where a capture worker spends its
# time, by phase (storing, decoding, cache rebuilds, ...), which a flat
# profile of leaf functions does not show.  With no frames given, a default
# set for the capture worker.  Needs perf (linux-perf).
#
#   BENCH_PERF=1 bench/run.sh writer      # writes results/.../*.perf.data
#   bench/perf_frames.sh bench/results/.../writer-worker-r1.perf.data
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
data=$1
shift
frames=("$@")
if [ ${#frames[@]} -eq 0 ]; then
	frames=(
		orders_stream_capture_main
		decode_pass LogicalDecodingProcessRecord ReorderBufferQueueChange ReorderBufferCommit
		os_change emit_record ddb_append_image capture_write BufFileWrite
		flush_and_confirm store_buffered_records heap_multi_insert ExecInsertIndexTuples
		SPI_execute_with_args CommitTransactionCommand XLogFlush
		InvalidateSystemCachesExtended RelationIdGetRelation systable_beginscan
		worker_extension_oid get_extension_oid retention_maintain retention_partition_for_now
		XLogReadRecord __libc_pread __libc_pwrite
	)
fi
perf script -i "$data" 2>/dev/null | awk -v FRAMES="${frames[*]}" '
	BEGIN { n = split(FRAMES, F, " ") }
	/^[^ \t]/ { if (inrec) flush(); inrec = 1; delete seen; next }
	/^[ \t]+[0-9a-f]+ / { sym = $2; sub(/\+0x.*/, "", sym); sub(/\.(isra|part|constprop)\..*/, "", sym); seen[sym] = 1; next }
	function flush(  i) { total++; for (i = 1; i <= n; i++) if (F[i] in seen) c[F[i]]++; inrec = 0 }
	END {
		if (inrec) flush()
		printf "%d samples\n", total
		for (i = 1; i <= n; i++) printf "%6.1f%%  %s\n", total ? 100 * c[F[i]] / total : 0, F[i]
	}'
