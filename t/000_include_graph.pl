# 000_include_graph.pl: src/ stays layered: no module imports one that
# imports it back, directly or around a circle (test/include_graph.py).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;

my ($stdout, $stderr);
my $ok = IPC::Run::run([ 'python3', 'test/include_graph.py', 'src' ], '>', \$stdout, '2>', \$stderr);
ok($ok, 'the import graph of src/ has no cycle and no arrow that runs back up')
  or diag("$stdout$stderr");
like($stdout, qr/^no cycle; every arrow runs to a lower layer$/m, '... as the graph says');

done_testing();
