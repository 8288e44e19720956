#!/usr/bin/env bash
# bench/delivery.sh: event source mapping delivery.
#  1. throughput, records/s, of the PL/pgSQL and the C item_totals aggregator
#     at batch_size 100 and 1000: DELIVERY_RECORDS orders are captured first,
#     then each mapping starts from TRIM_HORIZON and is timed to
#     wait_for_mapping(); the four variants are interleaved per round, and
#     the ratios to PL/pgSQL at batch 100 are reported per round.
#  2. commit -> aggregator applied latency at LATENCY_RATE orders/s
#     (pgbench --rate, 4 clients, LATENCY_SECONDS), through an aggregator
#     that records when it saw each order (the order's created_at is set at
#     insert, single-row autocommit, so it is its commit time within
#     microseconds).
# Run as root from the repository: bench/delivery.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
. bench/delivery_lib.sh
os_init

N=${DELIVERY_RECORDS:-100000}
ROUNDS=${DELIVERY_ROUNDS:-2}
RATE=${LATENCY_RATE:-1000}
SECS=${LATENCY_SECONDS:-30}

delivery_cluster
q -c "INSERT INTO orders (item, quantity)
	  SELECT (ARRAY['coffee','tea','mug','beans'])[g % 4 + 1], g % 7 + 1 FROM generate_series(1, $N) g"
q -c "SELECT orders_stream.wait_for_capture('10min')" >/dev/null
expected=$(q -c "SELECT sum(quantity) FROM orders")

printf 'round\tvariant\tseconds\trecords_per_s\n' >"$dir/delivery.tsv"
for round in $(seq 1 "$ROUNDS"); do
	for variant in plpgsql:100 c:100 plpgsql:1000 c:1000; do
		fn=item_totals_aggregator; [ "${variant%%:*}" = c ] && fn=item_totals_aggregator_c
		batch=${variant##*:}
		q -c "TRUNCATE item_totals"
		secs=$(mapping_catch_up_secs orders "$fn(jsonb)" "batch_size => $batch")
		got=$(q -c "SELECT sum(total) FROM item_totals")
		[ "$got" = "$expected" ] || os_die "$variant: item_totals $got, expected $expected"
		printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "$secs" \
			"$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" >>"$dir/delivery.tsv"
	done
done

# latency
q -c "TRUNCATE item_totals, applied"
q -c "SELECT orders_stream.create_event_source_mapping('orders', 'latency_probe(jsonb)', batch_size => 100,
	  starting_position => 'LATEST')" >/dev/null
echo "INSERT INTO orders (item, quantity) VALUES ('coffee', 1);" >"$dir/insert.sql"
chown postgres:postgres "$dir/insert.sql"
as_postgres "$PG_BINDIR/pgbench" -h "$OS_PGHOST" -p "$OS_PGPORT" -U postgres -n -c 4 -j 2 \
	-R "$RATE" -T "$SECS" -f "$dir/insert.sql" bench >"$dir/pgbench.log" 2>&1
latency=$(q -F ' ' -c "
	SELECT orders_stream.wait_for_mapping((m->>'UUID')::uuid, '5min') IS NULL
	  FROM orders_stream.list_event_source_mappings() m;
	SELECT count(*),
		   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1),
		   round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 1)
	  FROM (SELECT extract(epoch FROM applied_at - created_at) * 1000 AS ms FROM applied) a" | tail -1)

os_log "delivery throughput ($N records, $ROUNDS rounds)"
cat "$dir/delivery.tsv"
awk -F'\t' 'NR > 1 { r[$1 " " $2] = $4 }
	END { for (k in r) { split(k, p, " "); if (p[2] != "plpgsql:100") printf "round %s %s / plpgsql:100 = %.2f\n", p[1], p[2], r[k] / r[p[1] " plpgsql:100"] } }' \
	"$dir/delivery.tsv" | sort
set -- $latency
os_log "commit -> item_totals applied at $RATE orders/s for ${SECS}s: $1 orders, p50 $2 ms, p99 $3 ms"
