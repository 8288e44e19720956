/*-------------------------------------------------------------------------
 * record_store.c
 *	  The stored form of a stream record, and the DynamoDB record it stands
 *	  for.
 *
 * orders_stream.record_store keeps, per record, only what varies from record
 * to record: the "body" (ApproximateCreationDateTime, Keys, NewImage,
 * OldImage: the members of "dynamodb" before SequenceNumber), eventName and
 * SizeBytes, under a 12-byte sequence key.  What is constant per stream
 * (eventSourceARN, awsRegion, StreamViewType, eventVersion, eventSource) and
 * what derives from the key (SequenceNumber, eventID) is added back by
 * record_append() when the record is read.  The output plugin renders
 * the records of SQL decoding consumers with the same function, so the
 * records read back are those a slot returns, byte for byte.
 *
 * The sequence key is the commit LSN (8 bytes) and the position in the
 * transaction (4 bytes), big-endian: bytea comparison (memcmp, then length)
 * orders keys as their 30-digit SequenceNumbers, and '' (no position) sorts
 * before every key, as '' before every SequenceNumber.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/objectaccess.h"
#include "catalog/pg_type_d.h"
#include "common/md5.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "aws_error.h"
#include "delivery_record.h"
#include "json_check.h"
#include "record_store.h"

#define ARN_PREFIX "arn:aws:dynamodb:"

PG_FUNCTION_INFO_V1(orders_stream_sequence_key);
PG_FUNCTION_INFO_V1(orders_stream_sequence_text);
PG_FUNCTION_INFO_V1(orders_stream_record_json);
PG_FUNCTION_INFO_V1(orders_stream_stored_record_json);
PG_FUNCTION_INFO_V1(orders_stream_records_page);
PG_FUNCTION_INFO_V1(orders_stream_records_page_add);
PG_FUNCTION_INFO_V1(orders_stream_records_page_end);
PG_FUNCTION_INFO_V1(orders_stream_dynamodb_streams);

void
record_envelope_init(OsStreamEnvelope *env, const char *arn, const char *view_type)
{
	StringInfoData buf;
	char	   *region;
	char	   *colon;

	env->arn = arn;
	env->view_type = view_type;

	initStringInfo(&buf);
	escape_json(&buf, arn);
	env->arn_json = buf.data;

	initStringInfo(&buf);
	escape_json(&buf, view_type);
	env->view_type_json = buf.data;

	/* awsRegion is the ARN's: arn:aws:dynamodb:<region>:<account>:... */
	if (strncmp(arn, ARN_PREFIX, strlen(ARN_PREFIX)) == 0)
		region = pstrdup(arn + strlen(ARN_PREFIX));
	else
		region = pstrdup("");
	colon = strchr(region, ':');
	if (colon)
		*colon = '\0';
	initStringInfo(&buf);
	escape_json(&buf, region);
	env->region_json = buf.data;
	pfree(region);
}

#define RECORD_PREFIX_1 "{\"eventID\":\""
#define RECORD_PREFIX_2 "\",\"eventName\":\""
#define RECORD_PREFIX_3 "\",\"eventVersion\":\"1.1\",\"eventSource\":\"aws:dynamodb\",\"awsRegion\":"
#define RECORD_PREFIX_4 ",\"dynamodb\":{"

Size
record_envelope_prefix_len(const OsStreamEnvelope *env)
{
	return strlen(RECORD_PREFIX_1) + 32 + strlen(RECORD_PREFIX_2) + 6 +
		strlen(RECORD_PREFIX_3) + strlen(env->region_json) +
		strlen(RECORD_PREFIX_4);
}

/* Seconds since the Unix epoch, rounded down, as DynamoDB reports it. */
static int64
epoch_seconds(TimestampTz ts)
{
	int64		secs = ts / USECS_PER_SEC;

	if (ts < 0 && ts % USECS_PER_SEC != 0)
		secs--;
	return secs + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
}

#define CREATION_TIME_MEMBER "\"ApproximateCreationDateTime\":"

void
record_append_creation_time(StringInfo out, TimestampTz commit_time)
{
	char		digits[MAXINT8LEN + 1];
	int			len = pg_lltoa(epoch_seconds(commit_time), digits);

	appendStringInfoString(out, CREATION_TIME_MEMBER);
	appendBinaryStringInfo(out, digits, len);
	appendStringInfoChar(out, ',');
}

Size
record_creation_time_len(TimestampTz commit_time)
{
	char		digits[MAXINT8LEN + 1];

	return strlen(CREATION_TIME_MEMBER) + pg_lltoa(epoch_seconds(commit_time), digits) + 1;
}

