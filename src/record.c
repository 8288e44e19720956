/*-------------------------------------------------------------------------
 * record.c
 *	  Tuple values -> DynamoDB typed JSON ("S", "N", "B", "BOOL", "NULL",
 *	  "M", "L", "SS", "NS", "BS") and DynamoDB item sizes.
 *
 * Every encoder is deterministic: no output depends on DateStyle, TimeZone,
 * IntervalStyle, extra_float_digits, bytea_output, search_path or lc_numeric.
 * Types with a dedicated encoder are formatted here; every other type goes
 * through its output function with those settings pinned (see
 * enter_fixed_settings).
 *
 * Sizes follow DynamoDB's item-size rules: strings and binaries by their
 * length in bytes, numbers 1 byte per two significant digits plus 1, BOOL and
 * NULL 1 byte, M and L 3 bytes plus 1 byte per element plus the elements (a
 * map element also counts its name), sets the sum of their elements, and
 * every top-level attribute its name's length.
 *
 * Depth: DynamoDB nests M and L at most 32 levels deep.  A top-level
 * attribute's M or L is at depth 1, its members' containers at depth 2, and
 * so on, counted across composite types, array dimensions and json/jsonb
 * alike: containers at depth <= 32 are M/L; a container that would be at
 * depth 33 is S holding its text (JSON text for json/jsonb, the type's
 * output for arrays and composites).  No step here recurses on json
 * nesting: the json parser does, so deep json text is cut down before it is
 * parsed.
 *
 * Budget: with DdbRender.limit set, rendering stops once the record would
 * exceed it (render->exceeded); a value whose raw size alone exceeds what is
 * left is not even detoasted.  Every value renders into at most six times
 * its raw size between two checks, which keeps the buffer far from the
 * 1 GB allocation limit.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/cash.h"
#include "utils/date.h"
#include "miscadmin.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "compat.h"
#include "number.h"
#include "record.h"

typedef enum DdbKind
{
	DDB_BOOL,
	DDB_INT2,
	DDB_INT4,
	DDB_INT8,
	DDB_FLOAT4,
	DDB_FLOAT8,
	DDB_NUMERIC,
	DDB_MONEY,
	DDB_TEXT,					/* varlena text-like: text, varchar, bpchar */
	DDB_BYTEA,
	DDB_JSON,
	DDB_JSONB,
	DDB_DATE,
	DDB_TIME,
	DDB_TIMETZ,
	DDB_TIMESTAMP,
	DDB_TIMESTAMPTZ,
	DDB_INTERVAL,
	DDB_ARRAY,
	DDB_COMPOSITE,
	DDB_STABLE_OUTPUT,			/* output function independent of settings */
	DDB_OTHER					/* output function under fixed settings */
} DdbKind;

typedef struct DdbType
{
	Oid			typid;			/* hash key */
	DdbKind		kind;
	Oid			basetype;		/* after stripping domains */
	int16		typlen;
	FmgrInfo	output;			/* for DDB_STABLE_OUTPUT and DDB_OTHER */
	Oid			elemtype;		/* for DDB_ARRAY */
	int16		elemlen;
	bool		elembyval;
	char		elemalign;
} DdbType;

/* Type lookups are per backend and survive decoding passes. */
static HTAB *DdbTypeCache = NULL;

/* DynamoDB's limit on nested M and L */
#define DDB_MAX_DEPTH	32

static Size append_value(DdbRender *render, StringInfo buf, Datum value,
						 bool isnull, Oid typid);
static Size append_attributes(DdbRender *render, StringInfo buf,
							  TupleDesc desc, Datum *values, bool *nulls,
							  const bool *include, const bool *as_set,
							  int document_attr, bool keys, int *nattrs);

static void
invalidate_type_cache(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	DdbType    *entry;

	if (DdbTypeCache == NULL)
		return;
	hash_seq_init(&status, DdbTypeCache);
	while ((entry = hash_seq_search(&status)) != NULL)
		hash_search(DdbTypeCache, &entry->typid, HASH_REMOVE, NULL);
}

static DdbKind
kind_of_base_type(Oid basetype, char typtype, char typcategory)
{
	switch (basetype)
	{
		case BOOLOID:
			return DDB_BOOL;
		case INT2OID:
			return DDB_INT2;
		case INT4OID:
			return DDB_INT4;
		case INT8OID:
			return DDB_INT8;
		case FLOAT4OID:
			return DDB_FLOAT4;
		case FLOAT8OID:
			return DDB_FLOAT8;
		case NUMERICOID:
			return DDB_NUMERIC;
		case CASHOID:
			return DDB_MONEY;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return DDB_TEXT;
		case BYTEAOID:
			return DDB_BYTEA;
		case JSONOID:
			return DDB_JSON;
		case JSONBOID:
			return DDB_JSONB;
		case DATEOID:
			return DDB_DATE;
		case TIMEOID:
			return DDB_TIME;
		case TIMETZOID:
			return DDB_TIMETZ;
		case TIMESTAMPOID:
			return DDB_TIMESTAMP;
		case TIMESTAMPTZOID:
			return DDB_TIMESTAMPTZ;
		case INTERVALOID:
			return DDB_INTERVAL;
		case NAMEOID:
		case CHAROID:
		case UUIDOID:
		case INETOID:
		case CIDROID:
		case MACADDROID:
		case MACADDR8OID:
		case BITOID:
		case VARBITOID:
		case XMLOID:
		case OIDOID:
		case XIDOID:
		case XID8OID:
		case CIDOID:
		case TIDOID:
		case PG_LSNOID:
		case TSVECTOROID:
		case TSQUERYOID:
			return DDB_STABLE_OUTPUT;
		default:
			break;
	}
	if (typtype == TYPTYPE_ENUM)
		return DDB_STABLE_OUTPUT;
	if (typtype == TYPTYPE_COMPOSITE)
		return DDB_COMPOSITE;
	if (typcategory == TYPCATEGORY_ARRAY)
		return DDB_ARRAY;
	return DDB_OTHER;
}

