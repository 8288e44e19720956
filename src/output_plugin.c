/*-------------------------------------------------------------------------
 * output_plugin.c
 *	  The "orders_stream" logical decoding output plugin: one DynamoDB stream
 *	  record (the JSON a Lambda handler finds in event.Records[i]) per change
 *	  of a table whose stream is enabled as of that change.
 *
 * Whether a table is streamed, and how, is read from orders_stream.streams
 * through the historic snapshot of the change (the table is a user catalog
 * table), and cached per relation until a relcache invalidation of that
 * relation: enable_stream and disable_stream send one for the table and its
 * partitions.  Nothing here writes to a table.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_index.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/logical.h"
#include "replication/output_plugin.h"
#include "replication/origin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "compat.h"
#include "orders_stream.h"
#include "output_plugin.h"
#include "record.h"
#include "record_store.h"

/* How a relation's changes are streamed, as of the current change. */
typedef struct RelStream
{
	Oid			relid;			/* hash key: the changed relation */
	bool		valid;
	bool		streamed;
	int64		stream_id;
	bool		want_new;
	bool		want_old;
	char	   *view_type;
	char	   *arn;
	OsStreamEnvelope env;		/* the stream's constant JSON */
	Size		prefix_len;		/* bytes of a record before its body */
	int			natts;			/* of the changed relation's descriptor */
	bool	   *is_key;			/* per attribute of the changed relation */
	bool	   *as_set;
	int			document_attr;	/* the document column's index, or -1 */
	bool		warned_identity;	/* warned that old rows are incomplete */
	MemoryContext cxt;			/* holds the strings and arrays above */
} RelStream;

typedef struct DecodingState
{
	MemoryContext change_cxt;	/* reset after every change */
	uint32		position;		/* records emitted so far in this transaction */
	OsRecordInfo current;
	bool		emit_closes;	/* write CLOSE events (the capture worker) */
	/* TTL: the transaction is the TTL worker's (its origin), see ttl_worker.c */
	bool		ttl_delete;
	RepOriginId ttl_origin;		/* ORDERS_STREAM_TTL_ORIGIN, once looked up */
	bool		emit_bodies;	/* write stored bodies (the capture worker) */
	bool		in_stream;		/* in a stream_change callback, */
	TransactionId stream_xid;	/* of this transaction */
	TransactionId stream_subxid;	/* and this subtransaction */
	StringInfoData body;		/* a record's body, when writing whole records */
	Oid			streams_relid;	/* orders_stream.streams, once looked up */
} DecodingState;

/*
 * Relcache invalidation callbacks cannot be unregistered, so the cache they
 * clear lives at backend level, like pgoutput's RelationSyncCache; it is
 * rebuilt by each decoding session.
 */
static HTAB *RelStreams = NULL;
static bool relcache_callback_registered = false;

void		_PG_output_plugin_init(OutputPluginCallbacks *cb);

static void
invalidate_rel_stream(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RelStream  *entry;

	if (RelStreams == NULL)
		return;
	if (OidIsValid(relid))
	{
		entry = hash_search(RelStreams, &relid, HASH_FIND, NULL);
		if (entry)
			entry->valid = false;
		return;
	}
	hash_seq_init(&status, RelStreams);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

const char *
output_plugin_exception_reason(OsRecordException exception)
{
	switch (exception)
	{
		case OS_RECORD_COMPLETE:
			break;
		case OS_RECORD_IMAGES_DROPPED:
			return "record larger than orders_stream.max_record_size: stored without NewImage and OldImage";
		case OS_RECORD_KEYS_DROPPED:
			return "Keys larger than orders_stream.max_record_size: stored without Keys, NewImage and OldImage";
	}
	return NULL;
}

const OsRecordInfo *
output_plugin_current_record(LogicalDecodingContext *ctx)
{
	return &((DecodingState *) ctx->output_plugin_private)->current;
}

/*
 * The plugin's options, all parsed here, as wal2json parses its own: each a
 * boolean, "on" when given without a value.
 */
static void
parse_options(DecodingState *state, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);
		bool	   *value;

		if (strcmp(elem->defname, OUTPUT_PLUGIN_CLOSE_EVENTS) == 0)
			value = &state->emit_closes;
		else if (strcmp(elem->defname, OUTPUT_PLUGIN_STORED_BODIES) == 0)
			value = &state->emit_bodies;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of output plugin \"%s\" is unknown",
							elem->defname, ORDERS_STREAM_PLUGIN),
					 errhint("The \"%s\" output plugin takes the options \"%s\" and \"%s\" (booleans).",
							 ORDERS_STREAM_PLUGIN, OUTPUT_PLUGIN_CLOSE_EVENTS,
							 OUTPUT_PLUGIN_STORED_BODIES)));
		if (elem->arg == NULL)
			*value = true;
		else if (!parse_bool(strVal(elem->arg), value))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("option \"%s\" of output plugin \"%s\" requires a Boolean value, not \"%s\"",
							elem->defname, ORDERS_STREAM_PLUGIN, strVal(elem->arg))));
	}
}

