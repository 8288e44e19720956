# t/OrdersStream.pm: what every TAP test of orders_stream shares.
#
#   use lib 't';
#   use OrdersStream;
#   my $node = OrdersStream::new_node('name', extra_conf => "...");
#   sql('CREATE TABLE t (id int PRIMARY KEY)');
#
# new_node() initialises and starts a cluster configured for orders_stream
# (wal_level, preload, output_plugin_libraries, database 'postgres'), creates
# the extension and waits for the capture slot unless no_extension => 1.
#
# The helpers exported below (sql, wait_mapping, poll, capture, worker_pid,
# ...) act on the first node new_node() made, the node under test, unless
# their first argument is a node: sql($standby, 'SELECT ...').
package OrdersStream;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Scalar::Util qw(blessed);
use Time::HiRes qw(usleep time);

use Exporter 'import';
our @EXPORT = qw(sql wait_mapping mapping_status item_totals_mappings item_totals_mismatches seq_value poll poll_true wait_true capture
  worker_pid wait_new_worker busy_worker psql_as psql_login safe_psql_as
  safe_psql_login start_pgbench stop_pgbench kill_pgbench crash_restart median
  swallow_cancels_function);

# The node under test: the first node new_node() made.
our $default_node;

# Takes the node off the front of an argument list, or the node under test.
sub _node
{
	my ($args) = @_;
	return shift @$args
	  if blessed($args->[0]) && $args->[0]->isa('PostgreSQL::Test::Cluster');
	return $default_node // die 'no node: call OrdersStream::new_node first';
}

our $BASE_CONF = q{
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
shared_preload_libraries = 'orders_stream'
output_plugin_libraries = 'pgoutput, test_decoding, orders_stream'
logical_decoding_work_mem = 64kB
orders_stream.database = 'postgres'
log_statement = none
# background workers: capture, the delivery launcher, up to
# orders_stream.max_delivery_workers delivery workers, and parallel query
max_worker_processes = 16
orders_stream.max_delivery_workers = 4
};

# Settings of the delivery tests: retries after 10 ms, backing off to 100 ms
# at most, so that retries and bisection run in a test's time; room for
# pgbench's clients.
our $DELIVERY_CONF = q{
orders_stream.retry_base_delay = 10
orders_stream.retry_max_delay = 100
max_connections = 40
};

sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', $BASE_CONF . ($opts{extra_conf} // ''));
	$node->start;
	$default_node //= $node;
	unless ($opts{no_extension})
	{
		$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
		$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
	}
	return $node;
}

# Seeds rand() from the environment variable $var, or from the time, and
# notes the seed, so that a failing run can be repeated.
sub random_seed
{
	my ($var) = @_;
	my $seed = $ENV{$var} // time;
	srand($seed);
	note "random seed $seed (set $var to repeat)";
	return $seed;
}