HTAB *
record_oid_cache_create(const char *name, Size entrysize)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = entrysize;
	ctl.hcxt = CacheMemoryContext;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static DdbType *
lookup_type(Oid typid)
{
	DdbType    *entry;
	bool		found;

	if (DdbTypeCache == NULL)
	{
		DdbTypeCache = record_oid_cache_create("orders_stream type cache",
											   sizeof(DdbType));
		CacheRegisterSyscacheCallback(TYPEOID, invalidate_type_cache, (Datum) 0);
	}

	entry = hash_search(DdbTypeCache, &typid, HASH_ENTER, &found);
	if (!found)
	{
		Oid			basetype = getBaseType(typid);
		HeapTuple	tup;
		Form_pg_type form;
		DdbKind		kind;

		tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(basetype));
		if (!HeapTupleIsValid(tup))
		{
			hash_search(DdbTypeCache, &typid, HASH_REMOVE, NULL);
			elog(ERROR, "cache lookup failed for type %u", basetype);
		}
		form = (Form_pg_type) GETSTRUCT(tup);
		kind = kind_of_base_type(basetype, form->typtype, form->typcategory);
		entry->typlen = form->typlen;
		ReleaseSysCache(tup);

		entry->kind = kind;
		entry->basetype = basetype;
		if (kind == DDB_ARRAY)
		{
			entry->elemtype = get_element_type(basetype);
			get_typlenbyvalalign(entry->elemtype, &entry->elemlen,
								 &entry->elembyval, &entry->elemalign);
		}
		if (kind == DDB_STABLE_OUTPUT || kind == DDB_OTHER ||
			kind == DDB_ARRAY || kind == DDB_COMPOSITE)
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(basetype, &outfunc, &isvarlena);
			fmgr_info_cxt(outfunc, &entry->output, CacheMemoryContext);
		}
	}
	return entry;
}

/*
 * Pins the settings that output functions may consult, for the rest of the
 * rendering pass.  Saved with a GUC nest level, so ddb_end() (or an error's
 * transaction abort) restores the session's values.
 */
static void
enter_fixed_settings(DdbRender *render)
{
	if (render->guc_nestlevel > 0)
		return;
	render->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "iso_8601", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "1", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	/* reg* types print names qualified unless visible in the search path */
	(void) set_config_option("search_path", "pg_catalog", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
ddb_end(DdbRender *render)
{
	if (render->guc_nestlevel > 0)
	{
		AtEOXact_GUC(true, render->guc_nestlevel);
		render->guc_nestlevel = 0;
	}
}

/*
 * True once the record has exceeded its budget (sticky), counting "more"
 * bytes about to be appended.  Remembers a lower bound of the full record's
 * length for the exception row.
 */
static bool
over_budget(DdbRender *render, StringInfo buf, Size more)
{
	Size		len;

	if (render->limit == 0)
		return false;
	if (render->exceeded)
		return true;
	len = buf->len - render->start + render->outside + more;
	if (len > render->limit)
	{
		render->exceeded = true;
		render->estimated_size = len;
	}
	return render->exceeded;
}

/* {"S": "..."} */
static Size
append_string(StringInfo buf, const char *str)
{
	appendStringInfoString(buf, "{\"S\":");
	escape_json(buf, str);
	appendStringInfoChar(buf, '}');
	return strlen(str);
}

/*
 * {"N": "<canonical text>"} (see number.c) and its size, or 0 and nothing
 * appended for what a DynamoDB number cannot hold.
 */
static Size
append_canonical_number(StringInfo buf, const char *num)
{
	int			start = buf->len;
	int			digits;

	appendStringInfoString(buf, "{\"N\":\"");
	digits = ddb_canonical_number(num, buf);
	if (digits < 0)
	{
		buf->len = start;
		buf->data[start] = '\0';
		return 0;
	}
	appendStringInfoString(buf, "\"}");
	return (digits + 1) / 2 + 1;
}

/*
 * {"N": "<canonical text>"} (see number.c), or {"S": "<num>"} for what a
 * DynamoDB number cannot hold: NaN, Infinity, -Infinity, more than 38
 * significant digits, a magnitude outside 1E-130 .. 9.99...E+125.  num is the
 * type's own text (numeric_out, the shortest round-trip float digits), so
 * the fallback is as deterministic as the number.
 *
 * DynamoDB's size of a number: 1 byte per two significant digits, plus 1.
 */
static Size
append_number(StringInfo buf, const char *num)
{
	Size		size = append_canonical_number(buf, num);

	return size > 0 ? size : append_string(buf, num);
}

/*
 * A float8, or a float4 (single; every float4 is exactly a double): its
 * shortest text that reads back the same, as float4out and float8out
 * write it.
 */
static Size
append_float(StringInfo buf, double val, bool single)
{
	char		str[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(val))
		return append_string(buf, "NaN");
	if (isinf(val))
		return append_string(buf, val > 0 ? "Infinity" : "-Infinity");
	if (single)
		float_to_shortest_decimal_buf((float) val, str);
	else
		double_to_shortest_decimal_buf(val, str);
	return append_number(buf, str);
}

static Size
append_bytes(StringInfo buf, const char *data, int len)
{
	int			enclen = pg_b64_enc_len(len);
	char	   *enc = palloc(enclen + 1);
	int			n;

	n = pg_b64_encode(data, len, enc, enclen);
	if (n < 0)
		elog(ERROR, "could not encode binary value as base64");
	enc[n] = '\0';
	appendStringInfoString(buf, "{\"B\":\"");
	appendBinaryStringInfo(buf, enc, n);
	appendStringInfoString(buf, "\"}");
	pfree(enc);
	return len;
}

static void
datetime_out_of_range(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range")));
}

/* ISO 8601, in UTC ("Z") for timestamptz */
static Size
append_timestamp(StringInfo buf, Timestamp ts, bool utc)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		str[MAXDATELEN + 2];

	if (TIMESTAMP_IS_NOBEGIN(ts))
		return append_string(buf, "-infinity");
	if (TIMESTAMP_IS_NOEND(ts))
		return append_string(buf, "infinity");
	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		datetime_out_of_range();
	EncodeDateTime(&tm, fsec, false, 0, NULL, USE_XSD_DATES, str);
	if (utc)
		strcat(str, "Z");
	return append_string(buf, str);
}

static Size
append_date(StringInfo buf, DateADT date)
{
	struct pg_tm tm;
	char		str[MAXDATELEN + 1];

	if (DATE_IS_NOBEGIN(date))
		return append_string(buf, "-infinity");
	if (DATE_IS_NOEND(date))
		return append_string(buf, "infinity");
	j2date(date + POSTGRES_EPOCH_JDATE, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
	EncodeDateOnly(&tm, USE_XSD_DATES, str);
	return append_string(buf, str);
}

static Size
append_time(StringInfo buf, TimeADT time)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		str[MAXDATELEN + 1];

	time2tm(time, &tm, &fsec);
	EncodeTimeOnly(&tm, fsec, false, 0, USE_XSD_DATES, str);
	return append_string(buf, str);
}

static Size
append_timetz(StringInfo buf, TimeTzADT *time)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	char		str[MAXDATELEN + 1];

	timetz2tm(time, &tm, &fsec, &tz);
	EncodeTimeOnly(&tm, fsec, true, tz, USE_XSD_DATES, str);
	return append_string(buf, str);
}

