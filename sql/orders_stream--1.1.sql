-- orders_stream: DynamoDB Streams for PostgreSQL.  This install script is
-- built by the Makefile from the files of sql/install, in name order.
--
-- Privilege model (README "Security"): schema orders_stream holds the API;
-- orders_stream_internal holds helpers that PUBLIC can neither see nor
-- execute.  PUBLIC has no INSERT, UPDATE, DELETE or TRUNCATE on any table
-- here.  Everything that runs as the extension's owner pins
-- search_path = pg_catalog, pg_temp and qualifies what it calls.

\echo Use "CREATE EXTENSION orders_stream" to load this file. \quit

/*
 * CREATE EXTENSION creates schema orders_stream (the control file's) only
 * if it does not exist; an existing one is used as it is.  Its owner could
 * rename it away and put a schema of its own in its place, whose objects
 * every superuser, worker and definer-rights function here would then
 * find by name (the CVE-2022-2625 class): refuse one that a role other
 * than a superuser owns, may create in, or has put anything into.
 */
DO $$
DECLARE
	nsp oid := (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) 'orders_stream');
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
				WHERE n.oid OPERATOR(pg_catalog.=) nsp AND NOT r.rolsuper)
	   OR EXISTS (SELECT FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
				   LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
				   WHERE n.oid OPERATOR(pg_catalog.=) nsp AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
					 AND NOT coalesce(r.rolsuper, false))
	   OR EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) nsp)
	   OR EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.pronamespace OPERATOR(pg_catalog.=) nsp)
	   OR EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.typnamespace OPERATOR(pg_catalog.=) nsp)
	   OR EXISTS (SELECT FROM pg_catalog.pg_operator o WHERE o.oprnamespace OPERATOR(pg_catalog.=) nsp) THEN
		RAISE EXCEPTION 'schema "orders_stream" exists already, and a role that is no superuser owns it, may create in it, or has put objects into it'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop or rename that schema, then CREATE EXTENSION orders_stream creates its own.';
	END IF;
END
$$;

CREATE SCHEMA orders_stream_internal;
REVOKE ALL ON SCHEMA orders_stream_internal FROM PUBLIC;
GRANT USAGE ON SCHEMA orders_stream TO PUBLIC;

/*
 * The retention, as an interval.  No SET clause, so that the planner inlines
 * it; its names are qualified instead.
 */
CREATE FUNCTION orders_stream_internal.retention_interval()
RETURNS interval
LANGUAGE sql STABLE
AS $$ SELECT pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval $$;

/*
 * Whether role may read the stream of table relid (src/security.c, the one
 * copy of the rule, which delivery checks too): SELECT on the table, and no
 * row-level security in its way.  if_dropped answers for a table that no
 * longer exists (a mapping keeps delivering its dropped table's records).
 * Public: the views that run it as their caller need it, and it tells no
 * more than has_table_privilege() and pg_class do.
 */
CREATE FUNCTION orders_stream.may_read(role oid, relid oid, if_dropped boolean DEFAULT false)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'orders_stream_may_read';

/* The same, for a role by name: a view knows its caller as CURRENT_USER. */
CREATE FUNCTION orders_stream.may_read(role name, relid oid, if_dropped boolean DEFAULT false)
RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'orders_stream_may_read_name';

/*
 * AWS's exceptions, raised the one way (src/aws_error.c): the name at the
 * head of the message, one SQLSTATE per exception, AWS's JSON error body in
 * the DETAIL.  Public: the API functions that run as their caller raise
 * through it, and so may an aggregator that wants AWS-shaped errors.
 */
CREATE FUNCTION orders_stream.aws_error(exception text, message text, hint text DEFAULT NULL)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'orders_stream_aws_error';

/*
 * The library's version, to compare with pg_extension.extversion: the
 * workers wait while they differ (README "Upgrading").
 */
CREATE FUNCTION orders_stream.library_version()
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_library_version'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION orders_stream.library_version() IS
	'The version of the orders_stream library this server runs; pg_extension.extversion has the installed SQL''s.';
/*
 * This installation of the extension: a new id at each CREATE EXTENSION,
 * never dumped.  Rows of streams and event_source_mappings carry the id of
 * the installation that made them, so that rows a restore brings back from
 * another one are told apart (95_backup.sql) and never act on this
 * database's objects under the OIDs of the dumped one.
 */
CREATE TABLE orders_stream_internal.installation (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	id			uuid NOT NULL DEFAULT pg_catalog.gen_random_uuid()
);
INSERT INTO orders_stream_internal.installation DEFAULT VALUES;
REVOKE ALL ON orders_stream_internal.installation FROM PUBLIC;

CREATE FUNCTION orders_stream_internal.installation_id()
RETURNS uuid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT i.id FROM orders_stream_internal.installation i;
END;

/*
 * The streams catalog.  The output plugin reads it through the historic
 * snapshot of each change, so that a change is captured iff its table's stream
 * was enabled as of that change: hence user_catalog_table.  Written only by
 * C code running as the extension's owner; read by other roles through the
 * view orders_stream.readable_streams.
 */
CREATE TABLE orders_stream.streams (
	stream_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	relid		oid NOT NULL,
	table_name	text NOT NULL,
	view_type	text NOT NULL CHECK (view_type IN ('KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES')),
	stream_label text NOT NULL,
	stream_arn	text NOT NULL UNIQUE,
	shard_id	text NOT NULL,
	key_columns name[] NOT NULL,
	set_columns name[] NOT NULL DEFAULT '{}',
	/* a jsonb column whose members are attributes of the images (record.c) */
	document_column name,
	start_lsn	pg_lsn NOT NULL,
	created_at	timestamptz NOT NULL,
	disabled_at timestamptz,
	/*
	 * Set by the capture worker when it decodes the commit of the disable,
	 * in the transaction that stores the stream's last records: the
	 * position of that commit (every record of the shard is before it,
	 * every change committed after it is not in the shard), and the
	 * shard's EndingSequenceNumber, its last record (the closing position
	 * if it has none).  Disabled but not yet closed is DISABLING.
	 */
	closing_sequence_number text COLLATE "C",
	ending_sequence_number text COLLATE "C",
	installation uuid NOT NULL DEFAULT orders_stream_internal.installation_id()
) WITH (user_catalog_table = true);

CREATE UNIQUE INDEX streams_one_enabled_per_table
	ON orders_stream.streams (relid) WHERE disabled_at IS NULL;

REVOKE ALL ON orders_stream.streams FROM PUBLIC;

/*
 * enable_stream and disable_stream run as their caller for what the caller
 * must be allowed to do (ALTER TABLE, CREATE TRIGGER need ownership), and as
 * the extension's owner only to write orders_stream.streams.
 */
CREATE FUNCTION orders_stream.enable_stream(source regclass,
											view_type text DEFAULT 'NEW_AND_OLD_IMAGES',
											set_columns name[] DEFAULT '{}',
											document_column name DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_enable_stream'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.enable_stream(regclass, text, name[], name) IS
'Enables a DynamoDB stream on a table with a primary key; returns the stream ARN';

CREATE FUNCTION orders_stream.disable_stream(source regclass)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_disable_stream'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.disable_stream(regclass) IS
'Disables the stream of a table; its records stay readable until they age out; returns the stream ARN';

/*
 * TRUNCATE would remove items without REMOVE records: refuse it unless the
 * user opts out.  Table owners need EXECUTE to create the trigger; it can
 * only run as a trigger.  The triggers depend on it automatically, so DROP
 * EXTENSION removes them.
 */
CREATE FUNCTION orders_stream.truncate_guard()
RETURNS trigger
AS 'MODULE_PATHNAME', 'orders_stream_truncate_guard'
LANGUAGE C;

/*
 * SequenceNumber of an LSN and a position: 20 + 10 digits, see
 * output_plugin.c.  A position is a change's place in its transaction (a
 * uint32): anything else would render a string of another length, which
 * sorts wrongly among the real ones.
 */
CREATE FUNCTION orders_stream.sequence_number(lsn pg_lsn, change_position bigint DEFAULT 0)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF change_position < 0 OR change_position > 4294967295 THEN
		RAISE EXCEPTION 'change position % is out of range for a SequenceNumber', change_position
			USING ERRCODE = 'numeric_value_out_of_range',
				  HINT = 'A position is a change''s place in its transaction, from 0 to 4294967295.';
	END IF;
	RETURN lpad((lsn - '0/0'::pg_lsn)::text, 20, '0') || lpad(change_position::text, 10, '0');
END
$$;

/*
 * The retained stream, stored compactly: per record only what varies from
 * record to record (record_store.c), under a 12-byte sequence key that sorts
 * as its SequenceNumber.  The view orders_stream.records (40_read_api.sql)
 * and the read API add back the rest of each DynamoDB record.  Partitioned
 * by capture time; maintenance creates partitions hours ahead and drops
 * whole partitions once they are older than orders_stream.retention
 * (maintain_partitions, 26_stream_state.sql).  The capture worker appends
 * to the current partition directly (heap multi-insert), so this layout is
 * fixed: see capture.c.
 */
CREATE TABLE orders_stream.record_store (
	stream_id	bigint NOT NULL,
	captured_at timestamptz NOT NULL,
	/* hash_bytes() of the text of dynamodb.Keys: a delivery lane's share */
	key_hash	integer NOT NULL,
	size_bytes	integer NOT NULL,	/* dynamodb.SizeBytes */
	sequence_key bytea NOT NULL,	/* orders_stream.sequence_key(SequenceNumber) */
	event_name	text NOT NULL,
	/* the members of "dynamodb" before SequenceNumber, as JSON text */
	body		text NOT NULL,
	/* a REMOVE by the TTL worker: the record carries AWS's userIdentity */
	ttl_delete	boolean NOT NULL
) PARTITION BY RANGE (captured_at);

CREATE INDEX record_store_stream_sequence ON orders_stream.record_store (stream_id, sequence_key);

/* The sequence key of a SequenceNumber ('' for ''), and back. */
CREATE FUNCTION orders_stream.sequence_key(sequence_number text)
RETURNS bytea
AS 'MODULE_PATHNAME', 'orders_stream_sequence_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION orders_stream.sequence_text(sequence_key bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_sequence_text'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/*
 * The DynamoDB record of a row of record_store, given its stream's ARN and
 * view type.  Callable by anyone (the records view and the read API run as
 * their caller), so it refuses what is no stored record's and its result is
 * checked to be JSON.
 */
CREATE FUNCTION orders_stream.record_json(stream_arn text, view_type text,
										  sequence_key bytea, event_name text,
										  body text, size_bytes integer,
										  ttl_delete boolean)
RETURNS json
AS 'MODULE_PATHNAME', 'orders_stream_record_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/* The same without the check of its result, for delivery, which reads record_store itself. */
CREATE FUNCTION orders_stream_internal.stored_record_json(stream_arn text, view_type text,
														  sequence_key bytea, event_name text,
														  body text, size_bytes integer,
														  ttl_delete boolean)
RETURNS json
AS 'MODULE_PATHNAME', 'orders_stream_stored_record_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE orders_stream.partitions (
	partition	regclass PRIMARY KEY,
	lower_bound timestamptz NOT NULL,
	upper_bound timestamptz NOT NULL
);

/*
 * Where retention has trimmed each stream: trimmed_key is the sequence key
 * of its newest trimmed record (trimmed_through its SequenceNumber, '' for
 * none).  Every record of the stream up to it has expired and no read path
 * shows it; every later one is retained.  Maintenance moves it forward as
 * records expire (trim_streams), so reading the trim point costs one row,
 * whatever the length of the stream.
 */
CREATE TABLE orders_stream.stream_trim (
	stream_id	bigint PRIMARY KEY,
	trimmed_through text COLLATE "C" NOT NULL,
	trimmed_key bytea NOT NULL DEFAULT ''
);

/* The capture worker's high-water mark, written with the records it stores. */
CREATE TABLE orders_stream.capture_progress (
	singleton	boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	sequence_number text COLLATE "C" NOT NULL DEFAULT '',
	lsn			pg_lsn NOT NULL DEFAULT '0/0',
	updated_at	timestamptz
);
INSERT INTO orders_stream.capture_progress DEFAULT VALUES;

/*
 * No privilege for PUBLIC on any of these: roles read records through the
 * views and functions of the read API (40_read_api.sql, 45_streams_api.sql),
 * which read these tables as their owner and show a caller only the streams
 * orders_stream.readable_streams says it may read.  So no ordinary role can
 * lock a partition or take a lock stronger than ACCESS SHARE on
 * record_store, and maintenance never needs one that conflicts with ACCESS
 * SHARE to add a partition (ensure_partition).
 */
REVOKE ALL ON orders_stream.record_store, orders_stream.partitions,
	orders_stream.stream_trim, orders_stream.capture_progress FROM PUBLIC;

/*
 * The partition of record_store that holds capture time ts, created if
 * missing.  Created as a table of its own, then attached: ATTACH PARTITION
 * locks record_store in SHARE UPDATE EXCLUSIVE mode only, which no reader's
 * ACCESS SHARE conflicts with (CREATE TABLE ... PARTITION OF would take
 * ACCESS EXCLUSIVE, and queue behind any open transaction that read
 * records).  Called by maintenance only, never by capture.
 */
CREATE FUNCTION orders_stream_internal.ensure_partition(ts timestamptz)
RETURNS regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	secs		double precision := extract(epoch FROM span);
	lower_ts	timestamptz := to_timestamp(floor(extract(epoch FROM ts) / secs) * secs);
	upper_ts	timestamptz := lower_ts + span;
	name		text;
	part		regclass;
