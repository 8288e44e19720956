-- One round of (c), the hand-made alternative: decode the same WAL with
-- test_decoding (slot created before the load) up to the load's COMMIT and
-- store the text into a table.  Prints seconds, this backend's CPU seconds
-- (from /proc/self/stat) and the rows stored.
SELECT split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 12)::bigint
     + split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 13)::bigint AS cpu0,
       clock_timestamp() AS t0 \gset
INSERT INTO td_out SELECT * FROM pg_logical_slot_get_changes('bench_td', :'lsn', NULL);
SELECT split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 12)::bigint
     + split_part(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ', 13)::bigint AS cpu1,
       clock_timestamp() AS t1 \gset
SELECT extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz)::numeric(10,3);
SELECT ((:cpu1 - :cpu0) / 100.0)::numeric(10,2);
SELECT count(*) FROM td_out;
