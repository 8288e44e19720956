-- One round of (c), our side: loads :rows orders in one transaction, then
-- waits for the capture worker.  Prints the load's duration (s), the LSN
-- after its COMMIT and the time from COMMIT to wait_for_capture() returning (s).
SELECT clock_timestamp() AS t0 \gset
INSERT INTO orders_load (item, quantity)
	SELECT 'sku-' || g, g % 10 + 1 FROM generate_series(1, :rows) g;
SELECT clock_timestamp() AS t1, pg_current_wal_insert_lsn() AS lsn \gset
SELECT orders_stream.wait_for_capture('30min') IS NOT NULL AS done \gset
SELECT extract(epoch FROM :'t1'::timestamptz - :'t0'::timestamptz)::numeric(10,3);
SELECT :'lsn';
SELECT extract(epoch FROM clock_timestamp() - :'t1'::timestamptz)::numeric(10,3);
