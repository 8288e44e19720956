# bench/delivery_lib.sh: sourced by bench/delivery.sh and bench/delivery_pool.sh
# after test/lib.sh.  delivery_cluster: builds and installs this tree, starts
# a throwaway cluster in $dir with database bench set up by
# bench/sql/delivery_setup.sql (orders, its stream, the item_totals
# aggregators), and defines q, psql on it (unaligned, tuples only).
delivery_cluster() {
	ensure_packages
	build_install
	os_mkdir_pg dir
	cp -r bench examples "$dir/"
	chown -R postgres:postgres "$dir/bench" "$dir/examples"
	start_cluster "$dir" bench
	q() { os_psql -d bench -qAt "$@"; }
	os_psql -d bench -q -f "$dir/bench/sql/delivery_setup.sql" >/dev/null
}
