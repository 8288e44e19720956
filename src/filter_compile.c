/*-------------------------------------------------------------------------
 * filter_compile.c
 *	  Validating and compiling FilterCriteria patterns, once per mapping.
 *
 * Lambda filters stream records with EventBridge's pattern language, whose
 * reference implementation is AWS's event-ruler; this accepts what its
 * JsonRuleCompiler accepts and refuses the rest with its messages (README,
 * "Filtering"), as InvalidParameterValueException.  Patterns are read as
 * jsonb, so duplicate keys keep the last value (event-ruler's default too)
 * and an object with two keys is refused without regard to their order.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "aws_error.h"
#include "filter_internal.h"
#include "record.h"

#define FILTER_HINT "Patterns follow AWS event filtering, e.g. {\"eventName\": [\"INSERT\"], \"dynamodb\": {\"NewImage\": {\"quantity\": {\"N\": [{\"numeric\": [\">\", 5]}]}}}}."

static FilterNode *compile_node(JsonbContainer *obj, bool in_or);
static void invalid_pattern(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();

static void
invalid_criteria(const char *message)
{
	aws_error(AWS_INVALID_PARAMETER_VALUE, FILTER_HINT, "%s", message);
}

/* A pattern that event-ruler's compiler refuses, with its message. */
static void
invalid_pattern(const char *fmt,...)
{
	char		message[1024];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(message, sizeof(message), fmt, args);
	va_end(args);
	aws_error(AWS_INVALID_PARAMETER_VALUE, FILTER_HINT,
			  "Invalid filter pattern definition: %s", message);
}

static char *
cstring_of(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static bool
string_is(const JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

static bool
is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/* The text event-ruler's messages quote for a JSON token. */
static const char *
token_text(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return cstring_of(v);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return v->val.boolean ? "true" : "false";
		case jbvNull:
			return "null";
		default:
			return is_object(v) ? "{" : "[";
	}
}

/* The elements of a JSON array, as a palloc'd vector. */
static JsonbValue *
array_elements(JsonbContainer *array, int *n)
{
	JsonbIterator *it = JsonbIteratorInit(array);
	JsonbValue *elems = palloc(sizeof(JsonbValue) * Max(JsonContainerSize(array), 1));
	JsonbValue	v;
	JsonbIteratorToken tok;

	*n = 0;
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM)
			elems[(*n)++] = v;
	return elems;
}

/* The only key of a one-key object, and its value; false if it has none. */
static bool
only_key(JsonbContainer *obj, JsonbValue *key, JsonbValue *value)
{
	JsonbIterator *it = JsonbIteratorInit(obj);

	if (JsonContainerSize(obj) == 0)
		return false;
	if (JsonContainerSize(obj) > 1)
		invalid_pattern("Only one key allowed in match expression");
	(void) JsonbIteratorNext(&it, key, true);	/* WJB_BEGIN_OBJECT */
	(void) JsonbIteratorNext(&it, key, true);
	(void) JsonbIteratorNext(&it, value, true);
	return true;
}

/*
 * A number that numeric matching compares, as a double: event-ruler refuses
 * the ones a double does not hold exactly.
 */
static double
comparable_number(const JsonbValue *v)
{
	const char *text = token_text(v);
	double		d = strtod(text, NULL);
	char		shortest[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d) || isinf(d))
		invalid_pattern("Cannot compare number : %s", text);
	double_to_shortest_decimal_buf(d, shortest);
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
										  DirectFunctionCall3(numeric_in, CStringGetDatum(shortest),
															  ObjectIdGetDatum(InvalidOid),
															  Int32GetDatum(-1)))))
		invalid_pattern("Cannot compare number : %s", text);
	return d;
}

static FilterString
string_value(const JsonbValue *v, bool fold)
{
	FilterString s;

	if (fold)
		return filter_fold_case(v->val.string.val, v->val.string.len);
	s.data = v->val.string.val;
	s.len = v->val.string.len;
	return s;
}

/*
 * A wildcard's literal parts.  Positions in messages count UTF-8 bytes of
 * the value quoted, as event-ruler's do.
 */