# Runs SQL as a role (SET ROLE in one session); returns (rc, stdout, stderr).
sub psql_as
{
	my $node = _node(\@_);
	my ($role, $sql, %opts) = @_;
	my ($out, $err);
	my $rc = $node->psql($opts{db} // 'postgres', "SET ROLE $role;\n$sql",
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($rc, $out // '', $err // '');
}

# Connects as a role directly (no SET ROLE: what a real login does).
sub psql_login
{
	my $node = _node(\@_);
	my ($role, $sql) = @_;
	my ($out, $err);
	my $rc = $node->psql('postgres', $sql, stdout => \$out, stderr => \$err,
		on_error_stop => 1, extra_params => [ '-U', $role ]);
	return ($rc, $out // '', $err // '');
}

# Runs a query on database postgres; dies on error, returns its output.
sub sql
{
	my $node = _node(\@_);
	return $node->safe_psql('postgres', $_[0]);
}

# psql_as and psql_login that die on error and return stdout.
sub safe_psql_as
{
	my $node = _node(\@_);
	return _stdout_or_die($_[0], psql_as($node, @_));
}

sub safe_psql_login
{
	my $node = _node(\@_);
	return _stdout_or_die($_[0], psql_login($node, @_));
}

sub _stdout_or_die
{
	my ($role, $rc, $out, $err) = @_;
	die "as $role: $err" if $rc;
	return $out;
}

# Waits until capture has stored every change committed so far.
sub capture
{
	my $node = _node(\@_);
	my ($timeout) = @_;
	$node->safe_psql('postgres',
		"SELECT orders_stream.wait_for_capture('" . ($timeout // '120s') . "')");
}

# Waits until mapping $m has applied every record captured so far.
sub wait_mapping
{
	my $node = _node(\@_);
	my ($m, $timeout) = @_;
	return $node->safe_psql('postgres',
		"SELECT orders_stream.wait_for_mapping('$m', '" . ($timeout // '300s') . "')");
}

# The counters of a mapping, as a hash.
sub mapping_status
{
	my $node = _node(\@_);
	my ($m) = @_;
	my @cols = qw(state checkpoint invocations records_processed errors retries failures
	  last_error last_processing_result);
	my $row = $node->safe_psql('postgres', qq{
		SELECT state, checkpoint_sequence_number, invocations, records_processed, errors,
			   retries, failures, coalesce(last_error, ''), last_processing_result
		  FROM orders_stream.event_source_mapping_status WHERE uuid = '$m'});
	my @v = split /\|/, $row, scalar(@cols);
	my %s;
	@s{@cols} = @v;
	return \%s;
}

# The examples' two item_totals aggregators on table $orders (id, item,
# quantity): the PL/pgSQL one of examples/item_totals.sql in schema
# ${prefix}_pl, the C one in ${prefix}_c, each into the item_totals of its
# schema, and a mapping from public.$orders to each, with the further
# arguments of create_event_source_mapping() in $pl_args and $c_args.
# Returns the two mappings' UUIDs.
sub item_totals_mappings
{
	my $node = _node(\@_);
	my ($orders, $prefix, $pl_args, $c_args) = @_;
	$node->safe_psql('postgres', qq{
		CREATE SCHEMA ${prefix}_pl;
		CREATE SCHEMA ${prefix}_c;
		CREATE TABLE ${prefix}_c.item_totals (item text PRIMARY KEY, total bigint NOT NULL);
		CREATE FUNCTION ${prefix}_c.item_totals_aggregator_c(event jsonb)
		RETURNS jsonb
		AS 'orders_stream_item_totals', 'item_totals_aggregator'
		LANGUAGE C STRICT;
		SET search_path = ${prefix}_pl;
	} . PostgreSQL::Test::Utils::slurp_file('examples/item_totals.sql'));
	my @mappings;
	for my $m ([ 'pl', 'item_totals_aggregator(jsonb)', $pl_args ],
		[ 'c', 'item_totals_aggregator_c(jsonb)', $c_args ])
	{
		my ($suffix, $function, $args) = @$m;
		push @mappings, $node->safe_psql('postgres', qq{
			SET search_path = ${prefix}_$suffix;
			SELECT orders_stream.create_event_source_mapping('public.$orders', '$function', $args)});
	}
	return @mappings;
}

# How many items' totals in $schema.item_totals (the examples' aggregators')
# differ from SELECT item, sum(quantity) FROM $orders GROUP BY item: 0 when
# the mapping applied every change exactly once.
sub item_totals_mismatches
{
	my $node = _node(\@_);
	my ($orders, $schema) = @_;
	return $node->safe_psql('postgres', qq{
		SELECT count(*) FROM (SELECT item, sum(quantity) AS total FROM $orders GROUP BY item) o
		  FULL JOIN $schema.item_totals t USING (item)
		 WHERE coalesce(o.total, 0) <> coalesce(t.total, 0)});
}

# How many times nextval() was called on a sequence (0 before the first).
sub seq_value
{
	my $node = _node(\@_);
	my ($seq) = @_;
	return $node->safe_psql('postgres',
		"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM $seq");
}

# Asserts that the query returns 't' within the default timeout.
sub poll
{
	my $node = _node(\@_);
	my ($query, $what) = @_;
	return ok($node->poll_query_until('postgres', $query), $what);
}

# Whether the query returns 't' within $secs, asking every 5 ms (to catch a
# worker in a short-lived state).  The query goes with -c, not on psql's
# stdin as in poll_query_until: while the server restarts after a crash, a
# psql that cannot connect exits before reading its stdin, and the write to
# it fails with EPIPE, which kills the test.
sub poll_true
{
	my $node = _node(\@_);
	my ($query, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		my ($out, $err) = ('', '');
		IPC::Run::run(
			[
				$node->installed_command('psql'), '-XAtq', '-d',
				$node->connstr('postgres'), '-c', $query
			],
			'>', \$out, '2>', \$err);
		chomp $out;
		return 1 if $? == 0 && $out eq 't';
		usleep(5_000);
	}
	return 0;
}

# Waits until the query returns 't', through crash restarts; dies after
# the default timeout.
sub wait_true
{
	my $node = _node(\@_);
	my ($query, $what) = @_;
	poll_true($node, $query, $PostgreSQL::Test::Utils::timeout_default)
	  or die "timed out waiting for $what";
}

# The pid of the process whose backend_type is $type ('' if none; one a
# line if several).
sub worker_pid
{
	my $node = _node(\@_);
	my ($type) = @_;
	my ($stdout, $stderr);
	$node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = '$type'",
		stdout => \$stdout, stderr => \$stderr);
	return $stdout // '';
}

# Waits for a process of $type other than $old; returns its pid.
sub wait_new_worker
{
	my $node = _node(\@_);
	my ($type, $old) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my $pid = worker_pid($node, $type);
		return $pid if $pid =~ /^\d+$/ && $pid ne ($old // '');
		usleep(50_000);
	}
	die "no new $type worker after " . ($old // 'none');
}

# Waits up to $secs for a process of $type reporting $activity (a worker
# inside a step, to be killed there); returns its pid, or '' if none came.
sub busy_worker
{
	my $node = _node(\@_);
	my ($type, $activity, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline)
	{
		my $pid = $node->safe_psql('postgres', qq{
			SELECT pid FROM pg_stat_activity
			 WHERE backend_type = '$type' AND query = '$activity' LIMIT 1});
		return $pid if $pid =~ /^\d+$/;
		usleep(1_000);
	}
	return '';
}

# Creates public.swallow_cancels(), what a hostile function calls to run
# forever: it sleeps, and swallows every cancel (query_canceled) it gets.
sub swallow_cancels_function
{
	my $node = _node(\@_);
	$node->safe_psql('postgres', q{
CREATE OR REPLACE FUNCTION public.swallow_cancels() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	LOOP
		BEGIN
			PERFORM pg_sleep(10);
		EXCEPTION WHEN query_canceled THEN
			NULL;
		END;
	END LOOP;
END
$$;
});
}

# The median of a list of numbers (the lower of the middle two of an even
# count).
sub median { my @s = sort { $a <=> $b } @_; return $s[ int($#s / 2) ]; }

# The sizes in kB of /proc/pid/status (RssAnon, VmRSS, VmHWM, ...), as a
# hash; undef once the process is gone.
sub proc_status
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/status") or return undef;
	my %f;
	while (<$fh>)
	{
		$f{$1} = $2 if /^(\w+):\s+(\d+) kB/;
	}
	close $fh;
	return \%f;
}

# Resident anonymous memory of a process, in kB (RssAnon of /proc/pid/status).
sub rss_anon_kb
{
	my ($pid) = @_;
	my $status = proc_status($pid);
	return $status ? $status->{RssAnon} : undef;
}

# The small transactions of the crash tests (002, 003, 009) on the history
# oracle's "orders": ids 1..350, rows locked in ascending id order (id < id2
# < id2 + 1, so no deadlocks to speak of), $insert_pct % upserts, then
# updates and deletes, savepoints rolled back and whole transactions
# rolled back.  Writes the pgbench script and returns its path.
sub history_small_script
{
	my ($node, $insert_pct) = @_;
	my $small = $node->basedir . '/small.sql';
	PostgreSQL::Test::Utils::append_to_file($small, qq{
\\set id random(1, 300)
\\set id2 :id + random(1, 50)
\\set r random(1, 100)
BEGIN;
\\if :r <= $insert_pct
INSERT INTO orders VALUES (:id, 1, md5(random()::text)) ON CONFLICT (id) DO UPDATE SET version = orders.version + 1, note = excluded.note;
\\elif :r <= 70
UPDATE orders SET version = version + 1, note = md5(random()::text) WHERE id = :id;
\\else
DELETE FROM orders WHERE id = :id;
\\endif
UPDATE orders SET version = version + 1 WHERE id = :id2;
SAVEPOINT s;
DELETE FROM orders WHERE id = :id2 + 1;
\\if :r % 3 = 0
ROLLBACK TO SAVEPOINT s;
\\endif
\\if :r % 10 = 0
ROLLBACK;
\\else
COMMIT;
\\endif
});
	return $small;
}

# The bulk transactions of the crash tests (002, 003) on the history
# oracle's "orders": 100 rows each, in one of five disjoint ranges, deleted
# or upserted with notes long enough to make the reorder buffer spill.
# Writes the pgbench script and returns its path.
sub history_bulk_script
{
	my ($node) = @_;
	my $bulk = $node->basedir . '/bulk.sql';
	PostgreSQL::Test::Utils::append_to_file($bulk, q{
\\set base 1000 + random(0, 4) * 100
\\set r random(1, 4)
BEGIN;
\\if :r = 1
DELETE FROM orders WHERE id BETWEEN :base AND :base + 99;
\\else
INSERT INTO orders SELECT g, 1, repeat(md5(random()::text), 8) FROM generate_series(:base, :base + 99) g ON CONFLICT (id) DO UPDATE SET version = orders.version + 1, note = excluded.note;
\\endif
COMMIT;
});
	return $bulk;
}

# The history oracle of the crash tests (002, 003): "orders" has a version
# per row, incremented by every update, and an AFTER ROW trigger appends
# (id, event, version) to "history" in the same transaction, so a history
# row is committed iff its change is.  Creates both and enables the stream.
sub history_setup
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
CREATE TABLE orders (id int PRIMARY KEY, version int NOT NULL, note text);
CREATE TABLE history (hid bigserial PRIMARY KEY, id int NOT NULL,
					  event text NOT NULL, version int NOT NULL);
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO history (id, event, version) VALUES (NEW.id, 'INSERT', NEW.version);
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO history (id, event, version) VALUES (NEW.id, 'MODIFY', NEW.version);
	ELSE
		INSERT INTO history (id, event, version) VALUES (OLD.id, 'REMOVE', OLD.version);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER orders_history AFTER INSERT OR UPDATE OR DELETE ON orders
	FOR EACH ROW EXECUTE FUNCTION log_change();
SELECT orders_stream.enable_stream('orders', 'NEW_AND_OLD_IMAGES');
});
}

# The records of the history oracle as table $table (n, seq, id, event,
# version): n numbers them in SequenceNumber order.
sub history_records
{
	my ($node, $table) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE $table AS
SELECT row_number() OVER (ORDER BY r.sequence_number) AS n,
	   r.sequence_number AS seq,
	   (r.record->'dynamodb'->'Keys'->'id'->>'N')::int AS id,
	   r.record->>'eventName' AS event,
	   (coalesce(r.record->'dynamodb'->'NewImage', r.record->'dynamodb'->'OldImage')->'version'->>'N')::int AS version
  FROM orders_stream.records r;
});
}

# The oracle's checks, once capture has caught up: the multiset of
# (Keys.id, eventName, version) of the records equals history, per key in the
# same order, with no SequenceNumber twice, and replaying the records gives
# the final table.
sub history_check
{
	my ($node) = @_;
	my $n_hist = $node->safe_psql('postgres', 'SELECT count(*) FROM history');
	note "history rows (committed changes): $n_hist; records: "
	  . $node->safe_psql('postgres', 'SELECT count(*) FROM orders_stream.records');
	cmp_ok($n_hist, '>', 1000, 'the workload committed a fair number of changes');
	history_records($node, 'rec');
	history_compare($node, 'rec', 'records');
	is($node->safe_psql('postgres', q{
	SELECT count(*) FROM
	  (SELECT DISTINCT ON (id) id, event, version FROM rec ORDER BY id, seq DESC) last
	  FULL JOIN orders o USING (id)
	 WHERE (last.event = 'REMOVE' AND o.id IS NOT NULL)
		OR (last.event IS DISTINCT FROM 'REMOVE' AND o.version IS DISTINCT FROM last.version)}),
		'0', 'replaying the records gives the final table');
}

# The oracle's checks for records as read by a consumer (one outside the
# database, or history_records): $table (n, seq, id, event, version) holds
# them in the order the consumer read them.  None lost, none twice, and per
# key in the order of the changes.
sub history_compare
{
	my ($node, $table, $label) = @_;
	is($node->safe_psql('postgres', "SELECT count(*) FROM $table"),
		$node->safe_psql('postgres', 'SELECT count(*) FROM history'),
		"$label: as many records as committed changes");
	is($node->safe_psql('postgres', "SELECT count(*) - count(DISTINCT seq) FROM $table"),
		'0', "$label: no SequenceNumber read twice");
	is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (SELECT id, event, version FROM history
						  EXCEPT ALL SELECT id, event, version FROM $table) x}),
		'0', "$label: every committed change was read");
	is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM (SELECT id, event, version FROM $table
						  EXCEPT ALL SELECT id, event, version FROM history) x}),
		'0', "$label: nothing read that was not committed");
	is($node->safe_psql('postgres', qq{
	SELECT count(*) FROM
	  (SELECT id, array_agg(event || ':' || version ORDER BY n) AS evs FROM $table GROUP BY id) r
	  FULL JOIN
	  (SELECT id, array_agg(event || ':' || version ORDER BY hid) AS evs FROM history GROUP BY id) h
	  USING (id)
	 WHERE r.evs IS DISTINCT FROM h.evs}),
		'0', "$label: per key, read in the order of the changes");
}