static void
os_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
		   bool is_init)
{
	DecodingState *state;

	state = MemoryContextAllocZero(ctx->context, sizeof(DecodingState));
	parse_options(state, ctx->output_plugin_options);
	state->change_cxt = AllocSetContextCreate(ctx->context,
											  "orders_stream change",
											  ALLOCSET_DEFAULT_SIZES);
	initStringInfo(&state->body);
	ctx->output_plugin_private = state;
	/* whole transactions at their commit, unless the worker asks */
	ctx->streaming = state->emit_bodies;
	opt->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	opt->receive_rewrites = false;

	if (RelStreams == NULL)
		RelStreams = record_oid_cache_create("orders_stream relation streams",
											 sizeof(RelStream));
	if (!relcache_callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_rel_stream, (Datum) 0);
		relcache_callback_registered = true;
	}
}

static void
os_shutdown(LogicalDecodingContext *ctx)
{
	HASH_SEQ_STATUS status;
	RelStream  *entry;

	if (RelStreams == NULL)
		return;
	hash_seq_init(&status, RelStreams);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->cxt)
			MemoryContextDelete(entry->cxt);
	hash_destroy(RelStreams);
	RelStreams = NULL;
}

/*
 * TTL: whether a transaction is the TTL worker's, by its replication origin
 * (the origin is looked up again only when another one shows up).
 */
static bool
is_ttl_origin(DecodingState *state, RepOriginId origin)
{
	if (origin == InvalidRepOriginId || origin == DoNotReplicateId)
		return false;
	if (origin != state->ttl_origin)
		state->ttl_origin = replorigin_by_name(ORDERS_STREAM_TTL_ORIGIN, true);
	return origin == state->ttl_origin;
}

static void
os_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	DecodingState *state = ctx->output_plugin_private;

	state->position = 0;
	state->in_stream = false;
	state->ttl_delete = is_ttl_origin(state, txn->origin_id);
}

static void
os_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		  XLogRecPtr commit_lsn)
{
}

/* Attribute number (0-based) of a column name in a descriptor, or -1. */
static int
attr_index(TupleDesc desc, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return i;
	}
	return -1;
}

static void
mark_columns(TupleDesc desc, bool *flags, Datum names)
{
	ArrayType  *arr = DatumGetArrayTypeP(names);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	deconstruct_array(arr, NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		int			idx;

		if (nulls[i])
			continue;
		idx = attr_index(desc, NameStr(*DatumGetName(elems[i])));
		if (idx >= 0)
			flags[idx] = true;
	}
}

/*
 * Key columns: the stream table's primary key as of the change, so that a
 * renamed key column keeps its place; the key recorded at enable time if the
 * primary key has gone.
 */
static void
mark_key_columns(RelStream *entry, TupleDesc desc, Oid stream_relid,
				 Datum recorded_keys)
{
	Relation	srcrel = RelationIdGetRelation(stream_relid);
	Oid			pkoid = InvalidOid;

	if (RelationIsValid(srcrel))
	{
		pkoid = RelationGetPrimaryKeyIndex(srcrel);
		if (OidIsValid(pkoid))
		{
			Relation	idx = RelationIdGetRelation(pkoid);
			TupleDesc	srcdesc = RelationGetDescr(srcrel);
			int			i;

			for (i = 0; i < idx->rd_index->indnkeyatts; i++)
			{
				AttrNumber	attno = idx->rd_index->indkey.values[i];
				int			leaf;

				leaf = attr_index(desc,
								  NameStr(TupleDescAttr(srcdesc, attno - 1)->attname));
				if (leaf >= 0)
					entry->is_key[leaf] = true;
			}
			RelationClose(idx);
		}
		RelationClose(srcrel);
	}
	if (!OidIsValid(pkoid))
		mark_columns(desc, entry->is_key, recorded_keys);
}

