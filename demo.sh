#!/usr/bin/env bash
# demo.sh: builds and installs orders_stream, starts a throwaway PostgreSQL 15
# cluster (own data directory, socket directory and port; removed afterwards),
# runs examples/demo.sql in it with psql and shows the stream records.
# Run as root: ./demo.sh [SQL-FILE]   (default examples/demo.sql)
set -euo pipefail
cd "$(dirname "$0")"
. test/lib.sh
os_init

sql=$(realpath "${1:-examples/demo.sql}")
[ -f "$sql" ] || os_die "no such file: $sql"

ensure_packages
build_install

os_mkdir_pg dir
# files the demo includes with \ir (the aggregator); then the demo itself,
# which must not be overwritten by the examples' own demo.sql
cp "$(dirname "$sql")"/*.sql "$dir/" 2>/dev/null || true
cp "$sql" "$dir/demo.sql"
chown postgres:postgres "$dir/demo.sql"
start_cluster "$dir" demo

os_log "psql -f $(basename "$sql")"
if ! os_psql -d demo -e -f "$dir/demo.sql"; then
	cluster_log "$dir" 40
	os_die "$(basename "$sql") failed"
fi
os_log "demo done; stopping and removing the cluster"