BEGIN
	SELECT p.partition INTO part FROM orders_stream.partitions p
	 WHERE p.lower_bound <= ts AND ts < p.upper_bound;
	IF FOUND THEN
		RETURN part;
	END IF;
	/*
	 * Partitions made under another partition_interval (it is set at server
	 * start) may cover part of this interval: fill only the gap around ts.
	 */
	lower_ts := greatest(lower_ts, (SELECT max(p.upper_bound) FROM orders_stream.partitions p
									 WHERE p.upper_bound <= ts));
	upper_ts := least(upper_ts, (SELECT min(p.lower_bound) FROM orders_stream.partitions p
								  WHERE p.lower_bound > ts));
	name := 'records_' || to_char(lower_ts AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS');
	BEGIN
		EXECUTE format('CREATE TABLE orders_stream.%I (LIKE orders_stream.record_store)', name);
	EXCEPTION WHEN duplicate_table THEN
		/* created meanwhile by a concurrent call (the worker's, or one by hand) */
		SELECT p.partition INTO part FROM orders_stream.partitions p
		 WHERE p.lower_bound <= ts AND ts < p.upper_bound;
		IF FOUND THEN
			RETURN part;
		END IF;
		RAISE;
	END;
	/* whatever default privileges say: records are read through the views */
	EXECUTE format('REVOKE ALL ON orders_stream.%I FROM PUBLIC', name);
	EXECUTE format('ALTER TABLE orders_stream.record_store ATTACH PARTITION orders_stream.%I FOR VALUES FROM (%L) TO (%L)',
				   name, lower_ts, upper_ts);
	part := format('orders_stream.%I', name)::regclass;
	/*
	 * A member of the extension, as record_store: pg_dump leaves the records
	 * out (a restored database has new streams, see 95_backup.sql).  Inside
	 * CREATE EXTENSION it is one already.
	 */
	IF NOT EXISTS (SELECT FROM pg_depend d
					WHERE d.classid = 'pg_class'::regclass AND d.objid = part AND d.deptype = 'e') THEN
		EXECUTE format('ALTER EXTENSION orders_stream ADD TABLE %s', part);
	END IF;
	INSERT INTO orders_stream.partitions VALUES (part, lower_ts, upper_ts);
	RETURN part;
END
$$;
/*
 * Records the capture worker stored incomplete, one row each, written in the
 * transaction that stores the record (exactly once, as the records): today
 * records larger than orders_stream.max_record_size, stored with their Keys
 * and without NewImage and OldImage.  record_size is a lower bound of the
 * full record's JSON length in bytes: rendering stops at the limit.  Also
 * capture gaps, see below.
 */
CREATE TABLE orders_stream.capture_exceptions (
	exception_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	stream_id	bigint NOT NULL,
	sequence_number text COLLATE "C" NOT NULL,
	event_name	text NOT NULL,
	reason		text NOT NULL,
	record_size bigint NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	/*
	 * A capture gap (event_name 'GAP', see failover.c): changes of the stream
	 * committed from gap_start_lsn (inclusive) to gap_end_lsn (exclusive),
	 * from gap_start_time to gap_end_time, may be missing: the capture slot
	 * was lost.  NULL end: being recorded.
	 */
	gap_start_lsn pg_lsn,
	gap_end_lsn pg_lsn,
	gap_start_time timestamptz,
	gap_end_time timestamptz
);

CREATE INDEX capture_exceptions_stream ON orders_stream.capture_exceptions (stream_id, sequence_number);

REVOKE ALL ON orders_stream.capture_exceptions FROM PUBLIC;
/*
 * The state that keeps the read path's cost independent of the length of
 * a stream: where retention has trimmed each stream (stream_trim,
 * 20_records.sql) and how many records and capture exceptions it holds
 * (stream_counts), kept as the records come and go (maintenance below,
 * capture in capture_buffer.c), and rebuilt from them by recount_streams().
 * New in 1.1: the update script includes this file as it is
 * (sql/update/1.0--1.1), after dropping 1.0's maintain_partitions.
 */

/*
 * What stream_status reports per stream without counting: the records after
 * the trim point (capture adds what it stores, in the same transaction;
 * trim_streams subtracts what it trims) and the rows of capture_exceptions
 * (kept by triggers on that table).  recount_streams() rebuilds both.
 */
CREATE TABLE orders_stream.stream_counts (
	stream_id	bigint PRIMARY KEY,
	records_retained bigint NOT NULL DEFAULT 0,
	capture_exceptions bigint NOT NULL DEFAULT 0
);

REVOKE ALL ON orders_stream.stream_counts FROM PUBLIC;

/*
 * Moves each stream's trim point (stream_trim) past its records that
 * expired before cutoff, oldest first, up to the first one still retained,
 * and takes them off its count (stream_counts).  It reads only the index
 * range after the trim point, so a run costs what expired since the last
 * one, not the length of the stream; the planner settings of its caller,
 * maintain_partitions, keep it on the index in a partition autovacuum has
 * not analyzed yet.  Capture times
 * follow sequence keys (capture stores in commit order, each pass at its
 * own transaction's start); a record that a clock set back made look
 * younger than an older one stays after the trim point until its partition
 * goes (maintain_partitions).
 */
CREATE FUNCTION orders_stream_internal.trim_streams(cutoff timestamptz)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	/* after every sequence key (12 bytes) */
	past_end	constant bytea := '\xffffffffffffffffffffffffff';
	s			record;
	kept		bytea;
	newest		bytea;
BEGIN
	/*
	 * One run at a time (a run by hand meets the worker's): each subtracts
	 * what it trims from the counts, which must happen once.  The state is
	 * read after the lock, as the last run left it.
	 */
	LOCK TABLE orders_stream.stream_trim IN SHARE ROW EXCLUSIVE MODE;
	FOR s IN SELECT st.stream_id, coalesce(t.trimmed_key, ''::bytea) AS trimmed_key
			   FROM orders_stream.streams st
			   LEFT JOIN orders_stream.stream_trim t ON t.stream_id = st.stream_id LOOP
		/* the oldest record still retained */
		SELECT r.sequence_key INTO kept FROM orders_stream.record_store r
		 WHERE r.stream_id = s.stream_id AND r.sequence_key > s.trimmed_key
		   AND r.captured_at >= cutoff
		 ORDER BY r.sequence_key LIMIT 1;
		/* the newest record before it: every one from the trim point to it expired */
		SELECT r.sequence_key INTO newest FROM orders_stream.record_store r
		 WHERE r.stream_id = s.stream_id AND r.sequence_key > s.trimmed_key
		   AND r.sequence_key < coalesce(kept, past_end) AND r.captured_at < cutoff
		 ORDER BY r.sequence_key DESC LIMIT 1;
		CONTINUE WHEN newest IS NULL;
		INSERT INTO orders_stream.stream_trim AS t VALUES (s.stream_id, orders_stream.sequence_text(newest), newest)
		ON CONFLICT (stream_id) DO UPDATE
			SET trimmed_through = excluded.trimmed_through, trimmed_key = excluded.trimmed_key;
		UPDATE orders_stream.stream_counts c
		   SET records_retained = c.records_retained - (
				SELECT count(*) FROM orders_stream.record_store r
				 WHERE r.stream_id = s.stream_id AND r.sequence_key > s.trimmed_key
				   AND r.sequence_key <= newest AND r.captured_at < cutoff)
		 WHERE c.stream_id = s.stream_id;
	END LOOP;
END
$$;

/*
 * Rebuilds stream_trim and stream_counts from the records: each stream
 * trimmed through its newest record older than the retention (or further,
 * where it already was), and counted after that.  For state that capture
 * and maintenance did not write: a database updated from 1.0, records
 * loaded into record_store directly (the benchmarks).  Reads every record:
 * O(records), once.  Capture's and maintenance's changes to the state wait
 * for it, so the counts are exact whatever runs meanwhile.
 */
CREATE FUNCTION orders_stream_internal.recount_streams()
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cutoff		timestamptz := now() - orders_stream_internal.retention_interval();
BEGIN
	LOCK TABLE orders_stream.stream_trim, orders_stream.stream_counts IN SHARE ROW EXCLUSIVE MODE;
	INSERT INTO orders_stream.stream_trim AS t
	SELECT s.stream_id, orders_stream.sequence_text(k.key), k.key
	  FROM orders_stream.streams s
	  LEFT JOIN orders_stream.stream_trim o ON o.stream_id = s.stream_id
	 CROSS JOIN LATERAL (
		SELECT greatest(o.trimmed_key, orders_stream.sequence_key(o.trimmed_through),
						(SELECT r.sequence_key FROM orders_stream.record_store r
						  WHERE r.stream_id = s.stream_id AND r.captured_at < cutoff
						  ORDER BY r.sequence_key DESC LIMIT 1),
						''::bytea) AS key) k
	ON CONFLICT (stream_id) DO UPDATE
		SET trimmed_through = excluded.trimmed_through, trimmed_key = excluded.trimmed_key;
	INSERT INTO orders_stream.stream_counts AS c
	SELECT t.stream_id,
		   (SELECT count(*) FROM orders_stream.record_store r
			 WHERE r.stream_id = t.stream_id AND r.sequence_key > t.trimmed_key),
		   (SELECT count(*) FROM orders_stream.capture_exceptions x WHERE x.stream_id = t.stream_id)
	  FROM orders_stream.stream_trim t
	ON CONFLICT (stream_id) DO UPDATE
		SET records_retained = excluded.records_retained, capture_exceptions = excluded.capture_exceptions;
END
$$;

/*
 * ACCESS EXCLUSIVE on record_store and on its partition part, for dropping
 * the partition, only if no transaction holds a lock on them: a few tries,
 * 20 ms apart, then lock_not_available.  Never a request in the lock
 * queue, where every reader coming after it would wait.
 */
CREATE FUNCTION orders_stream_internal.lock_for_drop(part regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	FOR attempt IN 1..5 LOOP
		BEGIN
			EXECUTE format('LOCK TABLE ONLY orders_stream.record_store, %s IN ACCESS EXCLUSIVE MODE NOWAIT', part);
			RETURN;
		EXCEPTION WHEN lock_not_available THEN
			IF attempt = 5 THEN
				RAISE;
			END IF;
			PERFORM pg_sleep(0.02);
		END;
	END LOOP;
END
$$;

/*
 * Creates the partitions of the next 6 hours (at least the next two
 * partitions, at most 48), moves the trim points past what expired
 * (trim_streams), and drops the partitions whose records are all older
 * than the retention.  Returns how many partitions were dropped.  The
 * capture worker runs this every 10 seconds, between its passes.
 *
 * It never waits long for a lock (lock_timeout): what it cannot do now, the
 * next run does.  Attaching a partition conflicts with no lock a reader can
 * hold (ensure_partition), so partitions stay hours ahead of capture, which
 * never creates one itself (retention.c): a failing maintenance has hours
 * of WARNINGs before capture runs out.  Dropping one takes ACCESS EXCLUSIVE
 * on record_store, which every open transaction that read records
 * conflicts with: it is only ever taken when free (NOWAIT, a few tries),
 * never queued for, since a waiting request would hold up every later
 * reader; and it is held for the drops alone, at the end of the
 * transaction.  The records are invisible from their trim already, so a
 * partition dropped a few runs late costs disk only.
 */
CREATE FUNCTION orders_stream_internal.maintain_partitions()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
SET jit = off
AS $$
DECLARE
	span		interval := current_setting('orders_stream.partition_interval')::interval;
	ahead		integer := least(48, greatest(2, ceil(6 * 3600 / extract(epoch FROM span))::integer));
	cutoff		timestamptz := now() - orders_stream_internal.retention_interval();
	covered		timestamptz;
	p			record;
	dropped		integer := 0;
	why			text;
BEGIN
	BEGIN
		PERFORM orders_stream_internal.ensure_partition(now() + span * i) FROM generate_series(0, ahead) AS i;
	EXCEPTION WHEN lock_not_available THEN
		/* only DDL or maintenance of record_store holds a lock that conflicts */
		covered := (SELECT max(upper_bound) FROM orders_stream.partitions);
		IF covered IS NULL OR covered < now() + span * ahead / 2 THEN
			RAISE WARNING 'orders_stream.record_store is locked: stream partitions not created ahead, capture has partitions until %',
				coalesce(covered::text, 'none');
		ELSE
			RAISE LOG 'orders_stream.record_store is locked: stream partitions not created ahead this time';
		END IF;
	END;
	DELETE FROM orders_stream.capture_exceptions WHERE created_at < cutoff;
	/*
	 * The reads of records from here on stay on the index, also in a
	 * partition autovacuum has not analyzed yet.  Set here, for them only,
	 * and jit off for the whole call: a plan with a disabled node costs more
	 * than jit_above_cost, and JIT compiling ensure_partition's catalog work
	 * kept some 20 MB in the capture worker's heap, growing each run
	 * (t/040).  Local to this call (its SET clauses end them).
	 */
	PERFORM set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
			set_config('enable_sort', 'off', true);
	BEGIN
		PERFORM orders_stream_internal.trim_streams(cutoff);
	EXCEPTION WHEN lock_not_available THEN
		/* the drops go by the trim points, which the other run is moving */
		RAISE LOG 'orders_stream: another maintenance run is trimming: trim and drops put off this time';
		RETURN dropped;
	END;
	FOR p IN SELECT * FROM orders_stream.partitions WHERE upper_bound <= cutoff ORDER BY lower_bound LOOP
		BEGIN
			PERFORM orders_stream_internal.lock_for_drop(p.partition);
			/*
			 * Its records after their stream's trim point leave the counts
			 * with it: none, unless a clock set back stopped trim_streams
			 * before them.  One index probe per stream.
			 */
			EXECUTE format('UPDATE orders_stream.stream_counts c SET records_retained = c.records_retained - x.n
							  FROM (SELECT s.stream_id,
										   (SELECT count(*) FROM %s r
											 WHERE r.stream_id = s.stream_id
											   AND r.sequence_key > coalesce(t.trimmed_key, ''''::bytea)) AS n
									  FROM orders_stream.streams s
									  LEFT JOIN orders_stream.stream_trim t ON t.stream_id = s.stream_id) x
							 WHERE c.stream_id = x.stream_id AND x.n > 0', p.partition);
			BEGIN
				EXECUTE format('ALTER EXTENSION orders_stream DROP TABLE %s', p.partition);
				EXECUTE format('DROP TABLE %s', p.partition);
				DELETE FROM orders_stream.partitions WHERE partition = p.partition;
				dropped := dropped + 1;
			EXCEPTION WHEN dependent_objects_still_exist THEN
				/*
				 * Any role may create a view on a partition, or a column of
				 * its row type, without any privilege on it: that must not
				 * keep expired records (and their disk) forever.  Empty it;
				 * the table goes at a later run, once the object is dropped.
				 */
				GET STACKED DIAGNOSTICS why = PG_EXCEPTION_DETAIL;
				EXECUTE format('TRUNCATE %s', p.partition);
				RAISE WARNING 'could not drop expired stream partition %: %', p.partition, SQLERRM
					USING DETAIL = why,
						  HINT = 'Its records were removed (TRUNCATE); the empty table goes once those objects are dropped.';
			END;
		EXCEPTION
			WHEN lock_not_available THEN
				/* six runs in a row: a reader keeps a transaction open */
				IF p.upper_bound < cutoff - interval '1 minute' THEN
					RAISE WARNING 'orders_stream.record_store is in use: expired stream partition % not dropped this time, expired since %',
						p.partition, p.upper_bound + orders_stream_internal.retention_interval()
						USING HINT = 'A transaction that read orders_stream.records stays open: see pg_stat_activity.';
				ELSE
					RAISE LOG 'orders_stream.record_store is in use: expired stream partition % not dropped this time',
						p.partition;
				END IF;
				EXIT;
			WHEN OTHERS THEN
				/* e.g. a view on the partition: keep it, drop the others */
				RAISE WARNING 'could not drop expired stream partition %: %', p.partition, SQLERRM;
		END;
	END LOOP;
	RETURN dropped;
END
$$;

/*
 * Its rows per stream, kept in stream_counts (20_records.sql) by whoever
 * inserts or deletes them (capture, failover.c, maintenance, an
 * administrator), so that stream_status never counts them.
 */
CREATE FUNCTION orders_stream_internal.count_capture_exceptions()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		UPDATE orders_stream.stream_counts SET capture_exceptions = 0 WHERE capture_exceptions <> 0;
	ELSIF TG_OP = 'INSERT' THEN
		INSERT INTO orders_stream.stream_counts AS c (stream_id, capture_exceptions)
		SELECT n.stream_id, count(*) FROM changed n GROUP BY n.stream_id
		ON CONFLICT (stream_id) DO UPDATE SET capture_exceptions = c.capture_exceptions + excluded.capture_exceptions;
	ELSE
		UPDATE orders_stream.stream_counts c SET capture_exceptions = c.capture_exceptions - o.n
		  FROM (SELECT d.stream_id, count(*) AS n FROM changed d GROUP BY d.stream_id) o
		 WHERE c.stream_id = o.stream_id;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER count_inserted AFTER INSERT ON orders_stream.capture_exceptions
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
CREATE TRIGGER count_deleted AFTER DELETE ON orders_stream.capture_exceptions
	REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
CREATE TRIGGER count_truncated AFTER TRUNCATE ON orders_stream.capture_exceptions
	FOR EACH STATEMENT EXECUTE FUNCTION orders_stream_internal.count_capture_exceptions();
/*
 * The capture slot's name, from the one C function that names it
 * (capture_slot.c): for the stream_status view, which PUBLIC reads.
 */
CREATE FUNCTION orders_stream.capture_slot_name()
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_capture_slot_name'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION orders_stream.wait_for_slot(timeout interval DEFAULT '30s')
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_wait_for_slot'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.wait_for_slot(interval) IS
'Waits until the capture worker has created the slot of this database (after CREATE EXTENSION); returns the slot name';

CREATE FUNCTION orders_stream.wait_for_capture(timeout interval DEFAULT '30s')
RETURNS pg_lsn
AS 'MODULE_PATHNAME', 'orders_stream_wait_for_capture'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION orders_stream.wait_for_capture(interval) IS
'Waits until every change committed before the call is in orders_stream.records';

/* ---- DynamoDB Streams read API: every function here runs as its caller ---- */

/*
 * Every stream, with what a caller may know of it: all of it for the streams
 * of tables it may read (orders_stream.may_read(), as the caller), only
 * the ARN otherwise (enough to answer AccessDeniedException rather than
 * ResourceNotFoundException).  The view reads the catalog as its owner;
 * the functions in it run as the caller.  security_barrier: a caller's leaky
 * function never sees the rows or columns the view hides.
 */
CREATE VIEW orders_stream.readable_streams WITH (security_barrier) AS
SELECT s.stream_arn,
	   v.readable,
	   CASE WHEN v.readable THEN s.stream_id END AS stream_id,
	   CASE WHEN v.readable THEN s.relid END AS relid,
	   CASE WHEN v.readable THEN s.table_name END AS table_name,
	   CASE WHEN v.readable THEN s.view_type END AS view_type,
	   CASE WHEN v.readable THEN s.stream_label END AS stream_label,
	   CASE WHEN v.readable THEN s.shard_id END AS shard_id,
	   CASE WHEN v.readable THEN s.key_columns END AS key_columns,
	   CASE WHEN v.readable THEN s.start_lsn END AS start_lsn,
	   CASE WHEN v.readable THEN s.created_at END AS created_at,
	   CASE WHEN v.readable THEN s.disabled_at IS NULL END AS enabled,
	   /* set once capture has passed the commit of the disable: see 10_streams.sql */
	   CASE WHEN v.readable THEN s.ending_sequence_number END AS ending_sequence_number,
	   /*
	    * the newest SequenceNumber of the stream that retention has trimmed,
	    * or '': from stream_trim, which maintenance moves forward every 10
	    * seconds (20_records.sql)
	    */
	   CASE WHEN v.readable THEN COALESCE(t.trimmed_through, '') END AS trim_point,
	   /* its sequence key: the records after it, sequence_key > trim_key, are the retained ones */
	   CASE WHEN v.readable THEN COALESCE(t.trimmed_key, ''::pg_catalog.bytea) END AS trim_key
  FROM orders_stream.streams s
  LEFT JOIN orders_stream.stream_trim t ON t.stream_id OPERATOR(pg_catalog.=) s.stream_id,
	   LATERAL (SELECT orders_stream.may_read(CURRENT_USER, s.relid) AS readable) v;
GRANT SELECT ON orders_stream.readable_streams TO PUBLIC;

/*
 * The stored records as DynamoDB records, each whole (record_store.c adds
 * back what record_store does not keep): the only way an ordinary role
 * reads them, as PUBLIC has no privilege on record_store.  The view reads
 * record_store as its owner; the rule of which streams a caller sees is
 * readable_streams', evaluated as the caller, and nobody sees records older
 * than the retention through it, but roles that may read record_store
 * itself (its owner, superusers) see all of it here too.
 * security_barrier: a caller's leaky function never sees a row the rule
 * hides.  Ordered by stream and sequence key, as the index is: a security
 * barrier view is planned on its own, and only its own ORDER BY lets a
 * range read of one stream (WHERE stream_id = ... AND sequence_key > ...
 * LIMIT n, as GetRecords reads) walk the index in order and stop at the
 * LIMIT, rather than read and sort every later record of the stream.
 */
CREATE VIEW orders_stream.records WITH (security_barrier) AS
SELECT r.stream_id,
	   orders_stream.sequence_text(r.sequence_key) AS sequence_number,
	   r.captured_at,
	   orders_stream.record_json(s.stream_arn, s.view_type, r.sequence_key,
								 r.event_name, r.body, r.size_bytes, r.ttl_delete) AS record,
	   r.key_hash,
	   r.sequence_key
  FROM orders_stream.record_store r
  JOIN orders_stream.streams s ON s.stream_id OPERATOR(pg_catalog.=) r.stream_id
 WHERE pg_catalog.has_table_privilege('orders_stream.record_store'::pg_catalog.regclass, 'SELECT')
	OR (r.stream_id OPERATOR(pg_catalog.=) ANY (ARRAY(
			SELECT rs.stream_id FROM orders_stream.readable_streams rs WHERE rs.readable))
		AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
			pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval))
 ORDER BY r.stream_id, r.sequence_key;
GRANT SELECT ON orders_stream.records TO PUBLIC;

/* Capture health per stream, for the streams the caller may read. */
CREATE VIEW orders_stream.stream_status WITH (security_barrier) AS
SELECT s.stream_arn,
	   s.table_name,
	   s.view_type,
	   CASE WHEN s.enabled THEN 'ENABLED'
			WHEN s.ending_sequence_number IS NULL THEN 'DISABLING'
			ELSE 'DISABLED' END AS stream_status,
	   slot.slot_name,
	   slot.active AS capture_running,
	   pg_catalog.pg_wal_lsn_diff(w.lsn, slot.confirmed_flush_lsn) AS capture_lag_bytes,
	   CASE WHEN pg_catalog.pg_wal_lsn_diff(w.lsn, slot.confirmed_flush_lsn) OPERATOR(pg_catalog.<=) 0 THEN 0
			ELSE EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) COALESCE(p.updated_at, s.created_at)) END
		   AS capture_lag_seconds,
	   /* counted as stored and trimmed (stream_counts), never by reading the records */
	   COALESCE(c.records_retained, 0) AS records_retained,
	   /* the first record after the trim point: one index probe per partition */
	   (SELECT EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) r.captured_at)
		  FROM orders_stream.record_store r
		 WHERE r.stream_id OPERATOR(pg_catalog.=) s.stream_id
		   AND r.sequence_key OPERATOR(pg_catalog.>) s.trim_key
		 ORDER BY r.sequence_key LIMIT 1) AS oldest_record_age_seconds,
	   (SELECT pg_catalog.count(*) FROM orders_stream.partitions) AS partitions,
	   /* records stored incomplete (see orders_stream.max_record_size), and capture gaps */
	   COALESCE(c.capture_exceptions, 0) AS capture_exceptions
  FROM orders_stream.readable_streams s
  LEFT JOIN pg_catalog.pg_replication_slots slot
	ON slot.slot_name OPERATOR(pg_catalog.=) (SELECT orders_stream.capture_slot_name())
  CROSS JOIN orders_stream.capture_progress p
  LEFT JOIN orders_stream.stream_counts c ON c.stream_id OPERATOR(pg_catalog.=) s.stream_id
  /* a hot standby has no slot (capture runs on the primary) and no current WAL position */
  CROSS JOIN LATERAL (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
								  ELSE pg_catalog.pg_current_wal_lsn() END AS lsn) w
 WHERE s.readable;

GRANT SELECT ON orders_stream.stream_status TO PUBLIC;
/*
 * ---- The DynamoDB Streams API as AWS's documents ----
 *
 * One function per operation, named as the operation (the X-Amz-Target
 * DynamoDBStreams_20120810.<Operation>), its parameters named as the members
 * of the request, returning the response document as AWS sends it (members
 * AWS leaves out are left out, never null).  orders_stream.dynamodb_streams
 * routes a request body by operation name, for an HTTP front end.
 *
 * Every error is raised by orders_stream.aws_error(), which names its AWS
 * exception three times: at the head of the message, in a fixed SQLSTATE
 * (README, "Errors"), and in the DETAIL as the JSON body AWS answers with:
 * {"__type": "<namespace>#<Exception>", "message": "..."}.
 *
 * Everything here runs as its caller: what a caller may read is decided by
 * orders_stream.readable_streams alone.
 */

CREATE FUNCTION orders_stream."DescribeStream"("StreamArn" text,
	"Limit" integer DEFAULT NULL, "ExclusiveStartShardId" text DEFAULT NULL,
	"ShardFilter" jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s		record;
	m		text;
	shard	jsonb;
	shards	jsonb := '[]';
BEGIN
	IF "StreamArn" IS NULL THEN
		m := '1 validation error detected: Value null at ''streamArn'' failed to satisfy constraint: Member must not be null';
	ELSIF length("StreamArn") < 37 OR length("StreamArn") > 1024
		  OR "StreamArn" !~ '^arn:[^:]+:dynamodb:[^:]*:[^:]*:table/.+/stream/[^/]+$' THEN
		m := format('Invalid StreamArn: %s', "StreamArn");
	ELSIF "Limit" IS NOT NULL AND ("Limit" < 1 OR "Limit" > 100) THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 100', "Limit");
	ELSIF "ExclusiveStartShardId" IS NOT NULL
		  AND (length("ExclusiveStartShardId") < 28 OR length("ExclusiveStartShardId") > 65) THEN
		m := format('1 validation error detected: Value ''%s'' at ''exclusiveStartShardId'' failed to satisfy constraint: Member must have length between 28 and 65', "ExclusiveStartShardId");
	ELSIF "ShardFilter" IS NOT NULL
		  AND (jsonb_typeof("ShardFilter") IS DISTINCT FROM 'object'
			   OR "ShardFilter"->>'Type' IS DISTINCT FROM 'CHILD_SHARDS'
			   OR jsonb_typeof("ShardFilter"->'ShardId') IS DISTINCT FROM 'string') THEN
		m := 'ShardFilter needs Type CHILD_SHARDS and a ShardId';
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'A stream ARN is arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>; orders_stream.list_streams() shows them.');
	END IF;

	/* the columns it shows: no more (trim_point is state of its own) */
	SELECT r.readable, r.stream_arn, r.stream_label, r.enabled, r.view_type, r.created_at,
		   r.table_name, r.key_columns, r.shard_id, r.start_lsn, r.ending_sequence_number
	  INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = "StreamArn";
	IF NOT FOUND THEN
		m := format('Requested resource not found: Stream: %s not found', "StreamArn");
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream.list_streams() shows the stream ARNs of this database.');
	END IF;
	IF NOT s.readable THEN
		m := format('permission denied to read stream %s: reading a stream requires SELECT on its table, and bypassing its row-level security if it has any', "StreamArn");
		PERFORM orders_stream.aws_error('AccessDeniedException', m,
			'Ask the table''s owner for GRANT SELECT; read a table with row-level security as its owner or a BYPASSRLS role.');
	END IF;

	/*
	 * One shard per stream, never split, so it has no parent and no
	 * children; closed (EndingSequenceNumber) once capture has passed the
	 * commit of the disable.  Shards are listed in ShardId order, after
	 * ExclusiveStartShardId.
	 */
	shard := jsonb_build_object('ShardId', s.shard_id,
		'SequenceNumberRange', jsonb_strip_nulls(jsonb_build_object(
			'StartingSequenceNumber', orders_stream.sequence_number(s.start_lsn),
			'EndingSequenceNumber', s.ending_sequence_number)));
	IF "ShardFilter" IS NULL
	   AND ("ExclusiveStartShardId" IS NULL OR s.shard_id COLLATE "C" > "ExclusiveStartShardId") THEN
		shards := jsonb_build_array(shard);
	END IF;
	RETURN jsonb_build_object('StreamDescription', jsonb_build_object(
		'StreamArn', s.stream_arn,
		'StreamLabel', s.stream_label,
		'StreamStatus', CASE WHEN s.enabled THEN 'ENABLED'
							 WHEN s.ending_sequence_number IS NULL THEN 'DISABLING'
							 ELSE 'DISABLED' END,
		'StreamViewType', s.view_type,
		'CreationRequestDateTime', extract(epoch FROM s.created_at),
		'TableName', s.table_name,
		'KeySchema', (SELECT jsonb_agg(jsonb_build_object(
							'AttributeName', k.name,
							'KeyType', CASE WHEN k.ord = 1 THEN 'HASH' ELSE 'RANGE' END)
						ORDER BY k.ord)
					  FROM unnest(s.key_columns) WITH ORDINALITY AS k(name, ord)
					 /* DynamoDB has a HASH and at most one RANGE key; Keys hold them all */
					 WHERE k.ord <= 2),
		'Shards', shards));
END
$$;

COMMENT ON FUNCTION orders_stream."DescribeStream"(text, integer, text, jsonb) IS
'DynamoDB Streams DescribeStream: {"StreamDescription": {...}}; EndingSequenceNumber once the shard is closed';

CREATE FUNCTION orders_stream."ListStreams"("TableName" text DEFAULT NULL,
	"Limit" integer DEFAULT NULL, "ExclusiveStartStreamArn" text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m		text;
	n		integer := coalesce("Limit", 100);
	after	bigint;
	page	jsonb;
	more	boolean;
BEGIN
	IF n < 1 OR n > 100 THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 100', n);
	ELSIF "TableName" IS NOT NULL AND (length("TableName") < 1 OR length("TableName") > 1024) THEN
		m := format('1 validation error detected: Value ''%s'' at ''tableName'' failed to satisfy constraint: Member must have length between 1 and 1024', "TableName");
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'ListStreams returns at most 100 streams per call: page with ExclusiveStartStreamArn.');
	END IF;
	IF "ExclusiveStartStreamArn" IS NOT NULL THEN
		SELECT r.stream_id INTO after FROM orders_stream.readable_streams r
		 WHERE r.stream_arn = "ExclusiveStartStreamArn" AND r.readable;
		IF NOT FOUND THEN
			/* ValidationException, ResourceNotFoundException or AccessDeniedException */
			PERFORM orders_stream."DescribeStream"("ExclusiveStartStreamArn");
		END IF;
	END IF;
	/*
	 * oldest first, by stream_id: created_at can be a millisecond ahead
	 * (a label must be new), so it does not order streams enabled in one
	 * millisecond; a page of n, and whether there is more
	 */
	SELECT coalesce(jsonb_agg(jsonb_build_object('StreamArn', p.stream_arn,
				'TableName', p.table_name, 'StreamLabel', p.stream_label)
				ORDER BY p.stream_id) FILTER (WHERE p.rn <= n), '[]'),
		   count(*) > n
	  INTO page, more
	  FROM (SELECT r.stream_id, r.stream_arn, r.table_name, r.stream_label,
				   row_number() OVER (ORDER BY r.stream_id) AS rn
			  FROM orders_stream.readable_streams r
			 WHERE r.readable
			   AND ("TableName" IS NULL OR r.table_name = "TableName")
			   AND (after IS NULL OR r.stream_id > after)
			 ORDER BY r.stream_id
			 LIMIT n + 1) p;
	IF more THEN
		RETURN jsonb_build_object('Streams', page,
			'LastEvaluatedStreamArn', page->(n - 1)->'StreamArn');
	END IF;
	RETURN jsonb_build_object('Streams', page);
END
$$;

COMMENT ON FUNCTION orders_stream."ListStreams"(text, integer, text) IS
'DynamoDB Streams ListStreams: {"Streams": [...], "LastEvaluatedStreamArn": ...} of the streams you may read, oldest first';

/*
 * A shard iterator is "<stream ARN>|<base64 of {s: shard, p: position,
 * i: inclusive, t: issued (ms)}>".  The ARN may hold any character of a
 * table name, '|' too: the payload is what follows the last '|', as base64
 * has none.  Every field of a presented iterator is checked; a forged one is
 * a ValidationException, or expires like a real one.
 */
CREATE FUNCTION orders_stream."GetShardIterator"("StreamArn" text, "ShardId" text,
	"ShardIteratorType" text, "SequenceNumber" text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	s			orders_stream.readable_streams;
	m			text;
	hint		text;
	pos			text;
	inclusive	boolean := false;
BEGIN
	IF "ShardId" IS NULL OR "ShardIteratorType" IS NULL THEN
		m := format('1 validation error detected: Value null at ''%s'' failed to satisfy constraint: Member must not be null',
					CASE WHEN "ShardId" IS NULL THEN 'shardId' ELSE 'shardIteratorType' END);
		hint := 'Pass StreamArn, ShardId and ShardIteratorType, e.g. ("StreamArn" => arn, "ShardId" => shard, "ShardIteratorType" => ''TRIM_HORIZON'').';
	ELSIF "ShardIteratorType" NOT IN ('TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER') THEN
		m := format('1 validation error detected: Value ''%s'' at ''shardIteratorType'' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, LATEST, TRIM_HORIZON]', "ShardIteratorType");
		hint := 'ShardIteratorType is one of TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER.';
	ELSIF "ShardIteratorType" IN ('AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER')
		  AND ("SequenceNumber" IS NULL OR "SequenceNumber" !~ '^\d{1,40}$') THEN
		m := format('%s needs the SequenceNumber of a record, got %s', "ShardIteratorType",
					coalesce(quote_literal("SequenceNumber"), 'null'));
		hint := 'Pass the SequenceNumber of a record: digits, with or without leading zeros.';
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m, hint);
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r
	 WHERE r.stream_arn = "StreamArn" AND r.readable;
	IF NOT FOUND THEN
		/* ValidationException, ResourceNotFoundException or AccessDeniedException */
		PERFORM orders_stream."DescribeStream"("StreamArn");
	END IF;
	IF s.shard_id <> "ShardId" THEN
		m := format('Requested resource not found: Shard: %s in Stream: %s not found', "ShardId", "StreamArn");
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream."DescribeStream"(arn) lists the shards of a stream.');
	END IF;
	CASE "ShardIteratorType"
		WHEN 'TRIM_HORIZON' THEN
			pos := '';
		WHEN 'LATEST' THEN
			/* on a hot standby, after what it has replayed (README "Replicas") */
			pos := orders_stream.sequence_number(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
													  ELSE pg_current_wal_insert_lsn() END, 0);
		ELSE
			/* the 30 digits of a SequenceNumber, whatever leading zeros it lost or gained */
			pos := ltrim("SequenceNumber", '0');
			IF length(pos) > 30 THEN
				m := format('Invalid SequenceNumber %s for shard %s of stream %s', "SequenceNumber", "ShardId", "StreamArn");
				PERFORM orders_stream.aws_error('ValidationException', m,
					'A SequenceNumber of orders_stream has at most 30 significant digits.');
			END IF;
			pos := lpad(pos, 30, '0');
			inclusive := "ShardIteratorType" = 'AT_SEQUENCE_NUMBER';
			IF pos < s.trim_point OR (inclusive AND pos = s.trim_point) THEN
				m := format('SequenceNumber %s of stream %s is beyond the trim horizon', "SequenceNumber", "StreamArn");
				PERFORM orders_stream.aws_error('TrimmedDataAccessException', m,
					'Records are kept for orders_stream.retention, then trimmed; start from TRIM_HORIZON to read the oldest retained record.');
			END IF;
			/* never in the shard, rather than trimmed from it */
			IF pos < orders_stream.sequence_number(s.start_lsn) THEN
				m := format('Invalid SequenceNumber %s for shard %s of stream %s', "SequenceNumber", "ShardId", "StreamArn");
				PERFORM orders_stream.aws_error('ValidationException', m,
					'The shard starts at its StartingSequenceNumber (orders_stream."DescribeStream"); start from TRIM_HORIZON to read its oldest record.');
			END IF;
	END CASE;
	RETURN jsonb_build_object('ShardIterator',
		s.stream_arn || '|' || translate(encode(convert_to(
			jsonb_build_object('s', s.shard_id, 'p', pos, 'i', inclusive,
				't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text,
			'UTF8'), 'base64'), E'\n', ''));
END
$$;

COMMENT ON FUNCTION orders_stream."GetShardIterator"(text, text, text, text) IS
'DynamoDB Streams GetShardIterator: {"ShardIterator": ...}, valid for 15 minutes';

/*
 * The records of a stream from a sequence key on (that key included), at
 * most "limit" of them, in order: GetRecords' read of orders_stream.records.
 * One lower bound, chosen before the query (GetRecords passes the key after
 * a position as the position's key || '\x00', the least key above it): an
 * index condition.  No ORDER BY here: the view is ordered, and one here
 * would make the planner plan the view (a security barrier view is planned
 * on its own) for reading all of the stream's later records.  enable_sort
 * off: the view's order comes from the index (stream_id, sequence_key) of
 * every partition, read from the key on and stopped at the LIMIT, or from a
 * sort of every later record of the stream.  Which is cheaper the planner
 * judges from the partitions' statistics, and a partition that autovacuum
 * has not analyzed yet (a fresh one, with a burst of records) has none: it
 * then sorts, hundreds of ms for a page of a large stream.  A page never
 * wants the sort.  sql/read_plans.sql guards the plan.
 */
CREATE FUNCTION orders_stream.records_from(stream_id bigint, from_key bytea, "limit" integer DEFAULT 1000)
RETURNS SETOF orders_stream.records
LANGUAGE sql STABLE
SET enable_sort = off
BEGIN ATOMIC
	SELECT r.stream_id, r.sequence_number, r.captured_at, r.record, r.key_hash, r.sequence_key
	  FROM orders_stream.records r
	 WHERE r.stream_id OPERATOR(pg_catalog.=) records_from.stream_id
	   AND r.sequence_key OPERATOR(pg_catalog.>=) records_from.from_key
	   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
		   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)
	 LIMIT records_from."limit";
END;

COMMENT ON FUNCTION orders_stream.records_from(bigint, bytea, integer) IS
'The records of orders_stream.records of one stream from a sequence key on, at most "limit", in order: an index range read';

/*
 * A GetRecords response as text, written once in C: the records (as the
 * records view renders them, eventSourceARN cut) and NextShardIterator,
 * none if NULL.
 */
CREATE FUNCTION orders_stream.records_page(stream_arn text, records json[],
										   next_shard_iterator text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'orders_stream_records_page'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION orders_stream.records_page(text, json[], text) IS
'The GetRecords response {"Records": [...], "NextShardIterator": ...} of records of orders_stream.records, as text';

/*
 * GetRecords, its response as text (what the endpoint sends) and the number
 * of records in it (what metrics count).  "GetRecords" is its jsonb.
 */
CREATE FUNCTION orders_stream.get_records_text(shard_iterator text, "limit" integer DEFAULT 1000,
	OUT response text, OUT record_count integer)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	parts		text[] := regexp_match(shard_iterator, '^(.+)\|([A-Za-z0-9+/=]+)$');
	arn			text := parts[1];
	n_max		integer := coalesce("limit", 1000);
	it			jsonb;
	issued		numeric;
	now_ms		numeric := floor(extract(epoch FROM clock_timestamp()) * 1000);
	s			orders_stream.readable_streams;
	m			text;
	inclusive	boolean;
	key			bytea;
	trim_key	bytea;
	records		json[];
	last_seq	text;
	next		text;
BEGIN
	IF shard_iterator IS NULL THEN
		m := '1 validation error detected: Value null at ''shardIterator'' failed to satisfy constraint: Member must not be null';
	ELSIF n_max < 1 OR n_max > 1000 THEN
		m := format('1 validation error detected: Value ''%s'' at ''limit'' failed to satisfy constraint: Member must have value between 1 and 1000', n_max);
	END IF;
	IF m IS NULL THEN
		/* every field, of the right type and shape, or the iterator is invalid */
		BEGIN
			it := convert_from(decode(parts[2], 'base64'), 'UTF8')::jsonb;
			IF jsonb_typeof(it) IS DISTINCT FROM 'object'
			   OR jsonb_typeof(it->'s') IS DISTINCT FROM 'string'
			   OR jsonb_typeof(it->'p') IS DISTINCT FROM 'string' OR it->>'p' !~ '^(\d{30})?$'
			   OR jsonb_typeof(it->'t') IS DISTINCT FROM 'number'
			   OR jsonb_typeof(coalesce(it->'i', 'false')) IS DISTINCT FROM 'boolean'
			   /* "c", the closing position of iterators of earlier versions: ignored */
			   OR jsonb_typeof(coalesce(it->'c', '""')) IS DISTINCT FROM 'string' THEN
				it := NULL;
			END IF;
			issued := (it->>'t')::numeric;
			inclusive := coalesce((it->>'i')::boolean, false);
			PERFORM (it->>'c')::pg_lsn;
		EXCEPTION WHEN data_exception THEN
			it := NULL;
		END;
		IF parts IS NULL OR it IS NULL OR issued IS NULL OR issued <> trunc(issued)
		   OR issued > now_ms + 60 * 1000 THEN
			m := 'Invalid ShardIterator';
		END IF;
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', m,
			'Get a shard iterator from GetShardIterator; GetRecords returns at most 1000 records per call.');
	END IF;
	IF issued < now_ms - 15 * 60 * 1000 THEN
		m := 'Iterator expired: shard iterators are valid for 15 minutes';
		PERFORM orders_stream.aws_error('ExpiredIteratorException', m,
			'Get a new one with GetShardIterator, AFTER_SEQUENCE_NUMBER the last SequenceNumber read.');
	END IF;
	SELECT * INTO s FROM orders_stream.readable_streams r WHERE r.stream_arn = arn AND r.readable;
	IF NOT FOUND THEN
		PERFORM orders_stream."DescribeStream"(arn);
	END IF;
	IF s.shard_id <> it->>'s' THEN
		m := format('Requested resource not found: Shard: %s in Stream: %s not found', it->>'s', arn);
		PERFORM orders_stream.aws_error('ResourceNotFoundException', m,
			'orders_stream."DescribeStream"(arn) lists the shards of a stream.');
	END IF;

	/*
	 * Where the page starts: after the iterator's position (at it, if
	 * inclusive), and after the trim horizon.
	 */
	key := orders_stream.sequence_key(it->>'p');
	trim_key := s.trim_key;
	IF key <> '' AND (key < trim_key OR (inclusive AND key = trim_key)) THEN
		m := format('the shard iterator points before the trim horizon of stream %s', arn);
		PERFORM orders_stream.aws_error('TrimmedDataAccessException', m,
			'Records are kept for orders_stream.retention, then trimmed; start again from TRIM_HORIZON.');
	END IF;
	IF key < trim_key THEN
		key := trim_key;
		inclusive := false;
	END IF;

	/*
	 * Through the records view, as any reader: the caller has no privilege
	 * on record_store.  In the view's order (records_from()).
	 */
	SELECT array_agg(r.record), max(r.sequence_number COLLATE "C"), count(*)
	  INTO records, last_seq, record_count
	  FROM orders_stream.records_from(s.stream_id,
									  CASE WHEN inclusive THEN key ELSE key || '\x00'::bytea END,
									  n_max) r;

	/*
	 * The end of a closed shard: no NextShardIterator.  The shard's
	 * EndingSequenceNumber is stored in the transaction that stored its last
	 * records, so whoever sees it closed sees all of them: the page is the
	 * shard's last if it is short, or ends at EndingSequenceNumber.
	 */
	IF s.ending_sequence_number IS NULL
	   OR (record_count = n_max AND last_seq < s.ending_sequence_number) THEN
		next := arn || '|' || translate(encode(convert_to(jsonb_build_object(
			's', s.shard_id, 'p', coalesce(last_seq, orders_stream.sequence_text(key)),
			'i', last_seq IS NULL AND inclusive,
			't', floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text, 'UTF8'), 'base64'), E'\n', '');
	END IF;
	response := orders_stream.records_page(arn, records, next);
END
$$;

COMMENT ON FUNCTION orders_stream.get_records_text(text, integer) IS
'orders_stream."GetRecords" as text, and the number of records in it: for callers that send the response on (the endpoint)';

CREATE FUNCTION orders_stream."GetRecords"("ShardIterator" text, "Limit" integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT (orders_stream.get_records_text("ShardIterator", "Limit")).response::pg_catalog.jsonb;
END;

COMMENT ON FUNCTION orders_stream."GetRecords"(text, integer) IS
'DynamoDB Streams GetRecords: {"Records": [...], "NextShardIterator": ...}; no NextShardIterator at the end of a closed shard';

/*
 * The single entry point of an HTTP front end: the operation of X-Amz-Target
 * (with or without its "DynamoDBStreams_20120810." prefix) and the request
 * body as it came.  Members of the wrong JSON type are a
 * SerializationException, as AWS answers them; unknown members are ignored.
 */
CREATE FUNCTION orders_stream.dynamodb_streams_text(operation text, request jsonb DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	op		text := regexp_replace(operation, '^DynamoDBStreams_20120810\.', '');
	r		jsonb := coalesce(request, '{}');
	m		text;
	member	text;
	kind	text;
	started	timestamptz := clock_timestamp();
	arn		text;
	result	text;
	n		integer := 0;
BEGIN
	IF op IS NULL OR op NOT IN ('ListStreams', 'DescribeStream', 'GetShardIterator', 'GetRecords') THEN
		m := format('Unknown operation %s', coalesce(quote_literal(operation), 'null'));
		PERFORM orders_stream.aws_error('UnknownOperationException', m,
			'The operations of DynamoDB Streams are ListStreams, DescribeStream, GetShardIterator and GetRecords.');
	END IF;
	IF jsonb_typeof(r) <> 'object' THEN
		m := 'the request body must be a JSON object';
	ELSE
		FOR member, kind IN
			SELECT k, CASE WHEN k IN ('Limit') THEN 'number'
						   WHEN k = 'ShardFilter' THEN 'object'
						   ELSE 'string' END
			  FROM jsonb_object_keys(r) AS k
			 WHERE k IN ('TableName', 'Limit', 'ExclusiveStartStreamArn', 'StreamArn',
						 'ExclusiveStartShardId', 'ShardFilter', 'ShardId',
						 'ShardIteratorType', 'SequenceNumber', 'ShardIterator')
			   AND jsonb_typeof(r->k) <> 'null'
		LOOP
			IF jsonb_typeof(r->member) <> kind
			   OR (kind = 'number' AND ((r->>member)::numeric <> trunc((r->>member)::numeric)
										OR abs((r->>member)::numeric) > 2147483647)) THEN
				m := format('%s must be %s, got %s', member,
							CASE kind WHEN 'number' THEN 'an integer' WHEN 'object' THEN 'an object' ELSE 'a string' END,
							r->member);
				EXIT;
			END IF;
		END LOOP;
	END IF;
	IF m IS NOT NULL THEN
		PERFORM orders_stream.aws_error('SerializationException', m,
			'Send the request members as the DynamoDB Streams API reference types them.');
	END IF;
	IF op = 'ListStreams' THEN
		RETURN orders_stream."ListStreams"(r->>'TableName', (r->>'Limit')::integer, r->>'ExclusiveStartStreamArn')::text;
	END IF;
	/* the stream's metrics count the request, served or failed (85_metrics.sql) */
	arn := coalesce(r->>'StreamArn', substring(r->>'ShardIterator' FROM '^(.+)\|'));
	BEGIN
		CASE op
			WHEN 'DescribeStream' THEN
				result := orders_stream."DescribeStream"(r->>'StreamArn', (r->>'Limit')::integer,
					r->>'ExclusiveStartShardId', nullif(r->'ShardFilter', 'null'))::text;
			WHEN 'GetShardIterator' THEN
				result := orders_stream."GetShardIterator"(r->>'StreamArn', r->>'ShardId',
					r->>'ShardIteratorType', r->>'SequenceNumber')::text;
			ELSE
				SELECT p.response, p.record_count INTO result, n
				  FROM orders_stream.get_records_text(r->>'ShardIterator', (r->>'Limit')::integer) p;
		END CASE;
	EXCEPTION WHEN OTHERS THEN
		PERFORM orders_stream.metrics_note_request(arn, op, started, 0, 0, SQLSTATE);
		RAISE;
	END;
	PERFORM orders_stream.metrics_note_request(arn, op, started, n,
		CASE WHEN op = 'GetRecords' THEN octet_length(result) ELSE 0 END, NULL);
	RETURN result;
END
$$;

COMMENT ON FUNCTION orders_stream.dynamodb_streams_text(text, jsonb) IS
'Runs a DynamoDB Streams request: operation as in X-Amz-Target, request as its JSON body; returns the response body as text, as the endpoint sends it';

/*
 * The same, the response as jsonb, for SQL callers: a GetRecords page is
 * written as text once (records_page()) and converted here only for them,
 * without jsonb_in (record_store.c).
 */
CREATE FUNCTION orders_stream.dynamodb_streams(operation text, request jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_dynamodb_streams'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.dynamodb_streams(text, jsonb) IS
'Runs a DynamoDB Streams request: operation as in X-Amz-Target, request as its JSON body; returns the response body';

/* ---- The SQL-friendly forms, thin wrappers of the operations ---- */

CREATE FUNCTION orders_stream.list_streams(
	OUT "StreamArn" text, OUT "TableName" text, OUT "StreamLabel" text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.stream_arn, s.table_name, s.stream_label
	  FROM orders_stream.readable_streams s
	 WHERE s.readable
	 ORDER BY s.stream_id;
END;

COMMENT ON FUNCTION orders_stream.list_streams() IS
'Streams of this database whose tables you may read, enabled and disabled, as rows, oldest first (every page of ListStreams)';

CREATE FUNCTION orders_stream.describe_stream(stream_arn text)
RETURNS jsonb
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT orders_stream."DescribeStream"(stream_arn);
END;

COMMENT ON FUNCTION orders_stream.describe_stream(text) IS
'orders_stream."DescribeStream"(stream_arn): {"StreamDescription": {...}}';

CREATE FUNCTION orders_stream.get_shard_iterator(stream_arn text, shard_id text,
	shard_iterator_type text, sequence_number text DEFAULT NULL)
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT orders_stream."GetShardIterator"(stream_arn, shard_id, shard_iterator_type,
											sequence_number) OPERATOR(pg_catalog.->>) 'ShardIterator';
END;

COMMENT ON FUNCTION orders_stream.get_shard_iterator(text, text, text, text) IS
'The ShardIterator of orders_stream."GetShardIterator": TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER; valid for 15 minutes';

CREATE FUNCTION orders_stream.get_records(shard_iterator text, "limit" integer DEFAULT 1000)
RETURNS jsonb
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT orders_stream."GetRecords"(shard_iterator, "limit");
END;

COMMENT ON FUNCTION orders_stream.get_records(text, integer) IS
'orders_stream."GetRecords": {"Records": [...], "NextShardIterator": ...}; no NextShardIterator at the end of a closed shard';
/*
 * Partitions created or attached after enable_stream need what enable_stream
 * gave the others: REPLICA IDENTITY FULL and the TRUNCATE guard.  A dropped
 * table's stream is disabled, as DynamoDB disables the stream of a deleted
 * table; a dropped mapping owner anchor (DROP OWNED) removes its mapping.
 * Both run as the role that ran the DDL, in C: they read the catalogs
 * directly and write orders_stream's tables as the extension's owner, with a
 * pinned search_path.
 */
CREATE FUNCTION orders_stream_internal.on_table_ddl()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'orders_stream_on_table_ddl'
LANGUAGE C;

CREATE EVENT TRIGGER orders_stream_partitions ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
	EXECUTE FUNCTION orders_stream_internal.on_table_ddl();

CREATE FUNCTION orders_stream_internal.on_sql_drop()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'orders_stream_on_sql_drop'
LANGUAGE C;

CREATE EVENT TRIGGER orders_stream_dropped_tables ON sql_drop
	WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP SEQUENCE')
	EXECUTE FUNCTION orders_stream_internal.on_sql_drop();
/*
 * DDL that would break a stream is refused (see src/ddl_guard.c): changing
 * the primary key (its columns by name and order are the stream's key
 * schema), SET UNLOGGED, inheritance children, and partitions whose rows
 * would enter or leave the table without stream records (ATTACH, DETACH,
 * DROP of a partition).  In C, so that a caller's search_path cannot steer
 * it.
 */
CREATE FUNCTION orders_stream_internal.ddl_guard()
RETURNS event_trigger
AS 'MODULE_PATHNAME', 'orders_stream_ddl_guard'
LANGUAGE C;

CREATE EVENT TRIGGER orders_stream_ddl_guard ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
	EXECUTE FUNCTION orders_stream_internal.ddl_guard();

CREATE EVENT TRIGGER orders_stream_ddl_guard_start ON ddl_command_start
	WHEN TAG IN ('ALTER TABLE', 'DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION orders_stream_internal.ddl_guard();
/* AWS event filtering, for event source mappings' filter_criteria */
CREATE FUNCTION orders_stream.filter_matches(record jsonb, filter_criteria jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_filter_matches'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION orders_stream.filter_matches(jsonb, jsonb) IS
'Whether a stream record matches any pattern of {"Filters": [{"Pattern": "..."}]}, as AWS event filtering';

/* create_ and update_event_source_mapping's check of filter_criteria */
CREATE FUNCTION orders_stream_internal.check_filter_criteria(filter_criteria jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_check_filter_criteria'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

/* ---- Event source mappings: delivering the stream to aggregator functions ---- */

/*
 * One row per mapping: its configuration (AWS's parameters).  Its delivery
 * state is in its lanes (event_source_mapping_lanes).  Rows are written only
 * by the extension's functions; a role reads its own through the view
 * orders_stream.event_source_mappings.
 *
 * The mapping's owner is the owner of its anchor, a sequence in
 * orders_stream_internal made for the mapping: PostgreSQL's shared
 * dependencies then make DROP ROLE refuse while the role owns mappings, DROP
 * OWNED BY remove them (see on_sql_drop) and REASSIGN OWNED hand them over.
 */
CREATE TABLE orders_stream_internal.event_source_mappings (
	uuid		uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	stream_id	bigint NOT NULL,
	event_source_arn text NOT NULL,
	function_oid oid NOT NULL,
	function_name text NOT NULL,
	anchor		oid NOT NULL UNIQUE,
	search_path text NOT NULL,
	batch_size	integer NOT NULL CHECK (batch_size BETWEEN 1 AND 10000),
	maximum_batching_window_in_seconds integer NOT NULL
		CHECK (maximum_batching_window_in_seconds BETWEEN 0 AND 300),
	starting_position text NOT NULL CHECK (starting_position IN ('TRIM_HORIZON', 'LATEST')),
	bisect_batch_on_function_error boolean NOT NULL,
	maximum_retry_attempts integer NOT NULL CHECK (maximum_retry_attempts BETWEEN -1 AND 10000),
	maximum_record_age_in_seconds integer NOT NULL
		CHECK (maximum_record_age_in_seconds = -1 OR maximum_record_age_in_seconds BETWEEN 60 AND 604800),
	parallelization_factor integer NOT NULL CHECK (parallelization_factor BETWEEN 1 AND 10),
	tumbling_window_in_seconds integer NOT NULL DEFAULT 0
		CHECK (tumbling_window_in_seconds BETWEEN 0 AND 900),
	filter_criteria jsonb,
	/* MetricsConfig: {"Metrics": ["EventCount"]} shows the event counts (85_metrics.sql) */
	metrics_config jsonb,
	function_response_types text[] NOT NULL
		CHECK (function_response_types <@ ARRAY['ReportBatchItemFailures']),
	enabled		boolean NOT NULL,
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_modified timestamptz NOT NULL DEFAULT now(),
	/* where StartingPosition put the first lanes: delivery starts after it */
	checkpoint	text COLLATE "C" NOT NULL,
	installation uuid NOT NULL DEFAULT orders_stream_internal.installation_id()
);

/* one mapping per (stream, function), as AWS: check_no_conflict() says it nicely first */
CREATE UNIQUE INDEX event_source_mappings_stream_function
	ON orders_stream_internal.event_source_mappings (stream_id, function_oid);

REVOKE ALL ON orders_stream_internal.event_source_mappings FROM PUBLIC;

/*
 * What a role reads: its own mappings (and those of roles it is a member
 * of).  A view that reads the table as its owner, so that PUBLIC has no
 * privilege on the table itself (no lock on it an ordinary role could hold);
 * the filter runs before any caller's function sees a row (security_barrier).
 */
CREATE VIEW orders_stream.event_source_mappings WITH (security_barrier) AS
SELECT m.* FROM orders_stream_internal.event_source_mappings m
 WHERE pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c
							   WHERE c.oid OPERATOR(pg_catalog.=) m.anchor), 'USAGE');
REVOKE ALL ON orders_stream.event_source_mappings FROM PUBLIC;
GRANT SELECT ON orders_stream.event_source_mappings TO PUBLIC;

/*
 * The lanes of a mapping (ParallelizationFactor): a record belongs to lane
 * ((uint32) key_hash) % lanes, so one item's records stay in one lane, in
 * SequenceNumber order.  Each lane has its own checkpoint and retry/bisect
 * state, which the delivery worker serving it updates in the same
 * transaction as its function's effects.
 *
 * Changing the factor starts a new epoch at a boundary SequenceNumber (the
 * newest record stored at the change, or the furthest checkpoint): the
 * lanes of the old epoch deliver their records up to it (epoch_end) and are
 * then DRAINED; the lanes of the new epoch start after it, once every lane
 * of the older epochs is drained.  So an item's records are never
 * reordered or delivered twice, whichever lane they move to.
 */
CREATE TABLE orders_stream.event_source_mapping_lanes (
	mapping_uuid uuid NOT NULL REFERENCES orders_stream_internal.event_source_mappings (uuid) ON DELETE CASCADE,
	epoch		integer NOT NULL,
	lane		integer NOT NULL,
	lanes		integer NOT NULL CHECK (lanes BETWEEN 1 AND 10),
	epoch_end	text COLLATE "C",
	state		text NOT NULL DEFAULT 'READY'
		CHECK (state IN ('READY', 'BACKOFF', 'BISECTING', 'STALLED', 'WAITING_EPOCH', 'DRAINED')),
	checkpoint	text COLLATE "C" NOT NULL,
	attempts	integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz,
	bisect_stack text[] COLLATE "C" NOT NULL DEFAULT '{}',
	invoke_counts integer[] NOT NULL DEFAULT '{}',	/* invocations of each pending half's records */
	/* the lane's tumbling window, saved with its checkpoint (see src/window.c) */
	window_start timestamptz,			/* of the open or last window; NULL before the first */
	window_state jsonb,					/* of the open window; NULL while none is open */
	window_terminated_early boolean NOT NULL DEFAULT false,	/* its final invocation is next */
	invocations bigint NOT NULL DEFAULT 0,
	errors		bigint NOT NULL DEFAULT 0,
	retries		bigint NOT NULL DEFAULT 0,
	failures	bigint NOT NULL DEFAULT 0,
	records_processed bigint NOT NULL DEFAULT 0,
	last_error	text,
	last_processing_result text,
	last_invoked_at timestamptz,
	updated_at	timestamptz,
	PRIMARY KEY (mapping_uuid, epoch, lane),
	CHECK (lane >= 0 AND lane < lanes)
);
REVOKE ALL ON orders_stream.event_source_mapping_lanes FROM PUBLIC;

/*
 * The delivery workers running and the lane each serves now, from shared
 * memory (NULL while idle): what pg_stat_activity's application_name of the
 * workers says to everyone, as rows.
 */
CREATE FUNCTION orders_stream.delivery_workers(OUT pid integer, OUT mapping_uuid uuid,
											   OUT epoch integer, OUT lane integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'orders_stream_delivery_workers'
LANGUAGE C VOLATILE;

/* The on-failure destination: one row per batch given up on. */
CREATE TABLE orders_stream_internal.failures (
	failure_id	bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mapping_uuid uuid NOT NULL,
	lane		integer NOT NULL DEFAULT 0,
	owner_oid	regrole NOT NULL,	/* regrole: a dump names the role, a restore finds it */
	created_at	timestamptz NOT NULL DEFAULT now(),
	condition	text NOT NULL,
	payload		jsonb NOT NULL,
	records		jsonb NOT NULL,
	sqlstate	text,
	message		text,
	detail		text,
	hint		text,
	context		text,
	redriven_at timestamptz,
	redrive_result text
);
CREATE INDEX failures_mapping ON orders_stream_internal.failures (mapping_uuid);

REVOKE ALL ON orders_stream_internal.failures FROM PUBLIC;

/* What a role reads of the failures: its own, as event_source_mappings. */
CREATE VIEW orders_stream.failures WITH (security_barrier) AS
SELECT f.* FROM orders_stream_internal.failures f
 WHERE pg_catalog.pg_has_role(f.owner_oid, 'USAGE');
REVOKE ALL ON orders_stream.failures FROM PUBLIC;
GRANT SELECT ON orders_stream.failures TO PUBLIC;

/*
 * A function's FunctionName in FunctionArn: schema--name.  A Lambda function
 * name is [a-zA-Z0-9-_]+ and has no dot: every other character of the
 * schema's or the function's name, and '-', becomes '-' and the two hex
 * digits of each of its UTF-8 bytes, so that '--' only ever separates the
 * two.  With no schema (a dropped function), the name alone.
 */
CREATE FUNCTION orders_stream.lambda_function_name(schema_name text, function_name text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT string_agg(x.encoded, '--' ORDER BY x.k)
  FROM (SELECT n.k, string_agg(CASE WHEN c.ch ~ '^[A-Za-z0-9_]$' THEN c.ch
				ELSE regexp_replace(encode(convert_to(c.ch, 'UTF8'), 'hex'), '(..)', '-\1', 'g') END,
			'' ORDER BY c.i) AS encoded
		  FROM unnest(ARRAY[schema_name, function_name]) WITH ORDINALITY AS n(part, k),
			   regexp_split_to_table(n.part, '') WITH ORDINALITY AS c(ch, i)
		 GROUP BY n.k) x
$$;

/*
 * Back from a FunctionName or FunctionArn: the SQL name (schema.name, quoted
 * as needed) that lambda_function_name() encoded; any other name as it is,
 * without the ARN around it (a function's name alone, or SQL's schema.name).
 */
CREATE FUNCTION orders_stream.lambda_function_sql_name(function_name text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE WHEN a.f ~ '^([A-Za-z0-9_]|-[0-9a-f]{2})+--([A-Za-z0-9_]|-[0-9a-f]{2})+$' THEN
		(SELECT string_agg(quote_ident(convert_from(decode(
				(SELECT string_agg(coalesce(r.m[2], encode(convert_to(r.m[1], 'UTF8'), 'hex')), '' ORDER BY r.i)
				   FROM regexp_matches(s.p, '([A-Za-z0-9_])|-([0-9a-f]{2})', 'g') WITH ORDINALITY AS r(m, i)),
				'hex'), 'UTF8')), '.' ORDER BY s.k)
		   FROM unnest(string_to_array(a.f, '--')) WITH ORDINALITY AS s(p, k))
	   ELSE a.f END
  FROM (SELECT regexp_replace(function_name, '^arn:[^:]*:lambda:[^:]*:[^:]*:function:', '') AS f) a
$$;

/*
 * Mappings as their owners see them: AWS's EventSourceMappingConfiguration,
 * and the delivery counters.  The view reads the tables as its owner; the
 * filter runs as the caller, before any column is computed or any caller's
 * function sees a row (security_barrier).
 */
CREATE VIEW orders_stream.event_source_mapping_status WITH (security_barrier) AS
SELECT m.uuid,
	   m.function_name,
	   m.event_source_arn,
	   CASE WHEN NOT m.enabled THEN 'Disabled'
			WHEN l.retrying THEN 'Retrying'
			ELSE 'Enabled' END AS state,
	   l.checkpoint AS checkpoint_sequence_number,
	   /* what the records say, only while the owner may read them */
	   CASE WHEN o.reads THEN COALESCE(pg_catalog.floor(EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) (
			SELECT r.captured_at FROM orders_stream.record_store r
			 WHERE r.stream_id OPERATOR(pg_catalog.=) m.stream_id
			   AND r.sequence_key OPERATOR(pg_catalog.>) orders_stream.sequence_key(l.checkpoint)
			   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
				   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)
			 ORDER BY r.sequence_key LIMIT 1)) OPERATOR(pg_catalog.*) 1000)::bigint, 0) END
		   AS iterator_age_ms,
	   CASE WHEN o.reads THEN COALESCE((
			SELECT orders_stream.sequence_text(r.sequence_key) FROM orders_stream.record_store r
			 WHERE r.stream_id OPERATOR(pg_catalog.=) m.stream_id
			   AND r.captured_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
				   pg_catalog.current_setting('orders_stream.retention')::pg_catalog.interval)
			 ORDER BY r.sequence_key DESC LIMIT 1), '') END
		   AS latest_sequence_number,
	   l.invocations,
	   l.records_processed,
	   l.errors,
	   l.retries,
	   l.failures,
	   l.last_error,
	   l.last_processing_result,
	   l.last_invoked_at,
	   o.owner::pg_catalog.regrole AS owner,
	   m.created_at,
	   m.function_oid::pg_catalog.regprocedure AS function,
	   pg_catalog.jsonb_build_object(
		'UUID', m.uuid,
		'EventSourceMappingArn', pg_catalog.format('arn:aws:lambda:%s:%s:event-source-mapping:%s',
							  pg_catalog.current_setting('orders_stream.region'),
							  pg_catalog.current_setting('orders_stream.account_id'), m.uuid),
		'EventSourceArn', m.event_source_arn,
		'FunctionArn', pg_catalog.format('arn:aws:lambda:%s:%s:function:%s',
							  pg_catalog.current_setting('orders_stream.region'),
							  pg_catalog.current_setting('orders_stream.account_id'),
							  (SELECT orders_stream.lambda_function_name(n.nspname, p.proname)
								 FROM pg_catalog.pg_proc p
								 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
								WHERE p.oid OPERATOR(pg_catalog.=) m.function_oid)),
		'BatchSize', m.batch_size,
		'MaximumBatchingWindowInSeconds', m.maximum_batching_window_in_seconds,
		'StartingPosition', m.starting_position,
		'BisectBatchOnFunctionError', m.bisect_batch_on_function_error,
		'MaximumRetryAttempts', m.maximum_retry_attempts,
		'MaximumRecordAgeInSeconds', m.maximum_record_age_in_seconds,
		'ParallelizationFactor', m.parallelization_factor,
		'TumblingWindowInSeconds', m.tumbling_window_in_seconds,
		'FunctionResponseTypes', pg_catalog.to_jsonb(m.function_response_types),
		'DestinationConfig', pg_catalog.jsonb_build_object('OnFailure',
			pg_catalog.jsonb_build_object('Destination', 'orders_stream.failures')),
		'State', CASE WHEN m.enabled THEN 'Enabled' ELSE 'Disabled' END,
		'StateTransitionReason', 'USER_INITIATED',
		'LastModified', EXTRACT(epoch FROM m.last_modified),
		'LastProcessingResult', l.last_processing_result)
		OPERATOR(pg_catalog.||) CASE WHEN m.filter_criteria IS NULL THEN '{}'::pg_catalog.jsonb
				ELSE pg_catalog.jsonb_build_object('FilterCriteria', m.filter_criteria) END
		OPERATOR(pg_catalog.||) CASE WHEN m.metrics_config IS NULL THEN '{}'::pg_catalog.jsonb
				ELSE pg_catalog.jsonb_build_object('MetricsConfig', m.metrics_config) END
		   AS configuration,
	   l.lanes
  FROM orders_stream_internal.event_source_mappings m
  JOIN orders_stream.streams s ON s.stream_id OPERATOR(pg_catalog.=) m.stream_id,
	   /*
	    * The mapping's checkpoint is its slowest undrained lane's: every
	    * record up to it is delivered (a lane with nothing to do moves its
	    * checkpoint to the newest record of the stream).
	    */
	   LATERAL (SELECT pg_catalog.min(x.checkpoint) FILTER (WHERE x.state OPERATOR(pg_catalog.<>) 'DRAINED') AS checkpoint,
					   pg_catalog.bool_or(x.next_attempt_at IS NOT NULL) AS retrying,
					   pg_catalog.sum(x.invocations)::bigint AS invocations,
					   pg_catalog.sum(x.records_processed)::bigint AS records_processed,
					   pg_catalog.sum(x.errors)::bigint AS errors,
					   pg_catalog.sum(x.retries)::bigint AS retries,
					   pg_catalog.sum(x.failures)::bigint AS failures,
					   (pg_catalog.array_agg(x.last_error ORDER BY x.updated_at DESC)
						  FILTER (WHERE x.last_error IS NOT NULL))[1] AS last_error,
					   COALESCE((pg_catalog.array_agg(x.last_processing_result ORDER BY x.updated_at DESC)
						  FILTER (WHERE x.last_processing_result IS NOT NULL))[1], 'No records processed') AS last_processing_result,
					   pg_catalog.max(x.last_invoked_at) AS last_invoked_at,
					   pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
						   'epoch', x.epoch, 'lane', x.lane, 'lanes', x.lanes, 'state', x.state,
						   'checkpoint', x.checkpoint, 'epoch_end', x.epoch_end,
						   'attempts', x.attempts, 'next_attempt_at', x.next_attempt_at,
						   'bisect_stack', x.bisect_stack, 'invoke_counts', x.invoke_counts,
						   'invocations', x.invocations,
						   'records_processed', x.records_processed, 'last_error', x.last_error,
						   'window_start', x.window_start, 'window_state', x.window_state,
						   'window_terminated_early', x.window_terminated_early,
						   'worker_pid', w.pid) ORDER BY x.epoch, x.lane) AS lanes
				  FROM orders_stream.event_source_mapping_lanes x
				  LEFT JOIN orders_stream.delivery_workers() w
					ON w.mapping_uuid OPERATOR(pg_catalog.=) x.mapping_uuid
				   AND w.epoch OPERATOR(pg_catalog.=) x.epoch AND w.lane OPERATOR(pg_catalog.=) x.lane
				 WHERE x.mapping_uuid OPERATOR(pg_catalog.=) m.uuid) l,
	   LATERAL (SELECT a.relowner AS owner,
					   orders_stream.may_read(a.relowner, s.relid, if_dropped => true) AS reads
				  FROM pg_catalog.pg_class a
				 WHERE a.oid OPERATOR(pg_catalog.=) m.anchor) o
 WHERE pg_catalog.pg_has_role(o.owner, 'USAGE');

GRANT SELECT ON orders_stream.event_source_mapping_status TO PUBLIC;

/* ---- internal helpers: they run as the extension's owner, for a caller ---- */

/*
 * The stream of a mapping's event source: a stream ARN, or a table with an
 * enabled stream (tbl, resolved in the caller's search_path), that the
 * caller may read.
 */
CREATE FUNCTION orders_stream_internal.resolve_event_source(caller oid, event_source text, tbl regclass,
	OUT stream_id bigint, OUT stream_arn text, OUT relid oid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF event_source LIKE 'arn:%' THEN
		SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
		  FROM orders_stream.streams s WHERE s.stream_arn = event_source;
		IF NOT FOUND THEN
			PERFORM orders_stream.aws_error('ResourceNotFoundException',
				pg_catalog.format('stream "%s" does not exist', event_source),
				'orders_stream.list_streams() shows the stream ARNs of this database.');
		END IF;
	ELSE
		IF tbl IS NULL THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('event_source "%s" is neither a table nor a stream ARN', event_source),
				'Pass a table with an enabled stream, or a stream ARN from orders_stream.list_streams().');
		END IF;
		SELECT s.stream_id, s.stream_arn, s.relid INTO stream_id, stream_arn, relid
		  FROM orders_stream.streams s WHERE s.relid = tbl AND s.disabled_at IS NULL;
		IF NOT FOUND THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('table "%s" has no enabled stream', tbl),
				format('Enable one first: SELECT orders_stream.enable_stream(%L, ''NEW_IMAGE'');', tbl::text));
		END IF;
	END IF;
	/* checked before anything else is computed from the stream */
	IF NOT orders_stream.may_read(caller, relid) THEN
		PERFORM orders_stream.aws_error('AccessDeniedException',
			pg_catalog.format('permission denied to read stream "%s"', stream_arn),
			'A mapping reads the stream as its creator, who needs SELECT on the table and, if it has row-level security, to bypass it.');
	END IF;
END
$$;

/* Checks one parameter against its AWS range. */
CREATE FUNCTION orders_stream_internal.check_range(name text, value integer, low integer, high integer,
												   also_allowed integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF value IS NULL OR ((value < low OR value > high) AND value IS DISTINCT FROM also_allowed) THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('%s must be %sbetween %s and %s, got %s', name, CASE WHEN also_allowed IS NULL THEN '' ELSE also_allowed || ' or ' END, low, high, coalesce(value::text, 'NULL')),
			'The ranges are AWS Lambda''s for DynamoDB event sources.');
	END IF;
END
$$;

/* AWS's ranges and choices for every parameter of a mapping row. */
CREATE FUNCTION orders_stream_internal.check_mapping(m orders_stream_internal.event_source_mappings)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream_internal.check_range('batch_size', m.batch_size, 1, 10000);
	PERFORM orders_stream_internal.check_range('maximum_batching_window_in_seconds', m.maximum_batching_window_in_seconds, 0, 300);
	PERFORM orders_stream_internal.check_range('maximum_retry_attempts', m.maximum_retry_attempts, -1, 10000);
	PERFORM orders_stream_internal.check_range('maximum_record_age_in_seconds', m.maximum_record_age_in_seconds, 60, 604800, -1);
	PERFORM orders_stream_internal.check_range('parallelization_factor', m.parallelization_factor, 1, 10);
	PERFORM orders_stream_internal.check_range('tumbling_window_in_seconds', m.tumbling_window_in_seconds, 0, 900);
	IF m.function_response_types IS NULL OR NOT m.function_response_types <@ ARRAY['ReportBatchItemFailures'] THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('function_response_types must be empty or {ReportBatchItemFailures}, got %s', m.function_response_types),
			'ReportBatchItemFailures is the only response type of stream event sources.');
	END IF;
	IF m.metrics_config IS NOT NULL
	   AND (pg_catalog.jsonb_typeof(m.metrics_config) IS DISTINCT FROM 'object'
			OR EXISTS (SELECT FROM pg_catalog.jsonb_object_keys(m.metrics_config) k WHERE k OPERATOR(pg_catalog.<>) 'Metrics')
			OR pg_catalog.jsonb_typeof(m.metrics_config OPERATOR(pg_catalog.->) 'Metrics') IS DISTINCT FROM 'array'
			OR NOT (m.metrics_config OPERATOR(pg_catalog.->) 'Metrics') OPERATOR(pg_catalog.<@) '["EventCount"]') THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('metrics_config must be {"Metrics": []} or {"Metrics": ["EventCount"]}, got %s', m.metrics_config),
			'EventCount is the metrics group of stream event sources.');
	END IF;
	IF m.enabled IS NULL OR m.bisect_batch_on_function_error IS NULL THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			'enabled and bisect_batch_on_function_error must not be NULL',
			'Pass true or false.');
	END IF;
END
$$;

/*
 * Errors unless the function may be a mapping's target (one jsonb argument,
 * one value): src/security.c, which delivery checks before every call.
 */
CREATE FUNCTION orders_stream_internal.check_target(function_name regprocedure)
RETURNS void
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'orders_stream_check_target';

/*
 * The function must be a target and belong to the caller (or to a role the
 * caller is a member of), as an AWS mapping names a function of its own
 * account: a (stream, function) pair is unique, so a mapping of someone
 * else's function would squat its owner's pair.
 */
CREATE FUNCTION orders_stream_internal.check_function(caller oid, function_name regprocedure)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream_internal.check_target(function_name);
	IF NOT pg_has_role(caller, (SELECT p.proowner FROM pg_proc p WHERE p.oid = function_name), 'USAGE') THEN
		PERFORM orders_stream.aws_error('AccessDeniedException',
			pg_catalog.format('function %s is not yours', function_name),
			'A mapping invokes a function owned by its creator (or by a role the creator is a member of).');
	END IF;
	IF NOT has_function_privilege(caller, function_name, 'EXECUTE') THEN
		RAISE EXCEPTION 'permission denied for function %', function_name
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'The role creating a mapping must be allowed to execute its function.';
	END IF;
END
$$;

/*
 * FilterCriteria as stored: NULL for none ({} or no filters, which is how
 * AWS removes them), otherwise checked pattern by pattern.
 */
CREATE FUNCTION orders_stream_internal.normalize_filter_criteria(criteria jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF criteria IS NULL OR criteria = '{}'::jsonb OR criteria->'Filters' = '[]'::jsonb THEN
		RETURN NULL;
	END IF;
	PERFORM orders_stream_internal.check_filter_criteria(criteria);
	RETURN criteria;
END
$$;

/*
 * AWS allows one mapping per (event source, function).  The other mapping is
 * named only to a caller who may see it (a member of its owner): another
 * member of the function's owner learns only that the pair is taken.
 */
CREATE FUNCTION orders_stream_internal.check_no_conflict(caller oid, m orders_stream_internal.event_source_mappings)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	other uuid;
	visible boolean;
BEGIN
	SELECT e.uuid, pg_has_role(caller, c.relowner, 'USAGE') INTO other, visible
	  FROM orders_stream_internal.event_source_mappings e
	  LEFT JOIN pg_class c ON c.oid = e.anchor
	 WHERE e.stream_id = m.stream_id AND e.function_oid = m.function_oid AND e.uuid <> m.uuid;
	IF FOUND AND visible THEN
		PERFORM orders_stream.aws_error('ResourceConflictException',
			pg_catalog.format('an event source mapping of stream "%s" to function %s exists already', m.event_source_arn, m.function_oid::regprocedure),
			pg_catalog.format('It is mapping %s: change it with orders_stream.update_event_source_mapping(), or delete it first.', other));
	ELSIF FOUND THEN
		PERFORM orders_stream.aws_error('ResourceConflictException',
			pg_catalog.format('an event source mapping of stream "%s" to function %s exists already', m.event_source_arn, m.function_oid::regprocedure),
			'Another role owns it: a stream has one mapping per function, and the roles sharing the function''s owner decide whose it is.');
	END IF;
END
$$;

/* A mapping the caller owns (or is a member of its owner), locked for a change. */
CREATE FUNCTION orders_stream_internal.mapping_for_change(caller oid, mapping uuid)
RETURNS orders_stream_internal.event_source_mappings
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream_internal.event_source_mappings;
BEGIN
	SELECT e.* INTO m FROM orders_stream_internal.event_source_mappings e
	  JOIN pg_class c ON c.oid = e.anchor
	 WHERE e.uuid = mapping AND pg_has_role(caller, c.relowner, 'USAGE');
	IF NOT FOUND THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('event source mapping %s does not exist', coalesce(mapping::text, 'NULL')),
			'orders_stream.list_event_source_mappings() lists the mappings you own.');
	END IF;
	RETURN m;
END
$$;

CREATE FUNCTION orders_stream_internal.configuration(mapping uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT s.configuration FROM orders_stream.event_source_mapping_status s
	 WHERE s.uuid OPERATOR(pg_catalog.=) configuration.mapping;
END;

/* Makes the anchor of a new mapping, owned by its owner (see the table). */
CREATE FUNCTION orders_stream_internal.create_anchor(mapping uuid, owner oid)
RETURNS oid
AS 'MODULE_PATHNAME', 'orders_stream_create_anchor'
LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION orders_stream_internal.launch_workers()
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_launch_workers'
LANGUAGE C VOLATILE;

/*
 * A new factor starts a new epoch of lanes (see event_source_mapping_lanes).
 * Called after the mapping row is updated: delivery transactions of the
 * mapping hold that row's lock when they save, so none is in progress, and
 * later ones see the new row and roll back.  The boundary is the newest
 * record of the stream now stored (every record not yet stored will have a
 * higher SequenceNumber: capture stores in commit order) or a lane's
 * checkpoint past it.
 */
CREATE FUNCTION orders_stream_internal.repartition(m orders_stream_internal.event_source_mappings, factor integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	last_epoch integer;
	boundary text COLLATE "C";
BEGIN
	/* in REPEATABLE READ, a lane saved since the snapshot is a serialization failure */
	PERFORM FROM orders_stream.event_source_mapping_lanes l WHERE l.mapping_uuid = m.uuid FOR UPDATE;
	SELECT max(l.epoch) INTO last_epoch FROM orders_stream.event_source_mapping_lanes l
	 WHERE l.mapping_uuid = m.uuid;
	boundary := greatest(m.checkpoint,
		(SELECT max(l.checkpoint) FROM orders_stream.event_source_mapping_lanes l WHERE l.mapping_uuid = m.uuid),
		(SELECT orders_stream.sequence_text(r.sequence_key) FROM orders_stream.record_store r
		  WHERE r.stream_id = m.stream_id ORDER BY r.sequence_key DESC LIMIT 1));
	UPDATE orders_stream.event_source_mapping_lanes l SET epoch_end = boundary
	 WHERE l.mapping_uuid = m.uuid AND l.epoch = last_epoch;
	INSERT INTO orders_stream.event_source_mapping_lanes (mapping_uuid, epoch, lane, lanes, checkpoint, state)
	SELECT m.uuid, last_epoch + 1, i, factor, boundary, 'WAITING_EPOCH'
	  FROM generate_series(0, factor - 1) AS i;
END
$$;

/* ---- the API: create, update, delete, list ---- */

CREATE FUNCTION orders_stream_internal.create_event_source_mapping(
	caller oid, caller_search_path text,
	event_source text, function_name regprocedure, batch_size integer, starting_position text,
	bisect_batch_on_function_error boolean, maximum_retry_attempts integer,
	maximum_record_age_in_seconds integer, maximum_batching_window_in_seconds integer,
	function_response_types text[], enabled boolean, parallelization_factor integer,
	filter_criteria jsonb, tumbling_window_in_seconds integer, metrics_config jsonb)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	src record;
	tbl regclass;
	m orders_stream_internal.event_source_mappings;
BEGIN
	IF event_source IS NULL OR function_name IS NULL THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			'event_source and function_name are required',
			'Pass the streamed table (or its stream ARN) and the aggregator function.');
	END IF;
	IF event_source NOT LIKE 'arn:%' THEN
		/* a table name means what it means to the caller: its search_path, for this lookup only */
		/* nothing but these qualified calls runs under the caller's path */
		PERFORM pg_catalog.set_config('search_path', caller_search_path, true);
		BEGIN
			tbl := pg_catalog.to_regclass(event_source);
		EXCEPTION WHEN OTHERS THEN
			tbl := NULL;
		END;
		PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
	END IF;
	src := orders_stream_internal.resolve_event_source(caller, event_source, tbl);
	PERFORM orders_stream_internal.check_function(caller, function_name);
	IF starting_position IS NULL OR starting_position NOT IN ('TRIM_HORIZON', 'LATEST') THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('starting_position must be TRIM_HORIZON or LATEST, got %s', coalesce(starting_position, 'NULL')),
			'DynamoDB event sources need a starting position, as in CDK''s startingPosition.');
	END IF;
	m.uuid := gen_random_uuid();
	m.stream_id := src.stream_id;
	m.event_source_arn := src.stream_arn;
	m.function_oid := function_name;
	m.function_name := function_name::text;
	m.search_path := caller_search_path;
	m.batch_size := batch_size;
	m.maximum_batching_window_in_seconds := maximum_batching_window_in_seconds;
	m.starting_position := starting_position;
	m.bisect_batch_on_function_error := bisect_batch_on_function_error;
	m.maximum_retry_attempts := maximum_retry_attempts;
	m.maximum_record_age_in_seconds := maximum_record_age_in_seconds;
	m.parallelization_factor := parallelization_factor;
	m.tumbling_window_in_seconds := tumbling_window_in_seconds;
	m.function_response_types := function_response_types;
	m.enabled := enabled;
	m.filter_criteria := orders_stream_internal.normalize_filter_criteria(filter_criteria);
	m.metrics_config := metrics_config;
	PERFORM orders_stream_internal.check_mapping(m);
	PERFORM orders_stream_internal.check_no_conflict(caller, m);
	m.anchor := orders_stream_internal.create_anchor(m.uuid, caller);
	m.checkpoint := CASE starting_position WHEN 'LATEST'
		THEN orders_stream.sequence_number(pg_current_wal_insert_lsn(), 0) ELSE '' END;
	m.created_at := now();
	m.last_modified := now();
	m.installation := orders_stream_internal.installation_id();
	INSERT INTO orders_stream_internal.event_source_mappings SELECT m.*;
	INSERT INTO orders_stream.event_source_mapping_lanes (mapping_uuid, epoch, lane, lanes, checkpoint)
	SELECT m.uuid, 0, i, m.parallelization_factor, m.checkpoint
	  FROM generate_series(0, m.parallelization_factor - 1) AS i;
	PERFORM orders_stream_internal.launch_workers();
	RETURN m.uuid;
END
$$;

/*
 * The API functions that write mappings are one C shim (security.c) that
 * calls orders_stream_internal.<same name>(caller, caller's search_path,
 * args...): a definer-rights function learns who called from the shim, and
 * nobody else can call it.
 */
CREATE FUNCTION orders_stream.create_event_source_mapping(
	event_source text,
	function_name regprocedure,
	batch_size integer DEFAULT 100,
	starting_position text DEFAULT NULL,
	bisect_batch_on_function_error boolean DEFAULT false,
	maximum_retry_attempts integer DEFAULT -1,
	maximum_record_age_in_seconds integer DEFAULT -1,
	maximum_batching_window_in_seconds integer DEFAULT 0,
	function_response_types text[] DEFAULT '{}',
	enabled boolean DEFAULT true,
	parallelization_factor integer DEFAULT 1,
	filter_criteria jsonb DEFAULT NULL,
	tumbling_window_in_seconds integer DEFAULT 0,
	metrics_config jsonb DEFAULT NULL)
RETURNS uuid
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.create_event_source_mapping(text, regprocedure, integer, text, boolean, integer, integer, integer, text[], boolean, integer, jsonb, integer, jsonb) IS
'Delivers a stream in batches to a function taking the Lambda event (jsonb), like an AWS Lambda event source mapping; returns its UUID';

CREATE FUNCTION orders_stream_internal.update_event_source_mapping(
	caller oid, caller_search_path text,
	mapping uuid, function_name regprocedure, batch_size integer,
	bisect_batch_on_function_error boolean, maximum_retry_attempts integer,
	maximum_record_age_in_seconds integer, maximum_batching_window_in_seconds integer,
	function_response_types text[], enabled boolean, parallelization_factor integer,
	filter_criteria jsonb, tumbling_window_in_seconds integer, metrics_config jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream_internal.event_source_mappings := orders_stream_internal.mapping_for_change(caller, mapping);
	old_factor integer := m.parallelization_factor;
BEGIN
	IF function_name IS NOT NULL THEN
		PERFORM orders_stream_internal.check_function(caller, function_name);
		m.function_oid := function_name;
		m.function_name := function_name::text;
	END IF;
	m.batch_size := coalesce(batch_size, m.batch_size);
	m.bisect_batch_on_function_error := coalesce(bisect_batch_on_function_error, m.bisect_batch_on_function_error);
	m.maximum_retry_attempts := coalesce(maximum_retry_attempts, m.maximum_retry_attempts);
	m.maximum_record_age_in_seconds := coalesce(maximum_record_age_in_seconds, m.maximum_record_age_in_seconds);
	m.maximum_batching_window_in_seconds := coalesce(maximum_batching_window_in_seconds, m.maximum_batching_window_in_seconds);
	m.function_response_types := coalesce(function_response_types, m.function_response_types);
	m.enabled := coalesce(enabled, m.enabled);
	m.parallelization_factor := coalesce(parallelization_factor, m.parallelization_factor);
	m.tumbling_window_in_seconds := coalesce(tumbling_window_in_seconds, m.tumbling_window_in_seconds);
	IF filter_criteria IS NOT NULL THEN
		m.filter_criteria := orders_stream_internal.normalize_filter_criteria(filter_criteria);
	END IF;
	m.metrics_config := coalesce(metrics_config, m.metrics_config);
	PERFORM orders_stream_internal.check_mapping(m);
	PERFORM orders_stream_internal.check_no_conflict(caller, m);

	UPDATE orders_stream_internal.event_source_mappings e SET
		function_oid = m.function_oid, function_name = m.function_name,
		batch_size = m.batch_size,
		bisect_batch_on_function_error = m.bisect_batch_on_function_error,
		maximum_retry_attempts = m.maximum_retry_attempts,
		maximum_record_age_in_seconds = m.maximum_record_age_in_seconds,
		maximum_batching_window_in_seconds = m.maximum_batching_window_in_seconds,
		function_response_types = m.function_response_types,
		enabled = m.enabled,
		parallelization_factor = m.parallelization_factor,
		tumbling_window_in_seconds = m.tumbling_window_in_seconds,
		filter_criteria = m.filter_criteria,
		metrics_config = m.metrics_config,
		last_modified = now()
	 WHERE e.uuid = mapping;
	IF m.tumbling_window_in_seconds = 0 THEN
		/* without windows, the lanes' open windows are dropped (no final invocation) */
		UPDATE orders_stream.event_source_mapping_lanes l
		   SET window_state = NULL, window_terminated_early = false
		 WHERE l.mapping_uuid = mapping
		   AND (l.window_state IS NOT NULL OR l.window_terminated_early);
	END IF;
	IF m.parallelization_factor <> old_factor THEN
		/* after the UPDATE: no delivery of the mapping is in progress now */
		PERFORM orders_stream_internal.repartition(m, m.parallelization_factor);
	END IF;
	PERFORM orders_stream_internal.launch_workers();
	RETURN orders_stream_internal.configuration(mapping);
END
$$;

CREATE FUNCTION orders_stream.update_event_source_mapping(
	mapping uuid,
	function_name regprocedure DEFAULT NULL,
	batch_size integer DEFAULT NULL,
	bisect_batch_on_function_error boolean DEFAULT NULL,
	maximum_retry_attempts integer DEFAULT NULL,
	maximum_record_age_in_seconds integer DEFAULT NULL,
	maximum_batching_window_in_seconds integer DEFAULT NULL,
	function_response_types text[] DEFAULT NULL,
	enabled boolean DEFAULT NULL,
	parallelization_factor integer DEFAULT NULL,
	filter_criteria jsonb DEFAULT NULL,
	tumbling_window_in_seconds integer DEFAULT NULL,
	metrics_config jsonb DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream_internal.delete_event_source_mapping(caller oid, caller_search_path text,
																   mapping uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m orders_stream_internal.event_source_mappings := orders_stream_internal.mapping_for_change(caller, mapping);
	config jsonb := orders_stream_internal.configuration(mapping);
BEGIN
	DELETE FROM orders_stream_internal.event_source_mappings e WHERE e.uuid = mapping;
	EXECUTE format('DROP SEQUENCE IF EXISTS %s', m.anchor::regclass);
	RETURN config || '{"State": "Deleting"}';
END
$$;

CREATE FUNCTION orders_stream.delete_event_source_mapping(mapping uuid)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

CREATE FUNCTION orders_stream.list_event_source_mappings(event_source text DEFAULT NULL,
														 function_name regprocedure DEFAULT NULL)
RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
	arn text := event_source;
	tbl regclass;
BEGIN
	IF event_source IS NOT NULL AND event_source OPERATOR(pg_catalog.!~~) 'arn:%' THEN
		/* the caller's search_path names the table: no SET clause, qualified names */
		tbl := pg_catalog.to_regclass(event_source);
		IF tbl IS NULL THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('event_source "%s" is neither a table nor a stream ARN', event_source),
				'Pass a table with an enabled stream, or a stream ARN from orders_stream.list_streams().');
		END IF;
		SELECT s.stream_arn INTO arn FROM orders_stream.readable_streams s
		 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.enabled;
		IF NOT FOUND THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('table "%s" has no enabled stream', tbl),
				pg_catalog.format('Enable one first: SELECT orders_stream.enable_stream(%L, ''NEW_IMAGE'');', tbl::text));
		END IF;
	END IF;
	RETURN QUERY
		SELECT s.configuration
		  FROM orders_stream.event_source_mapping_status s
		 WHERE (arn IS NULL OR s.event_source_arn OPERATOR(pg_catalog.=) arn)
		   AND (list_event_source_mappings.function_name IS NULL
				OR s.function OPERATOR(pg_catalog.=) list_event_source_mappings.function_name)
		 ORDER BY s.created_at, s.uuid;
END
$$;

CREATE FUNCTION orders_stream.get_event_source_mapping(mapping uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	config jsonb;
BEGIN
	SELECT s.configuration INTO config FROM orders_stream.event_source_mapping_status s
	 WHERE s.uuid OPERATOR(pg_catalog.=) mapping;
	IF NOT FOUND THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('event source mapping %s does not exist', coalesce(mapping::text, 'NULL')),
			'orders_stream.list_event_source_mappings() lists the mappings you own.');
	END IF;
	RETURN config;
END
$$;

COMMENT ON FUNCTION orders_stream.get_event_source_mapping(uuid) IS
'AWS GetEventSourceMapping: the EventSourceMappingConfiguration of a mapping you own';

/*
 * AWS ListEventSourceMappings: {"EventSourceMappings": [...], "NextMarker"}.
 * FunctionName is the function's name as in FunctionArn (schema--name), the
 * name alone, SQL's schema.name, or the FunctionArn; Marker is opaque (the last mapping's
 * creation time and UUID).  Runs as the caller: the view shows its mappings.
 */
CREATE FUNCTION orders_stream."ListEventSourceMappings"("EventSourceArn" text DEFAULT NULL,
	"FunctionName" text DEFAULT NULL, "Marker" text DEFAULT NULL, "MaxItems" integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lim integer := coalesce("MaxItems", 100);
	after_time numeric;
	after_uuid uuid;
	page jsonb[];
	last_time numeric;
	last_uuid uuid;
BEGIN
	IF lim OPERATOR(pg_catalog.<) 1 OR lim OPERATOR(pg_catalog.>) 10000 THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			pg_catalog.format('MaxItems must be between 1 and 10000, got %s', lim));
	END IF;
	IF "Marker" IS NOT NULL THEN
		BEGIN
			after_time := pg_catalog.split_part("Marker", '/', 1)::numeric;
			after_uuid := pg_catalog.split_part("Marker", '/', 2)::uuid;
		EXCEPTION WHEN data_exception THEN
			after_time := NULL;
		END;
		IF after_time IS NULL OR after_uuid IS NULL THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('Marker "%s" is not one that ListEventSourceMappings returned', "Marker"));
		END IF;
	END IF;
	SELECT pg_catalog.array_agg(x.configuration ORDER BY x.t, x.uuid),
		   (pg_catalog.array_agg(x.t ORDER BY x.t DESC, x.uuid DESC))[1],
		   (pg_catalog.array_agg(x.uuid ORDER BY x.t DESC, x.uuid DESC))[1]
	  INTO page, last_time, last_uuid
	  FROM (SELECT s.configuration, s.uuid, EXTRACT(epoch FROM s.created_at) AS t
			  FROM orders_stream.event_source_mapping_status s
			 WHERE ("EventSourceArn" IS NULL OR s.event_source_arn OPERATOR(pg_catalog.=) "EventSourceArn")
			   AND ("FunctionName" IS NULL
					OR orders_stream.lambda_function_sql_name("FunctionName") OPERATOR(pg_catalog.||) '(jsonb)'
					   OPERATOR(pg_catalog.=) s.function::text
					OR "FunctionName" OPERATOR(pg_catalog.=) pg_catalog.split_part(
						pg_catalog.regexp_replace(s.configuration OPERATOR(pg_catalog.->>) 'FunctionArn', '^.*:function:', ''), '--', 2))
			   AND (after_time IS NULL OR (EXTRACT(epoch FROM s.created_at), s.uuid) OPERATOR(pg_catalog.>) (after_time, after_uuid))
			 ORDER BY 3, 2
			 LIMIT lim OPERATOR(pg_catalog.+) 1) x;
	IF pg_catalog.cardinality(page) OPERATOR(pg_catalog.>) lim THEN
		page := page[1:lim];
		SELECT EXTRACT(epoch FROM s.created_at), s.uuid INTO last_time, last_uuid
		  FROM orders_stream.event_source_mapping_status s
		 WHERE s.uuid OPERATOR(pg_catalog.=) (page[lim] OPERATOR(pg_catalog.->>) 'UUID')::uuid;
		RETURN pg_catalog.jsonb_build_object('EventSourceMappings', pg_catalog.to_jsonb(page),
			'NextMarker', last_time::text OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) last_uuid::text);
	END IF;
	RETURN pg_catalog.jsonb_build_object('EventSourceMappings', coalesce(pg_catalog.to_jsonb(page), '[]'::jsonb));
END
$$;

COMMENT ON FUNCTION orders_stream."ListEventSourceMappings"(text, text, text, integer) IS
'AWS ListEventSourceMappings: your mappings as {"EventSourceMappings": [...], "NextMarker": ...}';

/*
 * AWS CreateEventSourceMapping, the request document in, the configuration
 * out.  FunctionName (a name, schema--name or FunctionArn) names a function taking jsonb,
 * resolved in the caller's search_path like create_event_source_mapping's
 * arguments: so no SET clause here, and only qualified names and operators.
 */
CREATE FUNCTION orders_stream."CreateEventSourceMapping"(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	fn text := orders_stream.lambda_function_sql_name(request OPERATOR(pg_catalog.->>) 'FunctionName');
	proc pg_catalog.regprocedure;
	mapping uuid;
	batch_size int;
	bisect boolean;
	retries int;
	max_age int;
	window_secs int;
	response_types text[];
	enabled boolean;
	factor int;
	tumbling int;
BEGIN
	/* members of the wrong JSON type are AWS's InvalidParameterValueException, not a cast error */
	BEGIN
		batch_size := coalesce((request OPERATOR(pg_catalog.->>) 'BatchSize')::pg_catalog.int4, 100);
		bisect := coalesce((request OPERATOR(pg_catalog.->>) 'BisectBatchOnFunctionError')::pg_catalog.bool, false);
		retries := coalesce((request OPERATOR(pg_catalog.->>) 'MaximumRetryAttempts')::pg_catalog.int4, -1);
		max_age := coalesce((request OPERATOR(pg_catalog.->>) 'MaximumRecordAgeInSeconds')::pg_catalog.int4, -1);
		window_secs := coalesce((request OPERATOR(pg_catalog.->>) 'MaximumBatchingWindowInSeconds')::pg_catalog.int4, 0);
		response_types := ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
			coalesce(request OPERATOR(pg_catalog.->) 'FunctionResponseTypes', '[]'::pg_catalog.jsonb)));
		enabled := coalesce((request OPERATOR(pg_catalog.->>) 'Enabled')::pg_catalog.bool, true);
		factor := coalesce((request OPERATOR(pg_catalog.->>) 'ParallelizationFactor')::pg_catalog.int4, 1);
		tumbling := coalesce((request OPERATOR(pg_catalog.->>) 'TumblingWindowInSeconds')::pg_catalog.int4, 0);
	EXCEPTION WHEN data_exception THEN
		PERFORM orders_stream.aws_error('InvalidParameterValueException',
			'a member of the CreateEventSourceMapping request has the wrong type',
			'BatchSize and the other counts are integers, BisectBatchOnFunctionError and Enabled booleans, FunctionResponseTypes a list of strings ('
			OPERATOR(pg_catalog.||) SQLERRM OPERATOR(pg_catalog.||) ').');
	END;
	IF fn IS NOT NULL THEN
		proc := pg_catalog.to_regprocedure(fn OPERATOR(pg_catalog.||) '(jsonb)');
	END IF;
	IF proc IS NULL THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('function "%s" (taking jsonb) does not exist', fn),
			'FunctionName is a function f(event jsonb), by name, as schema--name or as FunctionArn.');
	END IF;
	/*
	 * two statements: get_event_source_mapping() is STABLE, so within the
	 * statement that creates the mapping it would read the snapshot before it
	 */
	mapping := orders_stream.create_event_source_mapping(
		request OPERATOR(pg_catalog.->>) 'EventSourceArn', proc,
		batch_size => batch_size,
		starting_position => request OPERATOR(pg_catalog.->>) 'StartingPosition',
		bisect_batch_on_function_error => bisect,
		maximum_retry_attempts => retries,
		maximum_record_age_in_seconds => max_age,
		maximum_batching_window_in_seconds => window_secs,
		function_response_types => response_types,
		enabled => enabled,
		parallelization_factor => factor,
		filter_criteria => request OPERATOR(pg_catalog.->) 'FilterCriteria',
		tumbling_window_in_seconds => tumbling,
		metrics_config => request OPERATOR(pg_catalog.->) 'MetricsConfig');
	RETURN orders_stream.get_event_source_mapping(mapping);
END
$$;

COMMENT ON FUNCTION orders_stream."CreateEventSourceMapping"(jsonb) IS
'AWS CreateEventSourceMapping: the request document in, the EventSourceMappingConfiguration out';

CREATE FUNCTION orders_stream.wait_for_mapping(mapping uuid, timeout interval DEFAULT '30s')
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
/* the status view takes longer to plan than to run: once per session */
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
	m orders_stream.event_source_mapping_status;
	reached text;
	current_state text;
	target text;
	deadline timestamptz := clock_timestamp() + timeout;
BEGIN
	/*
	 * Not the status view: it reads record_store, whose lock, held while
	 * waiting for capture, would keep capture from adding the partition it
	 * may need to catch up.
	 */
	PERFORM FROM orders_stream.event_source_mappings e WHERE e.uuid = mapping;
	IF NOT FOUND THEN
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('event source mapping %s does not exist', coalesce(mapping::text, 'NULL')),
			'orders_stream.list_event_source_mappings() lists the mappings you own.');
	END IF;
	PERFORM orders_stream.wait_for_capture(timeout);
	SELECT s.latest_sequence_number INTO target
	  FROM orders_stream.event_source_mapping_status s WHERE s.uuid = mapping;
	IF target IS NULL THEN
		PERFORM orders_stream.aws_error('AccessDeniedException',
			pg_catalog.format('the owner of event source mapping %s may not read its stream', mapping),
			'The mapping stalls until its owner may SELECT the table again (and bypasses its row-level security).');
	END IF;
	/*
	 * Polled, so cheaply: only the columns it needs (the view computes the
	 * others only when asked), and not so often that the poll takes a
	 * noticeable share of a CPU from the delivery workers it waits for.
	 */
	LOOP
		SELECT s.checkpoint_sequence_number, s.state INTO reached, current_state
		  FROM orders_stream.event_source_mapping_status s WHERE s.uuid = mapping;
		IF reached >= target THEN
			RETURN reached;
		END IF;
		IF current_state = 'Disabled' THEN
			RAISE EXCEPTION 'event source mapping % is disabled', mapping
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = format('Enable it: SELECT orders_stream.update_event_source_mapping(%L, enabled => true);', mapping);
		END IF;
		IF clock_timestamp() > deadline THEN
			SELECT * INTO m FROM orders_stream.event_source_mapping_status s WHERE s.uuid = mapping;
			RAISE EXCEPTION 'event source mapping % did not reach SequenceNumber % within %', mapping, target, timeout
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('Its checkpoint is %s; last result: %s; last error: %s.',
									  nullif(m.checkpoint_sequence_number, ''), m.last_processing_result, m.last_error),
					  HINT = 'See orders_stream.event_source_mapping_status and orders_stream.failures.';
		END IF;
		PERFORM pg_sleep(0.01);
	END LOOP;
END
$$;

CREATE FUNCTION orders_stream.redrive_failures(mapping uuid DEFAULT NULL, failure_ids bigint[] DEFAULT NULL)
RETURNS TABLE (failure_id bigint, result text)
AS 'MODULE_PATHNAME', 'orders_stream_redrive_failures'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.redrive_failures(uuid, bigint[]) IS
'Invokes the mapping function again with the records of your stored failures not yet redriven successfully, and records each outcome';

/*
 * pg_upgrade keeps the OIDs of tables, sequences and roles, but the
 * functions of the upgraded cluster get new ones: a mapping's function_oid
 * then names no function, or another one.  At its start, before it serves
 * any lane, the delivery launcher binds each mapping whose function_name
 * names a function other than function_oid to that function again, by that
 * name (schema-qualified, as created), as resume_restored_streams() does
 * after a restore, and as AWS names a mapping's function: if its owner may
 * still execute it and it may be a target.  A mapping whose function is
 * not found by its name keeps its OID (a function renamed since).  Returns
 * the mappings bound again.
 */
CREATE FUNCTION orders_stream_internal.rebind_functions()
RETURNS SETOF uuid
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT e.uuid, f.fn, c.relowner AS owner
			   FROM orders_stream_internal.event_source_mappings e
			  CROSS JOIN LATERAL (SELECT pg_catalog.to_regprocedure(e.function_name) AS fn) f
			   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) e.anchor
			  WHERE f.fn OPERATOR(pg_catalog.<>) e.function_oid
			  ORDER BY e.uuid FOR UPDATE OF e LOOP
		BEGIN
			PERFORM orders_stream_internal.check_function(m.owner, m.fn);
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'event source mapping % not bound to function %: %', m.uuid, m.fn, SQLERRM;
			CONTINUE;
		END;
		UPDATE orders_stream_internal.event_source_mappings e SET function_oid = m.fn
		 WHERE e.uuid OPERATOR(pg_catalog.=) m.uuid;
		RETURN NEXT m.uuid;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION orders_stream_internal.rebind_functions() FROM PUBLIC;
/*
 * Time to Live (ttl_api.c, ttl_worker.c): the tables whose expired rows the TTL worker
 * deletes, one row per table, written by update_time_to_live as the
 * extension's owner.  search_path is the enabling call's: the worker's
 * deletes run with it, as the table's owner, for the owner's triggers.
 */
CREATE TABLE orders_stream.time_to_live (
	relid		regclass PRIMARY KEY,	/* regclass: a dump names the table, a restore finds it */
	attnum		smallint NOT NULL,
	search_path text NOT NULL,
	enabled_at	timestamptz NOT NULL DEFAULT now(),
	/*
	 * The attribute's name when TTL was enabled: a restore finds the
	 * attribute by it (column numbers change when a dump recreates a table
	 * that had dropped columns).  See attribute_of_ttl_row() below.
	 */
	attribute_name name
);

REVOKE ALL ON orders_stream.time_to_live FROM PUBLIC;

/*
 * update_time_to_live inserts the attribute by number: the name is added
 * here.  A restore (COPY of the dumped row) brings the name and the
 * number of the dumped table: the number is looked up by the name; a row
 * whose attribute is gone is left out, with a warning.
 */
CREATE FUNCTION orders_stream_internal.attribute_of_ttl_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.attribute_name IS NULL THEN
		NEW.attribute_name := (SELECT a.attname FROM pg_attribute a
								WHERE a.attrelid = NEW.relid AND a.attnum = NEW.attnum);
		RETURN NEW;
	END IF;
	NEW.attnum := (SELECT a.attnum FROM pg_attribute a
					WHERE a.attrelid = NEW.relid AND a.attname = NEW.attribute_name AND NOT a.attisdropped);
	IF NEW.attnum IS NULL THEN
		RAISE WARNING 'TimeToLive of table % not restored: it has no column "%"', NEW.relid, NEW.attribute_name
			USING HINT = 'Enable it again with orders_stream.update_time_to_live().';
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER attribute_of_ttl_row BEFORE INSERT ON orders_stream.time_to_live
	FOR EACH ROW EXECUTE FUNCTION orders_stream_internal.attribute_of_ttl_row();

/* As the caller, who must own the table. */
CREATE FUNCTION orders_stream.update_time_to_live(source regclass, attribute_name name,
												  enabled boolean)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_update_time_to_live'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.update_time_to_live(regclass, name, boolean) IS
'UpdateTimeToLive: enables or disables the deletion of expired rows of a table; returns AWS''s TimeToLiveSpecification';

CREATE FUNCTION orders_stream.describe_time_to_live(source regclass)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'orders_stream_describe_time_to_live'
LANGUAGE C STABLE STRICT;

COMMENT ON FUNCTION orders_stream.describe_time_to_live(regclass) IS
'DescribeTimeToLive: {"TimeToLiveDescription": {"TimeToLiveStatus": ..., "AttributeName": ...}}';
/*
 * ---- Access keys of the DynamoDB Streams endpoint ----
 *
 * orders_stream_endpoint (src/endpoint/) verifies AWS Signature Version 4
 * requests and runs each as the role its access key maps to.  SigV4 is an
 * HMAC keyed by the secret itself, so the endpoint must hold the secrets:
 * they live in orders_stream_internal.access_keys, which only the
 * extension's owner can read, and reach the endpoint through
 * orders_stream_internal.endpoint_access_keys(), which only the role
 * orders_stream_endpoint can execute.
 *
 * orders_stream_endpoint is NOINHERIT: it is made a member of each role
 * that has a key, so that it may SET ROLE to it, but it never uses those
 * roles' privileges as itself; as itself it can do nothing but read the
 * keys.  Superusers and roles that may act as the endpoint never get keys.
 */

DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint') THEN
		CREATE ROLE orders_stream_endpoint NOLOGIN NOINHERIT;
	END IF;
END
$$;
COMMENT ON ROLE orders_stream_endpoint IS
'The DynamoDB Streams endpoint of orders_stream: reads the access keys, SET ROLE to the roles they map to (NOINHERIT: no rights of its own)';

CREATE TABLE orders_stream_internal.access_keys (
	access_key_id	text PRIMARY KEY,
	secret_access_key text NOT NULL,
	/* the role, by OID and by name: a dropped role's OID reused by a new role does not inherit its keys */
	role_oid		regrole NOT NULL,	/* regrole: a dump names the role, a restore finds it */
	role_name		name NOT NULL,
	created_by		name NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON orders_stream_internal.access_keys FROM PUBLIC;

/* The endpoint role, checked before it is trusted with a membership: no rights of its own. */
CREATE FUNCTION orders_stream_internal.check_endpoint_role()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint';
	IF NOT FOUND OR r.rolinherit OR r.rolsuper OR r.rolbypassrls OR r.rolcreaterole THEN
		RAISE EXCEPTION 'role "orders_stream_endpoint" must exist and be NOINHERIT, NOSUPERUSER, NOBYPASSRLS, NOCREATEROLE'
			USING ERRCODE = 'invalid_role_specification',
				  HINT = 'ALTER ROLE orders_stream_endpoint NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEROLE: the endpoint must not use the rights of the roles it serves as itself.';
	END IF;
END
$$;

/*
 * A new access key for a role: the caller must be that role, or hold ADMIN
 * OPTION on it (as for GRANT of the role).  Returns the secret once; it is
 * never shown again.
 */
CREATE FUNCTION orders_stream_internal.create_access_key(caller oid, caller_search_path text,
	role regrole, OUT access_key_id text, OUT secret_access_key text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r pg_catalog.pg_roles;
BEGIN
	IF role IS NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', 'role must not be null',
			'Pass the role the key acts as: orders_stream.create_access_key(''reader'').');
	END IF;
	SELECT * INTO r FROM pg_catalog.pg_roles WHERE oid OPERATOR(pg_catalog.=) role;
	IF caller OPERATOR(pg_catalog.<>) r.oid
	   AND NOT pg_catalog.pg_has_role(caller, r.oid, 'MEMBER WITH ADMIN OPTION') THEN
		RAISE EXCEPTION 'permission denied to create an access key for role "%"', r.rolname
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'A role creates its own keys; others need ADMIN OPTION on the role.';
	END IF;
	IF r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint'
	   OR pg_catalog.pg_has_role(r.oid, 'orders_stream_endpoint', 'MEMBER') THEN
		RAISE EXCEPTION 'role "%" cannot have an access key', r.rolname
			USING ERRCODE = 'invalid_role_specification',
				  DETAIL = 'Requests signed with a key run as its role; superusers and roles that may act as orders_stream_endpoint never do.',
				  HINT = 'Create a key for an ordinary role that has SELECT on the streamed tables.';
	END IF;
	PERFORM orders_stream_internal.check_endpoint_role();

	/* AWS's shapes: a 20-character key id, a 40-character secret, from a strong random source */
	access_key_id := 'AKOS' OPERATOR(pg_catalog.||) pg_catalog.upper(pg_catalog.substr(
		pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 1, 16));
	secret_access_key := pg_catalog.substr(pg_catalog.translate(pg_catalog.encode(pg_catalog.sha256(
		pg_catalog.convert_to(pg_catalog.gen_random_uuid()::text OPERATOR(pg_catalog.||)
							  pg_catalog.gen_random_uuid()::text, 'UTF8')), 'base64'), E'=\n', ''), 1, 40);
	INSERT INTO orders_stream_internal.access_keys
		(access_key_id, secret_access_key, role_oid, role_name, created_by)
	VALUES (access_key_id, secret_access_key, r.oid, r.rolname,
			pg_catalog.pg_get_userbyid(caller));
	IF NOT pg_catalog.pg_has_role('orders_stream_endpoint', r.oid, 'MEMBER') THEN
		EXECUTE pg_catalog.format('GRANT %I TO orders_stream_endpoint', r.rolname);
	END IF;
	PERFORM pg_catalog.pg_notify('orders_stream_access_keys', '');
END
$$;

CREATE FUNCTION orders_stream.create_access_key(role regrole,
	OUT access_key_id text, OUT secret_access_key text)
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.create_access_key(regrole) IS
'A new access key (id and secret) of the DynamoDB Streams endpoint; signed requests run as the role';

/*
 * Removes a key: by the key's role, a role with ADMIN OPTION on it, or
 * whoever created the key.  The endpoint drops it from its cache at once
 * (NOTIFY); with the role's last key, the endpoint's membership goes too.
 */
CREATE FUNCTION orders_stream_internal.revoke_access_key(caller oid, caller_search_path text,
	access_key_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k orders_stream_internal.access_keys;
BEGIN
	/* the right is a condition of the scan: a key the caller may not revoke is never locked */
	SELECT * INTO k FROM orders_stream_internal.access_keys a
	 WHERE a.access_key_id OPERATOR(pg_catalog.=) revoke_access_key.access_key_id
	   AND (caller OPERATOR(pg_catalog.=) a.role_oid
			OR pg_catalog.pg_get_userbyid(caller) OPERATOR(pg_catalog.=) a.created_by
			OR (EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) a.role_oid)
				AND pg_catalog.pg_has_role(caller, a.role_oid, 'MEMBER WITH ADMIN OPTION')))
	   FOR UPDATE;
	IF NOT FOUND THEN
		/* the same answer for a key that does not exist and one the caller may not see */
		PERFORM orders_stream.aws_error('ResourceNotFoundException',
			pg_catalog.format('access key "%s" does not exist', access_key_id),
			'orders_stream.access_keys lists the keys of the roles you are a member of.');
	END IF;
	DELETE FROM orders_stream_internal.access_keys a
	 WHERE a.access_key_id OPERATOR(pg_catalog.=) k.access_key_id;
	IF NOT EXISTS (SELECT FROM orders_stream_internal.access_keys a
					WHERE a.role_oid OPERATOR(pg_catalog.=) k.role_oid)
	   AND EXISTS (SELECT FROM pg_catalog.pg_auth_members m, pg_catalog.pg_roles e
				    WHERE m.roleid OPERATOR(pg_catalog.=) k.role_oid
					  AND m.member OPERATOR(pg_catalog.=) e.oid
					  AND e.rolname OPERATOR(pg_catalog.=) 'orders_stream_endpoint') THEN
		EXECUTE pg_catalog.format('REVOKE %I FROM orders_stream_endpoint', k.role_name);
	END IF;
	PERFORM pg_catalog.pg_notify('orders_stream_access_keys', '');
END
$$;

CREATE FUNCTION orders_stream.revoke_access_key(access_key_id text)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_call_internal'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.revoke_access_key(text) IS
'Removes an access key of the DynamoDB Streams endpoint; requests signed with it are refused from then on';

/* The keys of the roles the caller is a member of, without their secrets. */
CREATE VIEW orders_stream.access_keys WITH (security_barrier) AS
SELECT k.access_key_id, k.role_name AS role, k.created_by, k.created_at
  FROM orders_stream_internal.access_keys k, pg_catalog.pg_roles r
 WHERE r.oid OPERATOR(pg_catalog.=) k.role_oid
   AND r.rolname OPERATOR(pg_catalog.=) k.role_name
   AND pg_catalog.pg_has_role(r.oid, 'MEMBER');
GRANT SELECT ON orders_stream.access_keys TO PUBLIC;

/*
 * What the endpoint loads into its cache (at start, on NOTIFY
 * orders_stream_access_keys, and every --keys-refresh): the keys whose role
 * still exists under its name, is no superuser, and the endpoint may SET
 * ROLE to.  Nothing at all while the endpoint role has rights of its own.
 */
CREATE FUNCTION orders_stream_internal.endpoint_access_keys(
	OUT access_key_id text, OUT secret_access_key text, OUT role_name name)
RETURNS SETOF record
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM orders_stream_internal.check_endpoint_role();
	RETURN QUERY
	SELECT k.access_key_id, k.secret_access_key, k.role_name
	  FROM orders_stream_internal.access_keys k, pg_catalog.pg_roles r
	 WHERE r.oid OPERATOR(pg_catalog.=) k.role_oid
	   AND r.rolname OPERATOR(pg_catalog.=) k.role_name
	   AND NOT r.rolsuper
	   AND pg_catalog.pg_has_role('orders_stream_endpoint', r.oid, 'MEMBER');
END
$$;

REVOKE ALL ON FUNCTION orders_stream_internal.endpoint_access_keys() FROM PUBLIC;
GRANT USAGE ON SCHEMA orders_stream_internal TO orders_stream_endpoint;
GRANT EXECUTE ON FUNCTION orders_stream_internal.endpoint_access_keys() TO orders_stream_endpoint;
/* ---- Metrics: AWS's counters, under AWS's names (src/metrics.c) ---- */

/*
 * The counters in shared memory, cumulative since the server started or
 * reset_metrics().  Each returns the rows of the streams the caller may read
 * (may_read(), as readable_streams) and of the mappings of those streams,
 * and nothing else, so PUBLIC may call them: the views below are theirs.
 */
CREATE FUNCTION orders_stream.metrics_mappings(
	OUT mapping_uuid uuid, OUT iterator_age_ms bigint[],
	OUT invocations bigint, OUT errors bigint, OUT throttles bigint,
	OUT destination_delivery_failures bigint,
	OUT polled_event_count bigint, OUT invoked_event_count bigint,
	OUT filtered_out_event_count bigint, OUT failed_invoke_event_count bigint,
	OUT dropped_event_count bigint, OUT on_failure_destination_delivered_event_count bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'orders_stream_metrics_mappings'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_mappings() IS
'Lambda''s event source mapping metrics of the mappings of the streams you may read, from shared memory';

CREATE FUNCTION orders_stream.metrics_streams(
	OUT stream_id bigint, OUT operation text, OUT requests bigint,
	OUT latency_ms_sum double precision, OUT latency_bucket_bounds_ms bigint[],
	OUT latency_buckets bigint[], OUT user_errors bigint, OUT system_errors bigint,
	OUT returned_records bigint, OUT returned_bytes bigint,
	OUT records_stored bigint, OUT bytes_stored bigint, OUT capture_exceptions bigint,
	OUT stats_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'orders_stream_metrics_streams'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_streams() IS
'DynamoDB Streams'' metrics and capture''s of the streams you may read, a row per operation, from shared memory';

/*
 * The read API counts its requests as its caller: a stream the caller may
 * not read is not counted (see src/metrics.c).
 */
CREATE FUNCTION orders_stream.metrics_note_request(stream_arn text, operation text,
												   started timestamptz, records bigint,
												   bytes bigint, sqlstate text)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_metrics_note_request'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_note_request(text, text, timestamptz, bigint, bigint, text) IS
'Counts a DynamoDB Streams request on a stream you may read: served (sqlstate NULL) or failed';

CREATE FUNCTION orders_stream.metrics_reset_time()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'orders_stream_metrics_reset_time'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION orders_stream.metrics_reset_time() IS
'When the metrics started counting: the server''s start or the last reset_metrics()';

/* As pg_stat_reset(): not PUBLIC. */
CREATE FUNCTION orders_stream.reset_metrics()
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_reset_metrics'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION orders_stream.reset_metrics() FROM PUBLIC;

COMMENT ON FUNCTION orders_stream.reset_metrics() IS
'Sets every metric back to zero';

/*
 * Per mapping, as Lambda publishes them for an event source mapping:
 * IteratorAge (ms: the age of the last record of the last batch processed,
 * the largest over the lanes, and per lane in IteratorAgeByLane),
 * ConcurrentExecutions (lanes being served now), and the event counts only
 * with MetricsConfig {"Metrics": ["EventCount"]}, as in AWS.  A mapping is
 * shown to whoever may read its stream.
 */
CREATE VIEW orders_stream.mapping_metrics WITH (security_barrier) AS
SELECT m.uuid,
	   m.function_name,
	   m.event_source_arn,
	   (SELECT pg_catalog.max(a)
		  FROM pg_catalog.unnest(x.iterator_age_ms[0:m.parallelization_factor OPERATOR(pg_catalog.-) 1]) a) AS "IteratorAge",
	   x.iterator_age_ms[0:m.parallelization_factor OPERATOR(pg_catalog.-) 1] AS "IteratorAgeByLane",
	   COALESCE(x.invocations, 0) AS "Invocations",
	   COALESCE(x.errors, 0) AS "Errors",
	   COALESCE(x.throttles, 0) AS "Throttles",
	   COALESCE(x.destination_delivery_failures, 0) AS "DestinationDeliveryFailures",
	   (SELECT pg_catalog.count(*) FROM orders_stream.delivery_workers() w
		 WHERE w.mapping_uuid OPERATOR(pg_catalog.=) m.uuid) AS "ConcurrentExecutions",
	   e.counts AS event_count_enabled,
	   CASE WHEN e.counts THEN COALESCE(x.polled_event_count, 0) END AS "PolledEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.invoked_event_count, 0) END AS "InvokedEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.filtered_out_event_count, 0) END AS "FilteredOutEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.failed_invoke_event_count, 0) END AS "FailedInvokeEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.dropped_event_count, 0) END AS "DroppedEventCount",
	   CASE WHEN e.counts THEN COALESCE(x.on_failure_destination_delivered_event_count, 0) END
		   AS "OnFailureDestinationDeliveredEventCount"
  FROM orders_stream_internal.event_source_mappings m
  JOIN orders_stream.readable_streams s ON s.stream_id OPERATOR(pg_catalog.=) m.stream_id
  LEFT JOIN orders_stream.metrics_mappings() x ON x.mapping_uuid OPERATOR(pg_catalog.=) m.uuid,
	   LATERAL (SELECT COALESCE(m.metrics_config OPERATOR(pg_catalog.->) 'Metrics'
					   OPERATOR(pg_catalog.?) 'EventCount', false) AS counts) e
 WHERE s.readable;

GRANT SELECT ON orders_stream.mapping_metrics TO PUBLIC;

/*
 * Per stream, as DynamoDB Streams publishes them (ReturnedRecordsCount and
 * ReturnedBytes of GetRecords, UserErrors and SystemErrors of every
 * operation), and capture's own: its lag (as stream_status), the records
 * and bytes stored and capture exceptions since stats_reset, and their
 * rates over that time.
 */
CREATE VIEW orders_stream.stream_metrics WITH (security_barrier) AS
SELECT st.stream_arn,
	   st.table_name,
	   COALESCE(x.returned_records, 0) AS "ReturnedRecordsCount",
	   COALESCE(x.returned_bytes, 0) AS "ReturnedBytes",
	   COALESCE(x.user_errors, 0) AS "UserErrors",
	   COALESCE(x.system_errors, 0) AS "SystemErrors",
	   st.capture_lag_bytes,
	   st.capture_lag_seconds,
	   COALESCE(x.records_stored, 0) AS records_stored,
	   COALESCE(x.bytes_stored, 0) AS bytes_stored,
	   (COALESCE(x.records_stored, 0) OPERATOR(pg_catalog./) r.seconds)::double precision AS records_stored_per_second,
	   (COALESCE(x.bytes_stored, 0) OPERATOR(pg_catalog./) r.seconds)::double precision AS bytes_stored_per_second,
	   COALESCE(x.capture_exceptions, 0) AS capture_exceptions,
	   r.stats_reset
  FROM orders_stream.stream_status st
  JOIN orders_stream.readable_streams s ON s.stream_arn OPERATOR(pg_catalog.=) st.stream_arn
  LEFT JOIN (SELECT y.stream_id,
					pg_catalog.min(y.returned_records) AS returned_records,
					pg_catalog.min(y.returned_bytes) AS returned_bytes,
					pg_catalog.sum(y.user_errors)::bigint AS user_errors,
					pg_catalog.sum(y.system_errors)::bigint AS system_errors,
					pg_catalog.min(y.records_stored) AS records_stored,
					pg_catalog.min(y.bytes_stored) AS bytes_stored,
					pg_catalog.min(y.capture_exceptions) AS capture_exceptions
			   FROM orders_stream.metrics_streams() y GROUP BY y.stream_id) x
	ON x.stream_id OPERATOR(pg_catalog.=) s.stream_id,
	   LATERAL (SELECT orders_stream.metrics_reset_time() AS stats_reset) r0,
	   LATERAL (SELECT r0.stats_reset,
					   GREATEST(EXTRACT(epoch FROM pg_catalog.now() OPERATOR(pg_catalog.-) r0.stats_reset), 1) AS seconds) r
 WHERE s.readable;

GRANT SELECT ON orders_stream.stream_metrics TO PUBLIC;

/*
 * Per stream and operation: SuccessfulRequestLatency (ms, the mean; the sum
 * and a histogram for percentiles) and the errors of each operation.
 */
CREATE VIEW orders_stream.stream_operation_metrics WITH (security_barrier) AS
SELECT s.stream_arn,
	   s.table_name,
	   y.operation,
	   y.requests,
	   CASE WHEN y.requests OPERATOR(pg_catalog.>) 0
			THEN y.latency_ms_sum OPERATOR(pg_catalog./) y.requests END AS "SuccessfulRequestLatency",
	   y.latency_ms_sum,
	   y.latency_bucket_bounds_ms,
	   y.latency_buckets,
	   y.user_errors AS "UserErrors",
	   y.system_errors AS "SystemErrors"
  FROM orders_stream.metrics_streams() y
  JOIN orders_stream.readable_streams s ON s.stream_id OPERATOR(pg_catalog.=) y.stream_id
 WHERE s.readable;

GRANT SELECT ON orders_stream.stream_operation_metrics TO PUBLIC;

/*
 * The views above in Prometheus' text exposition format (0.0.4), as the
 * endpoint's GET /metrics answers: counters (_total), gauges and the
 * request latency histogram, labelled by mapping, function, stream, table,
 * lane and operation.  Runs as its caller, through the views, so it shows
 * what the caller may see.
 */
CREATE FUNCTION orders_stream.prometheus_metrics()
RETURNS text
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
WITH families (fam, name, kind, help) AS (VALUES
	(1, 'orders_stream_mapping_iterator_age_seconds', 'gauge', 'IteratorAge: age of the last record of the last batch processed, per lane'),
	(2, 'orders_stream_mapping_invocations_total', 'counter', 'Invocations of the mapping''s function'),
	(3, 'orders_stream_mapping_errors_total', 'counter', 'Errors: invocations that failed'),
	(4, 'orders_stream_mapping_throttles_total', 'counter', 'Throttles: times a lane waited for a delivery worker'),
	(5, 'orders_stream_mapping_destination_delivery_failures_total', 'counter', 'DestinationDeliveryFailures: batches not written to the failure destination'),
	(6, 'orders_stream_mapping_concurrent_executions', 'gauge', 'ConcurrentExecutions: lanes being served now'),
	(7, 'orders_stream_mapping_polled_events_total', 'counter', 'PolledEventCount (MetricsConfig EventCount)'),
	(8, 'orders_stream_mapping_invoked_events_total', 'counter', 'InvokedEventCount (MetricsConfig EventCount)'),
	(9, 'orders_stream_mapping_filtered_out_events_total', 'counter', 'FilteredOutEventCount (MetricsConfig EventCount)'),
	(10, 'orders_stream_mapping_failed_invoke_events_total', 'counter', 'FailedInvokeEventCount (MetricsConfig EventCount)'),
	(11, 'orders_stream_mapping_dropped_events_total', 'counter', 'DroppedEventCount (MetricsConfig EventCount)'),
	(12, 'orders_stream_mapping_on_failure_destination_delivered_events_total', 'counter', 'OnFailureDestinationDeliveredEventCount (MetricsConfig EventCount)'),
	(13, 'orders_stream_stream_returned_records_total', 'counter', 'ReturnedRecordsCount of GetRecords'),
	(14, 'orders_stream_stream_returned_bytes_total', 'counter', 'ReturnedBytes of GetRecords'),
	(15, 'orders_stream_stream_user_errors_total', 'counter', 'UserErrors: requests refused for what they asked'),
	(16, 'orders_stream_stream_system_errors_total', 'counter', 'SystemErrors: requests failed by the server'),
	(17, 'orders_stream_stream_request_latency_seconds', 'histogram', 'SuccessfulRequestLatency'),
	(18, 'orders_stream_capture_lag_bytes', 'gauge', 'WAL not yet captured'),
	(19, 'orders_stream_capture_lag_seconds', 'gauge', 'Time since capture was last up to date, while it lags'),
	(20, 'orders_stream_capture_records_stored_total', 'counter', 'Records stored by capture'),
	(21, 'orders_stream_capture_bytes_stored_total', 'counter', 'Bytes of records stored by capture'),
	(22, 'orders_stream_capture_exceptions_total', 'counter', 'Records stored incomplete (capture_exceptions)')),
mappings AS (
	SELECT m.*, pg_catalog.format('mapping="%s",function="%s",stream="%s"', m.uuid,
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(m.function_name, '\', '\\'), '"', '\"'), E'\n', '\n'),
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(m.event_source_arn, '\', '\\'), '"', '\"'), E'\n', '\n')) AS labels
	  FROM orders_stream.mapping_metrics m),
streams AS (
	SELECT s.*, pg_catalog.format('stream="%s",table="%s"',
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(s.stream_arn, '\', '\\'), '"', '\"'), E'\n', '\n'),
			pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(s.table_name, '\', '\\'), '"', '\"'), E'\n', '\n')) AS labels
	  FROM orders_stream.stream_metrics s),
operations AS (
	SELECT o.*, st.labels OPERATOR(pg_catalog.||) pg_catalog.format(',operation="%s"', o.operation) AS labels
	  FROM orders_stream.stream_operation_metrics o
	  JOIN streams st ON st.stream_arn OPERATOR(pg_catalog.=) o.stream_arn),
samples (fam, labels, value) AS (
	SELECT 1, m.labels OPERATOR(pg_catalog.||) pg_catalog.format(',lane="%s"', a.lane OPERATOR(pg_catalog.-) 1),
		   (a.age OPERATOR(pg_catalog./) 1000.0)::float8::text
	  FROM mappings m, pg_catalog.unnest(m."IteratorAgeByLane") WITH ORDINALITY a(age, lane)
	 WHERE a.age IS NOT NULL
	UNION ALL
	SELECT v.fam, m.labels, v.value::text
	  FROM mappings m,
		   LATERAL (VALUES (2, m."Invocations"), (3, m."Errors"), (4, m."Throttles"),
						   (5, m."DestinationDeliveryFailures"), (6, m."ConcurrentExecutions"),
						   (7, m."PolledEventCount"), (8, m."InvokedEventCount"),
						   (9, m."FilteredOutEventCount"), (10, m."FailedInvokeEventCount"),
						   (11, m."DroppedEventCount"), (12, m."OnFailureDestinationDeliveredEventCount")) v(fam, value)
	 WHERE v.value IS NOT NULL
	UNION ALL
	SELECT v.fam, s.labels, v.value::text
	  FROM streams s,
		   LATERAL (VALUES (13, s."ReturnedRecordsCount"::numeric), (14, s."ReturnedBytes"),
						   (18, s.capture_lag_bytes), (19, s.capture_lag_seconds),
						   (20, s.records_stored), (21, s.bytes_stored), (22, s.capture_exceptions)) v(fam, value)
	 WHERE v.value IS NOT NULL
	UNION ALL
	SELECT v.fam, o.labels, v.value::text
	  FROM operations o,
		   LATERAL (VALUES (15, o."UserErrors"), (16, o."SystemErrors")) v(fam, value)),
histogram (labels, i, line) AS (
	SELECT o.labels, b.i, pg_catalog.format(E'orders_stream_stream_request_latency_seconds_bucket{%s,le="%s"} %s\n',
			o.labels, COALESCE((b.bound OPERATOR(pg_catalog./) 1000.0)::float8::text, '+Inf'), b.cumulative)
	  FROM operations o,
		   LATERAL (SELECT x.bound, pg_catalog.sum(x.n) OVER (ORDER BY x.i) AS cumulative, x.i
					  FROM ROWS FROM (pg_catalog.unnest(o.latency_bucket_bounds_ms),
									  pg_catalog.unnest(o.latency_buckets)) WITH ORDINALITY x(bound, n, i)) b
	UNION ALL
	SELECT o.labels, 1000, pg_catalog.format(E'orders_stream_stream_request_latency_seconds_sum{%s} %s\norders_stream_stream_request_latency_seconds_count{%s} %s\n',
			o.labels, (o.latency_ms_sum OPERATOR(pg_catalog./) 1000.0)::float8, o.labels, o.requests)
	  FROM operations o)
SELECT COALESCE(pg_catalog.string_agg(t.line, '' ORDER BY t.fam, t.labels COLLATE "C", t.i), '')
  FROM (SELECT f.fam, '' AS labels, 0::bigint AS i,
			   pg_catalog.format(E'# HELP %s %s\n# TYPE %s %s\n', f.name, f.help, f.name, f.kind) AS line
		  FROM families f
		UNION ALL
		SELECT f.fam, s.labels, 1, pg_catalog.format(E'%s{%s} %s\n', f.name, s.labels, s.value)
		  FROM samples s JOIN families f ON f.fam OPERATOR(pg_catalog.=) s.fam
		UNION ALL
		SELECT 17, h.labels, h.i, h.line FROM histogram h) t;
END;

COMMENT ON FUNCTION orders_stream.prometheus_metrics() IS
'The metrics you may see, in Prometheus'' text exposition format (the endpoint''s GET /metrics)';
/*
 * The API functions of orders_stream are executable by PUBLIC, as every new
 * function is; the internal ones are not, whoever reaches their schema.
 * Each table's and view's privileges are granted next to it.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA orders_stream_internal FROM PUBLIC;
/*
 * ---- Backup and restore (README "Backup and restore") ----
 *
 * pg_dump keeps the configuration: the tables and sequences marked below.
 * It leaves out the records (every partition of record_store is a member
 * of the extension, see ensure_partition) and what only means something
 * with them: lanes and their checkpoints, stream_trim, stream_counts,
 * capture_progress, capture_exceptions (but not its sequence).  As AWS
 * restores a table with a new stream, a restored database has new streams:
 * SequenceNumbers are positions in the WAL of the dumped cluster, so the
 * old stream could not go on with this cluster's, and its records are not
 * there.
 *
 * The rows of streams and event_source_mappings hold OIDs of the dumped
 * database.  A restore inserts them into a database where the same OIDs
 * may name other tables and functions: they must never be live there.  So
 * a row from another installation of the extension (installation_id()
 * differs) is held in orders_stream_internal.restored instead, and
 * resume_restored_streams() makes it live again by name, once the restore
 * is over: a new stream of the same table and view type, and the mappings
 * of the old one, with their UUIDs, pointed at the new stream from its
 * start.  The capture worker calls it at its first start after the restore
 * (for rows restored before the server started: a restore begins with
 * CREATE EXTENSION, which starts the worker too); the administrator calls
 * it after a pg_restore into a running server.  The sequences are dumped,
 * so no identifier comes back.
 */
CREATE TABLE orders_stream_internal.restored (
	kind		text NOT NULL CHECK (kind IN ('streams', 'event_source_mappings')),
	row			jsonb NOT NULL,
	restored_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON orders_stream_internal.restored FROM PUBLIC;

CREATE FUNCTION orders_stream_internal.hold_restored_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF NEW.installation IS DISTINCT FROM orders_stream_internal.installation_id() THEN
		INSERT INTO orders_stream_internal.restored (kind, row) VALUES (TG_TABLE_NAME, pg_catalog.to_jsonb(NEW));
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER hold_restored_row BEFORE INSERT ON orders_stream.streams
	FOR EACH ROW EXECUTE FUNCTION orders_stream_internal.hold_restored_row();
CREATE TRIGGER hold_restored_row BEFORE INSERT ON orders_stream_internal.event_source_mappings
	FOR EACH ROW EXECUTE FUNCTION orders_stream_internal.hold_restored_row();

/*
 * What pg_dump keeps.  Rows naming a role or table that no longer exists
 * are left out: regrole and regclass would print their bare OIDs, which a
 * restore would take for whatever has that OID there.
 */
SELECT pg_catalog.pg_extension_config_dump('orders_stream.streams', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream.streams_stream_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.event_source_mappings', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.failures',
	'WHERE owner_oid::pg_catalog.oid IN (SELECT r.oid FROM pg_catalog.pg_roles r)');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.failures_failure_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream.capture_exceptions_exception_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('orders_stream.time_to_live',
	'WHERE relid::pg_catalog.oid IN (SELECT c.oid FROM pg_catalog.pg_class c)');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.access_keys',
	'WHERE role_name = (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = role_oid::pg_catalog.oid)');
SELECT pg_catalog.pg_extension_config_dump('orders_stream_internal.restored', '');

/* The table a stream's TableName names now (schema-qualified unless public), if exactly one. */
CREATE FUNCTION orders_stream_internal.table_of_stream_name(table_name text)
RETURNS regclass
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) 1 THEN pg_catalog.min(c.oid)::pg_catalog.regclass END
	  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
	 WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p']::"char"[])
	   AND CASE WHEN n.nspname OPERATOR(pg_catalog.=) 'public' THEN c.relname::pg_catalog.text
			   ELSE n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname END
		   OPERATOR(pg_catalog.=) table_of_stream_name.table_name;
END;

/*
 * Makes the held rows live.  For each stream that was enabled: a new stream
 * of its table (new stream_id, label and ARN; the table's stream enabled
 * since the restore, if any), then each of its mappings, if its function
 * and owner still exist and the owner may still read the table and execute
 * the function: same UUID and settings, a new anchor owned by the same
 * role, lanes from the new stream's start (it holds every change from now
 * on).  What cannot come back is said in a WARNING and dropped.  One row
 * per resumed stream.
 */
CREATE FUNCTION orders_stream.resume_restored_streams(OUT restored_stream_arn text,
	OUT stream_arn text, OUT mappings integer)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h record;
	s orders_stream.streams;
	m orders_stream_internal.event_source_mappings;
	tbl regclass;
	guarded regclass;
	new_id bigint;
	owner oid;
	old_anchor regclass;
BEGIN
	LOCK TABLE orders_stream_internal.restored IN EXCLUSIVE MODE;
	/* new streams get new ids even if the restore has not set the sequence yet */
	PERFORM pg_catalog.setval('orders_stream.streams_stream_id_seq', x.last_id)
	   FROM (SELECT max((r.row->>'stream_id')::bigint) AS last_id FROM orders_stream_internal.restored r
			  WHERE r.kind = 'streams') x
	  WHERE x.last_id >= (SELECT q.last_value FROM orders_stream.streams_stream_id_seq q);
	FOR h IN SELECT * FROM orders_stream_internal.restored r
			  WHERE r.kind = 'streams' ORDER BY (r.row->>'stream_id')::bigint LOOP
		s := jsonb_populate_record(NULL::orders_stream.streams, h.row);
		restored_stream_arn := s.stream_arn;
		stream_arn := NULL;
		mappings := 0;
		tbl := orders_stream_internal.table_of_stream_name(s.table_name);
		IF s.disabled_at IS NOT NULL THEN
			NULL;				/* its records were all it had: not restored */
		ELSIF tbl IS NULL THEN
			RAISE WARNING 'stream "%" not resumed: table "%" does not exist', s.stream_arn, s.table_name;
		ELSE
			SELECT x.stream_id, x.stream_arn INTO new_id, stream_arn FROM orders_stream.streams x
			 WHERE x.relid = tbl AND x.disabled_at IS NULL;
			IF NOT FOUND THEN
				/*
				 * The dump restored the TRUNCATE guards with a normal
				 * dependency on their function, which would make DROP
				 * EXTENSION refuse: enable_stream puts them back as its own.
				 */
				FOR guarded IN SELECT tbl UNION SELECT t.relid FROM pg_partition_tree(tbl) t LOOP
					EXECUTE format('DROP TRIGGER IF EXISTS orders_stream_truncate_guard ON %s', guarded);
				END LOOP;
				stream_arn := orders_stream.enable_stream(tbl, s.view_type, s.set_columns, s.document_column);
				SELECT x.stream_id INTO new_id FROM orders_stream.streams x WHERE x.stream_arn = resume_restored_streams.stream_arn;
			END IF;
		END IF;

		FOR m IN SELECT (jsonb_populate_record(NULL::orders_stream_internal.event_source_mappings, r.row)).*
				   FROM orders_stream_internal.restored r
				  WHERE r.kind = 'event_source_mappings' AND (r.row->>'stream_id')::bigint = s.stream_id LOOP
			old_anchor := to_regclass(format('orders_stream_internal.%I', 'mapping_' || m.uuid));
			owner := (SELECT c.relowner FROM pg_class c WHERE c.oid = old_anchor);
			m.function_oid := to_regprocedure(m.function_name);
			IF old_anchor IS NOT NULL THEN
				EXECUTE format('DROP SEQUENCE %s', old_anchor);
			END IF;
			IF stream_arn IS NULL THEN
				IF s.disabled_at IS NULL THEN
					RAISE WARNING 'event source mapping % not restored: its stream "%" did not come back', m.uuid, s.stream_arn;
				ELSE
					RAISE WARNING 'event source mapping % not restored: its stream "%" was disabled, and its records are not restored', m.uuid, s.stream_arn;
				END IF;
			ELSIF owner IS NULL OR m.function_oid IS NULL THEN
				RAISE WARNING 'event source mapping % not restored: %', m.uuid,
					CASE WHEN owner IS NULL THEN 'its anchor sequence (and so its owner) was not restored'
						 ELSE format('function %s does not exist', m.function_name) END;
			ELSIF NOT orders_stream.may_read(owner, tbl)
				  OR NOT has_function_privilege(owner, m.function_oid, 'EXECUTE') THEN
				RAISE WARNING 'event source mapping % not restored: role "%" may no longer read table "%" or execute function %',
					m.uuid, pg_get_userbyid(owner), s.table_name, m.function_name;
			ELSIF EXISTS (SELECT FROM orders_stream_internal.event_source_mappings e
						   WHERE e.uuid = m.uuid OR (e.stream_id = new_id AND e.function_oid = m.function_oid)) THEN
				RAISE WARNING 'event source mapping % not restored: it, or a mapping of its stream to function %, exists already',
					m.uuid, m.function_name;
			ELSE
				m.stream_id := new_id;
				m.event_source_arn := stream_arn;
				m.anchor := orders_stream_internal.create_anchor(m.uuid, owner);
				m.checkpoint := '';
				m.last_modified := now();
				m.installation := orders_stream_internal.installation_id();
				INSERT INTO orders_stream_internal.event_source_mappings SELECT m.*;
				INSERT INTO orders_stream.event_source_mapping_lanes (mapping_uuid, epoch, lane, lanes, checkpoint)
				SELECT m.uuid, 0, i, m.parallelization_factor, ''
				  FROM generate_series(0, m.parallelization_factor - 1) AS i;
				mappings := mappings + 1;
			END IF;
		END LOOP;
		DELETE FROM orders_stream_internal.restored r
		 WHERE r.kind = 'event_source_mappings' AND (r.row->>'stream_id')::bigint = s.stream_id;
		DELETE FROM orders_stream_internal.restored r
		 WHERE r.kind = 'streams' AND (r.row->>'stream_id')::bigint = s.stream_id;
		IF stream_arn IS NOT NULL THEN
			RETURN NEXT;
		END IF;
	END LOOP;
	FOR m IN SELECT (jsonb_populate_record(NULL::orders_stream_internal.event_source_mappings, r.row)).*
			   FROM orders_stream_internal.restored r WHERE r.kind = 'event_source_mappings' LOOP
		RAISE WARNING 'event source mapping % not restored: its stream "%" is not in the dump', m.uuid, m.event_source_arn;
	END LOOP;
	DELETE FROM orders_stream_internal.restored;
	PERFORM orders_stream_internal.launch_workers();
END
$$;

REVOKE ALL ON FUNCTION orders_stream.resume_restored_streams(),
	orders_stream_internal.hold_restored_row(),
	orders_stream_internal.table_of_stream_name(text) FROM PUBLIC;

COMMENT ON FUNCTION orders_stream.resume_restored_streams() IS
'After a restore: a new stream for each restored enabled stream, and its event source mappings pointed at it';
/* ---- Importing a CloudFormation (CDK) stack's tables, streams, TTL and mappings ---- */

/*
 * Reads the template's AWS::DynamoDB::Table / GlobalTable and
 * AWS::Lambda::EventSourceMapping resources and brings the database to what
 * they describe through the public API only (enable_stream, disable_stream,
 * update_time_to_live, create/update/delete_event_source_mapping), as its
 * caller: it can do nothing the caller could not do by calling those.
 * Returns one row per resource: what it did (or, with dry_run, would do) and
 * what it could not map, and why.
 *
 * A mapping is found again by its (stream, function) pair, AWS's own
 * uniqueness: importing the same template again changes nothing, a changed
 * property updates the mapping, and what CloudFormation replaces (a new
 * StartingPosition, a new stream) is deleted and created again.
 *
 * No SET search_path: the mappings it creates must record the caller's
 * search_path (their functions run with it), and the names in tables and
 * functions are the caller's; so every name and operator here is qualified.
 */
CREATE FUNCTION orders_stream.import_stack(template jsonb, functions jsonb,
										   tables jsonb DEFAULT '{}', dry_run boolean DEFAULT true)
RETURNS TABLE (logical_id text, resource_type text, action text, object text, detail text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	resources pg_catalog.jsonb := template OPERATOR(pg_catalog.->) 'Resources';
	report pg_catalog.jsonb := '[]';
	planned pg_catalog.jsonb := '{}';	/* table logical id -> {"name", "view", "replaced"} */
	res record;
	props pg_catalog.jsonb;
	notes text[];
	ignored text;
	changed boolean;
	act text;
	obj text;
	tname text;
	tbl pg_catalog.regclass;
	cols text[];
	keycols text[];
	key_el pg_catalog.jsonb;
	attr_type text;
	view_type text;
	current_view text;
	doc_col name;
	stream_arn text;
	ttl_attr text;
	ttl_on boolean;
	ttl_now pg_catalog.jsonb;
	ref pg_catalog.jsonb;
	ref_id text;
	fn_key text;
	proc pg_catalog.regprocedure;
	dest text;
	m record;
	mapping uuid;
	changes text[];
	replace_reason text;
	/* a mapping as the template wants it (AWS's defaults where it is silent), and as it is */
	want pg_catalog.jsonb;
	have pg_catalog.jsonb;
	/*
	 * The parameters of create_ and update_event_source_mapping from want
	 * ($1), for EXECUTE: one list for both calls.
	 */
	mapping_params constant text := 'batch_size => ($1 OPERATOR(pg_catalog.->>) ''BatchSize'')::integer, '
		'maximum_batching_window_in_seconds => ($1 OPERATOR(pg_catalog.->>) ''MaximumBatchingWindowInSeconds'')::integer, '
		'bisect_batch_on_function_error => ($1 OPERATOR(pg_catalog.->>) ''BisectBatchOnFunctionError'')::boolean, '
		'maximum_retry_attempts => ($1 OPERATOR(pg_catalog.->>) ''MaximumRetryAttempts'')::integer, '
		'maximum_record_age_in_seconds => ($1 OPERATOR(pg_catalog.->>) ''MaximumRecordAgeInSeconds'')::integer, '
		'parallelization_factor => ($1 OPERATOR(pg_catalog.->>) ''ParallelizationFactor'')::integer, '
		'tumbling_window_in_seconds => ($1 OPERATOR(pg_catalog.->>) ''TumblingWindowInSeconds'')::integer, '
		'function_response_types => ARRAY(SELECT pg_catalog.jsonb_array_elements_text($1 OPERATOR(pg_catalog.->) ''FunctionResponseTypes'')), '
		'enabled => ($1 OPERATOR(pg_catalog.->>) ''Enabled'')::boolean, '
		'filter_criteria => coalesce(pg_catalog.jsonb_strip_nulls($1) OPERATOR(pg_catalog.->) ''FilterCriteria'', ''{}'')';
BEGIN
	IF pg_catalog.jsonb_typeof(template) IS DISTINCT FROM 'object'
	   OR pg_catalog.jsonb_typeof(resources) IS DISTINCT FROM 'object' THEN
		PERFORM orders_stream.aws_error('ValidationException',
			'the template has no "Resources" object',
			'Pass the CloudFormation template as JSON: cdk synth''s output, or cdk.out/<Stack>.template.json.');
	END IF;
	SELECT r.key INTO ref_id FROM pg_catalog.jsonb_each(resources) r
	 WHERE pg_catalog.jsonb_typeof(r.value) IS DISTINCT FROM 'object'
		OR pg_catalog.jsonb_typeof(r.value OPERATOR(pg_catalog.->) 'Type') IS DISTINCT FROM 'string'
		OR (r.value OPERATOR(pg_catalog.?) 'Properties'
			AND pg_catalog.jsonb_typeof(r.value OPERATOR(pg_catalog.->) 'Properties') IS DISTINCT FROM 'object')
	 LIMIT 1;
	IF FOUND THEN
		PERFORM orders_stream.aws_error('ValidationException',
			pg_catalog.format('resource "%s" of the template is not an object with a "Type" string and "Properties" object', ref_id),
			'Every member of "Resources" is {"Type": "AWS::...", "Properties": {...}}.');
	END IF;
	IF pg_catalog.jsonb_typeof(coalesce(functions, '{}')) OPERATOR(pg_catalog.<>) 'object'
	   OR pg_catalog.jsonb_typeof(coalesce(tables, '{}')) OPERATOR(pg_catalog.<>) 'object'
	   OR EXISTS (SELECT FROM pg_catalog.jsonb_each(coalesce(functions, '{}') OPERATOR(pg_catalog.||) coalesce(tables, '{}')) e
				   WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'string') THEN
		PERFORM orders_stream.aws_error('ValidationException',
			'functions and tables must be JSON objects of strings',
			'functions => ''{"echoLambdaA460BF50": "item_totals_aggregator(jsonb)"}'', tables => ''{"OrdersTable315BB997": "orders"}''.');
	END IF;
	IF dry_run IS NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', 'dry_run must not be NULL',
			'true reports what would be done, false does it.');
	END IF;

	/* ---- tables: the table, its stream, its TTL ---- */
	FOR res IN SELECT r.key AS id, r.value OPERATOR(pg_catalog.->>) 'Type' AS type,
					  coalesce(r.value OPERATOR(pg_catalog.->) 'Properties', '{}') AS props
				 FROM pg_catalog.jsonb_each(resources) r
				WHERE r.value OPERATOR(pg_catalog.->>) 'Type' OPERATOR(pg_catalog.=) ANY (ARRAY['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'])
				ORDER BY r.key COLLATE "C"
	LOOP
		props := res.props;
		notes := '{}';
		act := 'none';
		changed := false;
		/* the key schema: HASH, then RANGE, each a typed attribute */
		IF pg_catalog.jsonb_typeof(props OPERATOR(pg_catalog.->) 'KeySchema') IS DISTINCT FROM 'array'
		   OR pg_catalog.jsonb_array_length(props OPERATOR(pg_catalog.->) 'KeySchema') OPERATOR(pg_catalog.>) 2
		   OR props OPERATOR(pg_catalog.#>>) '{KeySchema,0,KeyType}' IS DISTINCT FROM 'HASH'
		   OR (pg_catalog.jsonb_array_length(props OPERATOR(pg_catalog.->) 'KeySchema') OPERATOR(pg_catalog.=) 2
			   AND props OPERATOR(pg_catalog.#>>) '{KeySchema,1,KeyType}' IS DISTINCT FROM 'RANGE')
		   OR pg_catalog.jsonb_typeof(props OPERATOR(pg_catalog.->) 'AttributeDefinitions') IS DISTINCT FROM 'array' THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('table "%s" needs a KeySchema of a HASH key and an optional RANGE key, and AttributeDefinitions', res.id),
				'As in DynamoDB: "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}].');
		END IF;
		cols := '{}';
		keycols := '{}';
		FOR key_el IN SELECT e FROM pg_catalog.jsonb_array_elements(props OPERATOR(pg_catalog.->) 'AttributeDefinitions') e
		LOOP
			attr_type := CASE key_el OPERATOR(pg_catalog.->>) 'AttributeType'
				WHEN 'S' THEN 'text' WHEN 'N' THEN 'numeric' WHEN 'B' THEN 'bytea' END;
			IF attr_type IS NULL OR key_el OPERATOR(pg_catalog.->>) 'AttributeName' IS NULL THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('attribute definition %s of table "%s" is not an AttributeName with an AttributeType S, N or B', key_el, res.id),
					'S becomes text, N numeric, B bytea.');
			END IF;
			IF key_el OPERATOR(pg_catalog.->>) 'AttributeName' OPERATOR(pg_catalog.=) 'item' THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('table "%s" defines an attribute "item", the name of the column holding the other attributes', res.id),
					'Map the table to an existing one with tables => ''{"' OPERATOR(pg_catalog.||) res.id OPERATOR(pg_catalog.||) '": "..."}''.');
			END IF;
			cols := cols OPERATOR(pg_catalog.||) pg_catalog.format('%I %s', key_el OPERATOR(pg_catalog.->>) 'AttributeName', attr_type);
		END LOOP;
		FOR key_el IN SELECT e FROM pg_catalog.jsonb_array_elements(props OPERATOR(pg_catalog.->) 'KeySchema') e
		LOOP
			IF NOT props OPERATOR(pg_catalog.->) 'AttributeDefinitions' OPERATOR(pg_catalog.@>)
				   pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('AttributeName', key_el OPERATOR(pg_catalog.->) 'AttributeName')) THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('key attribute %s of table "%s" has no AttributeDefinition', key_el OPERATOR(pg_catalog.->) 'AttributeName', res.id),
					'Every KeySchema attribute needs its type in AttributeDefinitions.');
			END IF;
			keycols := keycols OPERATOR(pg_catalog.||) pg_catalog.quote_ident(key_el OPERATOR(pg_catalog.->>) 'AttributeName');
		END LOOP;

		/* the table: named in tables (an SQL name), else TableName or the logical id (one identifier) */
		IF tables OPERATOR(pg_catalog.?) res.id THEN
			/* an SQL name, quoted again part by part: it goes into CREATE TABLE */
			BEGIN
				tname := pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(p)
					FROM pg_catalog.unnest(pg_catalog.parse_ident(tables OPERATOR(pg_catalog.->>) res.id)) p), '.');
			EXCEPTION WHEN invalid_parameter_value THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('tables maps "%s" to "%s", which is not a table name', res.id, tables OPERATOR(pg_catalog.->>) res.id),
					'A table name, schema-qualified or not: orders, shop.orders.');
			END;
		ELSE
			tname := pg_catalog.quote_ident(coalesce(props OPERATOR(pg_catalog.->>) 'TableName', res.id));
		END IF;
		tbl := pg_catalog.to_regclass(tname);
		IF tbl IS NULL THEN
			act := 'create';
			ttl_attr := props OPERATOR(pg_catalog.#>>) '{TimeToLiveSpecification,AttributeName}';
			IF ttl_attr IS NOT NULL AND NOT props OPERATOR(pg_catalog.->) 'AttributeDefinitions' OPERATOR(pg_catalog.@>)
					pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('AttributeName', ttl_attr)) THEN
				/* DynamoDB's TTL attribute holds epoch seconds */
				cols := cols OPERATOR(pg_catalog.||) pg_catalog.format('%I numeric', ttl_attr);
			END IF;
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('created table %s (%s, item jsonb: the other attributes)',
				tname, pg_catalog.array_to_string(cols, ', '));
			IF NOT dry_run THEN
				EXECUTE pg_catalog.format('CREATE TABLE %s (%s, item jsonb NOT NULL DEFAULT ''{}'', PRIMARY KEY (%s))',
					tname, pg_catalog.array_to_string(cols, ', '), pg_catalog.array_to_string(keycols, ', '));
				tbl := pg_catalog.to_regclass(tname);
				IF ttl_attr IS NOT NULL THEN
					EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I)', tname, ttl_attr);
				END IF;
			END IF;
		END IF;
		obj := coalesce(tbl::text, tname);

		/* the stream: StreamViewType, a new stream when it changes (as DynamoDB) */
		view_type := props OPERATOR(pg_catalog.#>>) '{StreamSpecification,StreamViewType}';
		IF props OPERATOR(pg_catalog.?) 'StreamSpecification'
		   AND (view_type IS NULL OR view_type OPERATOR(pg_catalog.<>) ALL (ARRAY['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES'])) THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('StreamViewType of table "%s" must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES, got %s', res.id, coalesce(view_type, 'none')),
				'"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}, as CDK''s stream: StreamViewType.NEW_IMAGE.');
		END IF;
		current_view := NULL;
		IF tbl IS NOT NULL THEN
			SELECT s.view_type INTO current_view FROM orders_stream.readable_streams s
			 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.enabled;
		END IF;
		/*
		 * item jsonb, as this function creates it, holds the other
		 * attributes: its members are the item's attributes in the stream
		 * (a document column), on a table created here or mapped in tables.
		 */
		doc_col := CASE WHEN tbl IS NULL THEN 'item'
			ELSE (SELECT a.attname FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) 'item'
					 AND NOT a.attisdropped AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.jsonb'::pg_catalog.regtype) END;
		IF view_type IS NULL AND current_view IS NOT NULL THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('stream %s left enabled: the template has no StreamSpecification (orders_stream.disable_stream() removes it)', current_view);
		ELSIF view_type IS NULL THEN
			notes := notes OPERATOR(pg_catalog.||) 'no StreamSpecification: no stream'::text;
		ELSIF current_view IS NULL THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('stream enabled (%s)', view_type);
			changed := true;
			IF NOT dry_run THEN
				PERFORM orders_stream.enable_stream(tbl, view_type, document_column => doc_col);
			END IF;
		ELSIF current_view OPERATOR(pg_catalog.<>) view_type THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('stream replaced: %s -> %s (a new stream, as DynamoDB makes when the view type changes)', current_view, view_type);
			changed := true;
			IF NOT dry_run THEN
				PERFORM orders_stream.disable_stream(tbl);
				PERFORM orders_stream.enable_stream(tbl, view_type, document_column => doc_col);
			END IF;
		END IF;
		IF view_type IS NOT NULL AND (current_view IS NULL OR current_view OPERATOR(pg_catalog.<>) view_type) AND doc_col IS NOT NULL THEN
			notes := notes OPERATOR(pg_catalog.||) 'the members of item are streamed as top-level attributes (document_column => ''item'')'::text;
		END IF;
		planned := planned OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(res.id,
			pg_catalog.jsonb_build_object('name', tname, 'view', view_type,
				'replaced', current_view IS NOT NULL AND view_type IS NOT NULL AND current_view OPERATOR(pg_catalog.<>) view_type));

		/* Time to Live */
		ttl_attr := props OPERATOR(pg_catalog.#>>) '{TimeToLiveSpecification,AttributeName}';
		ttl_on := NULL;
		IF props OPERATOR(pg_catalog.?) 'TimeToLiveSpecification' THEN
			BEGIN
				ttl_on := coalesce((props OPERATOR(pg_catalog.#>>) '{TimeToLiveSpecification,Enabled}')::boolean, false);
			EXCEPTION WHEN data_exception THEN
				ttl_on := NULL;
			END;
			IF ttl_on IS NULL OR (ttl_on AND ttl_attr IS NULL) THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('TimeToLiveSpecification of table "%s" must have a boolean Enabled and, when enabled, an AttributeName', res.id),
					'"TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": true}.');
			END IF;
		END IF;
		ttl_now := CASE WHEN tbl IS NOT NULL THEN orders_stream.describe_time_to_live(tbl) OPERATOR(pg_catalog.#>) '{TimeToLiveDescription}' END;
		IF ttl_now OPERATOR(pg_catalog.->>) 'TimeToLiveStatus' OPERATOR(pg_catalog.=) 'ENABLED' THEN
			IF ttl_on IS NULL THEN
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('TTL on %s left enabled: the template has no TimeToLiveSpecification', ttl_now OPERATOR(pg_catalog.->>) 'AttributeName');
			ELSIF NOT ttl_on OR ttl_attr OPERATOR(pg_catalog.<>) (ttl_now OPERATOR(pg_catalog.->>) 'AttributeName') THEN
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('TTL on %s disabled', ttl_now OPERATOR(pg_catalog.->>) 'AttributeName');
				changed := true;
				IF NOT dry_run THEN
					PERFORM orders_stream.update_time_to_live(tbl, (ttl_now OPERATOR(pg_catalog.->>) 'AttributeName')::name, false);
				END IF;
				ttl_now := NULL;
			END IF;
		ELSE
			ttl_now := NULL;
		END IF;
		IF ttl_on AND ttl_now IS NULL THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('TTL enabled on %s', ttl_attr);
			changed := true;
			IF NOT dry_run THEN
				PERFORM orders_stream.update_time_to_live(tbl, ttl_attr::name, true);
			END IF;
		END IF;
		IF changed AND act OPERATOR(pg_catalog.=) 'none' THEN
			act := 'update';
			IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('you do not own table %s: its owner must import this', tbl);
			END IF;
		END IF;

		/* the rest, said rather than silently dropped */
		IF props OPERATOR(pg_catalog.?) 'KinesisStreamSpecification' THEN
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: KinesisStreamSpecification (Kinesis sources are not supported)'::text;
		END IF;
		IF props OPERATOR(pg_catalog.?|) ARRAY['GlobalSecondaryIndexes', 'LocalSecondaryIndexes'] THEN
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: secondary indexes (CREATE INDEX on the columns you query)'::text;
		END IF;
		IF props OPERATOR(pg_catalog.?) 'Replicas' THEN
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: Replicas (one table here; README''s Replicas for read replicas)'::text;
		END IF;
		SELECT pg_catalog.string_agg(k, ', ' ORDER BY k COLLATE "C") INTO ignored
		  FROM pg_catalog.jsonb_object_keys(props) k
		 WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['KeySchema', 'AttributeDefinitions', 'TableName', 'StreamSpecification',
					'TimeToLiveSpecification', 'KinesisStreamSpecification', 'GlobalSecondaryIndexes',
					'LocalSecondaryIndexes', 'Replicas']);
		IF ignored IS NOT NULL THEN
			notes := notes OPERATOR(pg_catalog.||) ('ignored: ' OPERATOR(pg_catalog.||) ignored);
		END IF;
		report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 1, 'id', res.id, 'type', res.type,
			'action', act, 'object', obj, 'detail', pg_catalog.array_to_string(notes, '; '));
	END LOOP;

	/* ---- event source mappings ---- */
	FOR res IN SELECT r.key AS id, r.value OPERATOR(pg_catalog.->>) 'Type' AS type,
					  coalesce(r.value OPERATOR(pg_catalog.->) 'Properties', '{}') AS props
				 FROM pg_catalog.jsonb_each(resources) r
				WHERE r.value OPERATOR(pg_catalog.->>) 'Type' OPERATOR(pg_catalog.=) 'AWS::Lambda::EventSourceMapping'
				ORDER BY r.key COLLATE "C"
	LOOP
		props := res.props;
		notes := '{}';
		act := NULL;
		obj := NULL;
		replace_reason := NULL;

		/* the function: a Ref or GetAtt of a Lambda of the template, or a name or ARN */
		ref := props OPERATOR(pg_catalog.->) 'FunctionName';
		fn_key := coalesce(ref OPERATOR(pg_catalog.->>) 'Ref', ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,0}',
						   pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 1),
						   pg_catalog.split_part(pg_catalog.regexp_replace(ref OPERATOR(pg_catalog.#>>) '{}', '^arn:[^:]*:lambda:[^:]*:[^:]*:function:', ''), ':', 1));
		IF fn_key IS NULL OR fn_key OPERATOR(pg_catalog.=) '' THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('event source mapping "%s" has no FunctionName', res.id),
				'FunctionName is a {"Ref": "<logical id of the function>"} or the function''s name.');
		END IF;

		/* the event source: a table of the template, by its StreamArn */
		ref := props OPERATOR(pg_catalog.->) 'EventSourceArn';
		ref_id := coalesce(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,0}', pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 1), ref OPERATOR(pg_catalog.->>) 'Ref');
		IF ref_id IS NULL AND ref OPERATOR(pg_catalog.#>>) '{}' OPERATOR(pg_catalog.~) '^arn:[^:]*:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/' THEN
			SELECT t.key INTO ref_id FROM pg_catalog.jsonb_each(planned) t
			 WHERE t.value OPERATOR(pg_catalog.->>) 'name' OPERATOR(pg_catalog.=)
				   pg_catalog.quote_ident(pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{}', '/', 2));
			IF ref_id IS NULL THEN
				act := 'skip';
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('the stream %s is of a table outside the template: not imported', ref OPERATOR(pg_catalog.#>>) '{}');
			END IF;
		ELSIF coalesce(resources OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'Type'], ref OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.~) '(^AWS::Kinesis::|^arn:[^:]*:kinesis:)' THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: a Kinesis source (only DynamoDB streams are supported)'::text;
		ELSIF ref_id IS NULL OR NOT planned OPERATOR(pg_catalog.?) ref_id THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) CASE WHEN ref IS NULL THEN 'not mapped: no EventSourceArn'
				ELSE pg_catalog.format('not mapped: the event source %s is no DynamoDB table of the template', ref) END;
		ELSIF coalesce(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,1}', pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 2)) IS DISTINCT FROM 'StreamArn' THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('not mapped: EventSourceArn %s is not the StreamArn of table "%s"', ref, ref_id);
		ELSIF planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'view'] IS NULL THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('not mapped: table "%s" has no StreamSpecification', ref_id);
		END IF;

		/* the properties, AWS's defaults for those not given */
		BEGIN
			want := pg_catalog.jsonb_build_object(
				'StartingPosition', props OPERATOR(pg_catalog.->>) 'StartingPosition',
				'BatchSize', coalesce((props OPERATOR(pg_catalog.->>) 'BatchSize')::integer, 100),
				'MaximumBatchingWindowInSeconds', coalesce((props OPERATOR(pg_catalog.->>) 'MaximumBatchingWindowInSeconds')::integer, 0),
				'BisectBatchOnFunctionError', coalesce((props OPERATOR(pg_catalog.->>) 'BisectBatchOnFunctionError')::boolean, false),
				'MaximumRetryAttempts', coalesce((props OPERATOR(pg_catalog.->>) 'MaximumRetryAttempts')::integer, -1),
				'MaximumRecordAgeInSeconds', coalesce((props OPERATOR(pg_catalog.->>) 'MaximumRecordAgeInSeconds')::integer, -1),
				'ParallelizationFactor', coalesce((props OPERATOR(pg_catalog.->>) 'ParallelizationFactor')::integer, 1),
				'TumblingWindowInSeconds', coalesce((props OPERATOR(pg_catalog.->>) 'TumblingWindowInSeconds')::integer, 0),
				'FunctionResponseTypes', pg_catalog.to_jsonb(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
					coalesce(props OPERATOR(pg_catalog.->) 'FunctionResponseTypes', '[]')))),
				'Enabled', coalesce((props OPERATOR(pg_catalog.->>) 'Enabled')::boolean, true),
				/* none as AWS stores it: no filters */
				'FilterCriteria', CASE WHEN props OPERATOR(pg_catalog.#>) '{FilterCriteria,Filters}' OPERATOR(pg_catalog.<>) '[]'
									   THEN props OPERATOR(pg_catalog.->) 'FilterCriteria' END);
		EXCEPTION WHEN data_exception THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('a property of event source mapping "%s" has the wrong type (%s)', res.id, SQLERRM),
				'BatchSize and the other counts are integers, BisectBatchOnFunctionError and Enabled booleans, FunctionResponseTypes a list of strings.');
		END;
		IF want OPERATOR(pg_catalog.->>) 'StartingPosition' OPERATOR(pg_catalog.=) 'AT_TIMESTAMP' THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: StartingPosition AT_TIMESTAMP (Kinesis only; DynamoDB streams start at TRIM_HORIZON or LATEST)'::text;
		ELSIF coalesce(want OPERATOR(pg_catalog.->>) 'StartingPosition', '') OPERATOR(pg_catalog.<>) ALL (ARRAY['TRIM_HORIZON', 'LATEST']) THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('StartingPosition of event source mapping "%s" must be TRIM_HORIZON or LATEST, got %s', res.id, coalesce(want OPERATOR(pg_catalog.->>) 'StartingPosition', 'none')),
				'DynamoDB event sources need a starting position, as in CDK''s startingPosition.');
		END IF;

		/* what the mapping API has no place for: reported */
		IF props OPERATOR(pg_catalog.?) 'DestinationConfig' THEN
			ref := props OPERATOR(pg_catalog.#>) '{DestinationConfig,OnFailure,Destination}';
			dest := coalesce(resources OPERATOR(pg_catalog.#>>) ARRAY[coalesce(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,0}',
							 pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 1), ref OPERATOR(pg_catalog.->>) 'Ref'), 'Type'],
							 ref OPERATOR(pg_catalog.#>>) '{}', '');
			dest := CASE WHEN dest OPERATOR(pg_catalog.~) '(^AWS::SQS::|^arn:[^:]*:sqs:)' THEN 'SQS queue'
						 WHEN dest OPERATOR(pg_catalog.~) '(^AWS::SNS::|^arn:[^:]*:sns:)' THEN 'SNS topic'
						 WHEN dest OPERATOR(pg_catalog.~) '(^AWS::S3::|^arn:[^:]*:s3:)' THEN 'S3 bucket'
						 ELSE 'destination' END;
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('DestinationConfig: failed batches go to orders_stream.failures, not to the %s %s', dest, coalesce(ref::text, props OPERATOR(pg_catalog.->>) 'DestinationConfig'));
		END IF;
		notes := notes OPERATOR(pg_catalog.||) ARRAY(SELECT
				pg_catalog.format('%s: %s', k, CASE
					WHEN k OPERATOR(pg_catalog.=) 'StartingPositionTimestamp' THEN 'ignored (only for AT_TIMESTAMP)'
					WHEN k OPERATOR(pg_catalog.=) 'KmsKeyArn' THEN 'ignored (filter criteria are not encrypted here)'
					WHEN k OPERATOR(pg_catalog.=) 'MetricsConfig' THEN 'ignored (orders_stream.event_source_mapping_status has the counters)'
					WHEN k OPERATOR(pg_catalog.=) 'LoggingConfig' THEN 'ignored (errors are in the server log and orders_stream.failures)'
					WHEN k OPERATOR(pg_catalog.=) 'Tags' THEN 'ignored (mappings have no tags)'
					WHEN k OPERATOR(pg_catalog.=) ANY (ARRAY['ProvisionedPollerConfig', 'ScalingConfig'])
						THEN 'ignored (delivery workers: orders_stream.max_delivery_workers)'
					WHEN k OPERATOR(pg_catalog.=) ANY (ARRAY['AmazonManagedKafkaEventSourceConfig', 'SelfManagedEventSource',
							'SelfManagedKafkaEventSourceConfig', 'SourceAccessConfigurations', 'Topics', 'Queues',
							'DocumentDBEventSourceConfig'])
						THEN 'ignored (not for DynamoDB sources)'
					ELSE 'ignored (not an AWS::Lambda::EventSourceMapping property)' END)
		  FROM pg_catalog.jsonb_object_keys(props) k
		 WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['FunctionName', 'EventSourceArn', 'BatchSize',
					'MaximumBatchingWindowInSeconds', 'BisectBatchOnFunctionError', 'MaximumRetryAttempts',
					'MaximumRecordAgeInSeconds', 'ParallelizationFactor', 'TumblingWindowInSeconds', 'Enabled',
					'FunctionResponseTypes', 'FilterCriteria', 'StartingPosition', 'DestinationConfig'])
		 ORDER BY k COLLATE "C");

		IF act IS NULL THEN
			IF NOT coalesce(functions, '{}') OPERATOR(pg_catalog.?) fn_key THEN
				PERFORM orders_stream.aws_error('InvalidParameterValueException',
					pg_catalog.format('function "%s" of event source mapping "%s" has no entry in functions', fn_key, res.id),
					pg_catalog.format('Name the SQL function taking the Lambda event: functions => ''{"%s": "item_totals_aggregator(jsonb)"}''.', fn_key));
			END IF;
			proc := pg_catalog.to_regprocedure(functions OPERATOR(pg_catalog.->>) fn_key);
			IF proc IS NULL THEN
				PERFORM orders_stream.aws_error('InvalidParameterValueException',
					pg_catalog.format('function %s (for "%s") does not exist', functions OPERATOR(pg_catalog.->>) fn_key, fn_key),
					'Name it with its argument type, in your search_path or qualified: "item_totals_aggregator(jsonb)".');
			END IF;
			/* the mapping of this function on the table's stream, or on a stream it had before */
			tbl := pg_catalog.to_regclass(planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'name']);
			SELECT e.*, s.enabled AS stream_enabled INTO m
			  FROM orders_stream.event_source_mappings e
			  JOIN orders_stream.readable_streams s ON s.stream_id OPERATOR(pg_catalog.=) e.stream_id
			 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND e.function_oid OPERATOR(pg_catalog.=) proc
			 ORDER BY s.enabled DESC, e.created_at DESC
			 LIMIT 1;
			IF NOT FOUND THEN
				act := 'create';
			ELSE
				obj := m.uuid::text;
				have := orders_stream.get_event_source_mapping(m.uuid);
				have := have OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
					'Enabled', have OPERATOR(pg_catalog.->>) 'State' OPERATOR(pg_catalog.=) 'Enabled',
					'FilterCriteria', have OPERATOR(pg_catalog.->) 'FilterCriteria');
				IF NOT m.stream_enabled OR (planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'replaced'])::boolean THEN
					replace_reason := 'the table has a new stream';
				ELSIF (have OPERATOR(pg_catalog.->) 'StartingPosition') OPERATOR(pg_catalog.<>) (want OPERATOR(pg_catalog.->) 'StartingPosition') THEN
					replace_reason := pg_catalog.format('StartingPosition %s -> %s', have OPERATOR(pg_catalog.->>) 'StartingPosition', want OPERATOR(pg_catalog.->>) 'StartingPosition');
				END IF;
				changes := ARRAY(SELECT pg_catalog.format('%s %s -> %s', w.key, coalesce(have OPERATOR(pg_catalog.->) w.key OPERATOR(pg_catalog.#>>) '{}', 'none'),
											 coalesce(w.value OPERATOR(pg_catalog.#>>) '{}', 'none'))
								   FROM pg_catalog.jsonb_each(want) w
								  WHERE (have OPERATOR(pg_catalog.->) w.key) OPERATOR(pg_catalog.<>) w.value
								  ORDER BY w.key COLLATE "C");
				IF replace_reason IS NOT NULL THEN
					act := 'replace';
					notes := pg_catalog.format('mapping %s deleted and created again: %s', m.uuid, replace_reason) OPERATOR(pg_catalog.||) notes;
					IF NOT dry_run THEN
						PERFORM orders_stream.delete_event_source_mapping(m.uuid);
					END IF;
				ELSIF pg_catalog.cardinality(changes) OPERATOR(pg_catalog.>) 0 THEN
					act := 'update';
					notes := changes OPERATOR(pg_catalog.||) notes;
					IF NOT dry_run THEN
						EXECUTE 'SELECT orders_stream.update_event_source_mapping($2, ' OPERATOR(pg_catalog.||) mapping_params OPERATOR(pg_catalog.||) ')'
							USING want, m.uuid;
					END IF;
				ELSE
					act := 'none';
				END IF;
			END IF;
			IF act OPERATOR(pg_catalog.=) ANY (ARRAY['create', 'replace']) THEN
				notes := ARRAY[pg_catalog.format('%s -> %s', planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'name'], proc)]
					OPERATOR(pg_catalog.||) ARRAY(SELECT pg_catalog.format('%s %s', w.key, coalesce(w.value OPERATOR(pg_catalog.#>>) '{}', 'none'))
							FROM pg_catalog.jsonb_each(want) w
						   WHERE props OPERATOR(pg_catalog.?) w.key
						   ORDER BY w.key COLLATE "C")
					OPERATOR(pg_catalog.||) notes;
				IF NOT (want OPERATOR(pg_catalog.->>) 'Enabled')::boolean THEN
					notes := notes OPERATOR(pg_catalog.||) 'created disabled (Enabled: false): update_event_source_mapping(..., enabled => true) starts it'::text;
				END IF;
				obj := NULL;
				IF NOT dry_run THEN
					SELECT s.stream_arn INTO stream_arn FROM orders_stream.readable_streams s
					 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.enabled;
					EXECUTE 'SELECT orders_stream.create_event_source_mapping($2, $3, starting_position => $1 OPERATOR(pg_catalog.->>) ''StartingPosition'', '
						OPERATOR(pg_catalog.||) mapping_params OPERATOR(pg_catalog.||) ')'
						INTO mapping USING want, stream_arn, proc;
					obj := mapping::text;
				END IF;
			END IF;
		END IF;
		report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 3, 'id', res.id, 'type', res.type,
			'action', act, 'object', obj, 'detail', pg_catalog.array_to_string(notes, '; '));
	END LOOP;

	/* ---- every other resource: a line each ---- */
	FOR res IN SELECT r.key AS id, r.value OPERATOR(pg_catalog.->>) 'Type' AS type
				 FROM pg_catalog.jsonb_each(resources) r
				WHERE r.value OPERATOR(pg_catalog.->>) 'Type' OPERATOR(pg_catalog.<>) ALL (ARRAY['AWS::DynamoDB::Table',
						'AWS::DynamoDB::GlobalTable', 'AWS::Lambda::EventSourceMapping'])
	LOOP
		IF res.type OPERATOR(pg_catalog.=) 'AWS::Lambda::Function' AND coalesce(functions, '{}') OPERATOR(pg_catalog.?) res.id THEN
			proc := pg_catalog.to_regprocedure(functions OPERATOR(pg_catalog.->>) res.id);
			report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 2, 'id', res.id, 'type', res.type,
				'action', CASE WHEN proc IS NULL THEN 'skip' ELSE 'map' END, 'object', proc::text,
				'detail', CASE WHEN proc IS NULL THEN pg_catalog.format('function %s does not exist', functions OPERATOR(pg_catalog.->>) res.id)
							   ELSE 'its event source mappings invoke this function' END);
		ELSE
			report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 4, 'id', res.id, 'type', res.type,
				'action', 'skip', 'object', NULL, 'detail', CASE
					WHEN res.type OPERATOR(pg_catalog.=) 'AWS::Lambda::Function' THEN 'no entry in functions: not imported'
					WHEN res.type OPERATOR(pg_catalog.=) ANY (ARRAY['AWS::SQS::Queue', 'AWS::SNS::Topic', 'AWS::S3::Bucket'])
						THEN 'not imported: failed batches go to orders_stream.failures'
					WHEN res.type OPERATOR(pg_catalog.~) '^AWS::IAM::' THEN 'not imported: PostgreSQL privileges (GRANT) take the place of IAM'
					WHEN res.type OPERATOR(pg_catalog.~) '^AWS::Kinesis::' THEN 'not imported: Kinesis is not supported'
					WHEN res.type OPERATOR(pg_catalog.=) 'AWS::CDK::Metadata' THEN 'not imported: CDK metadata'
					ELSE 'not imported: a resource type import_stack does not know' END);
		END IF;
	END LOOP;

	RETURN QUERY
		SELECT r OPERATOR(pg_catalog.->>) 'id', r OPERATOR(pg_catalog.->>) 'type', r OPERATOR(pg_catalog.->>) 'action',
			   r OPERATOR(pg_catalog.->>) 'object', r OPERATOR(pg_catalog.->>) 'detail'
		  FROM pg_catalog.jsonb_array_elements(report) r
		 ORDER BY (r OPERATOR(pg_catalog.->>) 'o')::integer, r OPERATOR(pg_catalog.->>) 'id' COLLATE "C";
END
$$;

COMMENT ON FUNCTION orders_stream.import_stack(jsonb, jsonb, jsonb, boolean) IS
'Imports a CloudFormation (CDK) template''s DynamoDB tables, streams, TTL and event source mappings; one report row per resource (dry_run, the default, changes nothing)';
/* Start the workers now: capture creates the slot once this transaction commits. */
SELECT orders_stream_internal.launch_workers();