static FilterWildcard
compile_wildcard(const JsonbValue *v)
{
	FilterWildcard w;
	const char *s = v->val.string.val;
	int			len = v->val.string.len;
	char	   *part = palloc(len + 1);
	int			partlen = 0;
	int			i;

	w.nparts = 0;
	w.parts = palloc(sizeof(FilterString) * (len + 1));
	for (i = 0; i < len; i++)
	{
		if (s[i] == '*')
		{
			if (i + 1 < len && s[i + 1] == '*')
				invalid_pattern("Consecutive wildcard characters at pos %d", i + 1);
			w.parts[w.nparts].data = part;
			w.parts[w.nparts++].len = partlen;
			part = palloc(len + 1);
			partlen = 0;
		}
		else if (s[i] == '\\')
		{
			if (i + 1 >= len || (s[i + 1] != '*' && s[i + 1] != '\\'))
				invalid_pattern("Invalid escape character at pos %d", i + 1);
			part[partlen++] = s[++i];
		}
		else
			part[partlen++] = s[i];
	}
	w.parts[w.nparts].data = part;
	w.parts[w.nparts++].len = partlen;
	return w;
}

/* One more value of a matcher holding strings (or wildcards). */
static void
add_string(FilterMatcher *m, const JsonbValue *v, int capacity)
{
	if (m->strings == NULL)
		m->strings = palloc(sizeof(FilterString) * Max(capacity, 1));
	m->strings[m->n++] = string_value(v, m->op == FILTER_EQUALS_CI ||
									  m->op == FILTER_PREFIX_CI ||
									  m->op == FILTER_SUFFIX_CI ||
									  m->op == FILTER_BUT_CI);
	if (m->op == FILTER_WILDCARD || m->op == FILTER_BUT_WILDCARD)
	{
		if (m->wildcards == NULL)
			m->wildcards = palloc(sizeof(FilterWildcard) * Max(capacity, 1));
		m->wildcards[m->n - 1] = compile_wildcard(v);
	}
}

/* {"prefix": {"equals-ignore-case": "..."}} and its suffix twin */
static void
compile_affix_ci(FilterMatcher *m, JsonbContainer *obj, bool prefix)
{
	JsonbValue	key;
	JsonbValue	value;

	if (!only_key(obj, &key, &value))
		invalid_pattern(prefix ? "Prefix expression name not found" :
						"Suffix expression name not found");
	if (!string_is(&key, "equals-ignore-case"))
		invalid_pattern("Unsupported %s pattern: %s", prefix ? "prefix" : "suffix",
						cstring_of(&key));
	if (value.type != jbvString)
		invalid_pattern("equals-ignore-case match pattern must be a string");
	m->op = prefix ? FILTER_PREFIX_CI : FILTER_SUFFIX_CI;
	add_string(m, &value, 1);
}

/* anything-but's value checked as event-ruler's set forms check it */
static void
add_but_value(FilterMatcher *m, const JsonbValue *v, int capacity)
{
	if (v->type != jbvString)
	{
		if (m->op == FILTER_BUT_CI)
			invalid_pattern("Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.");
		if (m->op == FILTER_BUT_WILDCARD)
			invalid_pattern("wildcard match pattern must be a string");
		invalid_pattern("prefix/suffix match pattern must be a string");
	}
	if ((m->op == FILTER_BUT_PREFIX || m->op == FILTER_BUT_SUFFIX) &&
		v->val.string.len == 0)
		invalid_pattern("Null prefix/suffix not allowed");
	add_string(m, v, capacity);
}

