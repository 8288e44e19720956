# 096_upgrade.pl: ALTER EXTENSION orders_stream UPDATE on a live database
# keeps capture and every mapping exact, and a library whose version is not
# the installed extension's waits, with a clear log line, never a crash.
#
# (a) The released 1.0 (its frozen install script) under the new library:
#     CREATE EXTENSION ... VERSION '1.0' works, which is also the check that
#     every C symbol a 1.0 function names still exists (CREATE FUNCTION ...
#     LANGUAGE C looks each up); the workers log that they wait; the slot
#     exists all the same.
# (b) Streams on two tables, a PL/pgSQL and a C item_totals mapping; writes
#     under load, ALTER EXTENSION ... UPDATE in their middle: every change is
#     captured once, in each row's order (an audit trigger logs the source
#     changes), and the totals are exact.
# (c) The reverse: updated to 9.9 (test.sh installs a test-only pair of
#     update scripts, test/upgrade_newer.sql), the library is older and the
#     workers wait; updated back, they resume, and nothing is lost.
# (d) A database created at 1.0, and one at 1.1, updated have exactly the
#     objects of a fresh install (test/extension_objects.sql, a line per fact): what keeps
#     every fragment of sql/update honest.
# (e) pg_upgrade (15 to 15: the same binaries) by README's procedure, writers
#     stopped and capture and the mappings caught up: records, stream ARNs
#     and mappings survive; capture resumes on a new slot (pg_upgrade
#     carries no logical slot) and delivery binds the mappings to their
#     functions' new OIDs; SequenceNumbers go on increasing (the new
#     cluster's WAL starts after the old one's); nothing twice, nothing lost.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;
use Time::HiRes qw(usleep);
use Cwd ();

my $node = OrdersStream::new_node('upgrade', no_extension => 1,
	extra_conf => $OrdersStream::DELIVERY_CONF);

my $extdir = $node->config_data('--sharedir') . '/extension';
my ($version) = slurp_file("$extdir/orders_stream.control") =~ /^default_version = '([^']+)'/m;
my @workers = ('orders_stream capture', 'orders_stream delivery launcher', 'orders_stream ttl');

# ---- (a) the released 1.0 under the new library ----
my $offset = -s $node->logfile;
sql(q{CREATE EXTENSION orders_stream VERSION '1.0'});
is(sql(q{SELECT extversion FROM pg_extension WHERE extname = 'orders_stream'}), '1.0',
	'(a) CREATE EXTENSION orders_stream VERSION 1.0 with the new library: every C symbol of 1.0 exists');
for my $w (@workers)
{
	$node->wait_for_log(
		qr/LOG:  \Q$w\E: the library is version \Q$version\E but database "postgres" has the extension at version 1\.0; waiting for ALTER EXTENSION orders_stream UPDATE\n.*HINT:  Run ALTER EXTENSION orders_stream UPDATE in database "postgres"/,
		$offset);
	pass("(a) $w logs that it waits for ALTER EXTENSION orders_stream UPDATE");
}
like(sql(q{SELECT orders_stream.wait_for_slot()}), qr/^orders_stream_/,
	'(a) capture creates its slot while it waits: it keeps the WAL of what is written meanwhile');
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT orders_stream.wait_for_capture('5s')},
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: wait_for_capture\(\) cannot run: the orders_stream library is version \Q$version\E but this database has the extension at version 1\.0.*HINT:  Run ALTER EXTENSION orders_stream UPDATE/s,
	'(a) wait_for_capture() says why it cannot work, at once');

# ---- (b) streams and mappings at 1.0, the update under load ----
sql(<<'SQL');
CREATE TABLE u_orders (id int PRIMARY KEY, item text NOT NULL, quantity int NOT NULL);
CREATE TABLE u_events (id bigserial PRIMARY KEY, payload text NOT NULL);
-- the source changes as the stream must show them, in each row's order: two
-- writers of a row are serialized by its lock, so audit_id orders its changes
CREATE TABLE u_audit (audit_id bigserial PRIMARY KEY, tbl text, id bigint, event text,
					  old_item text, old_quantity int, new_item text, new_quantity int);
