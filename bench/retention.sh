#!/usr/bin/env bash
# bench/retention.sh: what trimming a stream costs, by the size of what it
# trims.  Trimming is DROP TABLE of an expired partition (t/005_retention.pl
# asserts that no record is ever deleted); this times it.
#  - maintain_partitions() dropping one expired partition of 100 records and
#    one of RETENTION_RECORDS records, interleaved, RETENTION_ROUNDS rounds;
#    the median of each and their ratio (a per-record cost would make it
#    about RETENTION_RECORDS / 100; DROP TABLE's commit unlinks the files,
#    whose kernel cost grows with their size: measured 4-20x);
#  - for scale, a DELETE of RETENTION_RECORDS records of the same shape.
# Run as root from the repository: bench/retention.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
os_init

N=${RETENTION_RECORDS:-200000}
ROUNDS=${RETENTION_ROUNDS:-3}

ensure_packages
build_install
os_mkdir_pg dir
start_cluster "$dir" bench
q() { os_psql -d bench -qAt "$@"; }

# An expired partition of n records is made by hand (older than the
# retention by "age"), kept out of orders_stream.partitions while it is
# filled, then listed again just before the timed maintain_partitions(), so
# that it is the one partition that call drops.
q <<-'SQL' >/dev/null
	CREATE EXTENSION orders_stream;
	SELECT orders_stream.wait_for_slot();
	CREATE TABLE orders (id int PRIMARY KEY, note text);
	SELECT orders_stream.enable_stream('orders', 'NEW_IMAGE');
	CREATE TABLE hidden_partitions (LIKE orders_stream.partitions);
	CREATE FUNCTION make_old_partition(n int, age interval) RETURNS regclass
	LANGUAGE plpgsql AS $$
	DECLARE
		part regclass := orders_stream_internal.ensure_partition(now() - age);
		sid bigint := (SELECT stream_id FROM orders_stream.streams);
	BEGIN
		WITH h AS (DELETE FROM orders_stream.partitions WHERE partition = part RETURNING *)
		INSERT INTO hidden_partitions SELECT * FROM h;
		INSERT INTO orders_stream.record_store
		SELECT sid, now() - age, 0, 0, orders_stream.sequence_key(lpad(g::text, 30, '0')), 'INSERT',
			   format('"ApproximateCreationDateTime":0,"Keys":{"id":{"N":"%s"}},"NewImage":{"note":{"S":"%s"}}',
					  g, repeat('x', 200)), false
		  FROM generate_series(1, n) g;
		RETURN part;
	END
	$$;
	CREATE FUNCTION make_visible(part regclass) RETURNS void
	LANGUAGE sql AS $$
		WITH h AS (DELETE FROM hidden_partitions WHERE partition = part RETURNING *)
		INSERT INTO orders_stream.partitions SELECT * FROM h;
	$$;
SQL

# drop_ms N AGE_HOURS: milliseconds maintain_partitions() takes to drop a
# partition of N records that expired AGE_HOURS hours ago
drop_ms() {
	local part
	part=$(q -c "SELECT make_old_partition($1, current_setting('orders_stream.retention')::interval + interval '$2 hours')")
	q -c 'CHECKPOINT' >/dev/null
	q <<-SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
		SELECT orders_stream_internal.maintain_partitions();
		SELECT make_visible('$part');
		\timing on
		SELECT orders_stream_internal.maintain_partitions();
	SQL
}

printf 'round\trecords\tms\n' >"$dir/trim.tsv"
age=0
for round in $(seq 1 "$ROUNDS"); do
	for n in 100 "$N"; do
		age=$((age + 1))
		printf '%s\t%s\t%s\n' "$round" "$n" "$(drop_ms "$n" "$age")" >>"$dir/trim.tsv"
	done
done

delete_ms=$(q <<-SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
	CREATE TABLE delete_reference (LIKE orders_stream.record_store INCLUDING INDEXES);
	INSERT INTO delete_reference
	SELECT 1, now(), 0, 0, orders_stream.sequence_key(lpad(g::text, 30, '0')), 'INSERT',
		   format('"ApproximateCreationDateTime":0,"Keys":{"id":{"N":"%s"}},"NewImage":{"note":{"S":"%s"}}',
				  g, repeat('x', 200)), false
	  FROM generate_series(1, $N) g;
	CHECKPOINT;
	\timing on
	DELETE FROM delete_reference;
SQL
)

os_log "trimming: maintain_partitions() dropping one expired partition ($ROUNDS rounds)"
cat "$dir/trim.tsv"
small=$(awk -F'\t' 'NR > 1 && $2 == 100 { print $3 }' "$dir/trim.tsv" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
big=$(awk -F'\t' -v n="$N" 'NR > 1 && $2 == n { print $3 }' "$dir/trim.tsv" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
awk -v s="$small" -v b="$big" -v n="$N" -v d="$delete_ms" 'BEGIN {
	printf "median %.3f ms dropping 100 records, %.3f ms dropping %d: ratio %.2f\n", s, b, n, b / s
	printf "for scale: a DELETE of %d records takes %.1f ms\n", n, d
}'