/* Writes the ndigits decimal digits of value, zero-padded, to dst. */
static void
format_digits(char *dst, uint64 value, int ndigits)
{
	int			i;

	for (i = ndigits - 1; i >= 0; i--)
	{
		dst[i] = '0' + (char) (value % 10);
		value /= 10;
	}
}

void
record_format_sequence_number(char *dst, XLogRecPtr lsn, uint32 position)
{
	format_digits(dst, lsn, 20);
	format_digits(dst + 20, position, 10);
	dst[OS_SEQUENCE_NUMBER_LEN] = '\0';
}

void
record_sequence_key(char *dst, XLogRecPtr lsn, uint32 position)
{
	int			i;

	for (i = 0; i < 8; i++)
		dst[i] = (char) (lsn >> (56 - 8 * i));
	for (i = 0; i < 4; i++)
		dst[8 + i] = (char) (position >> (24 - 8 * i));
}

void
record_append(StringInfo out, const OsStreamEnvelope *env,
				 const char *sequence_number, const char *event_name,
				 const char *body, int body_len, int64 size_bytes,
				 bool ttl_delete)
{
	char		event_id[33];
	char	   *id_source;
	const char *errstr = NULL;
	char		size[MAXINT8LEN + 1];

	/* same record, same eventID: a hash of its stream and position */
	id_source = psprintf("%s/%s", env->arn, sequence_number);
	if (!pg_md5_hash(id_source, strlen(id_source), event_id, &errstr))
		elog(ERROR, "could not compute eventID: %s", errstr);
	pfree(id_source);

	appendStringInfoString(out, RECORD_PREFIX_1);
	appendBinaryStringInfo(out, event_id, 32);
	appendStringInfoString(out, RECORD_PREFIX_2);
	appendStringInfoString(out, event_name);
	appendStringInfoString(out, RECORD_PREFIX_3);
	appendStringInfoString(out, env->region_json);
	appendStringInfoString(out, RECORD_PREFIX_4);
	appendBinaryStringInfo(out, body, body_len);
	appendStringInfoString(out, ",\"SequenceNumber\":\"");
	appendBinaryStringInfo(out, sequence_number, OS_SEQUENCE_NUMBER_LEN);
	appendStringInfoString(out, "\",\"SizeBytes\":");
	pg_lltoa(size_bytes, size);
	appendStringInfoString(out, size);
	appendStringInfoString(out, ",\"StreamViewType\":");
	appendStringInfoString(out, env->view_type_json);
	appendStringInfoString(out, "},");
	/* AWS's mark of an expiry, on the REMOVE records of TTL deletes only */
	if (ttl_delete)
		appendStringInfoString(out, "\"userIdentity\":{\"type\":\"Service\","
							   "\"principalId\":\"dynamodb.amazonaws.com\"},");
	appendStringInfoString(out, "\"eventSourceARN\":");
	appendStringInfoString(out, env->arn_json);
	appendStringInfoChar(out, '}');
}

/* Parses ndigits decimal digits, saturating at max. */
static uint64
parse_digits(const char *src, int ndigits, uint64 max)
{
	uint64		value = 0;
	int			i;

	for (i = 0; i < ndigits; i++)
	{
		uint64		digit = src[i] - '0';

		if (value > (max - digit) / 10)
			return max;
		value = value * 10 + digit;
	}
	return value;
}

/*
 * orders_stream.sequence_key(text) -> bytea: the key of a SequenceNumber (30
 * digits), '' for ''.  The 20 digits of LSN and 10 of position of a
 * SequenceNumber no record can have (a caller's) saturate at the largest LSN
 * and position, which keeps every comparison with a record's key exact.
 */
Datum
orders_stream_sequence_key(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	const char *digits = VARDATA_ANY(arg);
	int			len = VARSIZE_ANY_EXHDR(arg);
	bytea	   *result;
	int			i;

	if (len == 0)
	{
		result = palloc(VARHDRSZ);
		SET_VARSIZE(result, VARHDRSZ);
		PG_RETURN_BYTEA_P(result);
	}
	for (i = 0; i < len && len == OS_SEQUENCE_NUMBER_LEN; i++)
		if (digits[i] < '0' || digits[i] > '9')
			break;
	if (len != OS_SEQUENCE_NUMBER_LEN || i != len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid SequenceNumber \"%s\"", text_to_cstring(arg)),
				 errhint("A SequenceNumber of orders_stream has 30 digits.")));
	result = palloc(VARHDRSZ + OS_SEQUENCE_KEY_LEN);
	SET_VARSIZE(result, VARHDRSZ + OS_SEQUENCE_KEY_LEN);
	record_sequence_key(VARDATA(result), parse_digits(digits, 20, PG_UINT64_MAX),
					(uint32) parse_digits(digits + 20, 10, PG_UINT32_MAX));
	PG_RETURN_BYTEA_P(result);
}

