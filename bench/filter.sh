#!/usr/bin/env bash
# bench/filter.sh: the cost of FilterCriteria.  FILTER_RECORDS orders are
# captured first; then two mappings deliver them all from TRIM_HORIZON to a
# function that does nothing, each timed to wait_for_mapping(): one without
# filter_criteria, one with a 5-rule pattern (eventName, eventSource, a key's
# exists, an anything-but of prefixes on item and a numeric range on
# quantity) that every record matches, so that both invoke the function
# alike and the difference is the filtering.  The two are interleaved per
# round; reported as records/s and the per-round ratio filtered / unfiltered.
# Run as root from the repository: bench/filter.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
. bench/delivery_lib.sh
os_init

N=${FILTER_RECORDS:-1000000}
ROUNDS=${FILTER_ROUNDS:-2}
BATCH=${FILTER_BATCH_SIZE:-1000}
PATTERN='{"eventName": ["INSERT"], "eventSource": ["aws:dynamodb"], "dynamodb": {"Keys": {"id": {"N": [{"exists": true}]}}, "NewImage": {"item": {"S": [{"anything-but": {"prefix": ["cake", "juice"]}}]}, "quantity": {"N": [{"numeric": [">", 0, "<=", 7]}]}}}}'

delivery_cluster
q -c "CREATE FUNCTION filter_sink(event jsonb) RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'"
q -c "INSERT INTO orders (item, quantity)
	  SELECT (ARRAY['coffee','tea','mug','beans'])[g % 4 + 1], g % 7 + 1 FROM generate_series(1, $N) g"
q -c "SELECT orders_stream.wait_for_capture('30min')" >/dev/null
[ "$(q -c "SELECT count(*) FROM orders WHERE orders_stream.filter_matches(
		jsonb_build_object('eventName', 'INSERT', 'eventSource', 'aws:dynamodb', 'dynamodb', jsonb_build_object(
			'Keys', jsonb_build_object('id', jsonb_build_object('N', id::text)),
			'NewImage', jsonb_build_object('item', jsonb_build_object('S', item),
				'quantity', jsonb_build_object('N', quantity::text)))),
		jsonb_build_object('Filters', jsonb_build_array(jsonb_build_object('Pattern', \$p\$$PATTERN\$p\$))))")" = "$N" ] ||
	os_die "the pattern does not match every order"

printf 'round\tvariant\tseconds\trecords_per_s\n' >"$dir/filter.tsv"
for round in $(seq 1 "$ROUNDS"); do
	for variant in none filter5; do
		criteria=NULL
		[ "$variant" = filter5 ] && criteria="jsonb_build_object('Filters', jsonb_build_array(jsonb_build_object('Pattern', \$p\$$PATTERN\$p\$)))"
		secs=$(mapping_catch_up_secs orders 'filter_sink(jsonb)' "batch_size => $BATCH, filter_criteria => $criteria")
		printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "$secs" \
			"$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')" >>"$dir/filter.tsv"
	done
done

os_log "filtering ($N records, batch_size $BATCH, $ROUNDS rounds)"
cat "$dir/filter.tsv"
awk -F'\t' 'NR > 1 { r[$1 " " $2] = $4 }
	END { for (k in r) { split(k, p, " "); if (p[2] == "filter5") printf "round %s filter5 / none = %.2f\n", p[1], r[k] / r[p[1] " none"] } }' \
	"$dir/filter.tsv" | sort