CREATE FUNCTION u_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_TABLE_NAME = 'u_orders' THEN
		INSERT INTO u_audit (tbl, id, event, old_item, old_quantity, new_item, new_quantity)
		VALUES (TG_TABLE_NAME, coalesce(NEW.id, OLD.id),
				CASE TG_OP WHEN 'INSERT' THEN 'INSERT' WHEN 'UPDATE' THEN 'MODIFY' ELSE 'REMOVE' END,
				OLD.item, OLD.quantity, NEW.item, NEW.quantity);
	ELSE
		INSERT INTO u_audit (tbl, id, event) VALUES (TG_TABLE_NAME, NEW.id, 'INSERT');
	END IF;
	RETURN NULL;
END $$;
-- an UPDATE that changes nothing has no record (as in DynamoDB)
CREATE TRIGGER u_audit_iud AFTER INSERT OR DELETE ON u_orders FOR EACH ROW EXECUTE FUNCTION u_audit();
CREATE TRIGGER u_audit_u AFTER UPDATE ON u_orders FOR EACH ROW
	WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION u_audit();
CREATE TRIGGER u_audit_i AFTER INSERT ON u_events FOR EACH ROW EXECUTE FUNCTION u_audit();
SELECT orders_stream.enable_stream('u_orders', 'NEW_AND_OLD_IMAGES');
SELECT orders_stream.enable_stream('u_events', 'NEW_IMAGE');
SQL
# the demo's PL/pgSQL aggregator and the C one, into the item_totals of u_pl and u_c
my ($m_pl, $m_c) = item_totals_mappings('u_orders', 'u',
	q{batch_size => 10, starting_position => 'TRIM_HORIZON'},
	q{batch_size => 7, starting_position => 'TRIM_HORIZON'});

my $orders = OrdersStream::mixed_writes_script($node, 'u_orders');
my $events = $node->basedir . '/u_events-writes.sql';
append_to_file($events, "INSERT INTO u_events (payload) VALUES (md5(random()::text));\n");
my $h = start_pgbench(qw(-c 4 -j 2 --max-tries=20 -T 12), '-f', "$orders\@3", '-f', "$events\@1");

# a few seconds of writes at 1.0: nothing is stored yet
wait_true(q{SELECT count(*) > 200 FROM u_audit}, 'the load to write');
usleep(3_000_000);
is(sql(q{SELECT count(*) FROM orders_stream.record_store}), '0',
	'(b) at 1.0, capture stores nothing while it waits');
$offset = -s $node->logfile;
sql(q{ALTER EXTENSION orders_stream UPDATE});
is(sql(q{SELECT extversion = orders_stream.library_version() FROM pg_extension WHERE extname = 'orders_stream'}),
	't', "(b) ALTER EXTENSION orders_stream UPDATE in the middle of the load: at $version, the library's");
for my $w (@workers)
{
	$node->wait_for_log(
		qr/LOG:  \Q$w\E resumes: database "postgres" has the extension at version \Q$version\E, the library's/,
		$offset);
	pass("(b) $w resumes by itself");
}
my $at_update = sql(q{SELECT count(*) FROM u_audit});
wait_true("SELECT count(*) > $at_update + 100 FROM u_audit", 'the load to go on');
pass('(b) the load goes on after the update');
stop_pgbench($h);