/*
 * Looks up the enabled stream of relid in orders_stream.streams, as of the
 * historic snapshot.  Fills entry and returns true if there is one.
 */
static bool
read_stream(RelStream *entry, Relation rel, Oid streams_relid, Oid relid)
{
	Relation	streams = table_open(streams_relid, AccessShareLock);
	TupleDesc	sdesc = RelationGetDescr(streams);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;
	AttrNumber	a_relid = get_attnum(streams_relid, "relid");
	AttrNumber	a_disabled = get_attnum(streams_relid, "disabled_at");

	ScanKeyInit(&key, a_relid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(streams, InvalidOid, false, NULL, 1, &key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;
		MemoryContext old;
		TupleDesc	desc = RelationGetDescr(rel);
		Datum		document;

		(void) heap_getattr(tup, a_disabled, sdesc, &isnull);
		if (!isnull)
			continue;

		found = true;
		old = MemoryContextSwitchTo(entry->cxt);
		entry->stream_id = DatumGetInt64(heap_getattr(tup, get_attnum(streams_relid, "stream_id"),
													  sdesc, &isnull));
		entry->view_type = TextDatumGetCString(heap_getattr(tup, get_attnum(streams_relid, "view_type"),
															sdesc, &isnull));
		entry->arn = TextDatumGetCString(heap_getattr(tup, get_attnum(streams_relid, "stream_arn"),
													  sdesc, &isnull));
		entry->want_new = (strcmp(entry->view_type, "NEW_IMAGE") == 0 ||
						   strcmp(entry->view_type, "NEW_AND_OLD_IMAGES") == 0);
		entry->want_old = (strcmp(entry->view_type, "OLD_IMAGE") == 0 ||
						   strcmp(entry->view_type, "NEW_AND_OLD_IMAGES") == 0);
		record_envelope_init(&entry->env, entry->arn, entry->view_type);
		entry->prefix_len = record_envelope_prefix_len(&entry->env);

		entry->natts = desc->natts;
		entry->is_key = palloc0(sizeof(bool) * desc->natts);
		entry->as_set = palloc0(sizeof(bool) * desc->natts);
		mark_key_columns(entry, desc, relid,
						 heap_getattr(tup, get_attnum(streams_relid, "key_columns"),
									  sdesc, &isnull));
		mark_columns(desc, entry->as_set,
					 heap_getattr(tup, get_attnum(streams_relid, "set_columns"),
								  sdesc, &isnull));
		document = heap_getattr(tup, get_attnum(streams_relid, "document_column"),
								sdesc, &isnull);
		entry->document_attr = isnull ? -1 :
			attr_index(desc, NameStr(*DatumGetName(document)));
		MemoryContextSwitchTo(old);
	}
	systable_endscan(scan);
	table_close(streams, AccessShareLock);
	return found;
}

static RelStream *
get_rel_stream(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	RelStream  *entry;
	bool		found;
	Oid			nsp;
	Oid			streams_relid = InvalidOid;

	entry = hash_search(RelStreams, &relid, HASH_ENTER, &found);
	if (found && entry->valid)
		return entry;

	if (found && entry->cxt)
		MemoryContextReset(entry->cxt);
	else
		entry->cxt = AllocSetContextCreate(CacheMemoryContext,
										   "orders_stream relation stream",
										   ALLOCSET_SMALL_SIZES);
	entry->streamed = false;
	entry->valid = true;
	entry->warned_identity = false;

	nsp = get_namespace_oid(ORDERS_STREAM_SCHEMA, true);
	if (OidIsValid(nsp))
		streams_relid = get_relname_relid("streams", nsp);
	if (OidIsValid(streams_relid))
	{
		/* a partition's changes belong to its topmost streamed ancestor */
		List	   *candidates = NIL;
		int			i;

		if (rel->rd_rel->relispartition)
			candidates = get_partition_ancestors(relid);
		candidates = lcons_oid(relid, candidates);
		for (i = list_length(candidates) - 1; i >= 0 && !entry->streamed; i--)
			entry->streamed = read_stream(entry, rel, streams_relid,
										  list_nth_oid(candidates, i));
		list_free(candidates);
	}
	return entry;
}

/* Binary equality of two values of one attribute, whatever their TOAST state. */
static bool
values_equal(Form_pg_attribute att, Datum a, bool anull, Datum b, bool bnull)
{
	if (anull || bnull)
		return anull == bnull;
	if (att->attlen == -1)
	{
		struct varlena *va = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(a));
		struct varlena *vb = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(b));

		return VARSIZE_ANY_EXHDR(va) == VARSIZE_ANY_EXHDR(vb) &&
			memcmp(VARDATA_ANY(va), VARDATA_ANY(vb), VARSIZE_ANY_EXHDR(va)) == 0;
	}
	return datumIsEqual(a, b, att->attbyval, att->attlen);
}

