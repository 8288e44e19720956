# bench/delivery_lib.sh: sourced by bench/delivery.sh, bench/delivery_pool.sh
# and bench/filter.sh
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

# mapping_catch_up_secs TABLE FUNCTION [ARGS]: the seconds a new mapping of
# TABLE's stream to FUNCTION (ARGS: more create_event_source_mapping
# arguments) takes from TRIM_HORIZON to caught up.  Created disabled, so that
# the clock starts when it is enabled; deleted afterwards.
mapping_catch_up_secs() {
	q <<-SQL | tail -2 | head -1
		SELECT orders_stream.create_event_source_mapping('$1', '$2', starting_position => 'TRIM_HORIZON',
			enabled => false${3:+, $3}) AS m \gset
		SELECT clock_timestamp() AS t0 \gset
		SELECT orders_stream.update_event_source_mapping(:'m', enabled => true) IS NULL;
		SELECT orders_stream.wait_for_mapping(:'m', '30min') IS NULL;
		SELECT extract(epoch FROM clock_timestamp() - :'t0');
		SELECT orders_stream.delete_event_source_mapping(:'m') IS NULL;
	SQL
}
