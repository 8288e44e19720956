#!/usr/bin/env bash
# bench/delivery_pool.sh [keepup] [bulk] [factor] [isolation]: delivery with
# the pool of workers and ParallelizationFactor lanes (all four by default).
#  keepup     4 pgbench clients insert single-row orders as fast as they can
#             for KEEPUP_SECONDS (60) while a PL/pgSQL item_totals mapping
#             (batch 100, factor 1) runs; reports how long the mapping needs
#             to catch up after the load stops, as a share of the load's
#             duration (target <= 0.10).
#  bulk       one INSERT of BULK_ROWS (1,000,000) orders with a C item_totals
#             mapping enabled, once per BULK_CONFIGS entry (batch:factor,
#             default "100:1 1000:2": as created, and set up for bulk loads):
#             time from the commit to capture having stored them, and to the
#             mapping having applied them; reports applied / captured
#             (target <= 2.0).
#  factor     a CPU-bound function (FACTOR_RECORDS 12,000 records, batch 10,
#             FACTOR_WORK md5 rounds per record), factor 1 and factor 2
#             interleaved for FACTOR_ROUNDS (5) rounds; reports the speed-up
#             (target >= 1.6 on 2 cores).  Runs of 3,000 records took under a
#             second at factor 2, and the lanes' start-up and the last poll
#             of wait_for_mapping() weighed on the ratio as much as the
#             delivery did.
#  isolation  mapping A sleeps 5 s per batch while mapping B (latency probe)
#             gets ISO_RATE (1,000) orders/s for ISO_SECONDS (30); reports
#             B's commit -> applied p50 and p99 (target p99 <= 100 ms).
# Each prints its figures and writes them to $dir/delivery_pool.tsv.
# Run as root from the repository: bench/delivery_pool.sh factor
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
. bench/delivery_lib.sh
os_init

MODES=${*:-keepup bulk factor isolation}
KEEPUP_SECONDS=${KEEPUP_SECONDS:-60}
BULK_ROWS=${BULK_ROWS:-1000000}
BULK_CONFIGS=${BULK_CONFIGS:-100:1 1000:2}
FACTOR_RECORDS=${FACTOR_RECORDS:-12000}
FACTOR_WORK=${FACTOR_WORK:-300}
FACTOR_ROUNDS=${FACTOR_ROUNDS:-5}
ISO_RATE=${ISO_RATE:-1000}
ISO_SECONDS=${ISO_SECONDS:-30}

delivery_cluster
out="$dir/delivery_pool.tsv"
printf 'bench\tround\tvariant\tvalue\tunit\n' >"$out"
report() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$out"; printf '%s round %s %s: %s %s\n' "$@"; }
pgbench_as() { as_postgres "$PG_BINDIR/pgbench" -h "$OS_PGHOST" -p "$OS_PGPORT" -U postgres "$@"; }
echo "INSERT INTO orders (item, quantity) VALUES ((ARRAY['coffee','tea','mug','beans'])[1 + (random() * 3)::int], 1);" \
	>"$dir/insert.sql"
chown postgres:postgres "$dir/insert.sql"