# The oracle of tumbling windows (023): "worders" has item and quantity,
# and a version from one sequence, so that every change is told apart by
# (id, event, version); an AFTER ROW trigger appends each change, with its
# item and quantity before and after, to "whistory" in its transaction.
# Creates both and enables a NEW_AND_OLD_IMAGES stream.
sub window_history_setup
{
	my ($node) = @_;
	$node->safe_psql('postgres', q{
CREATE SEQUENCE wversion;
CREATE TABLE worders (id int PRIMARY KEY, item text NOT NULL, quantity int NOT NULL,
					  version bigint NOT NULL DEFAULT nextval('wversion'));
CREATE TABLE whistory (hid bigserial PRIMARY KEY, id int NOT NULL, event text NOT NULL,
					   version bigint NOT NULL, item text, quantity int,
					   old_item text, old_quantity int);
CREATE FUNCTION wversion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.version := nextval('wversion');
	RETURN NEW;
END
$$;
CREATE TRIGGER worders_version BEFORE UPDATE ON worders
	FOR EACH ROW EXECUTE FUNCTION wversion();
CREATE FUNCTION wlog_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO whistory (id, event, version, item, quantity)
		VALUES (NEW.id, 'INSERT', NEW.version, NEW.item, NEW.quantity);
	ELSIF TG_OP = 'UPDATE' THEN
		INSERT INTO whistory (id, event, version, item, quantity, old_item, old_quantity)
		VALUES (NEW.id, 'MODIFY', NEW.version, NEW.item, NEW.quantity, OLD.item, OLD.quantity);
	ELSE
		INSERT INTO whistory (id, event, version, old_item, old_quantity)
		VALUES (OLD.id, 'REMOVE', OLD.version, OLD.item, OLD.quantity);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER worders_history AFTER INSERT OR UPDATE OR DELETE ON worders
	FOR EACH ROW EXECUTE FUNCTION wlog_change();
SELECT orders_stream.enable_stream('worders', 'NEW_AND_OLD_IMAGES');
});
}