static bool
keys_equal(RelStream *rs, TupleDesc desc, Datum *v1, bool *n1,
		   Datum *v2, bool *n2)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
		if (rs->is_key[i] &&
			!values_equal(TupleDescAttr(desc, i), v1[i], n1[i], v2[i], n2[i]))
			return false;
	return true;
}

/* The attributes a document column's value renders as, alone. */
static char *
render_document(RelStream *rs, TupleDesc desc, Datum *values, bool *nulls)
{
	DdbRender	render = {0};
	StringInfoData buf;
	bool	   *include = palloc0(sizeof(bool) * desc->natts);

	include[rs->document_attr] = true;
	initStringInfo(&buf);
	(void) ddb_append_image(&render, &buf, desc, values, nulls, include,
							NULL, rs->document_attr);
	ddb_end(&render);
	return buf.data;
}

/*
 * Whether two rows are the same item: equal values, except that documents
 * that differ may still render the same attributes (NULL and {}, DynamoDB
 * JSON and its plain equivalent, a member a column hides): an update of
 * those changes no attribute, and DynamoDB writes no record for it.
 */
static bool
rows_equal(RelStream *rs, TupleDesc desc, Datum *v1, bool *n1, Datum *v2,
		   bool *n2)
{
	bool		document_equal = true;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped ||
			values_equal(att, v1[i], n1[i], v2[i], n2[i]))
			continue;
		if (i != rs->document_attr)
			return false;
		document_equal = false;
	}
	return document_equal ||
		strcmp(render_document(rs, desc, v1, n1),
			   render_document(rs, desc, v2, n2)) == 0;
}

static void
truncate_buffer(StringInfo buf, int len)
{
	buf->len = len;
	buf->data[len] = '\0';
}

/*
 * The current record's info, for the next record (or CLOSE event) of txn:
 * complete, numbered after the previous one.
 */
static OsRecordInfo *
start_record_info(DecodingState *state, ReorderBufferTXN *txn, int64 stream_id,
				  const char *event_name)
{
	OsRecordInfo *info = &state->current;

	memset(info, 0, sizeof(*info));
	info->stream_id = stream_id;
	info->streamed = state->in_stream;
	info->xid = state->stream_xid;
	info->subxid = state->stream_subxid;
	info->commit_time = txn->xact_time.commit_time;
	info->commit_lsn = txn->final_lsn;
	info->event_name = event_name;
	info->exception = OS_RECORD_COMPLETE;
	info->position = ++state->position;
	record_format_sequence_number(info->sequence_number, txn->final_lsn,
							  info->position);
	return info;
}

/*
 * Appends ,"name":image; an image over orders_stream.max_record_size is
 * left out whole.  Returns its size, 0 if left out.
 */
static Size
append_image(DdbRender *render, StringInfo out, const char *name,
			 RelStream *rs, TupleDesc desc, Datum *values, bool *nulls,
			 const bool *include)
{
	int			start = out->len;
	Size		size;

	appendStringInfo(out, ",\"%s\":", name);
	size = ddb_append_image(render, out, desc, values, nulls, include,
							rs->as_set, rs->document_attr);
	if (!render->exceeded)
		return size;
	truncate_buffer(out, start);
	return 0;
}

/*
 * Writes one record.  What varies per record, its body (the members of
 * "dynamodb" before SequenceNumber: ApproximateCreationDateTime, Keys,
 * NewImage, OldImage), is rendered into a scratch buffer for SQL consumers,
 * which get the whole record around it, and straight into the output buffer
 * for the capture worker, without ApproximateCreationDateTime: the commit
 * time of a streamed transaction is not known yet, and the worker stores
 * the body with it (see capture.c).
 *
 * In a streamed transaction, the position (and so the SequenceNumber) is not
 * known either: the worker numbers the records at the commit, once it knows
 * which subtransactions aborted.
 *
 * oldv, when given, supplies Keys if newv does not; it supplies OldImage
 * only if old_complete (it is the whole old row, not just its key).
 */