/* Decodes a sequence key into its LSN and position. */
static void
decode_key(bytea *key, XLogRecPtr *lsn, uint32 *position)
{
	const unsigned char *k = (const unsigned char *) VARDATA_ANY(key);
	int			i;

	if (VARSIZE_ANY_EXHDR(key) != OS_SEQUENCE_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid sequence key of %zu bytes",
						(Size) VARSIZE_ANY_EXHDR(key)),
				 errhint("A sequence key of orders_stream.record_store has %d bytes.",
						 OS_SEQUENCE_KEY_LEN)));
	*lsn = 0;
	for (i = 0; i < 8; i++)
		*lsn = (*lsn << 8) | k[i];
	*position = 0;
	for (i = 8; i < OS_SEQUENCE_KEY_LEN; i++)
		*position = (*position << 8) | k[i];
}

/* orders_stream.sequence_text(bytea) -> text: the SequenceNumber of a key. */
Datum
orders_stream_sequence_text(PG_FUNCTION_ARGS)
{
	bytea	   *key = PG_GETARG_BYTEA_PP(0);
	char		seq[OS_SEQUENCE_NUMBER_LEN + 1];
	XLogRecPtr	lsn;
	uint32		position;

	if (VARSIZE_ANY_EXHDR(key) == 0)
		PG_RETURN_TEXT_P(cstring_to_text(""));
	decode_key(key, &lsn, &position);
	record_format_sequence_number(seq, lsn, position);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(seq, OS_SEQUENCE_NUMBER_LEN));
}

/* The envelope of the previous call, kept in fn_extra: rows come by stream. */
typedef struct EnvelopeCache
{
	char	   *arn;
	char	   *view_type;
	OsStreamEnvelope env;
} EnvelopeCache;

static const char *const event_names[] = {"INSERT", "MODIFY", "REMOVE", NULL};
static const char *const view_types[] = {
	"KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", NULL
};

/* Whether name is one of the NULL-terminated names. */
static bool
one_of(const char *name, const char *const *names)
{
	for (; *names; names++)
		if (strcmp(name, *names) == 0)
			return true;
	return false;
}

/*
 * The DynamoDB record of a row of record_store, given its stream's ARN and
 * view type; checked is whether what the caller passed must be shown to be
 * a record's (see orders_stream_record_json).
 */
static Datum
record_json(FunctionCallInfo fcinfo, bool checked)
{
	char	   *arn = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *view_type = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bytea	   *key = PG_GETARG_BYTEA_PP(2);
	char	   *event_name = text_to_cstring(PG_GETARG_TEXT_PP(3));
	text	   *body = PG_GETARG_TEXT_PP(4);
	int32		size_bytes = PG_GETARG_INT32(5);
	bool		ttl_delete = PG_GETARG_BOOL(6);
	EnvelopeCache *cache = fcinfo->flinfo->fn_extra;
	StringInfoData out;
	char		seq[OS_SEQUENCE_NUMBER_LEN + 1];
	XLogRecPtr	lsn;
	uint32		position;

	/* eventName is written as is: the output plugin sizes records for its six letters */
	if (!one_of(event_name, event_names))
		aws_error(AWS_VALIDATION, "eventName is one of INSERT, MODIFY, REMOVE.",
				  "unknown eventName \"%s\"", event_name);
	if (!one_of(view_type, view_types))
		aws_error(AWS_VALIDATION,
				  "StreamViewType is one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES.",
				  "unknown stream view type \"%s\"", view_type);
	if (cache == NULL || strcmp(cache->arn, arn) != 0 ||
		strcmp(cache->view_type, view_type) != 0)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (cache == NULL)
			cache = palloc0(sizeof(EnvelopeCache));
		else
		{
			pfree(cache->arn);
			pfree(cache->view_type);
			pfree(cache->env.arn_json);
			pfree(cache->env.view_type_json);
			pfree(cache->env.region_json);
		}
		cache->arn = pstrdup(arn);
		cache->view_type = pstrdup(view_type);
		record_envelope_init(&cache->env, cache->arn, cache->view_type);
		fcinfo->flinfo->fn_extra = cache;
		MemoryContextSwitchTo(old);
	}

	decode_key(key, &lsn, &position);
	record_format_sequence_number(seq, lsn, position);
	initStringInfo(&out);
	record_append(&out, &cache->env, seq, event_name,
					 VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body), size_bytes,
					 ttl_delete);
	if (checked && !json_check(out.data, out.len))
		aws_error(AWS_VALIDATION,
				  "Pass the columns of a row of orders_stream.record_store.",
				  "body is not the body of a stored record");
	PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}

