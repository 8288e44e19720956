/*
 * 1.1 -> 1.2: records_from() orders its page itself, as the records view
 * (41_records_view.sql) has no ORDER BY any more.  Replaced: it keeps its
 * privileges.
 */

/*
 * The records of a stream from a sequence key on (that key included), at
 * most "limit" of them, in order: GetRecords' read of orders_stream.records.
 * One lower bound, chosen before the query (GetRecords passes the key after
 * a position as the position's key || '\x00', the least key above it): an
 * index condition.  enable_sort off: the order comes from the index
 * (stream_id, sequence_key) of every partition, read from the key on and
 * stopped at the LIMIT, or from a sort of every later record of the
 * stream.  Which is cheaper the planner judges from the partitions'
 * statistics, and a partition not analyzed yet (maintenance analyzes one
 * within a run of its first records) has none: it may then sort, hundreds
 * of ms for a page of a large stream.  A page never wants the sort.
 * sql/read_plans.sql guards the plan.
 */
CREATE OR REPLACE FUNCTION orders_stream.records_from(stream_id bigint, from_key bytea, "limit" integer DEFAULT 1000)
RETURNS SETOF orders_stream.records
LANGUAGE sql STABLE
SET enable_sort = off
BEGIN ATOMIC
	SELECT r.stream_id, r.sequence_number, r.captured_at, r.record, r.key_hash, r.sequence_key
	  FROM orders_stream.records r
	 WHERE r.stream_id OPERATOR(pg_catalog.=) records_from.stream_id
	   AND r.sequence_key OPERATOR(pg_catalog.>=) records_from.from_key
	 ORDER BY r.sequence_key
	 LIMIT records_from."limit";
END;

COMMENT ON FUNCTION orders_stream.records_from(bigint, bytea, integer) IS
'The records of orders_stream.records of one stream from a sequence key on, at most "limit", in order: an index range read';