static void
emit_record(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			RelStream *rs, TupleDesc desc, const char *event_name,
			Datum *newv, bool *newn, const bool *new_include,
			Datum *oldv, bool *oldn, bool old_complete)
{
	DecodingState *state = ctx->output_plugin_private;
	OsRecordInfo *info = start_record_info(state, txn, rs->stream_id, event_name);
	DdbRender	render = {0};
	StringInfo	out;
	Size		size;
	int			part_start;

	OutputPluginPrepareWrite(ctx, true);
	render.limit = orders_stream_max_record_size;
	render.outside = rs->prefix_len;
	if (state->emit_bodies)
	{
		out = ctx->out;
		/* the worker adds it: count it as the record's all the same */
		render.outside += record_creation_time_len(info->streamed ? GetCurrentTimestamp() :
											   info->commit_time);
		render.start = out->len;
	}
	else
	{
		out = &state->body;
		resetStringInfo(out);
		render.start = out->len;
		record_append_creation_time(out, info->commit_time);
	}
	appendStringInfoString(out, "\"Keys\":");

	/*
	 * Over orders_stream.max_record_size, rendering stops (see record.c) and
	 * what it left is cut off: the record keeps its Keys and loses its images
	 * (or, with Keys over the limit, keeps nothing), and is flagged for a
	 * capture_exceptions row.
	 */
	part_start = out->len;
	size = ddb_append_keys(&render, out, desc, newv ? newv : oldv,
						   newv ? newn : oldn, rs->is_key);
	if (render.exceeded)
	{
		truncate_buffer(out, part_start);
		appendStringInfoString(out, "{}");
		size = 0;
		info->exception = OS_RECORD_KEYS_DROPPED;
	}
	/* delivery lanes: a hash of the Keys object exactly as rendered */
	info->key_hash = (int32) hash_bytes((const unsigned char *) out->data + part_start,
										out->len - part_start);
	if (newv && rs->want_new && !render.exceeded)
		size += append_image(&render, out, "NewImage", rs, desc, newv, newn,
							 new_include);
	if (oldv && rs->want_old && old_complete && !render.exceeded)
		size += append_image(&render, out, "OldImage", rs, desc, oldv, oldn,
							 NULL);
	if (render.exceeded)
	{
		if (info->exception == OS_RECORD_COMPLETE)
			info->exception = OS_RECORD_IMAGES_DROPPED;
		info->full_size = render.estimated_size;
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s record %s of stream %s exceeds orders_stream.max_record_size",
						event_name,
						info->streamed ? psprintf("of transaction %u", txn->xid) :
						info->sequence_number, rs->arn),
				 errdetail("The record would take at least %zu bytes, the limit is %d bytes; it is stored %s.",
						   render.estimated_size, orders_stream_max_record_size,
						   info->exception == OS_RECORD_KEYS_DROPPED ?
						   "without Keys, NewImage and OldImage" :
						   "with its Keys, without NewImage and OldImage"),
				 errhint("Raise orders_stream.max_record_size (at most 128MB) to capture such records whole; the capture worker lists them in orders_stream.capture_exceptions.")));
	}
	ddb_end(&render);
	info->size_bytes = size;
	/* TTL: AWS's mark of a delete by the TTL service, on its REMOVE records only */
	info->ttl_delete = state->ttl_delete && strcmp(event_name, "REMOVE") == 0;
	if (!state->emit_bodies)
		record_append(ctx->out, &rs->env, info->sequence_number, event_name,
						 out->data, out->len, size, info->ttl_delete);
	OutputPluginWrite(ctx, true);
}

static void
deform(HeapTuple tuple, TupleDesc desc, Datum **values, bool **nulls)
{
	*values = palloc(sizeof(Datum) * desc->natts);
	*nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(tuple, desc, *values, *nulls);
}

/*
 * An unchanged TOASTed value is not in the WAL of an UPDATE; with REPLICA
 * IDENTITY FULL the old tuple holds it in full.  Without an old tuple the
 * value is left out of NewImage (never a placeholder): returns the include
 * flags then, NULL when every value is present.
 */