static void
compile_anything_but(FilterMatcher *m, JsonbValue *arg)
{
	JsonbValue	key;
	JsonbValue	inner;
	JsonbValue *elems;
	int			n;
	int			i;

	if (is_object(arg))
	{
		JsonbContainer *obj = arg->val.binary.data;

		if (JsonContainerSize(obj) == 0)
			invalid_pattern("Anything-But expression name not found");
		if (JsonContainerSize(obj) > 1)
			invalid_pattern("Too many elements in numeric expression");
		(void) only_key(obj, &key, &inner);
		if (string_is(&key, "equals-ignore-case"))
			m->op = FILTER_BUT_CI;
		else if (string_is(&key, "prefix"))
			m->op = FILTER_BUT_PREFIX;
		else if (string_is(&key, "suffix"))
			m->op = FILTER_BUT_SUFFIX;
		else if (string_is(&key, "wildcard"))
			m->op = FILTER_BUT_WILDCARD;
		else
			invalid_pattern("Unsupported anything-but pattern: %s", cstring_of(&key));
		if (!is_array(&inner) && inner.type != jbvString && inner.type != jbvNumeric)
			invalid_pattern("Value of anything-but must be an array or single string/number value.");
		if (!is_array(&inner))
		{
			add_but_value(m, &inner, 1);
			return;
		}
		elems = array_elements(inner.val.binary.data, &n);
		for (i = 0; i < n; i++)
			add_but_value(m, &elems[i], n);
		return;
	}

	if (!is_array(arg) && arg->type != jbvString && arg->type != jbvNumeric)
		invalid_pattern("Value of anything-but must be an array or single string/number value.");
	if (is_array(arg))
		elems = array_elements(arg->val.binary.data, &n);
	else
	{
		elems = arg;
		n = 1;
	}
	m->op = FILTER_BUT_STRINGS;
	for (i = 0; i < n; i++)
	{
		if (elems[i].type != jbvString && elems[i].type != jbvNumeric)
			invalid_pattern("Inside anything but list, start|null|boolean is not supported.");
		if (i == 0 && elems[i].type == jbvNumeric)
			m->op = FILTER_BUT_NUMBERS;
		if ((elems[i].type == jbvNumeric) != (m->op == FILTER_BUT_NUMBERS))
			invalid_pattern("Inside anything but list, either all values are number or string, mixed type is not supported");
	}
	if (n == 0)
		invalid_pattern("Inside anything but list, either all values are number or string, mixed type is not supported");
	if (m->op == FILTER_BUT_NUMBERS)
	{
		m->numbers = palloc(sizeof(double) * n);
		for (i = 0; i < n; i++)
			m->numbers[m->n++] = comparable_number(&elems[i]);
	}
	else
		for (i = 0; i < n; i++)
			add_string(m, &elems[i], n);
}

static bool
numeric_op_is(const char *op, const char *expected)
{
	return strcmp(op, expected) == 0;
}

/* The number after a numeric operator; event-ruler names "=" "equals". */
static double
numeric_bound(JsonbValue *elems, int n, int i, const char *op)
{
	if (i >= n || elems[i].type != jbvNumeric)
		invalid_pattern("Value of %s must be numeric",
						numeric_op_is(op, "=") ? "equals" : op);
	return comparable_number(&elems[i]);
}

/*
 * [op, n] or [">"|">=", n, "<"|"<=", m], as event-ruler's
 * processNumericMatchExpression reads it.
 */
static void
compile_numeric(FilterMatcher *m, JsonbContainer *array)
{
	int			n;
	JsonbValue *elems = array_elements(array, &n);
	char	   *op;
	double		bound;

	m->op = FILTER_NUMERIC;
	m->low = -INFINITY;
	m->high = INFINITY;
	if (n == 0 || elems[0].type != jbvString)
		invalid_pattern("Invalid member in numeric match: %s", n == 0 ? "]" : token_text(&elems[0]));
	op = cstring_of(&elems[0]);
	if (!numeric_op_is(op, "=") && !numeric_op_is(op, "<") && !numeric_op_is(op, "<=") &&
		!numeric_op_is(op, ">") && !numeric_op_is(op, ">="))
		invalid_pattern("Unrecognized numeric range operator: %s", op);
	bound = numeric_bound(elems, n, 1, op);
	if (op[0] == '=' || op[0] == '<')
	{
		if (n > 2)
			invalid_pattern("Too many elements in numeric expression");
		if (op[0] == '=' || op[1] == '=')
			m->high = bound;
		else
		{
			m->high = bound;
			m->high_open = true;
		}
		if (op[0] == '=')
			m->low = bound;
		return;
	}
	m->low = bound;
	m->low_open = op[1] != '=';
	if (n == 2)
		return;
	if (elems[2].type != jbvString)
		invalid_pattern("Bad value in numeric range: %s", token_text(&elems[2]));
	op = cstring_of(&elems[2]);
	if (!numeric_op_is(op, "<") && !numeric_op_is(op, "<="))
		invalid_pattern("Bad numeric range operator: %s", op);
	m->high = numeric_bound(elems, n, 3, op);
	m->high_open = op[1] != '=';
	if (n > 4)
		invalid_pattern("Too many terms in numeric range expression");
	if (m->low >= m->high)
		invalid_pattern("Bottom must be less than top");
}

