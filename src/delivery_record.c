/*-------------------------------------------------------------------------
 * delivery_record.c
 *	  A stream record's JSON text as jsonb, without jsonb_in.
 *
 * Delivery turns every record it delivers into jsonb.  jsonb_in builds a
 * tree of JsonbValues from a token-by-token parse, sorts it and serializes
 * it: nearly half of a delivery worker's time in a bulk apply.  Records are
 * JSON this extension wrote (no whitespace, strings escaped by
 * escape_json()), so one recursive pass can write the jsonb layout
 * directly: each container's children are converted into a scratch buffer
 * of their depth, then copied after the container's header and JEntries, an
 * object's in jsonb's key order.  The result is byte for byte what jsonb_in
 * makes of the same text (convertJsonbObject() and convertJsonbArray() are
 * the layout's reference).  Anything this pass does not expect (a \u escape
 * beyond control characters, a duplicate key, deep nesting, a malformed
 * text) falls back to jsonb_in, which then reports or handles it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "delivery_record.h"

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

/* deeper records (nested maps and lists) take jsonb_in's path */
#define FAST_MAX_DEPTH 32

/* a child of a container being converted: where its bytes are in the scratch */
typedef struct FastChild
{
	uint32		type;			/* JENTRY_IS* */
	int			data;			/* offset in the level's scratch */
	int			len;			/* bytes, without alignment padding */
	int			key;			/* objects: offset of the key in keys */
	int			key_len;
} FastChild;

typedef struct FastLevel
{
	StringInfoData scratch;		/* the children's data, each int-aligned */
	StringInfoData keys;		/* an object's keys, unescaped */
	FastChild  *children;
	int			nchildren;
	int			maxchildren;
} FastLevel;

struct DeliveryRecordParser
{
	const char *p;
	const char *end;
	FastLevel	levels[FAST_MAX_DEPTH];
	int			nlevels;		/* levels initialized */
	MemoryContext cxt;			/* the levels' */
};

typedef struct DeliveryRecordParser FastParser;

static bool convert_value(FastParser *ps, int depth, StringInfo out, uint32 *type);

static inline void
skip_space(FastParser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
		ps->p++;
}

static void
pad_to_int(StringInfo buf)
{
	int			padlen = INTALIGN(buf->len) - buf->len;

	if (padlen > 0)
	{
		enlargeStringInfo(buf, padlen);
		memset(buf->data + buf->len, 0, padlen);
		buf->len += padlen;
	}
}

static FastLevel *
level_at(FastParser *ps, int depth)
{
	FastLevel  *level = &ps->levels[depth];

	if (depth >= ps->nlevels)
	{
		MemoryContext old = MemoryContextSwitchTo(ps->cxt);

		initStringInfo(&level->scratch);
		initStringInfo(&level->keys);
		level->maxchildren = 16;
		level->children = palloc(sizeof(FastChild) * level->maxchildren);
		MemoryContextSwitchTo(old);
		ps->nlevels = depth + 1;
	}
	resetStringInfo(&level->scratch);
	resetStringInfo(&level->keys);
	level->nchildren = 0;
	return level;
}

/*
 * A JSON string at ps->p (its opening quote), unescaped onto out.  Only
 * the escapes escape_json() writes: \u for control characters only.
 */