# The per-window item totals that history implies: each committed change
# adds its new quantity to its new item and takes its old quantity from its
# old item, in the window of its record.  A record's window is that of its
# ApproximateCreationDateTime, aligned on the epoch, or the latest window of
# the records before it in SequenceNumber order in its lane if that is later
# (windows never go back, in each lane).  A record's lane is that of mapping
# $mapping (its lanes table): the epoch whose end is the first at or after
# the record, or the last epoch, and ((uint32) key_hash) % lanes in it; a new
# epoch's lanes start with no window.  Creates "wexpected" (window_start,
# item, total), the sum over lanes; returns the number of changes whose
# record is missing or found twice, plus records without a change (0 when
# capture is right).
sub window_history_expected
{
	my ($node, $seconds, $mapping) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE wrec AS
SELECT r.sequence_number AS seq,
	   (r.record#>>'{dynamodb,Keys,id,N}')::int AS id,
	   r.record->>'eventName' AS event,
	   (coalesce(r.record#>'{dynamodb,NewImage}', r.record#>'{dynamodb,OldImage}')#>>'{version,N}')::bigint AS version,
	   (r.record#>>'{dynamodb,ApproximateCreationDateTime}')::bigint AS t,
	   r.key_hash
  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
 WHERE s.relid = 'worders'::regclass;
CREATE TABLE wlane AS
SELECT w.seq, e.epoch, (w.key_hash::int8 & 4294967295) % e.lanes AS lane
  FROM wrec w,
	   LATERAL (SELECT l.epoch, l.lanes FROM orders_stream.event_source_mapping_lanes l
				 WHERE l.mapping_uuid = '$mapping'
				   AND (l.epoch_end IS NULL OR l.epoch_end COLLATE "C" >= w.seq COLLATE "C")
				 ORDER BY l.epoch LIMIT 1) e;
CREATE TABLE wexpected AS
WITH win AS (
	SELECT id, event, version,
		   max(t - t % $seconds) OVER (PARTITION BY epoch, lane ORDER BY seq COLLATE "C") AS wstart
	  FROM wrec JOIN wlane USING (seq)),
delta AS (
	SELECT w.wstart, h.item, h.quantity AS d FROM win w JOIN whistory h USING (id, event, version)
	 WHERE h.event IN ('INSERT', 'MODIFY')
	UNION ALL
	SELECT w.wstart, h.old_item, -h.old_quantity FROM win w JOIN whistory h USING (id, event, version)
	 WHERE h.event IN ('MODIFY', 'REMOVE'))
SELECT to_timestamp(wstart) AS window_start, item, sum(d)::bigint AS total FROM delta GROUP BY 1, 2;
});
	return $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM wrec) - (SELECT count(*) FROM wlane)
	 + (SELECT count(*) FROM whistory h
		  LEFT JOIN (SELECT id, event, version, count(*) AS n FROM wrec GROUP BY 1, 2, 3) r
		  USING (id, event, version)
		 WHERE r.n IS DISTINCT FROM 1)
	 + (SELECT count(*) FROM wrec r
		 WHERE NOT EXISTS (SELECT FROM whistory h
						   WHERE (h.id, h.event, h.version) = (r.id, r.event, r.version)))
});
}

