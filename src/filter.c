/*-------------------------------------------------------------------------
 * filter.c
 *	  AWS event filtering (an event source mapping's FilterCriteria): which
 *	  stream records a mapping delivers.
 *
 * A pattern is a JSON object mirroring the record: each key names a field;
 * an object value descends into it; an array value lists matchers, any of
 * which must match the field.  A matcher is a literal (string, number, null,
 * true/false: equality) or an object with one operator: "prefix",
 * "suffix", "equals-ignore-case", "anything-but" (a literal, a list of
 * literals, or {"prefix": ...} / {"suffix": ...}), "numeric" (comparisons
 * such as [">", 0, "<=", 5]; DynamoDB's "N" values are strings of digits
 * and compare as numbers), "exists" (true/false).  A record matches a
 * mapping when it matches any of its patterns.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "compat.h"
#include "filter.h"

PG_FUNCTION_INFO_V1(orders_stream_filter_matches);
PG_FUNCTION_INFO_V1(orders_stream_check_filter_criteria);

static bool match_object(JsonbContainer *pattern, JsonbContainer *value);

static Jsonb *
empty_object(void)
{
	static Jsonb *empty = NULL;

	if (empty == NULL)
	{
		Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));

		empty = MemoryContextAlloc(TopMemoryContext, VARSIZE(jb));
		memcpy(empty, jb, VARSIZE(jb));
	}
	return empty;
}

static void
invalid_pattern(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("InvalidParameterValueException: invalid filter pattern"),
			 errdetail("%s", detail),
			 errhint("Patterns follow AWS event filtering, e.g. {\"eventName\": [\"INSERT\"], \"dynamodb\": {\"NewImage\": {\"quantity\": {\"N\": [{\"numeric\": [\">\", 5]}]}}}}.")));
}

static char *
string_of(JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A number, from a JSON number or a string of one (DynamoDB's N). */
static bool
numeric_value(JsonbValue *v, double *out)
{
	char	   *end;
	char	   *str;

	if (v == NULL)
		return false;
	/* through text, so that a number beyond float8's range is no number, not an error */
	if (v->type == jbvNumeric)
		str = DatumGetCString(DirectFunctionCall1(numeric_out,
												  NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvString)
		str = string_of(v);
	else
		return false;
	errno = 0;
	*out = strtod(str, &end);
	return end != str && *end == '\0' && errno == 0 && !isnan(*out) && !isinf(*out);
}

static bool
scalar_equal(JsonbValue *a, JsonbValue *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type)
	{
		case jbvNull:
			return true;
		case jbvBool:
			return a->val.boolean == b->val.boolean;
		case jbvString:
			return a->val.string.len == b->val.string.len &&
				memcmp(a->val.string.val, b->val.string.val, a->val.string.len) == 0;
		case jbvNumeric:
			return DatumGetBool(DirectFunctionCall2(numeric_eq,
													NumericGetDatum(a->val.numeric),
													NumericGetDatum(b->val.numeric)));
		default:
			return false;
	}
}

static bool
affix_matches(JsonbValue *value, JsonbValue *affix, bool prefix)
{
	int			len;

	if (affix->type != jbvString)
		invalid_pattern("\"prefix\" and \"suffix\" take a string.");
	if (value == NULL || value->type != jbvString)
		return false;
	len = affix->val.string.len;
	if (value->val.string.len < len)
		return false;
	return memcmp(prefix ? value->val.string.val :
				  value->val.string.val + value->val.string.len - len,
				  affix->val.string.val, len) == 0;
}