static bool
convert_string(FastParser *ps, StringInfo out)
{
	const char *p = ps->p + 1;

	for (;;)
	{
		const char *run = p;

		while (p < ps->end && *p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
			p++;
		if (p > run)
			appendBinaryStringInfoNT(out, run, p - run);
		if (p >= ps->end || (unsigned char) *p < 0x20)
			return false;
		if (*p == '"')
			break;
		/* a backslash */
		if (p + 1 >= ps->end)
			return false;
		switch (p[1])
		{
			case '"':
			case '\\':
			case '/':
				appendStringInfoCharMacro(out, p[1]);
				break;
			case 'b':
				appendStringInfoCharMacro(out, '\b');
				break;
			case 'f':
				appendStringInfoCharMacro(out, '\f');
				break;
			case 'n':
				appendStringInfoCharMacro(out, '\n');
				break;
			case 'r':
				appendStringInfoCharMacro(out, '\r');
				break;
			case 't':
				appendStringInfoCharMacro(out, '\t');
				break;
			case 'u':
				{
					int			code = 0;
					int			i;

					if (p + 6 > ps->end)
						return false;
					for (i = 2; i < 6; i++)
					{
						char		c = p[i];

						code <<= 4;
						if (c >= '0' && c <= '9')
							code |= c - '0';
						else if (c >= 'a' && c <= 'f')
							code |= c - 'a' + 10;
						else if (c >= 'A' && c <= 'F')
							code |= c - 'A' + 10;
						else
							return false;
					}
					/* \u0000 and what needs encoding conversion: jsonb_in's */
					if (code == 0 || code >= 0x80)
						return false;
					appendStringInfoCharMacro(out, (char) code);
					p += 4;
				}
				break;
			default:
				return false;
		}
		p += 2;
	}
	ps->p = p + 1;
	return true;
}

/* a JSON number at ps->p, as jsonb_in stores it: a numeric */
static bool
convert_number(FastParser *ps, StringInfo out)
{
	const char *p = ps->p;
	char		token[64];
	Numeric		num;

	if (p < ps->end && *p == '-')
		p++;
	if (p >= ps->end || !IS_DIGIT(*p))
		return false;
	if (*p == '0')
		p++;
	else
		while (p < ps->end && IS_DIGIT(*p))
			p++;
	if (p < ps->end && *p == '.')
	{
		p++;
		if (p >= ps->end || !IS_DIGIT(*p))
			return false;
		while (p < ps->end && IS_DIGIT(*p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || !IS_DIGIT(*p))
			return false;
		while (p < ps->end && IS_DIGIT(*p))
			p++;
	}
	if (p - ps->p >= (int) sizeof(token))
		return false;
	memcpy(token, ps->p, p - ps->p);
	token[p - ps->p] = '\0';
	num = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(token),
											  ObjectIdGetDatum(InvalidOid),
											  Int32GetDatum(-1)));
	appendBinaryStringInfoNT(out, (char *) num, VARSIZE_ANY(num));
	pfree(num);
	ps->p = p;
	return true;
}

static bool
literal(FastParser *ps, const char *word)
{
	int			len = strlen(word);

	if (ps->end - ps->p < len || memcmp(ps->p, word, len) != 0)
		return false;
	ps->p += len;
	return true;
}

/* jsonb's key order: shorter first, then bytewise (lengthCompareJsonbPair) */
static int
compare_keys(const void *a, const void *b, void *arg)
{
	const FastChild *ca = (const FastChild *) a;
	const FastChild *cb = (const FastChild *) b;
	const char *keys = (const char *) arg;

	if (ca->key_len != cb->key_len)
		return ca->key_len > cb->key_len ? 1 : -1;
	return memcmp(keys + ca->key, keys + cb->key, ca->key_len);
}

/*
 * The container at ps->p ('{' or '['), appended to out as
 * convertJsonbObject() or convertJsonbArray() would write it, leading
 * alignment padding included.
 */
