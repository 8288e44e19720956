# bench/lib.sh: helpers sourced by bench/run.sh.
#
# Builds on test/lib.sh (cleanup trap, as_postgres, temporary directories):
# every server runs as "postgres" in a throwaway data directory, with its own
# socket directory and a free port from 56432 up on 127.0.0.1 only, and is
# stopped and removed at exit (BENCH_KEEP=1 keeps the directories).
#
# Statistics: every benchmark writes one line per measurement to
# $BENCH_OUT/<bench>.tsv; bench_stats summarises a column with awk (median,
# min, max), so that nothing beyond bash, awk, psql and pgbench is needed.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH_DIR/../test/lib.sh"
[ "${BENCH_KEEP:-0}" = 1 ] && export ORDERS_STREAM_KEEP=1

bench_log() { printf '\n[%s] ==> %s\n' "$(date +%H:%M:%S)" "$*"; }

# bench_traps: after os_init, say why a run ends early (the machine is
# shared: it happens) and name the command that failed, rather than exit
# silently (set -e)
bench_traps() {
	set -E
	trap 'echo "$0: line $LINENO: failed: $BASH_COMMAND" >&2' ERR
	trap 'echo "$0: terminated by SIGTERM" >&2; exit 143' TERM
	trap 'echo "$0: interrupted" >&2; exit 130' INT
	trap 'echo "$0: SIGHUP (run it under nohup or setsid)" >&2; exit 129' HUP
}

# bench_source SRC: a line naming the source tree measured, and its commit
bench_source() {
	if git -C "$1" rev-parse HEAD >/dev/null 2>&1; then
		echo "source: $(cd "$1" && pwd) at $(git -C "$1" rev-parse --short HEAD)$(git -C "$1" diff --quiet HEAD -- src sql 2>/dev/null || echo ' + uncommitted changes in src/ sql/')"
	else
		echo "source: $(cd "$1" && pwd)"
	fi
}

# bench_prereqs: the tools the benchmarks use, with the Debian package to
# install when one is missing.  Installs nothing itself.
bench_prereqs() {
	local missing=() t
	for t in "$PG_BINDIR/postgres:postgresql-15" "$PG_BINDIR/pgbench:postgresql-15" \
		"$PG_BINDIR/psql:postgresql-client-15" "$PG_CONFIG:postgresql-server-dev-15" \
		"/usr/bin/time:time" "/usr/bin/awk:mawk" "/usr/bin/make:make"; do
		[ -x "${t%%:*}" ] || missing+=("${t##*:}")
	done
	[ -f "$("$PG_CONFIG" --pkglibdir 2>/dev/null)/test_decoding.so" ] || missing+=(postgresql-15)
	if [ ${#missing[@]} -gt 0 ]; then
		os_die "missing: apt-get install ${missing[*]}"
	fi
}

# bench_install [SRC]: builds orders_stream from a copy of SRC (default: this
# repository's working tree, as it is now) and installs it into a private copy
# of Debian's PostgreSQL 15 installation, whose binaries then serve every
# benchmark cluster (PG_BINDIR is switched to it).  PostgreSQL locates its
# lib and share directories relative to its own binary, so the copy loads
# exactly this build: neither a "make install" by someone else during the run
# nor later edits of the working tree can change what is measured.
# BENCH_SYSTEM_INSTALL=1 uses the system installation instead (build and
# install it yourself first).
bench_install() {
	local src=${1:-$BENCH_DIR/..} build prefix
	if [ "${BENCH_SYSTEM_INSTALL:-0}" = 1 ]; then
		bench_log "using the system installation of orders_stream (BENCH_SYSTEM_INSTALL=1)"
		return
	fi
	build=$(mktemp -d "${TMPDIR:-/tmp}/orders_stream_bench_build.XXXXXX")
	os_rm_later "$build"
	prefix=$(mktemp -d "${TMPDIR:-/tmp}/orders_stream_bench_pg.XXXXXX")
	os_rm_later "$prefix"
	bench_log "building orders_stream from $(cd "$src" && pwd) (copied to $build)"
	tar -C "$src" -cf - --exclude=./.git --exclude=node_modules --exclude=./tmp_check \
		--exclude='*.o' --exclude='*.bc' --exclude='*.so' --exclude=./results . |
		tar -C "$build" -xf -
	make -s -C "$build" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >"$build/make.log" 2>&1 ||
		{ cat "$build/make.log"; os_die "build failed"; }
	mkdir -p "$prefix/usr/lib/postgresql" "$prefix/usr/share/postgresql"
	cp -a "$("$PG_CONFIG" --bindir)/.." "$prefix/usr/lib/postgresql/15"
	cp -a "$("$PG_CONFIG" --sharedir)" "$prefix/usr/share/postgresql/15"
	rm -rf "$prefix"/usr/lib/postgresql/15/lib/orders_stream.so \
		"$prefix"/usr/lib/postgresql/15/lib/bitcode/orders_stream* \
		"$prefix"/usr/share/postgresql/15/extension/orders_stream*
	# installed by the copy's own pg_config, which places it in the copy
	# whatever the original's prefix (Debian's /usr or a relocated one)
	make -s -C "$build" PG_CONFIG="$prefix/usr/lib/postgresql/15/bin/pg_config" install >>"$build/make.log" 2>&1 ||
		{ cat "$build/make.log"; os_die "install failed"; }
	chmod 755 "$prefix"
	PG_BINDIR=$prefix/usr/lib/postgresql/15/bin
	BENCH_BUILD=$build
	echo "private installation: $PG_BINDIR ($(md5sum <"$prefix/usr/lib/postgresql/15/lib/orders_stream.so" | cut -c1-12) orders_stream.so)"
}

_bench_port_free() {
	local port=$1
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 1; fi
	[ ! -e "/var/run/postgresql/.s.PGSQL.$port" ] && [ ! -e "/tmp/.s.PGSQL.$port" ]
}

# bench_cluster NAME [EXTRA-SETTING...]: initdb a fresh cluster with
# bench/bench.conf plus the extra settings (lines of postgresql.conf), create
# database "bench" (orders_stream.database), start it and install the
# extension with its capture slot.  Sets the globals BENCH_HOST,
# BENCH_PORT and BENCH_DATA for bench_psql/bench_pgbench.
bench_cluster() {
	local name=$1 dir port tries=0 setting
	shift
	os_mkdir_pg dir
	bench_log "cluster $name: initdb $dir/data"
	as_postgres "$PG_BINDIR/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; os_die "initdb failed"; }
	echo 'CREATE DATABASE bench;' |
		as_postgres "$PG_BINDIR/postgres" --single -D "$dir/data" postgres >"$dir/createdb.log" 2>&1 ||
		{ cat "$dir/createdb.log"; os_die "could not create database bench"; }
	cp "$BENCH_DIR/bench.conf" "$dir/data/bench.conf"
	for setting in "$@"; do echo "$setting" >>"$dir/data/bench.conf"; done
	chown postgres:postgres "$dir/data/bench.conf"
	port=${BENCH_PORT_BASE:-56432}
	while :; do
		while ! _bench_port_free "$port"; do port=$((port + 1)); done
		as_postgres sh -c "cat >> '$dir/data/postgresql.conf'" <<-EOF

		# --- benchmark cluster (bench/lib.sh) ---
		include 'bench.conf'
		port = $port
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		EOF
		if as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 start >/dev/null; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -lt 5 ] && grep -q 'could not \(bind\|create lock file\)' "$dir/server.log" 2>/dev/null; then
			port=$((port + 1))
			continue
		fi
		tail -n 50 "$dir/server.log" 2>/dev/null || true
		os_die "could not start the cluster in $dir"
	done
	os_add_cleanup "stop_cluster '$dir'"
	BENCH_HOST=$dir
	BENCH_PORT=$port
	BENCH_DATA=$dir/data
	echo "cluster $name: $dir/data on 127.0.0.1:$port (log $dir/server.log)"
	bench_psql -q -c 'CREATE EXTENSION orders_stream' >/dev/null
	bench_psql -q -c 'SELECT orders_stream.wait_for_slot()' >/dev/null
}

bench_stop() { stop_cluster "$BENCH_HOST"; }

# bench_psql [psql args]: psql as postgres into database bench.
bench_psql() {
	as_postgres "$PG_BINDIR/psql" -X -q -h "$BENCH_HOST" -p "$BENCH_PORT" -U postgres \
		-d bench -v ON_ERROR_STOP=1 "$@"
}

# bench_sql SQL: one value (first column of first row), unaligned.
bench_sql() { bench_psql -At -c "$1"; }

# bench_pgbench [pgbench args]: pgbench as postgres into database bench.
bench_pgbench() {
	as_postgres "$PG_BINDIR/pgbench" -h "$BENCH_HOST" -p "$BENCH_PORT" -U postgres "$@" bench
}

# bench_file NAME: prints a path in the cluster directory, readable by postgres.
bench_file() { echo "$BENCH_HOST/$1"; }

# The capture worker's pid (0 if none runs).
capture_pid() {
	bench_sql "SELECT coalesce((SELECT pid FROM pg_stat_activity WHERE backend_type = 'orders_stream capture'), 0)"
}

# proc_cpu PID: user+system CPU seconds used so far by PID (from /proc).
proc_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}

