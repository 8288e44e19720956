/*
 * trim (issue 17): the trim point and the per-stream counts as state, so
 * that readable_streams and stream_status cost O(1) per stream.  Here the
 * new column; 21_trim_state.sql (sql/install/26_stream_state.sql, linked)
 * brings the new objects and maintain_partitions, which it replaces (no
 * dependants, so dropped here rather than copied); 22_trim_views.sql the
 * views that read the state, and its backfill.
 */
/* 1.0 kept only the SequenceNumber; recount_streams() sets the key */
ALTER TABLE orders_stream.stream_trim ADD COLUMN trimmed_key bytea NOT NULL DEFAULT '';
DROP FUNCTION orders_stream_internal.maintain_partitions();
