# bench/endpoint_lib.sh: what bench/endpoint.sh and bench/read_path.sh share,
# sourced after test/lib.sh and os_init.

# endpoint_stream N VIEW_TYPE: builds and installs the tree, starts a
# throwaway cluster with database "bench" (in $dir), captures N inserted
# rows of table orders into one stream of VIEW_TYPE, and makes role reader
# (SELECT on orders) and its access key.  Sets dir, arn, shard, key, secret;
# defines q (psql on bench as postgres).
endpoint_stream() {
	local n=$1 view_type=$2
	ensure_packages
	command -v python3 >/dev/null || os_die "python3 is needed (apt-get install python3)"
	build_install
	os_mkdir_pg dir
	cp bench/endpoint_client.py "$dir/"
	chown postgres:postgres "$dir/endpoint_client.py"
	start_cluster "$dir" bench
	q() { os_psql -d bench -qAt "$@"; }

	q -c "CREATE EXTENSION orders_stream" -c "SELECT orders_stream.wait_for_slot()" >/dev/null
	q -c "CREATE TABLE orders (id int PRIMARY KEY, version int NOT NULL, note text)" \
	  -c "SELECT orders_stream.enable_stream('orders', '$view_type')" >/dev/null 2>&1
	q -c "INSERT INTO orders SELECT g, 1, 'bench order ' || g FROM generate_series(1, $n) g"
	q -c "SELECT orders_stream.wait_for_capture('30min')" >/dev/null
	q -c "CREATE ROLE reader LOGIN" -c "GRANT SELECT ON orders TO reader" \
	  -c "ALTER ROLE orders_stream_endpoint LOGIN" >/dev/null
	read -r key secret < <(q -F ' ' -c "SET ROLE reader" -c "SELECT * FROM orders_stream.create_access_key('reader')")
	arn=$(q -c 'SELECT "StreamArn" FROM orders_stream.list_streams()')
	shard=$(q -c "SELECT orders_stream.describe_stream('$arn')#>>'{StreamDescription,Shards,0,ShardId}'")
}

# endpoint_start POOL_SIZE [OPTION...]: starts orders_stream_endpoint on a
# free port (stopped at exit) and waits for reader's key.  Sets url.
endpoint_start() {
	local pool=$1 port=8100 ep_pid
	shift
	while ! _os_port_free "$port"; do port=$((port + 1)); done
	# exec: $! is runuser itself, which passes a SIGTERM on to the endpoint
	(cd /tmp && exec runuser -u postgres -- "$PG_BINDIR/orders_stream_endpoint" --port "$port" --pool-size "$pool" \
		--db "host=$OS_PGHOST port=$OS_PGPORT dbname=bench user=orders_stream_endpoint" "$@") >"$dir/endpoint.log" 2>&1 &
	ep_pid=$!
	os_add_cleanup "kill $ep_pid 2>/dev/null; wait $ep_pid 2>/dev/null"
	url=http://127.0.0.1:$port
	for _ in $(seq 100); do grep -q 'access keys loaded: 1' "$dir/endpoint.log" && break; sleep 0.1; done
}

# client ARGS...: bench/endpoint_client.py with reader's key
client() {
	as_postgres env AWS_ACCESS_KEY_ID="$key" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=local \
		python3 "$dir/endpoint_client.py" "$@"
}