static Size
append_interval(StringInfo buf, Interval *span)
{
	struct pg_itm itm;
	char		str[MAXDATELEN + 1];

	interval2itm(*span, &itm);
	EncodeInterval(&itm, INTSTYLE_ISO_8601, str);
	return append_string(buf, str);
}

/*
 * jsonb -> M / L / S / N / BOOL / NULL.  Walks the container with an
 * iterator and a stack of open containers, so that each container's size can
 * be added to its parent's when it closes.
 */
typedef struct JsonbFrame
{
	Size		size;
	bool		first;
	bool		is_object;
	bool		raw_scalar;
	Size		pending_key_len;
} JsonbFrame;

static Size
append_jsonb_scalar(StringInfo buf, JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendStringInfoString(buf, "{\"NULL\":true}");
			return 1;
		case jbvBool:
			appendStringInfoString(buf, v->val.boolean ? "{\"BOOL\":true}" : "{\"BOOL\":false}");
			return 1;
		case jbvNumeric:
			return append_number(buf,
								 DatumGetCString(DirectFunctionCall1(numeric_out,
																	 NumericGetDatum(v->val.numeric))));
		case jbvString:
			{
				char	   *str = pnstrdup(v->val.string.val, v->val.string.len);
				Size		size = append_string(buf, str);

				pfree(str);
				return size;
			}
		case jbvBinary:
			{
				/* a container past the depth limit: S, its JSON text */
				char	   *str = JsonbToCString(NULL, v->val.binary.data,
												 v->val.binary.len);
				Size		size = append_string(buf, str);

				pfree(str);
				return size;
			}
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
	return 0;
}

static Size
append_jsonb_container(DdbRender *render, StringInfo buf, JsonbContainer *root,
					   int len)
{
	JsonbIterator *it = JsonbIteratorInit(root);
	JsonbIteratorToken tok;
	JsonbValue	v;
	JsonbFrame	stack[DDB_MAX_DEPTH + 1];
	int			depth = 0;
	Size		result = 0;

	if (render->depth >= DDB_MAX_DEPTH && !JsonContainerIsScalar(root))
	{
		char	   *str = JsonbToCString(NULL, root, len);

		return append_string(buf, str);
	}

	/*
	 * Once DDB_MAX_DEPTH containers are open (counting those around this
	 * value), the iterator returns nested containers whole (jbvBinary),
	 * which become S.  The raw scalar pseudo-array opens no container.
	 */
	while ((tok = JsonbIteratorNext(&it, &v,
									render->depth + depth >= DDB_MAX_DEPTH)) != WJB_DONE)
	{
		JsonbFrame *top = depth > 0 ? &stack[depth - 1] : NULL;

		if (over_budget(render, buf, 0))
			break;
		switch (tok)
		{
			case WJB_BEGIN_OBJECT:
			case WJB_BEGIN_ARRAY:
				if (top && !top->raw_scalar)
				{
					if (!top->first)
						appendStringInfoChar(buf, ',');
					top->first = false;
				}
				Assert(depth <= DDB_MAX_DEPTH);
				top = &stack[depth++];
				top->size = 3;
				top->first = true;
				top->is_object = (tok == WJB_BEGIN_OBJECT);
				top->raw_scalar = (tok == WJB_BEGIN_ARRAY && v.val.array.rawScalar);
				top->pending_key_len = 0;
				if (!top->raw_scalar)
					appendStringInfoString(buf, top->is_object ? "{\"M\":{" : "{\"L\":[");
				break;
			case WJB_KEY:
				if (!top->first)
					appendStringInfoChar(buf, ',');
				{
					char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

					escape_json(buf, key);
					pfree(key);
				}
				appendStringInfoChar(buf, ':');
				top->pending_key_len = v.val.string.len;
				/* the value follows without its own comma */
				top->first = true;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (top->raw_scalar)
				{
					result = append_jsonb_scalar(buf, &v);
					break;
				}
				if (!top->first)
					appendStringInfoChar(buf, ',');
				top->first = false;
				top->size += 1 + top->pending_key_len + append_jsonb_scalar(buf, &v);
				top->pending_key_len = 0;
				break;
			case WJB_END_OBJECT:
			case WJB_END_ARRAY:
				{
					JsonbFrame	closed = *top;

					depth--;
					if (closed.raw_scalar)
						break;
					appendStringInfoString(buf, closed.is_object ? "}}" : "]}");
					if (depth == 0)
						result = closed.size;
					else
					{
						JsonbFrame *parent = &stack[depth - 1];

						parent->size += 1 + parent->pending_key_len + closed.size;
						parent->pending_key_len = 0;
						parent->first = false;
					}
				}
				break;
			default:
				elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
		}
	}
	return result;
}