static bool
numeric_matches(JsonbValue *value, JsonbContainer *ops)
{
	JsonbIterator *it = JsonbIteratorInit(ops);
	JsonbValue	v;
	JsonbIteratorToken tok;
	double		x;
	char	   *op = NULL;
	bool		result = true;

	if (!numeric_value(value, &x))
		result = false;
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		double		bound;

		if (tok != WJB_ELEM)
			continue;
		if (op == NULL)
		{
			if (v.type != jbvString)
				invalid_pattern("\"numeric\" alternates operators (=, <, <=, >, >=) and numbers.");
			op = string_of(&v);
			continue;
		}
		if (v.type != jbvNumeric || !numeric_value(&v, &bound))
			invalid_pattern("\"numeric\" alternates operators (=, <, <=, >, >=) and numbers.");
		if (strcmp(op, "=") == 0)
			result = result && x == bound;
		else if (strcmp(op, "<") == 0)
			result = result && x < bound;
		else if (strcmp(op, "<=") == 0)
			result = result && x <= bound;
		else if (strcmp(op, ">") == 0)
			result = result && x > bound;
		else if (strcmp(op, ">=") == 0)
			result = result && x >= bound;
		else
			invalid_pattern("\"numeric\" operators are =, <, <=, > and >=.");
		op = NULL;
	}
	if (op != NULL)
		invalid_pattern("\"numeric\" needs a number after each operator.");
	return result;
}

/* One matcher of a field's list; value is NULL when the field is absent. */
static bool
match_one(JsonbValue *matcher, JsonbValue *value)
{
	JsonbContainer *obj;
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	arg;
	char	   *op;

	if (matcher->type != jbvBinary)
		return value != NULL && scalar_equal(matcher, value);
	obj = matcher->val.binary.data;
	if (!JsonContainerIsObject(obj))
		invalid_pattern("A matcher is a value or an object with one operator.");

	it = JsonbIteratorInit(obj);
	if (JsonbIteratorNext(&it, &key, true) != WJB_BEGIN_OBJECT ||
		JsonbIteratorNext(&it, &key, true) != WJB_KEY ||
		JsonbIteratorNext(&it, &arg, true) != WJB_VALUE)
		invalid_pattern("A matcher object has exactly one operator.");
	op = string_of(&key);

	if (strcmp(op, "exists") == 0)
	{
		if (arg.type != jbvBool)
			invalid_pattern("\"exists\" takes true or false.");
		return arg.val.boolean == (value != NULL);
	}
	if (strcmp(op, "prefix") == 0 || strcmp(op, "suffix") == 0)
		return affix_matches(value, &arg, op[0] == 'p');
	if (strcmp(op, "equals-ignore-case") == 0)
	{
		if (arg.type != jbvString)
			invalid_pattern("\"equals-ignore-case\" takes a string.");
		return value != NULL && value->type == jbvString &&
			value->val.string.len == arg.val.string.len &&
			pg_strncasecmp(value->val.string.val, arg.val.string.val,
						   arg.val.string.len) == 0;
	}
	if (strcmp(op, "numeric") == 0)
	{
		if (arg.type != jbvBinary || !JsonContainerIsArray(arg.val.binary.data))
			invalid_pattern("\"numeric\" takes an array such as [\">\", 0, \"<=\", 5].");
		return numeric_matches(value, arg.val.binary.data);
	}
	if (strcmp(op, "anything-but") == 0)
	{
		if (value == NULL)
			return false;
		if (arg.type != jbvBinary)
			return !scalar_equal(&arg, value);
		if (JsonContainerIsArray(arg.val.binary.data))
		{
			JsonbIterator *ai = JsonbIteratorInit(arg.val.binary.data);
			JsonbValue	elem;
			JsonbIteratorToken tok;

			while ((tok = JsonbIteratorNext(&ai, &elem, true)) != WJB_DONE)
				if (tok == WJB_ELEM && scalar_equal(&elem, value))
					return false;
			return true;
		}
		return !match_one(&arg, value);
	}
	invalid_pattern(psprintf("Unknown operator \"%s\".", op));
	return false;
}

/* A pattern field's value: an object to descend into, or a list of matchers. */
static bool
match_field(JsonbValue *pattern, JsonbValue *value)
{
	JsonbIterator *it;
	JsonbValue	m;
	JsonbIteratorToken tok;

	if (pattern->type != jbvBinary)
		invalid_pattern("A pattern field holds an object or an array of matchers.");
	if (JsonContainerIsObject(pattern->val.binary.data))
	{
		/* descend even without a value, so that the whole pattern is checked */
		bool		present = value != NULL && value->type == jbvBinary &&
		JsonContainerIsObject(value->val.binary.data);
		bool		matches;

		matches = match_object(pattern->val.binary.data,
							   present ? value->val.binary.data : &empty_object()->root);
		return present && matches;
	}
	it = JsonbIteratorInit(pattern->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &m, true)) != WJB_DONE)
		if (tok == WJB_ELEM && match_one(&m, value))
			return true;
	return false;
}