# The pids of the node's postmaster and of its children, for a SIGKILL of all
# of them at once (a crash with orphaned backends).
sub server_pids
{
	my ($node) = @_;
	my $pm = $node->{_pid};
	my @pids = ($pm);
	opendir(my $d, '/proc') or die;
	for my $p (grep { /^\d+$/ } readdir $d)
	{
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $stat = <$fh>;
		close $fh;
		next unless defined $stat && $stat =~ /^\d+ \(.*\) \S (\d+)/;
		push @pids, $p if $1 == $pm;
	}
	closedir $d;
	return @pids;
}

# until reaped: a zombie postmaster still makes the next one refuse to start
sub alive { my ($pid) = @_; return -e "/proc/$pid"; }

# Whether a process runs: a zombie has exited and released everything (its
# shared memory among it); its new parent just has not reaped it yet.
sub running
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$fh> // '';
	close $fh;
	return $stat !~ /^\d+ \(.*\) Z /;
}

# The command line of a process, as ps shows it ('?' once it is gone).
sub process_title
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/cmdline") or return '?';
	local $/;
	my $t = <$fh> // '?';
	close $fh;
	$t =~ s/\0+$//;
	$t =~ s/\0/ /g;
	$t =~ s/\s+$//;
	return $t;
}

# SIGKILLs the postmaster, and all its children at once too if $all (a
# machine crash); otherwise the children must notice its death on their own.
# Returns the titles of the children still running 5 s after the kill
# (orphans: they keep the dead server's shared memory attached, and the
# server cannot start again; SIGKILLed then, so that the test can go on),
# and how long the last child took to exit.  Waits until every process is
# reaped, so that $node->start can follow.
sub kill_postmaster
{
	my ($node, $all) = @_;
	my @pids = server_pids($node);
	my @children = @pids[1 .. $#pids];
	my %title = map { $_ => process_title($_) } @children;
	my $t0 = time;
	my $last = 0;
	$node->kill9;
	kill 'KILL', @children if $all;
	my @left = @children;
	while (@left && time < $t0 + 5)
	{
		usleep(10_000);
		@left = grep { running($_) } @left;
		$last = time - $t0;
	}
	my @orphans = map { $title{$_} } @left;
	kill 'KILL', @left;
	usleep(20_000) while grep { alive($_) } @pids;
	return (\@orphans, $last);
}

# Starts pgbench on database postgres in the background (IPC::Run::start),
# with @args (clients, duration, scripts, ...), as application_name pgbench.
sub start_pgbench
{
	my $node = _node(\@_);
	my (@args) = @_;
	my ($out, $err) = ('', '');
	return IPC::Run::start(
		[
			$node->installed_command('pgbench'), '-n', @args,
			$node->connstr('postgres') . ' application_name=pgbench'
		],
		'>', \$out, '2>', \$err, IPC::Run::timeout(900));
}

# Waits for a pgbench started with start_pgbench, or kills it if it failed.
sub stop_pgbench
{
	my ($h) = @_;
	eval { $h->finish; };
	$h->kill_kill if $@;
}

# Kills a running pgbench and waits until its sessions are gone.
sub kill_pgbench
{
	my $node = _node(\@_);
	my ($h) = @_;
	$h->kill_kill;
	wait_true($node, q{
		SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'pgbench'},
		'the pgbench sessions to go away');
}

# A crash of the server, as the crash tests make them: SIGKILLs the
# postmaster, and all its children at once too if $opts{all} (a machine
# crash), waits for the pgbench $opts{pgbench} (if any) to end, and starts
# the server again.  Fails the test if a process outlives the postmaster by
# 5 s (an orphan) or if "pg_ctl start" does not succeed unaided.  Returns
# how long the last child took to exit.
sub crash_restart
{
	my $node = _node(\@_);
	my ($what, %opts) = @_;
	my ($orphans, $last) = kill_postmaster($node, $opts{all});
	is(join(', ', @$orphans), '', "$what: no process outlives the postmaster by 5 s");
	note sprintf('%s: SIGKILL of the %s; the last child exited after %.2f s',
		$what, $opts{all} ? 'postmaster and all its children' : 'postmaster', $last);
	stop_pgbench($opts{pgbench}) if $opts{pgbench};
	ok($node->start(fail_ok => 1), "$what: the server starts again unaided");
	return $last;
}

# A pgbench script of mixed writes to $table (id, item, quantity) over ids
# 1-300: upserts, quantity updates and deletes, a quarter of the
# transactions also changing a second row's item.  Returns its path.
sub mixed_writes_script
{
	my ($node, $table) = @_;
	my $script = $node->basedir . "/$table-writes.sql";
	my $body = q{\set id random(1, 300)
\set id2 random(1, 300)
\set q random(1, 50)
\set it random(1, 12)
\set r random(1, 100)
BEGIN;
\if :r <= 45
INSERT INTO TABLE (id, item, quantity) VALUES (:id, 'item' || :it, :q)
  ON CONFLICT (id) DO UPDATE SET item = excluded.item, quantity = excluded.quantity;
\elif :r <= 75
UPDATE TABLE SET quantity = :q WHERE id = :id;
\else
DELETE FROM TABLE WHERE id = :id;
\endif
\if :r % 4 = 0
UPDATE TABLE SET item = 'item' || :it WHERE id = :id2;
\endif
COMMIT;
};
	$body =~ s/TABLE/$table/g;
	PostgreSQL::Test::Utils::append_to_file($script, $body);
	return $script;
}

1;