static Size
append_jsonb(DdbRender *render, StringInfo buf, Jsonb *jb)
{
	return append_jsonb_container(render, buf, &jb->root, VARSIZE(jb));
}

/*
 * Scans the json token at p, of valid json text: returns its length in bytes
 * (2 for an escape in a string, else 1) and sets *nesting to 1 where a
 * container opens, -1 where one closes, else 0.  Brackets inside strings
 * are the only trap.
 */
static int
json_scan(const char *p, bool *in_string, int *nesting)
{
	*nesting = 0;
	if (*in_string)
	{
		if (*p == '\\' && p[1])
			return 2;
		if (*p == '"')
			*in_string = false;
	}
	else if (*p == '"')
		*in_string = true;
	else if (*p == '[' || *p == '{')
		*nesting = 1;
	else if (*p == ']' || *p == '}')
		*nesting = -1;
	return 1;
}

/*
 * Copies json text, replacing every container that would open at nesting
 * depth "limit" + 1 (1 = outermost) with a JSON string literal of its text,
 * so that the result nests at most "limit" deep.  One pass, no recursion:
 * the json parser is recursive, and must never see the deep text.  Returns
 * NULL when the text nests no deeper than limit.  The text is valid json
 * (json_in checked it).
 */
static char *
json_cut_depth(const char *text, int limit)
{
	const char *p;
	const char *cut_start = NULL;
	int			depth = 0;
	int			max_depth = 0;
	int			len;
	int			nesting;
	bool		in_string = false;
	StringInfoData out;

	/* first pass: only measure, since almost all json is shallow */
	for (p = text; *p; p += len)
	{
		len = json_scan(p, &in_string, &nesting);
		depth += nesting;
		max_depth = Max(max_depth, depth);
	}
	if (max_depth <= limit)
		return NULL;

	initStringInfo(&out);
	depth = 0;
	in_string = false;
	for (p = text; *p; p += len)
	{
		len = json_scan(p, &in_string, &nesting);
		if (nesting > 0 && ++depth == limit + 1)
			cut_start = p;
		else if (nesting < 0 && depth-- == limit + 1)
		{
			char	   *cut = pnstrdup(cut_start, p - cut_start + 1);

			escape_json(&out, cut);
			pfree(cut);
			cut_start = NULL;
			continue;
		}
		if (cut_start == NULL)
			appendBinaryStringInfo(&out, p, len);
	}
	return out.data;
}

/*
 * text as jsonb, or NULL if it is no valid jsonb (then *message, if asked
 * for, says why).  Parsing has no side effects to undo, so only data errors
 * are caught; anything else is thrown again.
 */
Jsonb *
record_try_jsonb(const char *text, char **message)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *volatile jb = NULL;

	PG_TRY();
	{
		jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		if (message)
			*message = psprintf("%s%s%s", edata->message,
								edata->detail ? " " : "", edata->detail ? edata->detail : "");
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return jb;
}

/*
 * json: as jsonb, except for the valid json that jsonb cannot hold (\u0000
 * in a string, a number beyond numeric's range), which is rendered as its
 * text, S, rather than stopping capture: a record must never fail on user
 * data.
 */
static Size
append_json(DdbRender *render, StringInfo buf, const char *text)
{
	char	   *cut = json_cut_depth(text, DDB_MAX_DEPTH - render->depth);
	Jsonb	   *jb = record_try_jsonb(cut ? cut : text, NULL);

	if (cut)
		pfree(cut);
	if (jb == NULL)
		return append_string(buf, text);
	return append_jsonb(render, buf, jb);
}

/* Elements of one dimension of an array, starting at *pos, as nested L. */
static Size
append_array_dim(DdbRender *render, StringInfo buf, DdbType *type, int ndims,
				 int *dims, int dim, Datum *elems, bool *nulls, int *pos)
{
	Size		size = 3;
	int			i;

	appendStringInfoString(buf, "{\"L\":[");
	render->depth++;
	for (i = 0; i < dims[dim] && !over_budget(render, buf, 0); i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		if (dim + 1 < ndims)
			size += 1 + append_array_dim(render, buf, type, ndims, dims, dim + 1,
										 elems, nulls, pos);
		else
		{
			size += 1 + append_value(render, buf, elems[*pos], nulls[*pos],
									 type->elemtype);
			(*pos)++;
		}
	}
	render->depth--;
	appendStringInfoString(buf, "]}");
	return size;
}

static void
deconstruct(DdbType *type, Datum value, ArrayType **arr, Datum **elems,
			bool **nulls, int *nelems)
{
	*arr = DatumGetArrayTypeP(value);
	deconstruct_array(*arr, type->elemtype, type->elemlen, type->elembyval,
					  type->elemalign, elems, nulls, nelems);
}

/* An array or composite nested past DynamoDB's limit: S, its text. */
static Size
append_as_text(DdbRender *render, StringInfo buf, DdbType *type, Datum value)
{
	enter_fixed_settings(render);
	return append_string(buf, OutputFunctionCall(&type->output, value));
}