/*
 * orders_stream.record_json(arn, view_type, sequence_key, event_name, body,
 * size_bytes, ttl_delete) -> json.  Anyone may call it (the records view and
 * the read API do, as their caller), with any arguments: so its result is
 * checked to be valid JSON, and what is not a stored record's is refused.
 */
Datum
orders_stream_record_json(PG_FUNCTION_ARGS)
{
	return record_json(fcinfo, true);
}

/*
 * orders_stream_internal.stored_record_json(...): the same for delivery,
 * which passes record_store's own rows and parses every record anyway.
 */
Datum
orders_stream_stored_record_json(PG_FUNCTION_ARGS)
{
	return record_json(fcinfo, false);
}

/*
 * The end of a record of stream arn as record_json() writes it: its
 * eventSourceARN, the last member.
 */
static void
page_record_suffix(StringInfo suffix, const char *arn)
{
	initStringInfo(suffix);
	appendStringInfoString(suffix, ",\"eventSourceARN\":");
	escape_json(suffix, arn);
	appendStringInfoChar(suffix, '}');
}

/*
 * Appends a record of a GetRecords page to out: as the records view renders
 * it, less its eventSourceARN (GetRecords' records have none).
 * record_json() writes eventSourceARN last, so it is cut from the end of the
 * record's text: the caller passes any json it likes, so a record that does
 * not end with the stream's eventSourceARN is refused; cutting that last
 * member from a valid JSON object leaves a valid object.
 */
static void
append_page_record(StringInfo out, const StringInfo suffix, const char *arn,
				   Datum value, bool isnull)
{
	text	   *record;
	const char *data;
	int			len;

	if (isnull)
		aws_error(AWS_VALIDATION, "Pass the records of orders_stream.records.",
				  "a record of the page is null");
	record = DatumGetTextPP(value);
	data = VARDATA_ANY(record);
	len = VARSIZE_ANY_EXHDR(record);
	if (len <= suffix->len ||
		memcmp(data + len - suffix->len, suffix->data, suffix->len) != 0)
		aws_error(AWS_VALIDATION, "Pass the records of orders_stream.records, of the one stream.",
				  "a record of the page is not a record of stream %s", arn);
	appendBinaryStringInfo(out, data, len - suffix->len);
	appendStringInfoChar(out, '}');
}

/*
 * orders_stream.records_page(stream_arn, records json[], next_shard_iterator)
 * -> text: the GetRecords response {"Records":[...],"NextShardIterator":...}
 * written once, in the records' order (append_page_record()), and without
 * NextShardIterator when it is NULL: valid JSON.
 */
Datum
orders_stream_records_page(PG_FUNCTION_ARGS)
{
	StringInfoData suffix;
	StringInfoData out;
	char	   *arn;
	ArrayType  *records;

	if (PG_ARGISNULL(0))
		aws_error(AWS_VALIDATION, "Pass the stream ARN of the records.",
				  "records_page needs the stream ARN");
	arn = text_to_cstring(PG_GETARG_TEXT_PP(0));
	page_record_suffix(&suffix, arn);
	records = PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1);

	/*
	 * Written after room for the text's header, so that the result is not
	 * copied; in one allocation of about the records' size, not doubled
	 * (and copied) up to it.
	 */
	initStringInfo(&out);
	if (records)
		enlargeStringInfo(&out, ARR_SIZE(records) + 64);
	appendStringInfoSpaces(&out, VARHDRSZ);
	appendStringInfoString(&out, "{\"Records\":[");
	if (records)
	{
		ArrayIterator it = array_create_iterator(records, 0, NULL);
		Datum		value;
		bool		isnull;
		bool		first = true;

		if (ARR_ELEMTYPE(records) != JSONOID)
			elog(ERROR, "records_page expects an array of json");
		while (array_iterate(it, &value, &isnull))
		{
			if (!first)
				appendStringInfoChar(&out, ',');
			first = false;
			append_page_record(&out, &suffix, arn, value, isnull);
		}
		array_free_iterator(it);
	}
	appendStringInfoChar(&out, ']');
	if (!PG_ARGISNULL(2))
	{
		appendStringInfoString(&out, ",\"NextShardIterator\":");
		escape_json(&out, text_to_cstring(PG_GETARG_TEXT_PP(2)));
	}
	appendStringInfoChar(&out, '}');
	SET_VARSIZE(out.data, out.len);
	PG_RETURN_TEXT_P((text *) out.data);
}

