/*-------------------------------------------------------------------------
 * filter_match.c
 *	  Matching a stream record against compiled FilterCriteria patterns.
 *
 * As in event-ruler, a pattern field's matchers apply to the leaves at its
 * path: a scalar, or any scalar of an array there (arrays match on a
 * non-empty intersection), never an object; "exists" asks whether there is
 * such a leaf.  A nested pattern applied to an array of objects must match
 * one element as a whole, so that fields of one element are not matched
 * with fields of another.  Numbers match by value in numeric rules and
 * anything-but lists of numbers, by their text otherwise.  Nothing here
 * raises an error for any record: every pattern was validated when compiled.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <locale.h>
#include <math.h>
#include <wctype.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "filter_internal.h"

static bool node_matches(const FilterNode *node, JsonbContainer *obj);

/* C.UTF-8's case mappings, for every database locale alike */
static locale_t
utf8_ctype(void)
{
	static bool looked_up = false;
	static locale_t ctype = (locale_t) 0;

	if (!looked_up)
	{
		ctype = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t) 0);
		looked_up = true;
	}
	return ctype;
}

/*
 * As Java's equalsIgnoreCase compares characters: upper-cased, then
 * lower-cased, so that "ÉCOLE" and "école" agree.  ASCII only when the
 * database is not UTF-8 or the platform has no C.UTF-8.
 */
FilterString
filter_fold_case(const char *s, int len)
{
	locale_t	ctype = GetDatabaseEncoding() == PG_UTF8 ? utf8_ctype() : (locale_t) 0;
	char	   *out = palloc(len * 4 + 1);
	FilterString folded;
	int			i = 0;
	int			o = 0;

	while (i < len)
	{
		int			clen = pg_utf_mblen((const unsigned char *) s + i);
		pg_wchar	c;

		if (ctype == (locale_t) 0 || (unsigned char) s[i] < 0x80 || i + clen > len)
		{
			out[o++] = pg_tolower((unsigned char) s[i]);
			i++;
			continue;
		}
		c = utf8_to_unicode((const unsigned char *) s + i);
		c = (pg_wchar) towlower_l(towupper_l((wint_t) c, ctype), ctype);
		unicode_to_utf8(c, (unsigned char *) out + o);
		o += pg_utf_mblen((unsigned char *) out + o);
		i += clen;
	}
	out[o] = '\0';
	folded.data = out;
	folded.len = o;
	return folded;
}

bool
filter_wildcard_matches(const FilterWildcard *w, const char *s, int len)
{
	const FilterString *first = &w->parts[0];
	const FilterString *last = &w->parts[w->nparts - 1];
	int			pos;
	int			end;
	int			i;

	if (w->nparts == 1)
		return len == first->len && memcmp(s, first->data, len) == 0;
	/* the first part anchors the start, the last the end */
	if (len < first->len + last->len ||
		memcmp(s, first->data, first->len) != 0 ||
		memcmp(s + len - last->len, last->data, last->len) != 0)
		return false;
	/* the middle parts, leftmost first: with '*' only, that never misses */
	pos = first->len;
	end = len - last->len;
	for (i = 1; i < w->nparts - 1; i++)
	{
		const FilterString *part = &w->parts[i];

		while (pos + part->len <= end && memcmp(s + pos, part->data, part->len) != 0)
			pos++;
		if (pos + part->len > end)
			return false;
		pos += part->len;
	}
	return true;
}

static bool
same_string(const FilterString *a, const char *s, int len)
{
	return a->len == len && memcmp(a->data, s, len) == 0;
}

static bool
has_prefix(const FilterString *prefix, const char *s, int len)
{
	return len >= prefix->len && memcmp(s, prefix->data, prefix->len) == 0;
}

static bool
has_suffix(const FilterString *suffix, const char *s, int len)
{
	return len >= suffix->len &&
		memcmp(s + len - suffix->len, suffix->data, suffix->len) == 0;
}

/*
 * A leaf's number: a JSON number, or (the extension, README) a DynamoDB N
 * string.  False if it has none a double holds.
 */
static bool
leaf_number(const JsonbValue *v, bool numeric_strings, double *out)
{
	char		buf[64];
	char	   *text;
	char	   *end;

	if (v->type == jbvNumeric)
		text = DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(v->val.numeric)));
	else if (v->type == jbvString && numeric_strings)
	{
		text = v->val.string.len < sizeof(buf) ? buf : palloc(v->val.string.len + 1);
		memcpy(text, v->val.string.val, v->val.string.len);
		text[v->val.string.len] = '\0';
	}
	else
		return false;
	errno = 0;
	*out = strtod(text, &end);
	return end != text && *end == '\0' && errno == 0 && !isnan(*out) && !isinf(*out);
}

static bool
any_string(const FilterMatcher *m, const char *s, int len,
		   bool (*test) (const FilterString *, const char *, int))
{
	int			i;

	for (i = 0; i < m->n; i++)
		if (test(&m->strings[i], s, len))
			return true;
	return false;
}

static bool
any_wildcard(const FilterMatcher *m, const char *s, int len)
{
	int			i;

	for (i = 0; i < m->n; i++)
		if (filter_wildcard_matches(&m->wildcards[i], s, len))
			return true;
	return false;
}