static Size
append_array(DdbRender *render, StringInfo buf, DdbType *type, Datum value)
{
	ArrayType  *arr = DatumGetArrayTypeP(value);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			pos = 0;

	/* all its dimensions must fit, or the whole array is S */
	if (render->depth + Max(ARR_NDIM(arr), 1) > DDB_MAX_DEPTH)
		return append_as_text(render, buf, type, PointerGetDatum(arr));
	deconstruct(type, PointerGetDatum(arr), &arr, &elems, &nulls, &nelems);
	if (ARR_NDIM(arr) == 0)
	{
		appendStringInfoString(buf, "{\"L\":[]}");
		return 3;
	}
	return append_array_dim(render, buf, type, ARR_NDIM(arr), ARR_DIMS(arr), 0,
							elems, nulls, &pos);
}

/* The set of a DdbKind: "NS", "BS", "SS", or NULL if it makes no set member. */
static const char *
set_tag(DdbKind kind)
{
	switch (kind)
	{
		case DDB_INT2:
		case DDB_INT4:
		case DDB_INT8:
		case DDB_NUMERIC:
		case DDB_FLOAT4:
		case DDB_FLOAT8:
		case DDB_MONEY:
			return "NS";
		case DDB_BYTEA:
			return "BS";
		case DDB_TEXT:
		case DDB_DATE:
		case DDB_TIME:
		case DDB_TIMETZ:
		case DDB_TIMESTAMP:
		case DDB_TIMESTAMPTZ:
		case DDB_INTERVAL:
		case DDB_STABLE_OUTPUT:
		case DDB_OTHER:
			return "SS";
		case DDB_BOOL:
		case DDB_JSON:
		case DDB_JSONB:
		case DDB_ARRAY:
		case DDB_COMPOSITE:
			break;
	}
	return NULL;
}

bool
ddb_key_type_ok(Oid typid)
{
	/* exactly the element types of sets: those that render as S, N or B */
	return set_tag(lookup_type(typid)->kind) != NULL;
}

bool
ddb_set_element_type_ok(Oid array_type)
{
	DdbType    *type = lookup_type(array_type);

	return type->kind == DDB_ARRAY && set_tag(lookup_type(type->elemtype)->kind) != NULL;
}

/*
 * Adds a set member, rendered as a value ({"X":<json>}), unless an equal one
 * is there already (then frees it).  True if added.
 */
static bool
add_set_member(char **members, int *nmembers, char *member)
{
	int			i;

	for (i = 0; i < *nmembers; i++)
		if (strcmp(members[i], member) == 0)
		{
			pfree(member);
			return false;
		}
	members[(*nmembers)++] = member;
	return true;
}

/* {"<tag>":[...]} of members rendered as values */
static void
append_set_members(StringInfo buf, const char *tag, char **members,
				   int nmembers)
{
	int			i;

	appendStringInfo(buf, "{\"%s\":[", tag);
	for (i = 0; i < nmembers; i++)
	{
		/* each member is {"X":<json>}; keep only <json> */
		char	   *colon = strchr(members[i], ':');
		size_t		len = strlen(colon + 1);

		if (i > 0)
			appendStringInfoChar(buf, ',');
		appendBinaryStringInfo(buf, colon + 1, len - 1);
	}
	appendStringInfoString(buf, "]}");
}

/*
 * A set attribute: SS, NS or BS by element type, NULL elements and
 * duplicates dropped (DynamoDB sets hold distinct, non-null members).  NS
 * members are canonical numbers (number.c), one text per value, so 1, 1.0,
 * 1.00, 0 and -0 meet as equal strings.  Returns 0 and appends nothing for
 * an empty set, which DynamoDB cannot hold.
 *
 * An NS member that no DynamoDB number can hold (NaN, Infinity, too many
 * digits, out of range) makes the value no DynamoDB set at all: the
 * attribute renders as the column would without set_columns, an L keeping
 * every element (the odd one as S), rather than lose or alter a member.
 */
static Size
append_set(DdbRender *render, StringInfo buf, DdbType *type, Datum value,
		   bool *appended)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	DdbType    *elemtype;
	const char *tag;
	char	  **members;
	int			nmembers = 0;
	Size		size = 0;
	int			i;

	*appended = false;
	deconstruct(type, value, &arr, &elems, &nulls, &nelems);
	elemtype = lookup_type(type->elemtype);
	tag = set_tag(elemtype->kind);
	Assert(tag != NULL);

	/* Render each member alone, to compare them and to strip its type tag. */
	members = palloc(sizeof(char *) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		StringInfoData one;
		Size		one_size;
		int			j;

		if (nulls[i])
			continue;
		initStringInfo(&one);
		one_size = append_value(render, &one, elems[i], false, type->elemtype);
		if (tag[0] == 'N' && strncmp(one.data, "{\"N\":", 5) != 0)
		{
			/* not a DynamoDB number: no NS, the plain list */
			for (j = 0; j < nmembers; j++)
				pfree(members[j]);
			pfree(members);
			pfree(one.data);
			*appended = true;
			return append_array(render, buf, type, value);
		}
		if (add_set_member(members, &nmembers, one.data))
			size += one_size;
	}
	if (nmembers == 0)
		return 0;

	append_set_members(buf, tag, members, nmembers);
	*appended = true;
	return size;
}