/* the operators that take one string */
static const struct
{
	const char *name;
	FilterOp	op;
}			string_operators[] =
{
	{"exactly", FILTER_STRING},
	{"equals-ignore-case", FILTER_EQUALS_CI},
	{"wildcard", FILTER_WILDCARD},
	{"prefix", FILTER_PREFIX},
	{"suffix", FILTER_SUFFIX},
};

/* {"operator": argument}, one of a field's matchers */
static void
compile_expression(FilterMatcher *m, JsonbContainer *obj)
{
	JsonbValue	key;
	JsonbValue	arg;
	char	   *op;
	int			i;

	if (JsonContainerSize(obj) == 0)
		invalid_pattern("Match expression name not found");
	(void) only_key(obj, &key, &arg);
	op = cstring_of(&key);

	for (i = 0; i < lengthof(string_operators); i++)
	{
		if (strcmp(op, string_operators[i].name) != 0)
			continue;
		if (string_operators[i].op == FILTER_PREFIX && is_object(&arg))
			compile_affix_ci(m, arg.val.binary.data, true);
		else if (string_operators[i].op == FILTER_SUFFIX && is_object(&arg))
			compile_affix_ci(m, arg.val.binary.data, false);
		else
		{
			if (arg.type != jbvString)
				invalid_pattern("%s match pattern must be a string",
								string_operators[i].op == FILTER_STRING ? "exact" : op);
			m->op = string_operators[i].op;
			add_string(m, &arg, 1);
		}
		return;
	}
	if (strcmp(op, "numeric") == 0)
	{
		if (!is_array(&arg))
			invalid_pattern("Value of numeric must be an array.");
		compile_numeric(m, arg.val.binary.data);
	}
	else if (strcmp(op, "anything-but") == 0)
		compile_anything_but(m, &arg);
	else if (strcmp(op, "exists") == 0)
	{
		if (arg.type != jbvBool)
			invalid_pattern("exists match pattern must be either true or false.");
		m->op = arg.val.boolean ? FILTER_EXISTS : FILTER_ABSENT;
	}
	else
		invalid_pattern("Unrecognized match type %s", op);
}

/* A field's list of matchers. */
static void
compile_matchers(FilterField *field, JsonbContainer *array)
{
	int			n;
	JsonbValue *elems = array_elements(array, &n);
	int			i;

	if (n == 0)
		invalid_pattern("Empty arrays are not allowed");
	field->nmatchers = n;
	field->matchers = palloc0(sizeof(FilterMatcher) * n);
	for (i = 0; i < n; i++)
	{
		FilterMatcher *m = &field->matchers[i];

		switch (elems[i].type)
		{
			case jbvString:
				m->op = FILTER_STRING;
				add_string(m, &elems[i], 1);
				break;
			case jbvNumeric:
				{
					char	   *text = (char *) token_text(&elems[i]);

					m->op = FILTER_NUMBER;
					m->n = 1;
					m->strings = palloc(sizeof(FilterString));
					m->strings[0].data = text;
					m->strings[0].len = strlen(text);
					break;
				}
			case jbvBool:
				m->op = elems[i].val.boolean ? FILTER_TRUE : FILTER_FALSE;
				break;
			case jbvNull:
				m->op = FILTER_NULL;
				break;
			default:
				if (!is_object(&elems[i]))
					invalid_pattern("Match value must be String, number, true, false, or null");
				compile_expression(m, elems[i].val.binary.data);
				break;
		}
	}
}

/* event-ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP */
static bool
reserved_in_or(const JsonbValue *key)
{
	static const char *const reserved[] = {"exactly", "equals-ignore-case", "prefix",
		"suffix", "anything-but", "exists", "wildcard", "numeric", "cidr"};
	int			i;

	for (i = 0; i < lengthof(reserved); i++)
		if (string_is(key, reserved[i]))
			return true;
	return false;
}

