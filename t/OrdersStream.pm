# t/OrdersStream.pm: what every TAP test of orders_stream shares.
#
#   use lib 't';
#   use OrdersStream;
#   my $node = OrdersStream::new_node('name', extra_conf => "...");
#
# new_node() initialises and starts a cluster configured for orders_stream
# (wal_level, preload, output_plugin_libraries, database 'postgres'), creates
# the extension and waits for the capture slot unless no_extension => 1.
package OrdersStream;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

our $BASE_CONF = q{
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
shared_preload_libraries = 'orders_stream'
output_plugin_libraries = 'pgoutput, test_decoding, orders_stream'
logical_decoding_work_mem = 64kB
orders_stream.database = 'postgres'
log_statement = none
};

sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf', $BASE_CONF . ($opts{extra_conf} // ''));
	$node->start;
	unless ($opts{no_extension})
	{
		$node->safe_psql('postgres', 'CREATE EXTENSION orders_stream');
		$node->safe_psql('postgres', 'SELECT orders_stream.wait_for_slot()');
	}
	return $node;
}

# Runs SQL as a role (SET ROLE in one session); returns (rc, stdout, stderr).
sub psql_as
{
	my ($node, $role, $sql, %opts) = @_;
	my ($out, $err);
	my $rc = $node->psql($opts{db} // 'postgres', "SET ROLE $role;\n$sql",
		stdout => \$out, stderr => \$err, on_error_stop => 1);
	return ($rc, $out // '', $err // '');
}

# Connects as a role directly (no SET ROLE: what a real login does).
sub psql_login
{
	my ($node, $role, $sql) = @_;
	my ($out, $err);
	my $rc = $node->psql('postgres', $sql, stdout => \$out, stderr => \$err,
		on_error_stop => 1, extra_params => [ '-U', $role ]);
	return ($rc, $out // '', $err // '');
}

sub capture
{
	my ($node, $timeout) = @_;
	$node->safe_psql('postgres',
		"SELECT orders_stream.wait_for_capture('" . ($timeout // '120s') . "')");
}

# The pid of the process whose backend_type is $type ('' if none).
sub worker_pid
{
	my ($node, $type) = @_;
	my ($stdout, $stderr);
	$node->psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = '$type'",
		stdout => \$stdout, stderr => \$stderr);
	return $stdout // '';
}

# Waits for a process of $type other than $old; returns its pid.
sub wait_new_worker
{
	my ($node, $type, $old) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my $pid = worker_pid($node, $type);
		return $pid if $pid =~ /^\d+$/ && $pid ne ($old // '');
		usleep(50_000);
	}
	die "no new $type worker after " . ($old // 'none');
}

# Resident anonymous memory of a process, in kB (RssAnon of /proc/pid/status).
sub rss_anon_kb
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/status" or return undef;
	while (<$fh>)
	{
		return $1 if /^RssAnon:\s+(\d+)\s+kB/;
	}
	return undef;
}

1;