/* The state of the aggregate records_page_agg(): the page so far. */
typedef struct PageState
{
	char	   *arn;
	StringInfoData suffix;
	StringInfoData records;		/* a text's header, then the records */
	bool		any;
} PageState;

/*
 * orders_stream_internal.records_page_add(state, stream_arn, record): the
 * transition of orders_stream.records_page_agg(stream_arn, record json) ->
 * text, the records of a GetRecords page as records_page() writes them,
 * comma-separated, appended as they come: no array of them, and no copy
 * but the one into the page.  Every record is of the first one's stream.
 */
Datum
orders_stream_records_page_add(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	MemoryContext old;
	PageState  *state;
	char	   *arn;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "records_page_add called in a context that is no aggregate's");
	if (PG_ARGISNULL(1))
		aws_error(AWS_VALIDATION, "Pass the stream ARN of the records.",
				  "records_page_agg needs the stream ARN");
	arn = text_to_cstring(PG_GETARG_TEXT_PP(1));
	state = PG_ARGISNULL(0) ? NULL : (PageState *) PG_GETARG_POINTER(0);
	if (state == NULL)
	{
		old = MemoryContextSwitchTo(aggcontext);
		state = palloc0(sizeof(PageState));
		state->arn = pstrdup(arn);
		page_record_suffix(&state->suffix, arn);
		initStringInfo(&state->records);
		appendStringInfoSpaces(&state->records, VARHDRSZ);
		MemoryContextSwitchTo(old);
	}
	else if (strcmp(arn, state->arn) != 0)
		aws_error(AWS_VALIDATION, "Pass the records of orders_stream.records, of the one stream.",
				  "the records of a page are of stream %s, not %s", state->arn, arn);
	old = MemoryContextSwitchTo(aggcontext);
	if (state->any)
		appendStringInfoChar(&state->records, ',');
	state->any = true;
	append_page_record(&state->records, &state->suffix, state->arn,
					   PG_GETARG_DATUM(2), PG_ARGISNULL(2));
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(state);
}

/* orders_stream_internal.records_page_end(state): the final function of records_page_agg(). */
Datum
orders_stream_records_page_end(PG_FUNCTION_ARGS)
{
	PageState  *state = PG_ARGISNULL(0) ? NULL : (PageState *) PG_GETARG_POINTER(0);

	if (state == NULL)
		PG_RETURN_NULL();
	SET_VARSIZE(state->records.data, state->records.len);
	PG_RETURN_TEXT_P((text *) state->records.data);
}

/*
 * orders_stream.dynamodb_streams(operation, request) -> jsonb: the response
 * of orders_stream.dynamodb_streams_text() as jsonb, for SQL callers.  The
 * text is the dispatcher's own (a GetRecords page get_records_text() wrote, or
 * the text of a jsonb document), never a caller's, so it is converted as
 * delivery converts records (delivery_record.c: jsonb's layout written
 * directly, byte for byte what jsonb_in makes of it, and jsonb_in for
 * anything else): jsonb_in would take longer than the page itself.  The
 * dispatcher runs as the caller, as any call of it, and only if the caller
 * may execute it.
 */
Datum
orders_stream_dynamodb_streams(PG_FUNCTION_ARGS)
{
	FmgrInfo   *dispatcher = fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(call, 2);
	Datum		response;

	if (dispatcher == NULL)
	{
		Oid			argtypes[2] = {TEXTOID, JSONBOID};
		Oid			oid = LookupFuncName(list_make2(makeString("orders_stream"),
												   makeString("dynamodb_streams_text")),
										 2, argtypes, false);

		dispatcher = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(oid, dispatcher, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = dispatcher;
	}
	if (pg_proc_aclcheck(dispatcher->fn_oid, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, "dynamodb_streams_text");
	InvokeFunctionExecuteHook(dispatcher->fn_oid);
	InitFunctionCallInfoData(*call, dispatcher, 2, PG_GET_COLLATION(), NULL, NULL);
	call->args[0] = fcinfo->args[0];
	call->args[1] = fcinfo->args[1];
	response = FunctionCallInvoke(call);
	if (call->isnull)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(delivery_record_jsonb(delivery_record_parser(),
											text_to_cstring(DatumGetTextPP(response))));
}