# cluster_cpu: user+system CPU seconds used so far by the cluster: the
# postmaster and its live children, plus the children that have exited (the
# kernel adds those to the postmaster's cutime/cstime when it reaps them).
# Differences of this make a CPU cost per transaction that the other load of
# a shared machine does not distort the way it distorts TPS.
cluster_cpu() {
	local pm
	pm=$(head -1 "$BENCH_DATA/postmaster.pid")
	# processes come and go between the glob and the read: not an error
	{ cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v pm="$pm" -v hz="$(getconf CLK_TCK)" '
		{ pid = $1; sub(/^.*\) /, "") }
		pid == pm || $2 == pm { t += $12 + $13 + $14 + $15 }
		END { printf "%.2f\n", t / hz }'
}

# wait_capture: returns once everything committed so far is stored; prints
# the seconds it took.
wait_capture() {
	bench_psql -At <<-'EOF'
	SELECT clock_timestamp() AS t0 \gset
	SELECT orders_stream.wait_for_capture('30min') IS NOT NULL AS ok \gset
	SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric(10,3);
	EOF
}

# Machine description for the README.
bench_machine() {
	echo "cpu:    $(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
	echo "memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -sr), Debian $(cat /etc/debian_version 2>/dev/null)"
	echo "server: $("$PG_BINDIR/postgres" --version)"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
}

# ---------------------------------------------------------------- stats --
# bench_stats FILE COLUMN: "median M (min A, max B, n N)" of a numeric column
# (1-based) of a TSV file, skipping the header line.
bench_stats() {
	awk -F'\t' -v c="$2" 'NR > 1 && $c != "" { v[n++] = $c }
		END {
			if (n == 0) { print "n/a"; exit }
			for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
			m = (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
			printf "median %.3f (min %.3f, max %.3f, n %d)\n", m, v[0], v[n - 1], n
		}' "$1"
}

# bench_median FILE COLUMN: just the median.
bench_median() { bench_stats "$1" "$2" | awk '{ print $2 }'; }
