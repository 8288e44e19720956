/*-------------------------------------------------------------------------
 * json_check.c
 *	  Whether a text is JSON, as json_in() decides it, in one pass without
 *	  a lexer's per-token calls.
 *
 * record_json() checks every record it renders, since anyone may call it
 * with any arguments; the records view and GetRecords call it for every
 * record they show, and PostgreSQL's own parser (pg_parse_json) was about a
 * sixth of a GetRecords page's time.  This accepts exactly what json_in()
 * accepts (RFC 8259, and escapes not decoded: a \u escape is four hex
 * digits, whatever it names); the text is valid in the database encoding
 * already, being a text datum, so bytes above 0x7F are taken as they are.
 * Containers nest without limit: a stack of bits, not recursion.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "json_check.h"

/* ASCII classes by value: <ctype.h>'s depend on the locale */
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_HEX(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
/* what json_in takes for part of a token: a letter, a digit, '_' or a byte above 0x7F */
#define IS_TOKEN_CHAR(c) (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || \
						  (c) == '_' || (unsigned char) (c) >= 0x80)

typedef enum JsonExpect
{
	EXPECT_VALUE,				/* a value */
	EXPECT_VALUE_OR_END,		/* after '[': a value or ']' */
	EXPECT_KEY_OR_END,			/* after '{': a member's name or '}' */
	EXPECT_KEY,					/* after ',' in an object */
	EXPECT_COLON,				/* after a member's name */
	EXPECT_NEXT					/* after a value: ',', the container's end, or the text's */
} JsonExpect;

/* The end of the string token whose opening '"' is at p, past its closing '"'; NULL if none. */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\')
		{
			if (++p >= end)
				return NULL;
			switch (*p)
			{
				case '"':
				case '\\':
				case '/':
				case 'b':
				case 'f':
				case 'n':
				case 'r':
				case 't':
					break;
				case 'u':
					if (end - p < 5 || !IS_HEX(p[1]) || !IS_HEX(p[2]) || !IS_HEX(p[3]) || !IS_HEX(p[4]))
						return NULL;
					p += 4;
					break;
				default:
					return NULL;
			}
		}
	}
	return NULL;
}

/* The end of the number token at p: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; NULL if none. */
static const char *
skip_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p >= end || !IS_DIGIT(*p))
		return NULL;
	if (*p == '0')
		p++;
	else
		while (p < end && IS_DIGIT(*p))
			p++;
	if (p < end && *p == '.')
	{
		if (++p >= end || !IS_DIGIT(*p))
			return NULL;
		while (p < end && IS_DIGIT(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !IS_DIGIT(*p))
			return NULL;
		while (p < end && IS_DIGIT(*p))
			p++;
	}
	/* json_in takes "1x" for one invalid token, not a number and junk */
	if (p < end && IS_TOKEN_CHAR(*p))
		return NULL;
	return p;
}

/* The end of the keyword at p if it is word; NULL if not. */
static const char *
skip_word(const char *p, const char *end, const char *word, int len)
{
	if (end - p < len || memcmp(p, word, len) != 0)
		return NULL;
	p += len;
	if (p < end && IS_TOKEN_CHAR(*p))
		return NULL;
	return p;
}

bool
json_check(const char *data, int len)
{
	const char *p = data;
	const char *end = data + len;
	JsonExpect expect = EXPECT_VALUE;
	int			depth = 0;
	int			capacity = 64;
	uint8		first_levels[8];
	uint8	   *in_object = first_levels;	/* a bit per open container: an object? */
	bool		ok = false;

	for (;;)
	{
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p >= end)
		{
			ok = (expect == EXPECT_NEXT && depth == 0);
			break;
		}
		if (expect == EXPECT_COLON)
		{
			if (*p != ':')
				break;
			p++;
			expect = EXPECT_VALUE;
			continue;
		}
		if (expect == EXPECT_NEXT)
		{
			bool		object;

			if (depth == 0)
				break;			/* something after the value */
			object = (in_object[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
			if (*p == ',')
				expect = object ? EXPECT_KEY : EXPECT_VALUE;
			else if (*p == (object ? '}' : ']'))
				depth--;
			else
				break;
			p++;
			continue;
		}
		if (expect == EXPECT_KEY_OR_END || expect == EXPECT_KEY)
		{
			if (*p == '}' && expect == EXPECT_KEY_OR_END)
			{
				depth--;
				p++;
				expect = EXPECT_NEXT;
				continue;
			}
			if (*p != '"' || (p = skip_string(p, end)) == NULL)
				break;
			expect = EXPECT_COLON;
			continue;
		}
		/* EXPECT_VALUE or EXPECT_VALUE_OR_END */
		if (*p == ']' && expect == EXPECT_VALUE_OR_END)
		{
			depth--;
			p++;
			expect = EXPECT_NEXT;
			continue;
		}
		if (*p == '{' || *p == '[')
		{
			if (depth == capacity)
			{
				uint8	   *more = palloc(capacity * 2 / 8);

				memcpy(more, in_object, capacity / 8);
				if (in_object != first_levels)
					pfree(in_object);
				in_object = more;
				capacity *= 2;
			}
			if (*p == '{')
				in_object[depth / 8] |= (uint8) (1 << (depth % 8));
			else
				in_object[depth / 8] &= (uint8) ~(1 << (depth % 8));
			depth++;
			expect = (*p == '{') ? EXPECT_KEY_OR_END : EXPECT_VALUE_OR_END;
			p++;
			continue;
		}
		switch (*p)
		{
			case '"':
				p = skip_string(p, end);
				break;
			case 't':
				p = skip_word(p, end, "true", 4);
				break;
			case 'f':
				p = skip_word(p, end, "false", 5);
				break;
			case 'n':
				p = skip_word(p, end, "null", 4);
				break;
			default:
				p = skip_number(p, end);
				break;
		}
		if (p == NULL)
			break;
		expect = EXPECT_NEXT;
	}
	if (in_object != first_levels)
		pfree(in_object);
	return ok;
}