static void
compile_or(FilterOr *or, JsonbValue *value)
{
	JsonbValue *elems;
	int			n;
	int			i;

	if (!is_array(value))
		invalid_pattern("It must be an Array followed with $or.");
	elems = array_elements(value->val.binary.data, &n);
	for (i = 0; i < n; i++)
		if (!is_object(&elems[i]))
			invalid_pattern("Only JSON object is allowed in array of $or relationship.");
	if (n < 2)
		invalid_pattern("There must have at least 2 Objects in $or relationship.");
	or->n = n;
	or->alternatives = palloc(sizeof(FilterNode *) * n);
	for (i = 0; i < n; i++)
		or->alternatives[i] = compile_node(elems[i].val.binary.data, true);
}

static FilterNode *
compile_node(JsonbContainer *obj, bool in_or)
{
	FilterNode *node = palloc0(sizeof(FilterNode));
	int			size = JsonContainerSize(obj);
	JsonbIterator *it;
	JsonbValue	key;
	JsonbValue	value;
	JsonbIteratorToken tok;

	check_stack_depth();
	if (size == 0)
		invalid_pattern("Empty objects are not allowed");
	node->fields = palloc0(sizeof(FilterField) * size);
	node->ors = palloc0(sizeof(FilterOr) * size);
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		FilterField *field;

		if (tok != WJB_KEY)
			continue;
		(void) JsonbIteratorNext(&it, &value, true);
		if (string_is(&key, "$or"))
		{
			compile_or(&node->ors[node->nors++], &value);
			continue;
		}
		if (in_or && reserved_in_or(&key))
			invalid_pattern("%s is Ruler reserved fieldName which cannot be used inside $or.",
							cstring_of(&key));
		field = &node->fields[node->nfields++];
		field->key.data = key.val.string.val;
		field->key.len = key.val.string.len;
		field->numeric_strings = string_is(&key, "N") || string_is(&key, "NS");
		if (is_object(&value))
			field->object = compile_node(value.val.binary.data, in_or);
		else if (is_array(&value))
			compile_matchers(field, value.val.binary.data);
		else
			invalid_pattern("\"%s\" must be an object or an array", cstring_of(&key));
	}
	return node;
}

/* A Pattern string as jsonb; JSON syntax errors are invalid patterns. */
static Jsonb *
parse_pattern(const char *text)
{
	char	   *message = NULL;
	Jsonb	   *parsed = record_try_jsonb(text, &message);

	if (parsed == NULL)
		invalid_pattern("%s", message);
	if (!JB_ROOT_IS_OBJECT(parsed))
		invalid_pattern("Filter is not an object");
	return parsed;
}

FilterCriteria *
filter_compile(Jsonb *criteria)
{
	const char *shape = "filter_criteria is {\"Filters\": [{\"Pattern\": \"<json>\"}, ...]}.";
	FilterCriteria *fc = palloc0(sizeof(FilterCriteria));
	JsonbValue *filters;
	JsonbValue *elems;
	int			n;
	int			i;

	if (!JB_ROOT_IS_OBJECT(criteria))
		invalid_criteria(shape);
	filters = getKeyJsonValueFromContainer(&criteria->root, "Filters", strlen("Filters"), NULL);
	if (filters == NULL || !is_array(filters))
		invalid_criteria(shape);
	elems = array_elements(filters->val.binary.data, &n);
	if (n > 5)
		invalid_criteria("At most 5 filters per mapping, as in AWS.");
	fc->patterns = palloc(sizeof(FilterNode *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		JsonbValue *pattern = NULL;

		if (is_object(&elems[i]))
			pattern = getKeyJsonValueFromContainer(elems[i].val.binary.data,
												   "Pattern", strlen("Pattern"), NULL);
		if (pattern == NULL || pattern->type != jbvString)
			invalid_criteria("Each filter is {\"Pattern\": \"<json object, as a string>\"}.");
		fc->patterns[fc->npatterns++] =
			compile_node(&parse_pattern(cstring_of(pattern))->root, false);
	}
	return fc;
}
