# test/lib.sh: helpers sourced by test.sh, demo.sh and test/conformance/run.sh.
#
# Everything runs as root; PostgreSQL servers, pg_regress, prove, npm and node
# run as the "postgres" user (PostgreSQL refuses to run as root) through
# runuser.  Throwaway clusters get their own data directory, socket directory
# and a free TCP port on 127.0.0.1: nothing here touches another server on the
# machine, in particular not Debian's "main" cluster.
#
# Call os_init first: it sets up the exit trap that stops the clusters and
# removes the temporary directories this library created (in reverse order).
# Set ORDERS_STREAM_KEEP=1 to keep the temporary directories for debugging.
# They go under ORDERS_STREAM_TMPDIR (default /tmp; not TMPDIR, which may be
# a directory the postgres user cannot enter).

# ORDERS_STREAM_PG_BINDIR: another (relocated) copy of PostgreSQL 15 to build,
# install into and test against, so that two checkouts can be tested at once
PG_BINDIR=${ORDERS_STREAM_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_CONFIG=$PG_BINDIR/pg_config
OS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

export PATH="$PG_BINDIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}"
# Deterministic messages and a UTF-8 database encoding (initdb and pg_regress
# --temp-instance derive it from the locale); C.UTF-8 exists on every Debian.
export LANG=C.UTF-8 LC_ALL=C.UTF-8
# Never let a caller's libpq environment steer us to some other server.
unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE \
      PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGDATA PGTZ PGDATESTYLE \
      PGCLIENTENCODING 2>/dev/null || true

os_log() { printf '\n==> %s\n' "$*"; }
os_die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup --
_os_cleanups=()
os_add_cleanup() { _os_cleanups+=("$1"); }
_os_run_cleanups() {
	local rc=$? i
	trap - EXIT INT TERM
	set +e
	for ((i = ${#_os_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_os_cleanups[i]}"
	done
	exit "$rc"
}
os_init() {
	set -euo pipefail
	trap _os_run_cleanups EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	[ "$(id -u)" = 0 ] || os_die "run this as root (it installs packages and the extension; servers run as postgres)"
}

# Remove a temporary directory at exit unless ORDERS_STREAM_KEEP=1.
os_rm_later() {
	if [ "${ORDERS_STREAM_KEEP:-0}" = 1 ]; then
		os_add_cleanup "echo 'kept $1 (ORDERS_STREAM_KEEP=1)'"
	else
		os_add_cleanup "rm -rf '$1'"
	fi
}

# as_postgres [-C DIR] CMD...: run CMD as postgres (in DIR, default /tmp, so
# that a root-only cwd does not get in the way), with this environment.
as_postgres() {
	local dir=/tmp
	if [ "${1:-}" = -C ]; then dir=$2; shift 2; fi
	(cd "$dir" && runuser -u postgres -- env HOME="${OS_PG_HOME:-$(getent passwd postgres | cut -d: -f6)}" "$@")
}

# --------------------------------------------------------------- packages --
_os_have_pkg() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

# ensure_packages: installs with apt-get whatever of the build/test needs is
# missing (apt-get update only if something is).  Nothing is upgraded.
ensure_packages() {
	local need=() p
	# libmicrohttpd-dev, libssl-dev: orders_stream_endpoint; awscli,
	# python3-boto3: two of the clients t/050_endpoint.pl drives it with;
	# prometheus: promtool, which t/053_endpoint_metrics.pl checks /metrics with
	for p in ca-certificates perl libipc-run-perl postgresql-15 postgresql-server-dev-15 \
		libmicrohttpd-dev libssl-dev awscli python3-boto3 prometheus; do
		_os_have_pkg "$p" || need+=("$p")
	done
	# build-essential, unless a C toolchain is already there
	if ! command -v gcc >/dev/null || ! command -v make >/dev/null || ! _os_have_pkg libc6-dev; then
		need+=(build-essential)
	fi
	# node and npm: Debian's nodejs/npm, unless some node and npm are already
	# installed (e.g. NodeSource's nodejs, which bundles npm and conflicts
	# with Debian's npm package)
	command -v node >/dev/null || need+=(nodejs)
	command -v npm >/dev/null || need+=(npm)
	if [ ${#need[@]} -gt 0 ]; then
		os_log "installing missing packages: ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -q
		apt-get install -y -q --no-install-recommends "${need[@]}"
	fi
	[ -x "$PG_CONFIG" ] || os_die "$PG_CONFIG not found after installing postgresql-server-dev-15"
	id postgres >/dev/null 2>&1 || os_die "no postgres user after installing postgresql-15"
	local major
	major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
	[ "$major" -ge 18 ] || os_die "node >= 18 required, found $(node --version 2>&1 || true)"
	echo "packages ok: $("$PG_BINDIR/postgres" --version), gcc $(gcc -dumpversion), node $(node --version), npm $(npm --version)"
}

# ------------------------------------------------------------------ build --
# build_install [REPO]: builds the extension in REPO (default: this repo) and
# installs it into Debian's PostgreSQL 15.
build_install() {
	local repo=${1:-$OS_REPO}
	os_log "building orders_stream"
	make -C "$repo" -j"$(nproc)" PG_CONFIG="$PG_CONFIG"
	os_log "installing orders_stream"
	make -C "$repo" PG_CONFIG="$PG_CONFIG" install
}

# -------------------------------------------------------------- work copy --
# work_copy [REPO]: copies REPO (default: this repo), without .git,
# node_modules and old test output, into a fresh directory owned by postgres;
# sets OS_WORK to it.  Removed at exit.
work_copy() {
	local repo=${1:-$OS_REPO}
	OS_WORK=$(mktemp -d "${ORDERS_STREAM_TMPDIR:-/tmp}/orders_stream.XXXXXX")
	os_rm_later "$OS_WORK"
	tar -C "$repo" -cf - \
		--exclude=./.git --exclude=node_modules --exclude=./tmp_check \
		--exclude=./results --exclude=./regression.diffs --exclude=./regression.out \
		--exclude=./log --exclude=./test/conformance/generated . |
		tar -C "$OS_WORK" -xf -
	chown -R postgres:postgres "$OS_WORK"
	chmod 755 "$OS_WORK"
	echo "work copy: $OS_WORK"
}

# --------------------------------------------------------------- clusters --
# os_mkdir_pg VAR: sets VAR to a fresh temporary directory owned by postgres
# (removed at exit).  Not in $(...): the cleanup must be registered here.
os_mkdir_pg() {
	local _os_d
	_os_d=$(mktemp -d "${ORDERS_STREAM_TMPDIR:-/tmp}/orders_stream_pg.XXXXXX")
	os_rm_later "$_os_d"
	chown postgres:postgres "$_os_d"
	chmod 755 "$_os_d"
	printf -v "$1" '%s' "$_os_d"
}

# _os_port_free PORT: nothing accepts connections on 127.0.0.1:PORT, and no
# socket file for it exists in the usual places.
_os_port_free() {
	local port=$1
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 1; fi
	[ ! -e "/var/run/postgresql/.s.PGSQL.$port" ] && [ ! -e "/tmp/.s.PGSQL.$port" ]
}

# start_cluster DIR [DBNAME]: initdb a cluster in DIR/data (DIR must be owned
# by postgres; empty), with the settings of test/orders_stream.conf, socket
# directory DIR, a free port from 55432 up on 127.0.0.1 only; starts it and
# stops it at exit.  With DBNAME, that database is created first and
# orders_stream.database is set to it.  Sets OS_PGHOST and OS_PGPORT; use
# os_psql to connect.
start_cluster() {
	local dir=$1 db=${2:-} port tries=0
	[ -d "$dir" ] || os_die "start_cluster: no directory $dir"
	chown postgres:postgres "$dir"
	os_log "initdb $dir/data"
	as_postgres "$PG_BINDIR/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log"; os_die "initdb failed"; }
	if [ -n "$db" ]; then
		# create the database before the server first starts, so that
		# orders_stream's background worker finds it right away
		printf 'CREATE DATABASE "%s";\n' "$db" |
			as_postgres "$PG_BINDIR/postgres" --single -D "$dir/data" postgres >"$dir/createdb.log" 2>&1 ||
			{ cat "$dir/createdb.log"; os_die "could not create database $db"; }
	fi
	cp "$OS_REPO/test/orders_stream.conf" "$dir/data/orders_stream.conf"
	chown postgres:postgres "$dir/data/orders_stream.conf"
	os_add_cleanup "stop_cluster '$dir'"
	port=55432
	while :; do
		while ! _os_port_free "$port"; do port=$((port + 1)); done
		as_postgres sh -c "cat >> '$dir/data/postgresql.conf'" <<-EOF

		# --- throwaway cluster (test/lib.sh) ---
		include 'orders_stream.conf'
		port = $port
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$dir'
		fsync = off
		full_page_writes = off
		max_connections = 20
		log_line_prefix = '%m [%p] %q%a '
		${db:+orders_stream.database = '$db'}
		EOF
		# the include and settings are appended again on a retry: the last
		# occurrence of a setting wins
		[ -f "$dir/server.log" ] && : >"$dir/server.log"
		if as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 120 start >/dev/null; then
			break
		fi
		tries=$((tries + 1))
		if [ "$tries" -lt 5 ] && grep -q 'could not \(bind\|create lock file\)' "$dir/server.log" 2>/dev/null; then
			port=$((port + 1))
			continue
		fi
		echo "--- $dir/server.log ---"; tail -n 50 "$dir/server.log" 2>/dev/null || true
		os_die "could not start the cluster in $dir"
	done
	echo "$port" >"$dir/port"
	OS_PGHOST=$dir
	OS_PGPORT=$port
	echo "cluster $dir/data running on 127.0.0.1:$port, socket directory $dir"
}

# stop_cluster DIR: stops the cluster of DIR if it runs (fast, then immediate).
stop_cluster() {
	local dir=$1
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
		as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null 2>&1 || true
}

# cluster_log DIR: print the tail of the server log of DIR.
cluster_log() {
	echo "--- server log $1/server.log (last ${2:-100} lines) ---"
	tail -n "${2:-100}" "$1/server.log" 2>/dev/null || true
}

# os_psql [psql args]: psql as postgres to the last started cluster.
os_psql() {
	as_postgres "$PG_BINDIR/psql" -X -h "$OS_PGHOST" -p "$OS_PGPORT" -U postgres -v ON_ERROR_STOP=1 "$@"
}
