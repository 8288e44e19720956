#!/usr/bin/env bash
# bench/ttl.sh: Time to Live.
#  1. expiry throughput, rows/s: TTL_ROWS rows whose time has passed (an
#     index on the attribute), TTL enabled, timed until the last is deleted;
#     with a NEW_AND_OLD_IMAGES stream on the table (every delete is also a
#     REMOVE record) and without, interleaved per round.
#  2. writer TPS while TTL runs: pgbench, TTL_CLIENTS clients of single-row
#     INSERTs into a streamed "orders" table for TTL_SECONDS, alternately with
#     the TTL worker idle and with it deleting a backlog of TTL_BACKLOG expired
#     rows of another streamed table; the ratio busy / idle per round, and
#     the rows the worker expired per second meanwhile.
# Run as root from the repository: bench/ttl.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
os_init

N=${TTL_ROWS:-200000}
ROUNDS=${TTL_ROUNDS:-3}
SECS=${TTL_SECONDS:-20}
CLIENTS=${TTL_CLIENTS:-4}
BACKLOG=${TTL_BACKLOG:-1000000}

ensure_packages
build_install
os_mkdir_pg dir
start_cluster "$dir" bench
q() { os_psql -d bench -qAt "$@"; }

q <<-'SQL' >/dev/null
	CREATE EXTENSION orders_stream;
	SELECT orders_stream.wait_for_slot();
	CREATE TABLE sessions_s (id bigint PRIMARY KEY, expires_at timestamptz, payload text);
	CREATE INDEX ON sessions_s (expires_at);
	CREATE TABLE sessions_n (LIKE sessions_s INCLUDING ALL);
	SELECT orders_stream.enable_stream('sessions_s', 'NEW_AND_OLD_IMAGES');
	CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
	SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE');
SQL

# expire_all TABLE ROWS: loads ROWS expired rows, enables TTL, prints the
# seconds until the last is gone
expire_all() {
	local table=$1 rows=$2
	q -c "INSERT INTO $table SELECT g, now() - interval '1 minute', md5(g::text)
		  FROM generate_series(1, $rows) g" >/dev/null
	q -c "VACUUM ANALYZE $table" >/dev/null
	q <<-SQL | tail -1
		SELECT clock_timestamp() AS t0 \gset
		SELECT orders_stream.update_time_to_live('$table', 'expires_at', true) IS NULL;
		DO \$\$ BEGIN
			WHILE EXISTS (SELECT FROM $table) LOOP PERFORM pg_sleep(0.05); END LOOP;
		END \$\$;
		SELECT extract(epoch FROM clock_timestamp() - :'t0');
	SQL
	q -c "SELECT orders_stream.update_time_to_live('$table', 'expires_at', false)" >/dev/null
	q -c "SELECT orders_stream.wait_for_capture('10min')" >/dev/null
}

printf 'round\ttable\tseconds\trows_per_s\n' >"$dir/expire.tsv"
for round in $(seq 1 "$ROUNDS"); do
	for table in sessions_s sessions_n; do
		secs=$(expire_all "$table" "$N")
		printf '%s\t%s\t%s\t%s\n' "$round" "$table" "$secs" \
			"$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" >>"$dir/expire.tsv"
	done
done

echo "INSERT INTO orders (item, quantity) VALUES ('coffee', 1);" >"$dir/insert.sql"
chown postgres:postgres "$dir/insert.sql"
pgbench_tps() {
	as_postgres "$PG_BINDIR/pgbench" -h "$OS_PGHOST" -p "$OS_PGPORT" -U postgres -n -c "$CLIENTS" -j 2 \
		-T "$SECS" -f "$dir/insert.sql" bench 2>&1 | awk '/^tps/ { print $3 }'
}
printf 'round\tidle_tps\tbusy_tps\tratio\texpired_per_s\n' >"$dir/writers.tsv"
for round in $(seq 1 "$ROUNDS"); do
	idle=$(pgbench_tps)
	q -c "INSERT INTO sessions_s SELECT g, now() - interval '1 minute', md5(g::text)
		  FROM generate_series(1, $BACKLOG) g" >/dev/null
	q -c "VACUUM ANALYZE sessions_s" >/dev/null
	q -c "SELECT orders_stream.wait_for_capture('10min')" >/dev/null
	q -c "SELECT orders_stream.update_time_to_live('sessions_s', 'expires_at', true)" >/dev/null
	before=$(q -c "SELECT count(*) FROM sessions_s")
	busy=$(pgbench_tps)
	after=$(q -c "SELECT count(*) FROM sessions_s")
	[ "$after" -gt 0 ] || echo "warning: the backlog ran out during round $round: raise TTL_BACKLOG"
	q -c "SELECT orders_stream.update_time_to_live('sessions_s', 'expires_at', false)" >/dev/null
	q -c "SET orders_stream.allow_truncate = on; TRUNCATE sessions_s" >/dev/null
	q -c "SELECT orders_stream.wait_for_capture('10min')" >/dev/null
	printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$idle" "$busy" \
		"$(awk -v a="$idle" -v b="$busy" 'BEGIN { printf "%.2f", b / a }')" \
		"$(awk -v n="$((before - after))" -v s="$SECS" 'BEGIN { printf "%.0f", n / s }')" >>"$dir/writers.tsv"
done

os_log "TTL expiry throughput ($N rows per run, $ROUNDS rounds)"
cat "$dir/expire.tsv"
awk -F'\t' 'NR > 1 { r[$1 " " $2] = $4 }
	END { for (k in r) { split(k, p, " "); if (p[2] == "sessions_s") printf "round %s streamed / unstreamed = %.2f\n", p[1], r[k] / r[p[1] " sessions_n"] } }' \
	"$dir/expire.tsv" | sort
os_log "writer TPS ($CLIENTS clients, ${SECS}s), TTL idle vs deleting a backlog"
cat "$dir/writers.tsv"