# every source change captured once, in each row's order; the totals exact
sub check_exact
{
	my ($what) = @_;
	OrdersStream::capture();
	wait_mapping($m_pl, '300s');
	wait_mapping($m_c, '300s');
	for my $tbl ('u_orders', 'u_events')
	{
		my $diff = sql(qq{
			WITH r AS (
				SELECT (r.record::jsonb #>> '{dynamodb,Keys,id,N}')::bigint AS id, r.sequence_key,
					   r.record::jsonb ->> 'eventName' AS event,
					   r.record::jsonb #>> '{dynamodb,OldImage,item,S}' AS old_item,
					   (r.record::jsonb #>> '{dynamodb,OldImage,quantity,N}')::int AS old_quantity,
					   r.record::jsonb #>> '{dynamodb,NewImage,item,S}' AS new_item,
					   (r.record::jsonb #>> '{dynamodb,NewImage,quantity,N}')::int AS new_quantity
				  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
				 WHERE s.relid = '$tbl'::regclass),
			 got AS (SELECT id, string_agg(concat_ws(':', event, old_item, old_quantity, new_item, new_quantity),
										   ' ' ORDER BY sequence_key) AS changes FROM r GROUP BY id),
			 want AS (SELECT id, string_agg(concat_ws(':', event, old_item, old_quantity, new_item, new_quantity),
											' ' ORDER BY audit_id) AS changes
						FROM u_audit WHERE tbl = '$tbl' GROUP BY id)
			SELECT string_agg(format('id %s: source %s, stream %s', id, w.changes, g.changes), E'\\n' ORDER BY id)
			  FROM want w FULL JOIN got g USING (id)
			 WHERE w.changes IS DISTINCT FROM g.changes});
		is($diff, '', "$what $tbl: every source change is in the stream once, in the row's order");
		is(sql(qq{
			SELECT count(*) = count(DISTINCT sequence_number) AND count(*) = (SELECT count(*) FROM u_audit WHERE tbl = '$tbl')
			  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
			 WHERE s.relid = '$tbl'::regclass}), 't',
			"$what $tbl: as many records as source changes, no SequenceNumber twice");
	}
	my %mapping_of = (u_pl => $m_pl, u_c => $m_c);
	for my $schema (sort keys %mapping_of)
	{
		is(item_totals_mismatches('u_orders', $schema), '0', "$what $schema.item_totals exact");
		my $s = mapping_status($mapping_of{$schema});
		is("$s->{failures} $s->{errors}", '0 0', "$what the mapping into $schema: no error, no failure");
	}
}
note sprintf('(b) %d source changes, %d of them before the update',
	sql(q{SELECT count(*) FROM u_audit}), $at_update);
check_exact('(b)');

# ---- (c) the reverse: an extension newer than the library ----
my $newer = "$extdir/orders_stream--$version--9.9.sql";
ok(-e $newer && -e "$extdir/orders_stream--9.9--$version.sql",
	"(c) the test-only update scripts to 9.9 and back are installed (test.sh: test/upgrade_newer.sql)")
  or BAIL_OUT("$newer is missing: run the test through test.sh, which installs it");
# updated under load, capture and the lanes busy: they stop where they are
$offset = -s $node->logfile;
$h = start_pgbench(qw(-c 2 -j 2 --max-tries=20 -T 4), '-f', "$orders\@3", '-f', "$events\@1");
usleep(1_000_000);
sql(q{ALTER EXTENSION orders_stream UPDATE TO '9.9'});
for my $w (@workers)
{
	$node->wait_for_log(
		qr/LOG:  \Q$w\E: the library is version \Q$version\E, older than the extension's version 9\.9 in database "postgres"; waiting for the library of version 9\.9/,
		$offset);
	pass("(c) at 9.9, $w logs that the library is older, and waits");
}
my $stored = sql(q{SELECT count(*) FROM orders_stream.record_store});
stop_pgbench($h);
usleep(1_500_000);
is(sql(q{SELECT count(*) FROM orders_stream.record_store}), $stored,
	'(c) while it waits, capture stores nothing');
$offset = -s $node->logfile;
sql(qq{ALTER EXTENSION orders_stream UPDATE TO '$version'});
for my $w (@workers)
{
	$node->wait_for_log(qr/LOG:  \Q$w\E resumes/, $offset);
	pass("(c) back at $version, $w resumes");
}
check_exact('(c)');

ok(!$node->log_contains(qr/orders_stream[^\n]*\(PID \d+\) (?:was terminated by signal|exited with exit code)/),
	'no orders_stream worker crashed or failed');

# ---- (d) updated from 1.0 = installed fresh ----
$node->safe_psql('postgres', 'CREATE DATABASE u_updated');
$node->safe_psql('postgres', 'CREATE DATABASE u_fresh');
$node->safe_psql('u_updated', q{SET client_min_messages = error; CREATE EXTENSION orders_stream VERSION '1.0'});
$node->safe_psql('u_updated', q{ALTER EXTENSION orders_stream UPDATE});
# and from the released 1.1
$node->safe_psql('postgres', 'CREATE DATABASE u_updated_11');
$node->safe_psql('u_updated_11', q{SET client_min_messages = error; CREATE EXTENSION orders_stream VERSION '1.1'});
$node->safe_psql('u_updated_11', q{ALTER EXTENSION orders_stream UPDATE});
$node->safe_psql('u_fresh', q{SET client_min_messages = error; CREATE EXTENSION orders_stream});
my $objects = slurp_file('test/extension_objects.sql');
my %facts = map { $_ => [ split /\n/, $node->safe_psql($_, $objects) ] } qw(u_fresh u_updated u_updated_11 postgres);
cmp_ok(scalar @{ $facts{u_fresh} }, '>', 500, '(d) the catalog query lists the objects of a fresh install');
for my $db ('u_updated', 'u_updated_11', 'postgres')
{
	my %in_fresh = map { $_ => 1 } @{ $facts{u_fresh} };
	my %in_updated = map { $_ => 1 } @{ $facts{$db} };
	my @diff = ((map { "only in a fresh $version: $_" } grep { !$in_updated{$_} } @{ $facts{u_fresh} }),
		(map { "only in $db, updated: $_" } grep { !$in_fresh{$_} } @{ $facts{$db} }));
	is(join("\n", @diff), '',
		"(d) $db, created at " . ($db eq 'u_updated_11' ? '1.1' : '1.0') . " and updated, has exactly the objects of a fresh install of $version");
}

# ---- (e) pg_upgrade ----
# the procedure (README "Upgrading"): writers stopped (they are), capture and
# the mappings caught up (check_exact waited for both), then the server stopped
my $streams_q = q{SELECT string_agg(format('%s %s %s', stream_arn, n, last), ' ' ORDER BY stream_arn)
	FROM (SELECT s.stream_arn, count(r.*) AS n, max(r.sequence_number) AS last
			FROM orders_stream.streams s LEFT JOIN orders_stream.records r USING (stream_id)
		   GROUP BY s.stream_arn) x};
my $before = sql($streams_q);
my %last_before = map { my ($arn, $last, $n) = split / /; ($arn => [ $last, $n ]) } split /\n/,
  sql(q{SELECT s.stream_arn || ' ' || max(r.sequence_number) || ' ' || count(*)
		  FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id) GROUP BY s.stream_arn});
my $mappings = sql(q{SELECT string_agg(uuid::text, ' ' ORDER BY uuid) FROM orders_stream.event_source_mappings});
$node->stop;
my $new = PostgreSQL::Test::Cluster->new('upgrade_new');
$new->init;
$new->append_conf('postgresql.conf', $OrdersStream::BASE_CONF . $OrdersStream::DELIVERY_CONF);
my $bindir = $node->config_data('--bindir');
{
	# pg_upgrade writes its scripts into the current directory
	my $cwd = Cwd::getcwd();
	chdir $new->basedir or die;
	command_ok(
		[
			"$bindir/pg_upgrade", '--no-sync', '-b', $bindir, '-B', $bindir,
			'-d', $node->data_dir, '-D', $new->data_dir,
			'-p', $node->port, '-P', $new->port, '-s', $new->host
		],
		'(e) pg_upgrade with orders_stream preloaded in both clusters');
	chdir $cwd or die;
}
$new->start;
$OrdersStream::default_node = $new;
is(sql($streams_q), $before, '(e) after pg_upgrade: the same streams (ARNs), records and SequenceNumbers');
is(sql(q{SELECT string_agg(uuid::text, ' ' ORDER BY uuid) FROM orders_stream.event_source_mappings}),
	$mappings, '(e) and the same mappings');
$new->wait_for_log(qr/orders_stream capture created replication slot/, 0);
pass('(e) capture creates a new slot (pg_upgrade carries none)');
wait_true(q{SELECT count(*) = 2 FROM orders_stream.capture_exceptions WHERE event_name = 'GAP' AND gap_end_lsn IS NOT NULL},
	'the gaps to be closed');
pass('(e) and records a GAP per open stream, as for any lost slot (README: nothing is in it)');
$new->wait_for_log(qr/orders_stream delivery bound 2 event source mapping\(s\) to their functions again, by name/, 0);
pass('(e) delivery binds both mappings to their functions\' new OIDs');
$h = start_pgbench(qw(-c 2 -j 2 --max-tries=20 -t 300), '-f', "$orders\@3", '-f', "$events\@1");
stop_pgbench($h);
check_exact('(e)');
for my $arn (sort keys %last_before)
{
	my ($last, $n) = @{ $last_before{$arn} };
	is(sql(qq{SELECT format('%s %s', count(*) FILTER (WHERE r.sequence_number <= '$last'), count(*) > $n)
				FROM orders_stream.records r JOIN orders_stream.streams s USING (stream_id)
			   WHERE s.stream_arn = '$arn'}), "$n t",
		"(e) $arn: the records captured after pg_upgrade all have higher SequenceNumbers than the earlier ones");
}
ok(!$new->log_contains(qr/orders_stream[^\n]*\(PID \d+\) (?:was terminated by signal|exited with exit code)/),
	'(e) no orders_stream worker crashed or failed on the new cluster');

$new->stop;
done_testing();