for mode in $MODES; do
	case $mode in
	keepup)
		q -c "TRUNCATE item_totals"
		m=$(q -c "SELECT orders_stream.create_event_source_mapping('orders', 'item_totals_aggregator(jsonb)',
			batch_size => 100, starting_position => 'LATEST')")
		pgbench_as -n -c 4 -j 2 -T "$KEEPUP_SECONDS" -f "$dir/insert.sql" bench >"$dir/keepup.log" 2>&1
		secs=$(q <<-SQL | tail -1
			SELECT clock_timestamp() AS t0 \gset
			SELECT orders_stream.wait_for_mapping('$m', '30min') IS NULL;
			SELECT extract(epoch FROM clock_timestamp() - :'t0');
		SQL
		)
		tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$dir/keepup.log" | head -1)
		report keepup 1 "orders/s during the load" "$tps" "tps"
		report keepup 1 "catch-up after the load" "$secs" "s"
		report keepup 1 "catch-up / load" "$(awk -v s="$secs" -v l="$KEEPUP_SECONDS" 'BEGIN { printf "%.3f", s / l }')" "ratio"
		q -c "SELECT orders_stream.delete_event_source_mapping('$m') IS NULL" >/dev/null
		;;
	bulk)
		# as the mapping comes (batch 100, factor 1), and as one would set it
		# up for bulk loads (batch 1000, factor 2: a lane per core)
		for cfg in $BULK_CONFIGS; do
			bs=${cfg%:*}
			pf=${cfg#*:}
			q -c "TRUNCATE item_totals"
			m=$(q -c "SELECT orders_stream.create_event_source_mapping('orders', 'item_totals_aggregator_c(jsonb)',
				batch_size => $bs, parallelization_factor => $pf, starting_position => 'LATEST')")
			read -r cap app < <(q -F ' ' <<-SQL | tail -1
				INSERT INTO orders (item, quantity)
				SELECT (ARRAY['coffee','tea','mug','beans'])[g % 4 + 1], g % 7 + 1 FROM generate_series(1, $BULK_ROWS) g;
				SELECT clock_timestamp() AS t0 \gset
				SELECT orders_stream.wait_for_capture('30min') IS NULL;
				SELECT clock_timestamp() AS t1 \gset
				SELECT orders_stream.wait_for_mapping('$m', '60min') IS NULL;
				SELECT extract(epoch FROM :'t1'::timestamptz - :'t0'), extract(epoch FROM clock_timestamp() - :'t0');
			SQL
			)
			report bulk 1 "commit -> captured (batch $bs, factor $pf)" "$cap" "s"
			report bulk 1 "commit -> applied (C, batch $bs, factor $pf)" "$app" "s"
			report bulk 1 "applied / captured (batch $bs, factor $pf)" "$(awk -v a="$app" -v c="$cap" 'BEGIN { printf "%.2f", a / c }')" "ratio"
			q -c "SELECT orders_stream.delete_event_source_mapping('$m') IS NULL" >/dev/null
		done
		;;
	factor)
		q <<-SQL >/dev/null
			CREATE TABLE cpu_orders (id int PRIMARY KEY, v int NOT NULL);
			SELECT orders_stream.enable_stream('cpu_orders', 'NEW_IMAGE');
			CREATE TABLE cpu_done (id int, v text);
			CREATE OR REPLACE FUNCTION cpu_bound(event jsonb) RETURNS void LANGUAGE plpgsql AS \$\$
			DECLARE r jsonb; h text;
			BEGIN
				FOR r IN SELECT * FROM jsonb_array_elements(event->'Records') LOOP
					h := r->>'eventID';
					FOR i IN 1 .. $FACTOR_WORK LOOP h := md5(h); END LOOP;
					INSERT INTO cpu_done VALUES ((r#>>'{dynamodb,Keys,id,N}')::int, h);
				END LOOP;
			END \$\$;
			INSERT INTO cpu_orders SELECT g, 1 FROM generate_series(1, $FACTOR_RECORDS) g;
			SELECT orders_stream.wait_for_capture('10min');
		SQL
		for round in $(seq 1 "$FACTOR_ROUNDS"); do
			for f in 1 2; do
				q -c "TRUNCATE cpu_done"
				secs=$(mapping_catch_up_secs cpu_orders 'cpu_bound(jsonb)' "batch_size => 10, parallelization_factor => $f")
				n=$(q -c "SELECT count(*) FROM cpu_done")
				[ "$n" -ge "$FACTOR_RECORDS" ] || os_die "factor $f: $n records applied, expected $FACTOR_RECORDS"
				report factor "$round" "factor $f" "$(awk -v n="$FACTOR_RECORDS" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" "records/s"
				eval "rate_$f=\$(awk -v n=\"\$FACTOR_RECORDS\" -v s=\"\$secs\" 'BEGIN { print n / s }')"
			done
			report factor "$round" "factor 2 / factor 1" "$(awk -v a="$rate_2" -v b="$rate_1" 'BEGIN { printf "%.2f", a / b }')" "ratio"
		done
		;;
	isolation)
		q <<-SQL >/dev/null
			TRUNCATE item_totals, applied;
			CREATE TABLE slow_orders (id bigserial PRIMARY KEY, n int);
			SELECT orders_stream.enable_stream('slow_orders', 'KEYS_ONLY');
			CREATE OR REPLACE FUNCTION sleepy(event jsonb) RETURNS void LANGUAGE sql AS 'SELECT pg_sleep(5)';
		SQL
		ma=$(q -c "SELECT orders_stream.create_event_source_mapping('slow_orders', 'sleepy(jsonb)', starting_position => 'LATEST')")
		mb=$(q -c "SELECT orders_stream.create_event_source_mapping('orders', 'latency_probe(jsonb)', batch_size => 100,
			starting_position => 'LATEST')")
		# A always has a batch to sleep on
		echo "INSERT INTO slow_orders (n) VALUES (1);" >"$dir/slow.sql"
		chown postgres:postgres "$dir/slow.sql"
		pgbench_as -n -c 1 -R 2 -T "$ISO_SECONDS" -f "$dir/slow.sql" bench >"$dir/slow.log" 2>&1 &
		slow=$!
		pgbench_as -n -c 4 -j 2 -R "$ISO_RATE" -T "$ISO_SECONDS" -f "$dir/insert.sql" bench >"$dir/iso.log" 2>&1
		wait "$slow"
		read -r n p50 p99 < <(q -F ' ' -c "
			SELECT orders_stream.wait_for_mapping('$mb', '5min') IS NULL;
			SELECT count(*),
				   round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1),
				   round((percentile_cont(0.99) WITHIN GROUP (ORDER BY ms))::numeric, 1)
			  FROM (SELECT extract(epoch FROM applied_at - created_at) * 1000 AS ms FROM applied) a" | tail -1)
		report isolation 1 "B orders (A sleeping 5 s per batch)" "$n" "orders"
		report isolation 1 "B commit -> applied p50" "$p50" "ms"
		report isolation 1 "B commit -> applied p99" "$p99" "ms"
		q -c "SELECT orders_stream.delete_event_source_mapping('$ma') IS NULL, orders_stream.delete_event_source_mapping('$mb') IS NULL" >/dev/null
		;;
	*) os_die "unknown mode $mode (keepup, bulk, factor, isolation)" ;;
	esac
done
os_log "delivery with the pool of workers"
cat "$out"
