# 015_detach_partition.pl: items never enter or leave a streamed table
# without stream records.
#
# alice streams a partitioned table.  DETACH PARTITION of a partition with
# rows and then DROP TABLE would remove items with no REMOVE record, as
# TRUNCATE would; so would dropping a partition directly (or with its
# schema, or its owner's objects), or a concurrent detach.  ATTACH PARTITION of a table with rows would add items with no
# INSERT record.  Each is refused with a hint; an empty partition comes and
# goes freely.  At the end, every item the stream says exists is a row of
# the table, and every row an item.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use lib 't';
use OrdersStream;

my $node = OrdersStream::new_node('detach_partition');

sub as { my ($q) = @_; return OrdersStream::psql_login($node, 'alice', "\\set VERBOSITY verbose\n$q"); }

sql(q{CREATE ROLE alice LOGIN; GRANT CREATE ON SCHEMA public TO alice;});
my ($rc, $out, $err) = as(q{
CREATE TABLE orders (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE orders_1 PARTITION OF orders FOR VALUES FROM (0) TO (100);
CREATE TABLE orders_2 PARTITION OF orders FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);
CREATE TABLE orders_2a PARTITION OF orders_2 FOR VALUES FROM (100) TO (150);
CREATE TABLE orders_2b PARTITION OF orders_2 FOR VALUES FROM (150) TO (200);
SELECT orders_stream.enable_stream('orders');
INSERT INTO orders SELECT g, 'x' FROM generate_series(1, 180, 10) g;
});
is($rc, 0, 'a streamed partitioned table') or diag($err);

# ---- refused: the rows of a partition leaving without REMOVE records ----
($rc, $out, $err) = as(q{ALTER TABLE orders DETACH PARTITION orders_1});
like($err, qr/55000: cannot detach partition "public.orders_1" with rows from table "public.orders", which has a stream/,
	'DETACH PARTITION of a partition with rows is refused');
like($err, qr/HINT:  DELETE its rows first, or disable the stream first with orders_stream.disable_stream\('public.orders'\)/,
	'with a hint');
($rc, $out, $err) = as(q{ALTER TABLE orders_2 DETACH PARTITION orders_2b});
like($err, qr/cannot detach partition "public.orders_2b" with rows/, 'so is one of a sub-partitioned partition');
($rc, $out, $err) = as(q{ALTER TABLE orders DETACH PARTITION orders_2});
like($err, qr/cannot detach partition "public.orders_2" with rows/, 'and a partitioned partition with rows in its own partitions');
($rc, $out, $err) = as(q{ALTER TABLE orders DETACH PARTITION orders_1 CONCURRENTLY});
like($err, qr/0A000: cannot detach partition "orders_1" of table "public.orders" concurrently, because the table has a stream/,
	'DETACH PARTITION ... CONCURRENTLY is refused');
($rc, $out, $err) = as(q{DROP TABLE orders_1});
like($err, qr/55000: cannot drop partition "public.orders_1" of table "public.orders", which has a stream/,
	'DROP TABLE of a partition is refused');
($rc, $out, $err) = as(q{DROP TABLE orders_2a, orders_2b});
like($err, qr/cannot drop partition "public.orders_2a"/, 'so is DROP TABLE of several');
($rc, $out, $err) = as(q{BEGIN; DELETE FROM orders_1; ALTER TABLE orders DETACH PARTITION orders_1; ROLLBACK;});
is($rc, 0, 'a partition emptied in the same transaction detaches') or diag($err);
is(sql(q{SELECT count(*) FROM orders_1}), '10', 'all refused: no row has left');

# ---- refused: rows arriving without INSERT records ----
($rc, $out, $err) = as(q{
CREATE TABLE orders_3 (id int PRIMARY KEY, v text);
INSERT INTO orders_3 VALUES (200, 'smuggled');
ALTER TABLE orders ATTACH PARTITION orders_3 FOR VALUES FROM (200) TO (300);});
like($err, qr/55000: cannot attach table "public.orders_3" with rows to table "public.orders", which has a stream/,
	'ATTACH PARTITION of a table with rows is refused');