/*
 * Document columns: a jsonb object whose members are top-level attributes of
 * the images, so that an item copied into Postgres as one document streams
 * as it did on AWS.
 *
 * The document is DynamoDB JSON, as DynamoDB's export and low-level API
 * write items ({"S": "..."}, {"N": "..."}, {"B": "<base64>"}, {"BOOL": ...},
 * {"NULL": true}, {"M": {...}}, {"L": [...]}, {"SS"|"NS"|"BS": [...]}), when
 * every member that becomes an attribute is such a typed value, recursively,
 * within DynamoDB's 32 levels: numbers and binaries are then rendered in
 * canonical form, sets without duplicates.  Otherwise the whole document is
 * plain JSON, each member rendered as a jsonb column's value is.  One rule
 * per document, tried in one pass: typed rendering stops at the first value
 * that is not typed, and the document is rendered again as plain JSON.
 */
typedef enum DdbTag
{
	TAG_S,
	TAG_N,
	TAG_B,
	TAG_BOOL,
	TAG_NULL,
	TAG_M,
	TAG_L,
	TAG_SS,
	TAG_NS,
	TAG_BS,
	TAG_NONE
} DdbTag;

static const char *const ddb_tags[] = {
	"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"
};

static bool append_typed(DdbRender *render, StringInfo buf, JsonbValue *v,
						 Size *size);

static DdbTag
tag_of(JsonbValue *key)
{
	int			i;

	for (i = 0; i < lengthof(ddb_tags); i++)
		if (key->val.string.len == strlen(ddb_tags[i]) &&
			memcmp(key->val.string.val, ddb_tags[i], key->val.string.len) == 0)
			return (DdbTag) i;
	return TAG_NONE;
}

/*
 * The only member of an object, as in {"S": "x"}: its name in *tag, its value
 * in *value (containers as jbvBinary).  False for any other value.
 */
static bool
typed_pair(JsonbValue *v, JsonbValue *tag, JsonbValue *value)
{
	JsonbIterator *it;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data) ||
		JsonContainerSize(v->val.binary.data) != 1)
		return false;
	it = JsonbIteratorInit(v->val.binary.data);
	(void) JsonbIteratorNext(&it, tag, true);	/* the object's start */
	(void) JsonbIteratorNext(&it, tag, true);
	(void) JsonbIteratorNext(&it, value, true);
	return true;
}

/* {"B": "<base64>"} re-encoded canonically; false if the text is no base64 */
static bool
append_typed_binary(StringInfo buf, JsonbValue *value, Size *size)
{
	char	   *data;
	int			len;

	if (value->type != jbvString)
		return false;
	data = palloc(pg_b64_dec_len(value->val.string.len) + 1);
	len = pg_b64_decode(value->val.string.val, value->val.string.len, data,
						pg_b64_dec_len(value->val.string.len));
	if (len >= 0)
		*size = append_bytes(buf, data, len);
	pfree(data);
	return len >= 0;
}

/* {"N": "<canonical>"}; false if the text is no number DynamoDB can hold */
static bool
append_typed_number(StringInfo buf, JsonbValue *value, Size *size)
{
	char	   *num;

	if (value->type != jbvString)
		return false;
	num = pnstrdup(value->val.string.val, value->val.string.len);
	*size = append_canonical_number(buf, num);
	pfree(num);
	return *size > 0;
}

/* SS, NS or BS: a non-empty array of strings of the set's kind */
static bool
append_typed_set(StringInfo buf, JsonbValue *value, DdbTag tag, Size *size)
{
	JsonbContainer *set = value->val.binary.data;
	char	  **members;
	int			nmembers = 0;
	int			n;
	int			i;

	if (value->type != jbvBinary || !JsonContainerIsArray(set) ||
		JsonContainerIsScalar(set) || JsonContainerSize(set) == 0)
		return false;
	n = JsonContainerSize(set);
	members = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(set, i);
		StringInfoData one;
		Size		one_size = 0;
		bool		ok = (elem->type == jbvString);

		initStringInfo(&one);
		if (tag == TAG_NS)
			ok = append_typed_number(&one, elem, &one_size);
		else if (tag == TAG_BS)
			ok = append_typed_binary(&one, elem, &one_size);
		else if (ok)
			one_size = append_jsonb_scalar(&one, elem);
		if (!ok)
		{
			pfree(one.data);
			return false;
		}
		if (add_set_member(members, &nmembers, one.data))
			*size += one_size;
	}
	append_set_members(buf, ddb_tags[tag], members, nmembers);
	return true;
}

/* M or L of typed values, within DynamoDB's depth */
static bool
append_typed_container(DdbRender *render, StringInfo buf, JsonbValue *value,
					   bool is_map, Size *size)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	bool		first = true;
	bool		ok = true;
	int			key_len = 0;

	if (value->type != jbvBinary || render->depth >= DDB_MAX_DEPTH ||
		JsonContainerIsScalar(value->val.binary.data) ||
		JsonContainerIsObject(value->val.binary.data) != is_map)
		return false;
	appendStringInfoString(buf, is_map ? "{\"M\":{" : "{\"L\":[");
	*size = 3;
	render->depth++;
	it = JsonbIteratorInit(value->val.binary.data);
	while (ok && (tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE &&
		   !over_budget(render, buf, 0))
	{
		Size		elem_size = 0;

		if (tok != WJB_KEY && tok != WJB_VALUE && tok != WJB_ELEM)
			continue;
		if (tok != WJB_VALUE && !first)
			appendStringInfoChar(buf, ',');
		if (tok == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			escape_json(buf, key);
			pfree(key);
			appendStringInfoChar(buf, ':');
			key_len = v.val.string.len;
			continue;
		}
		ok = append_typed(render, buf, &v, &elem_size);
		*size += 1 + key_len + elem_size;
		first = false;
	}
	render->depth--;
	appendStringInfoString(buf, is_map ? "}}" : "]}");
	return ok;
}

/*
 * A DynamoDB JSON value: appends its rendering and sets *size; false (what
 * was appended is garbage) if it is no valid typed value.
 */