/* A matcher other than exists against one leaf. */
static bool
leaf_matches(const FilterField *field, const FilterMatcher *m, const JsonbValue *v)
{
	bool		is_string = v->type == jbvString;
	const char *s = is_string ? v->val.string.val : NULL;
	int			len = is_string ? v->val.string.len : 0;
	FilterString folded;
	double		x;
	int			i;

	switch (m->op)
	{
		case FILTER_STRING:
			return is_string && same_string(&m->strings[0], s, len);
		case FILTER_NUMBER:
			{
				char	   *text;

				if (v->type != jbvNumeric)
					return false;
				text = DatumGetCString(DirectFunctionCall1(numeric_out,
														   NumericGetDatum(v->val.numeric)));
				return same_string(&m->strings[0], text, strlen(text));
			}
		case FILTER_TRUE:
		case FILTER_FALSE:
			return v->type == jbvBool && v->val.boolean == (m->op == FILTER_TRUE);
		case FILTER_NULL:
			return v->type == jbvNull;
		case FILTER_PREFIX:
			return is_string && has_prefix(&m->strings[0], s, len);
		case FILTER_SUFFIX:
			return is_string && has_suffix(&m->strings[0], s, len);
		case FILTER_WILDCARD:
			return is_string && any_wildcard(m, s, len);
		case FILTER_PREFIX_CI:
		case FILTER_SUFFIX_CI:
		case FILTER_EQUALS_CI:
			if (!is_string)
				return false;
			folded = filter_fold_case(s, len);
			return m->op == FILTER_PREFIX_CI ? has_prefix(&m->strings[0], folded.data, folded.len) :
				m->op == FILTER_SUFFIX_CI ? has_suffix(&m->strings[0], folded.data, folded.len) :
				same_string(&m->strings[0], folded.data, folded.len);
		case FILTER_NUMERIC:
			if (!leaf_number(v, field->numeric_strings, &x))
				return false;
			return (m->low_open ? x > m->low : x >= m->low) &&
				(m->high_open ? x < m->high : x <= m->high);

			/* anything-but: any leaf but a string (number) it names */
		case FILTER_BUT_STRINGS:
			return !is_string || !any_string(m, s, len, same_string);
		case FILTER_BUT_NUMBERS:
			if (v->type != jbvNumeric || !leaf_number(v, false, &x))
				return true;
			for (i = 0; i < m->n; i++)
				if (m->numbers[i] == x)
					return false;
			return true;
		case FILTER_BUT_PREFIX:
			return !is_string || !any_string(m, s, len, has_prefix);
		case FILTER_BUT_SUFFIX:
			return !is_string || !any_string(m, s, len, has_suffix);
		case FILTER_BUT_CI:
			if (!is_string)
				return true;
			folded = filter_fold_case(s, len);
			return !any_string(m, folded.data, folded.len, same_string);
		case FILTER_BUT_WILDCARD:
			return !is_string || !any_wildcard(m, s, len);
		case FILTER_EXISTS:
		case FILTER_ABSENT:
			break;
	}
	return false;
}

/*
 * Whether a leaf at v (NULL: absent) matches m, or with m NULL whether
 * there is any leaf (exists).  Arrays are searched, nested ones too.
 */
static bool
value_matches(const FilterField *field, const FilterMatcher *m, const JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	if (v == NULL)
		return false;
	if (v->type != jbvBinary)
		return m == NULL || leaf_matches(field, m, v);
	if (!JsonContainerIsArray(v->val.binary.data))
		return false;
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		if (tok == WJB_ELEM && value_matches(field, m, &elem))
			return true;
	return false;
}

static bool
field_matches(const FilterField *field, const JsonbValue *v)
{
	int			i;

	for (i = 0; i < field->nmatchers; i++)
	{
		const FilterMatcher *m = &field->matchers[i];

		if (m->op == FILTER_EXISTS || m->op == FILTER_ABSENT)
		{
			if (value_matches(field, NULL, v) == (m->op == FILTER_EXISTS))
				return true;
		}
		else if (value_matches(field, m, v))
			return true;
	}
	return false;
}

/*
 * A nested pattern at v: an object, one object of an array, or (when
 * there is none) the absence of any, which "exists": false can match.
 */
static bool
object_matches(const FilterNode *node, const JsonbValue *v)
{
	bool		any_object = false;

	if (v != NULL && v->type == jbvBinary)
	{
		JsonbContainer *c = v->val.binary.data;
		JsonbIterator *it;
		JsonbValue	elem;
		JsonbIteratorToken tok;

		if (JsonContainerIsObject(c))
			return node_matches(node, c);
		it = JsonbIteratorInit(c);
		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM || elem.type != jbvBinary)
				continue;
			if (JsonContainerIsObject(elem.val.binary.data))
				any_object = true;
			if (object_matches(node, &elem))
				return true;
		}
	}
	return !any_object && node_matches(node, NULL);
}

/* obj NULL: no object at this path */
static bool
node_matches(const FilterNode *node, JsonbContainer *obj)
{
	int			i;
	int			j;

	for (i = 0; i < node->nfields; i++)
	{
		const FilterField *field = &node->fields[i];
		JsonbValue	found;
		JsonbValue *v = NULL;

		if (obj != NULL)
			v = getKeyJsonValueFromContainer(obj, field->key.data, field->key.len, &found);
		if (field->object != NULL ? !object_matches(field->object, v) : !field_matches(field, v))
			return false;
	}
	for (i = 0; i < node->nors; i++)
	{
		const FilterOr *or = &node->ors[i];

		for (j = 0; j < or->n; j++)
			if (node_matches(or->alternatives[j], obj))
				break;
		if (j == or->n)
			return false;
	}
	return true;
}

bool
filter_matches(const FilterCriteria *criteria, Jsonb *record)
{
	int			i;

	for (i = 0; i < criteria->npatterns; i++)
		if (node_matches(criteria->patterns[i],
						 JB_ROOT_IS_OBJECT(record) ? &record->root : NULL))
			return true;
	return criteria->npatterns == 0;
}