static bool
match_object(JsonbContainer *pattern, JsonbContainer *value)
{
	JsonbIterator *it = JsonbIteratorInit(pattern);
	JsonbValue	key;
	JsonbValue	pv;
	JsonbIteratorToken tok;
	bool		matches = true;

	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		JsonbValue *field;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &pv, true);
		field = getKeyJsonValueFromContainer(value, key.val.string.val,
											 key.val.string.len, NULL);
		if (!match_field(&pv, field))
			matches = false;	/* keep going: every pattern part gets validated */
	}
	return matches;
}

/* A Pattern string as jsonb; JSON syntax errors become pattern errors. */
static Jsonb *
parse_pattern(const char *text)
{
	MemoryContext cxt = CurrentMemoryContext;
	Jsonb	   *volatile parsed = NULL;
	char	   *volatile message = NULL;

	PG_TRY();
	{
		parsed = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			PG_RE_THROW();
		FlushErrorState();
		message = psprintf("A Pattern is a JSON object, as a string: %s%s%s.", edata->message,
						   edata->detail ? " " : "", edata->detail ? edata->detail : "");
		FreeErrorData(edata);
	}
	PG_END_TRY();
	if (parsed == NULL)
		invalid_pattern(message);
	return parsed;
}

/* The Pattern strings of {"Filters": [{"Pattern": "..."}, ...]}, parsed. */
List *
filter_patterns(Jsonb *criteria)
{
	JsonbValue *filters;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *patterns = NIL;

	if (!JB_ROOT_IS_OBJECT(criteria))
		invalid_pattern("filter_criteria is {\"Filters\": [{\"Pattern\": \"<json>\"}, ...]}.");
	filters = getKeyJsonValueFromContainer(&criteria->root, "Filters", strlen("Filters"), NULL);
	if (filters == NULL || filters->type != jbvBinary ||
		!JsonContainerIsArray(filters->val.binary.data))
		invalid_pattern("filter_criteria is {\"Filters\": [{\"Pattern\": \"<json>\"}, ...]}.");
	it = JsonbIteratorInit(filters->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *pattern;
		Jsonb	   *parsed;

		if (tok != WJB_ELEM)
			continue;
		pattern = (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data)) ?
			getKeyJsonValueFromContainer(v.val.binary.data, "Pattern", strlen("Pattern"), NULL) : NULL;
		if (pattern == NULL || pattern->type != jbvString)
			invalid_pattern("Each filter is {\"Pattern\": \"<json object, as a string>\"}.");
		parsed = parse_pattern(string_of(pattern));
		if (!JB_ROOT_IS_OBJECT(parsed))
			invalid_pattern("A Pattern is a JSON object.");
		patterns = lappend(patterns, parsed);
	}
	if (list_length(patterns) > 5)
		invalid_pattern("At most 5 filters per mapping, as in AWS.");
	return patterns;
}

bool
filter_matches(List *patterns, Jsonb *record)
{
	ListCell   *lc;

	if (patterns == NIL)
		return true;
	foreach(lc, patterns)
		if (match_object(&((Jsonb *) lfirst(lc))->root, &record->root))
			return true;
	return false;
}

/* orders_stream.filter_matches(record jsonb, filter_criteria jsonb) */
Datum
orders_stream_filter_matches(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(filter_matches(filter_patterns(PG_GETARG_JSONB_P(1)),
								  PG_GETARG_JSONB_P(0)));
}

/* Validates filter criteria: parses every pattern, tries every operator. */
Datum
orders_stream_check_filter_criteria(PG_FUNCTION_ARGS)
{
	List	   *patterns = filter_patterns(PG_GETARG_JSONB_P(0));

	(void) filter_matches(patterns, empty_object());
	PG_RETURN_VOID();
}