static bool
convert_container(FastParser *ps, int depth, StringInfo out)
{
	bool		object = *ps->p == '{';
	char		close = object ? '}' : ']';
	FastLevel  *level;
	int			n;
	int			i;
	int			jentries;
	uint32		header;
	uint32		total = 0;

	if (depth >= FAST_MAX_DEPTH)
		return false;
	level = level_at(ps, depth);
	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close)
		ps->p++;
	else
	{
		for (;;)
		{
			FastChild  *child;

			if (level->nchildren == level->maxchildren)
			{
				level->maxchildren *= 2;
				level->children = repalloc(level->children,
										   sizeof(FastChild) * level->maxchildren);
			}
			child = &level->children[level->nchildren];
			if (object)
			{
				if (ps->p >= ps->end || *ps->p != '"')
					return false;
				child->key = level->keys.len;
				if (!convert_string(ps, &level->keys))
					return false;
				child->key_len = level->keys.len - child->key;
				skip_space(ps);
				if (ps->p >= ps->end || *ps->p != ':')
					return false;
				ps->p++;
				skip_space(ps);
			}
			/* each child int-aligned: its layout then depends on nothing before it */
			pad_to_int(&level->scratch);
			child->data = level->scratch.len;
			if (!convert_value(ps, depth + 1, &level->scratch, &child->type))
				return false;
			child->len = level->scratch.len - child->data;
			if (child->len > JENTRY_OFFLENMASK)
				return false;
			level->nchildren++;
			skip_space(ps);
			if (ps->p >= ps->end)
				return false;
			if (*ps->p == ',')
			{
				ps->p++;
				skip_space(ps);
				continue;
			}
			if (*ps->p != close)
				return false;
			ps->p++;
			break;
		}
	}
	n = level->nchildren;
	if (n > JB_CMASK)
		return false;
	if (object && n > 1)
	{
		qsort_arg(level->children, n, sizeof(FastChild), compare_keys, level->keys.data);
		for (i = 1; i < n; i++)
			if (compare_keys(&level->children[i - 1], &level->children[i],
							 level->keys.data) == 0)
				return false;
	}

	/* the header, the JEntries (reserved), then the keys' and values' data */
	header = (uint32) n | (object ? JB_FOBJECT : JB_FARRAY);
	appendBinaryStringInfoNT(out, (char *) &header, sizeof(uint32));
	jentries = out->len;
	enlargeStringInfo(out, sizeof(JEntry) * n * (object ? 2 : 1));
	out->len += sizeof(JEntry) * n * (object ? 2 : 1);
	if (object)
	{
		for (i = 0; i < n; i++)
		{
			FastChild  *child = &level->children[i];
			JEntry		entry;

			appendBinaryStringInfoNT(out, level->keys.data + child->key, child->key_len);
			total += child->key_len;
			entry = (i % JB_OFFSET_STRIDE) == 0 ?
				JENTRY_ISSTRING | JENTRY_HAS_OFF | total :
				JENTRY_ISSTRING | (uint32) child->key_len;
			memcpy(out->data + jentries, &entry, sizeof(JEntry));
			jentries += sizeof(JEntry);
		}
	}
	for (i = 0; i < n; i++)
	{
		FastChild  *child = &level->children[i];
		int			start = out->len;
		uint32		len;
		JEntry		entry;
		int			position = object ? i + n : i;

		if (child->type == JENTRY_ISNUMERIC || child->type == JENTRY_ISCONTAINER)
			pad_to_int(out);
		appendBinaryStringInfoNT(out, level->scratch.data + child->data, child->len);
		len = out->len - start;
		total += len;
		if (total > JENTRY_OFFLENMASK)
			return false;
		entry = (position % JB_OFFSET_STRIDE) == 0 ?
			child->type | JENTRY_HAS_OFF | total :
			child->type | len;
		memcpy(out->data + jentries, &entry, sizeof(JEntry));
		jentries += sizeof(JEntry);
	}
	return true;
}

/* The value at ps->p appended to out; *type is its JENTRY_IS* */
static bool
convert_value(FastParser *ps, int depth, StringInfo out, uint32 *type)
{
	if (ps->p >= ps->end)
		return false;
	switch (*ps->p)
	{
		case '{':
		case '[':
			*type = JENTRY_ISCONTAINER;
			return convert_container(ps, depth, out);
		case '"':
			*type = JENTRY_ISSTRING;
			return convert_string(ps, out);
		case 't':
			*type = JENTRY_ISBOOL_TRUE;
			return literal(ps, "true");
		case 'f':
			*type = JENTRY_ISBOOL_FALSE;
			return literal(ps, "false");
		case 'n':
			*type = JENTRY_ISNULL;
			return literal(ps, "null");
		default:
			*type = JENTRY_ISNUMERIC;
			return convert_number(ps, out);
	}
}

DeliveryRecordParser *
delivery_record_parser(void)
{
	DeliveryRecordParser *ps = palloc0(sizeof(DeliveryRecordParser));

	ps->cxt = CurrentMemoryContext;
	return ps;
}

bool
delivery_record_append(DeliveryRecordParser *ps, const char *text, int len, StringInfo out)
{
	int			start = out->len;

	Assert(out->len == INTALIGN(out->len));
	ps->p = text;
	ps->end = text + len;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == '{' && convert_container(ps, 0, out) &&
		(skip_space(ps), ps->p == ps->end))
		return true;
	out->len = start;
	out->data[start] = '\0';
	return false;
}

Jsonb *
delivery_record_jsonb(DeliveryRecordParser *ps, const char *text)
{
	StringInfoData out;
	uint32		header = 0;

	initStringInfo(&out);
	appendBinaryStringInfoNT(&out, (char *) &header, VARHDRSZ);
	if (!delivery_record_append(ps, text, strlen(text), &out))
	{
		pfree(out.data);
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	SET_VARSIZE(out.data, out.len);
	return (Jsonb *) out.data;
}