static bool
append_typed(DdbRender *render, StringInfo buf, JsonbValue *v, Size *size)
{
	JsonbValue	tag;
	JsonbValue	value;
	DdbTag		kind;

	check_stack_depth();
	*size = 0;
	if (!typed_pair(v, &tag, &value))
		return false;
	kind = tag_of(&tag);
	switch (kind)
	{
		case TAG_S:
		case TAG_BOOL:
			if (value.type != (kind == TAG_S ? jbvString : jbvBool))
				return false;
			*size = append_jsonb_scalar(buf, &value);
			return true;
		case TAG_N:
			return append_typed_number(buf, &value, size);
		case TAG_B:
			return append_typed_binary(buf, &value, size);
		case TAG_NULL:
			if (value.type != jbvBool || !value.val.boolean)
				return false;
			appendStringInfoString(buf, "{\"NULL\":true}");
			*size = 1;
			return true;
		case TAG_M:
		case TAG_L:
			return append_typed_container(render, buf, &value, kind == TAG_M, size);
		case TAG_SS:
		case TAG_NS:
		case TAG_BS:
			return append_typed_set(buf, &value, kind, size);
		case TAG_NONE:
			break;
	}
	return false;
}

/* True iff a member's name is that of a column other than the document. */
static bool
names_column(TupleDesc desc, int document_attr, JsonbValue *key)
{
	int			len = key->val.string.len;
	int			i;

	if (len >= NAMEDATALEN)
		return false;
	for (i = 0; i < desc->natts; i++)
	{
		const char *name = NameStr(TupleDescAttr(desc, i)->attname);

		if (i != document_attr && !TupleDescAttr(desc, i)->attisdropped &&
			strncmp(name, key->val.string.val, len) == 0 && name[len] == '\0')
			return true;
	}
	return false;
}

/*
 * The members of a document as attributes, typed or plain, after a comma
 * unless *first.  A member named like a column is left out: the column is
 * the attribute.  Returns false if typed and a member is no typed value.
 */
static bool
append_members(DdbRender *render, StringInfo buf, TupleDesc desc,
			   int document_attr, Jsonb *doc, bool typed, bool *first,
			   int *nattrs, Size *size)
{
	JsonbIterator *it = JsonbIteratorInit(&doc->root);
	JsonbIteratorToken tok;
	JsonbValue	key;
	JsonbValue	value;

	*size = 0;
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		Size		value_size;
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &value, true);
		if (over_budget(render, buf, 0))
			break;
		if (names_column(desc, document_attr, &key))
			continue;
		if (!*first)
			appendStringInfoChar(buf, ',');
		name = pnstrdup(key.val.string.val, key.val.string.len);
		escape_json(buf, name);
		pfree(name);
		appendStringInfoChar(buf, ':');
		if (!typed)
			value_size = value.type == jbvBinary ?
				append_jsonb_container(render, buf, value.val.binary.data,
									   value.val.binary.len) :
				append_jsonb_scalar(buf, &value);
		else if (!append_typed(render, buf, &value, &value_size))
			return false;
		*first = false;
		(*nattrs)++;
		*size += key.val.string.len + value_size;
	}
	return true;
}

/* The attributes of a document column's object: see above. */
static Size
append_document(DdbRender *render, StringInfo buf, TupleDesc desc,
				int document_attr, Jsonb *doc, bool *first, int *nattrs)
{
	int			start = buf->len;
	bool		start_first = *first;
	int			start_nattrs = *nattrs;
	Size		size;

	if (append_members(render, buf, desc, document_attr, doc, true, first,
					   nattrs, &size))
		return size;
	buf->len = start;
	buf->data[start] = '\0';
	*first = start_first;
	*nattrs = start_nattrs;
	(void) append_members(render, buf, desc, document_attr, doc, false, first,
						  nattrs, &size);
	return size;
}

static Size
append_composite(DdbRender *render, StringInfo buf, Datum value)
{
	HeapTupleHeader rec = DatumGetHeapTupleHeader(value);
	TupleDesc	desc;
	HeapTupleData tuple;
	Datum	   *values;
	bool	   *nulls;
	Size		size;
	int			nattrs;

	desc = lookup_rowtype_tupdesc(HeapTupleHeaderGetTypeId(rec),
								  HeapTupleHeaderGetTypMod(rec));
	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	values = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	heap_deform_tuple(&tuple, desc, values, nulls);

	appendStringInfoString(buf, "{\"M\":");
	render->depth++;
	size = append_attributes(render, buf, desc, values, nulls, NULL, NULL,
							 -1, false, &nattrs);
	render->depth--;
	appendStringInfoChar(buf, '}');
	ReleaseTupleDesc(desc);

	/* a map counts 3 bytes, plus 1 per element on top of the element sizes */
	return size + 3 + nattrs;
}