like($err, qr/HINT:  Attach it empty and INSERT its rows through "public.orders"/, 'with a hint');

# ---- allowed: empty partitions; capture goes on ----
($rc, $out, $err) = as(q{
DELETE FROM orders_3;
ALTER TABLE orders ATTACH PARTITION orders_3 FOR VALUES FROM (200) TO (300);
INSERT INTO orders VALUES (200, 'through the table');
DELETE FROM orders_1;
ALTER TABLE orders DETACH PARTITION orders_1;
DROP TABLE orders_1;
DELETE FROM orders_2b;
ALTER TABLE orders_2 DETACH PARTITION orders_2b CONCURRENTLY;});
like($err, qr/cannot detach partition "orders_2b" of table "public.orders_2" concurrently/,
	'an empty partition is not detached concurrently either');
($rc, $out, $err) = as(q{
ALTER TABLE orders_2 DETACH PARTITION orders_2b;
DROP TABLE orders_2b;
INSERT INTO orders VALUES (250, 'after');
UPDATE orders SET v = 'y' WHERE id = 101;});
is($rc, 0, 'empty partitions attach, detach and drop') or diag($err);
is(sql(q{SELECT relreplident FROM pg_class WHERE relname = 'orders_3'}), 'f',
	'the attached partition is streamed (REPLICA IDENTITY FULL)');

OrdersStream::capture($node);
# the items the stream leaves in existence: each key's last record is not a REMOVE
my $items = sql(q{
SELECT string_agg(id, ',' ORDER BY id::int) FROM (
  SELECT DISTINCT ON (k) k AS id, e FROM (
	SELECT r.record->'dynamodb'->'Keys'->'id'->>'N' AS k, r.record->>'eventName' AS e, r.sequence_key
	  FROM orders_stream.records r) x
   ORDER BY k, sequence_key DESC) y
 WHERE e <> 'REMOVE'});
is($items, sql(q{SELECT string_agg(id::text, ',' ORDER BY id) FROM orders}),
	'the stream\'s items are exactly the rows of the table');

# ---- nor does a partition go with its schema or its owner, without the table ----
sql(q{
CREATE ROLE bob;
CREATE SCHEMA s;
CREATE TABLE s.orders_4 PARTITION OF orders FOR VALUES FROM (300) TO (400);
CREATE TABLE orders_5 PARTITION OF orders FOR VALUES FROM (400) TO (500);
ALTER TABLE orders_5 OWNER TO bob;
INSERT INTO orders VALUES (300, 's'), (400, 'bob');});
($rc, $out, $err) = $node->psql('postgres', 'DROP SCHEMA s CASCADE');
like($err, qr/cannot drop partition "s.orders_4" of table "public.orders", which has a stream/,
	'DROP SCHEMA ... CASCADE of a partition\'s schema is refused');
($rc, $out, $err) = $node->psql('postgres', 'DROP OWNED BY bob');
like($err, qr/cannot drop partition "public.orders_5" of table "public.orders", which has a stream/,
	'DROP OWNED BY a partition\'s owner is refused');
is(sql(q{SELECT count(*) FROM orders WHERE id IN (300, 400)}), '2', 'their rows are still there');

# ---- the whole table goes with its stream ----
($rc, $out, $err) = as(q{DROP TABLE orders});
is($rc, 0, 'DROP TABLE of the streamed table itself drops its partitions') or diag($err);
is(sql(q{SELECT count(*) FROM orders_stream.streams WHERE disabled_at IS NULL}), '0',
	'and disables its stream');
($rc, $out, $err) = $node->psql('postgres', 'DROP SCHEMA s CASCADE; DROP OWNED BY bob; DROP ROLE bob;');
is($rc, 0, 'then the schema and the role go') or diag($err);

done_testing();