static bool *
fill_unchanged_toast(TupleDesc desc, Datum *newv, bool *newn,
					 Datum *oldv, bool *oldn)
{
	bool	   *include = NULL;
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->attlen != -1 || newn[i] ||
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(newv[i])))
			continue;
		if (oldv && !oldn[i])
			newv[i] = oldv[i];
		else
		{
			if (include == NULL)
			{
				include = palloc(sizeof(bool) * desc->natts);
				memset(include, true, sizeof(bool) * desc->natts);
			}
			include[i] = false;
		}
	}
	return include;
}

/*
 * The update of orders_stream.streams that disables a stream (disable_stream,
 * or the sql_drop trigger) closes its shard at the commit of the disabling
 * transaction: a CLOSE event, numbered like a record of that transaction,
 * after every record of the stream (they all committed before it: the
 * disable holds SHARE ROW EXCLUSIVE on the table and its partitions, so no
 * transaction that wrote to them commits after it).  Only for a consumer
 * that asked for CLOSE events; it writes no JSON.
 */
static void
emit_close(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		   Relation streams, ReorderBufferChange *change)
{
	DecodingState *state = ctx->output_plugin_private;
	TupleDesc	desc = RelationGetDescr(streams);
	Oid			relid = RelationGetRelid(streams);
	HeapTuple	tup;
	bool		isnull;
	Datum		stream_id;

	if (change->action != REORDER_BUFFER_CHANGE_UPDATE ||
		change->data.tp.newtuple == NULL)
		return;
	tup = &change->data.tp.newtuple->tuple;
	(void) heap_getattr(tup, get_attnum(relid, "disabled_at"), desc, &isnull);
	if (isnull)
		return;
	stream_id = heap_getattr(tup, get_attnum(relid, "stream_id"), desc, &isnull);
	if (isnull)
		return;

	(void) start_record_info(state, txn, DatumGetInt64(stream_id), OS_CLOSE_EVENT);
	OutputPluginPrepareWrite(ctx, true);
	OutputPluginWrite(ctx, true);
}

static void
os_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
		  Relation relation, ReorderBufferChange *change)
{
	DecodingState *state = ctx->output_plugin_private;
	RelStream  *rs;
	TupleDesc	desc = RelationGetDescr(relation);
	MemoryContext old;
	Datum	   *newv = NULL;
	bool	   *newn = NULL;
	Datum	   *oldv = NULL;
	bool	   *oldn = NULL;
	bool	   *new_include = NULL;
	bool		old_complete;

	/*
	 * The replay of a large transaction calls here for each change, and
	 * nowhere else checks for interrupts meanwhile: a cancel, or the
	 * postmaster's death in the capture worker (see worker_signals()).
	 */
	CHECK_FOR_INTERRUPTS();

	if (state->emit_closes)
	{
		if (!OidIsValid(state->streams_relid))
		{
			Oid			nsp = get_namespace_oid(ORDERS_STREAM_SCHEMA, true);

			if (OidIsValid(nsp))
				state->streams_relid = get_relname_relid("streams", nsp);
		}
		if (RelationGetRelid(relation) == state->streams_relid)
		{
			emit_close(ctx, txn, relation, change);
			return;
		}
	}

	rs = get_rel_stream(relation);
	if (!rs->streamed)
		return;

	/*
	 * Without REPLICA IDENTITY FULL (which enable_stream sets, but which a
	 * partition created later, or an ALTER TABLE, may lack) the WAL has no
	 * old row but at most its key: OldImage is left out rather than made up
	 * of NULLs, and so are unchanged TOASTed values from NewImage.
	 */
	old_complete = (relation->rd_rel->relreplident == REPLICA_IDENTITY_FULL);
	if (!old_complete && !rs->warned_identity)
	{
		rs->warned_identity = true;
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" of stream %s does not have REPLICA IDENTITY FULL",
						RelationGetRelationName(relation), rs->arn),
				 errdetail("Its records lack OldImage and unchanged TOASTed values in NewImage: the write-ahead log holds at most the key of the old row."),
				 errhint("Run ALTER TABLE %s REPLICA IDENTITY FULL.",
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(relation)),
													RelationGetRelationName(relation)))));
	}

	old = MemoryContextSwitchTo(state->change_cxt);

	if (change->data.tp.newtuple)
		deform(&change->data.tp.newtuple->tuple, desc, &newv, &newn);
	if (change->data.tp.oldtuple)
		deform(&change->data.tp.oldtuple->tuple, desc, &oldv, &oldn);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			emit_record(ctx, txn, rs, desc, "INSERT", newv, newn, NULL,
						NULL, NULL, false);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			new_include = fill_unchanged_toast(desc, newv, newn,
											   old_complete ? oldv : NULL, oldn);
			if (oldv == NULL)
				emit_record(ctx, txn, rs, desc, "MODIFY", newv, newn, new_include,
							NULL, NULL, false);
			else if (!keys_equal(rs, desc, newv, newn, oldv, oldn))
			{
				/* a new key is a new item: DynamoDB removes, then inserts */
				emit_record(ctx, txn, rs, desc, "REMOVE", NULL, NULL, NULL,
							oldv, oldn, old_complete);
				emit_record(ctx, txn, rs, desc, "INSERT", newv, newn, new_include,
							NULL, NULL, false);
			}
			else if (!old_complete)
				emit_record(ctx, txn, rs, desc, "MODIFY", newv, newn, new_include,
							NULL, NULL, false);
			else if (!rows_equal(rs, desc, newv, newn, oldv, oldn))
				emit_record(ctx, txn, rs, desc, "MODIFY", newv, newn, new_include,
							oldv, oldn, true);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			if (oldv)
				emit_record(ctx, txn, rs, desc, "REMOVE", NULL, NULL, NULL,
							oldv, oldn, old_complete);
			break;
		default:
			break;
	}

	MemoryContextSwitchTo(old);
	MemoryContextReset(state->change_cxt);
}