static Size
append_value(DdbRender *render, StringInfo buf, Datum value, bool isnull,
			 Oid typid)
{
	DdbType    *type;
	char		str[32];

	if (isnull)
	{
		appendStringInfoString(buf, "{\"NULL\":true}");
		return 1;
	}

	type = lookup_type(typid);

	/*
	 * A varlena's raw size is a lower bound of its rendering: past the
	 * budget, it is not even detoasted.
	 */
	if (render->limit > 0 && type->typlen == -1 &&
		over_budget(render, buf, toast_raw_datum_size(value) - VARHDRSZ))
		return 0;

	switch (type->kind)
	{
		case DDB_BOOL:
			appendStringInfoString(buf, DatumGetBool(value) ? "{\"BOOL\":true}" : "{\"BOOL\":false}");
			return 1;
		case DDB_INT2:
			pg_ltoa(DatumGetInt16(value), str);
			return append_number(buf, str);
		case DDB_INT4:
			pg_ltoa(DatumGetInt32(value), str);
			return append_number(buf, str);
		case DDB_INT8:
			pg_lltoa(DatumGetInt64(value), str);
			return append_number(buf, str);
		case DDB_FLOAT4:
			return append_float(buf, DatumGetFloat4(value), true);
		case DDB_FLOAT8:
			return append_float(buf, DatumGetFloat8(value), false);
		case DDB_NUMERIC:
			return append_number(buf, DatumGetCString(DirectFunctionCall1(numeric_out, value)));
		case DDB_MONEY:
			return append_number(buf,
								 DatumGetCString(DirectFunctionCall1(numeric_out,
																	 DirectFunctionCall1(cash_numeric, value))));
		case DDB_TEXT:
			return append_string(buf, TextDatumGetCString(value));
		case DDB_BYTEA:
			{
				bytea	   *b = DatumGetByteaPP(value);

				return append_bytes(buf, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
			}
		case DDB_JSON:
			return append_json(render, buf, TextDatumGetCString(value));
		case DDB_JSONB:
			return append_jsonb(render, buf, DatumGetJsonbP(value));
		case DDB_DATE:
			return append_date(buf, DatumGetDateADT(value));
		case DDB_TIME:
			return append_time(buf, DatumGetTimeADT(value));
		case DDB_TIMETZ:
			return append_timetz(buf, DatumGetTimeTzADTP(value));
		case DDB_TIMESTAMP:
			return append_timestamp(buf, DatumGetTimestamp(value), false);
		case DDB_TIMESTAMPTZ:
			return append_timestamp(buf, DatumGetTimestampTz(value), true);
		case DDB_INTERVAL:
			return append_interval(buf, DatumGetIntervalP(value));
		case DDB_ARRAY:
			return append_array(render, buf, type, value);
		case DDB_COMPOSITE:
			if (render->depth >= DDB_MAX_DEPTH)
				return append_as_text(render, buf, type, value);
			return append_composite(render, buf, value);
		case DDB_OTHER:
			enter_fixed_settings(render);
			/* FALLTHROUGH */
		case DDB_STABLE_OUTPUT:
			return append_string(buf, OutputFunctionCall(&type->output, value));
	}
	return 0;					/* keep compiler quiet */
}

Size
ddb_append_image(DdbRender *render, StringInfo buf, TupleDesc desc,
				 Datum *values, bool *nulls, const bool *include,
				 const bool *as_set, int document_attr)
{
	int			nattrs;

	return append_attributes(render, buf, desc, values, nulls, include, as_set,
							 document_attr, false, &nattrs);
}

Size
ddb_append_keys(DdbRender *render, StringInfo buf, TupleDesc desc,
				Datum *values, bool *nulls, const bool *is_key)
{
	int			nattrs;

	return append_attributes(render, buf, desc, values, nulls, is_key, NULL,
							 -1, true, &nattrs);
}

static Size
append_attributes(DdbRender *render, StringInfo buf, TupleDesc desc,
				  Datum *values, bool *nulls, const bool *include,
				  const bool *as_set, int document_attr, bool keys,
				  int *nattrs)
{
	Size		size = 0;
	bool		first = true;
	int			i;

	*nattrs = 0;
	appendStringInfoChar(buf, '{');
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);
		int			name_len = strlen(name);
		int			rollback_len = buf->len;
		bool		set_appended = true;
		Size		value_size;

		if (att->attisdropped || (include && !include[i]))
			continue;
		if (over_budget(render, buf, 0))
			break;

		/*
		 * A document column's object is its members; NULL is none.  A
		 * document that is no object, or a column that is no longer jsonb,
		 * is the attribute it would be without document_column.  Its raw
		 * size is no lower bound of its rendering (typed values are smaller
		 * than their jsonb), so the budget is checked member by member.
		 */
		if (i == document_attr &&
			lookup_type(att->atttypid)->kind == DDB_JSONB)
		{
			Jsonb	   *doc;

			if (nulls[i])
				continue;
			doc = DatumGetJsonbP(values[i]);
			if (JB_ROOT_IS_OBJECT(doc))
			{
				size += append_document(render, buf, desc, document_attr, doc,
										&first, nattrs);
				continue;
			}
		}

		if (!first)
			appendStringInfoChar(buf, ',');
		escape_json(buf, name);
		appendStringInfoChar(buf, ':');

		/*
		 * set_columns as of enable_stream; if the column has become something
		 * a set cannot hold since, it renders as any other column.
		 */
		if (as_set && as_set[i] && !nulls[i] &&
			ddb_set_element_type_ok(att->atttypid))
			value_size = append_set(render, buf, lookup_type(att->atttypid),
									values[i], &set_appended);
		else
			value_size = append_value(render, buf, values[i], nulls[i],
									  att->atttypid);

		/*
		 * A key attribute is a non-empty S or B in DynamoDB.  An empty one
		 * (which DynamoDB refuses to store) is NULL in Keys: a primary key
		 * column is NOT NULL, so NULL stands for no other item, and the
		 * images keep the value itself.
		 */
		if (keys && value_size == 0 && buf->len - rollback_len >= 8 &&
			(strcmp(buf->data + buf->len - 8, "{\"S\":\"\"}") == 0 ||
			 strcmp(buf->data + buf->len - 8, "{\"B\":\"\"}") == 0))
		{
			buf->len -= 8;
			buf->data[buf->len] = '\0';
			appendStringInfoString(buf, "{\"NULL\":true}");
			value_size = 1;
		}

		if (!set_appended)
		{
			/* an empty set is no attribute at all in DynamoDB */
			buf->len = rollback_len;
			buf->data[buf->len] = '\0';
			continue;
		}
		first = false;
		(*nattrs)++;
		size += name_len + value_size;
	}
	appendStringInfoChar(buf, '}');
	return size;
}