/*
 * Streaming of large transactions, for the capture worker only (SQL
 * consumers get whole transactions at their commit, as before): once the
 * reorder buffer holds more than logical_decoding_work_mem, the largest
 * transaction's changes come here as they are decoded, instead of being
 * spilled to disk and read back at the commit.  Records are written as
 * usual, flagged streamed (the worker buffers them per transaction); the
 * abort of a (sub)transaction and the commit are written as ABORT and
 * COMMIT events.
 */
static void
os_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	((DecodingState *) ctx->output_plugin_private)->in_stream = false;
}

/* (an error in a change, a concurrent abort, leaves in_stream set) */
static void
os_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	((DecodingState *) ctx->output_plugin_private)->in_stream = false;
}

static void
os_stream_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 Relation relation, ReorderBufferChange *change)
{
	DecodingState *state = ctx->output_plugin_private;

	state->stream_xid = txn->xid;
	state->stream_subxid = change->txn->xid;
	state->in_stream = true;
	/* a transaction's origin is known at its commit: each change has it */
	state->ttl_delete = is_ttl_origin(state, change->origin_id);
	os_change(ctx, txn, relation, change);
	state->in_stream = false;
}

/* Writes a COMMIT or ABORT event of a streamed (sub)transaction. */
static void
emit_stream_event(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				  const char *event_name)
{
	OsRecordInfo *info = &((DecodingState *) ctx->output_plugin_private)->current;

	memset(info, 0, sizeof(*info));
	info->streamed = true;
	info->xid = txn->toptxn ? txn->toptxn->xid : txn->xid;
	info->subxid = txn->xid;
	info->event_name = event_name;
	info->commit_lsn = txn->final_lsn;
	info->commit_time = txn->xact_time.commit_time;
	OutputPluginPrepareWrite(ctx, true);
	OutputPluginWrite(ctx, true);
}

static void
os_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				XLogRecPtr abort_lsn)
{
	emit_stream_event(ctx, txn, OS_STREAM_ABORT_EVENT);
}

static void
os_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 XLogRecPtr commit_lsn)
{
	emit_stream_event(ctx, txn, OS_STREAM_COMMIT_EVENT);
}

/*
 * The capture worker marks its own transactions DoNotReplicateId (see
 * capture.c): they only write orders_stream's tables, never a streamed one,
 * so decoding need not even queue their changes.
 */
static bool
os_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	return origin_id == DoNotReplicateId;
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = os_startup;
	cb->begin_cb = os_begin;
	cb->change_cb = os_change;
	cb->commit_cb = os_commit;
	cb->shutdown_cb = os_shutdown;
	cb->filter_by_origin_cb = os_filter_by_origin;
	cb->stream_start_cb = os_stream_start;
	cb->stream_stop_cb = os_stream_stop;
	cb->stream_change_cb = os_stream_change;
	cb->stream_abort_cb = os_stream_abort;
	cb->stream_commit_cb = os_stream_commit;
}
