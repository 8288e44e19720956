/*-------------------------------------------------------------------------
 * filter_internal.h
 *	  The compiled form of filter patterns, shared by filter_compile.c,
 *	  which builds it, and filter_match.c, which walks it per record.
 *
 * A pattern is a tree of FilterNodes, one per JSON object of the pattern:
 * its fields must all match, and each of its "$or" groups must have a
 * matching alternative.  A field either descends into a nested object or
 * holds a list of matchers, any of which must match a leaf of the record
 * at that path (a scalar, or any scalar of an array there).
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_FILTER_INTERNAL_H
#define ORDERS_STREAM_FILTER_INTERNAL_H

#include "filter.h"

typedef enum FilterOp
{
	FILTER_STRING,				/* a string literal, or "exactly" */
	FILTER_NUMBER,				/* a number literal: equal as text */
	FILTER_TRUE,
	FILTER_FALSE,
	FILTER_NULL,
	FILTER_PREFIX,
	FILTER_SUFFIX,
	FILTER_PREFIX_CI,			/* prefix: {equals-ignore-case} */
	FILTER_SUFFIX_CI,			/* suffix: {equals-ignore-case} */
	FILTER_EQUALS_CI,
	FILTER_WILDCARD,
	FILTER_NUMERIC,
	FILTER_EXISTS,
	FILTER_ABSENT,				/* exists: false */
	FILTER_BUT_STRINGS,			/* anything-but, strings */
	FILTER_BUT_NUMBERS,			/* anything-but, numbers */
	FILTER_BUT_PREFIX,
	FILTER_BUT_SUFFIX,
	FILTER_BUT_CI,
	FILTER_BUT_WILDCARD
} FilterOp;

typedef struct FilterString
{
	const char *data;
	int			len;
} FilterString;

/* a wildcard: literal parts between its '*'s, escapes resolved */
typedef struct FilterWildcard
{
	int			nparts;			/* number of '*' plus one */
	FilterString *parts;
} FilterWildcard;

typedef struct FilterMatcher
{
	FilterOp	op;
	int			n;				/* strings, numbers or wildcards held */
	FilterString *strings;		/* case-folded for the _CI operators */
	double	   *numbers;
	FilterWildcard *wildcards;
	double		low;			/* numeric: the range, -inf/inf if open */
	double		high;
	bool		low_open;
	bool		high_open;
} FilterMatcher;

typedef struct FilterNode FilterNode;

typedef struct FilterField
{
	FilterString key;
	FilterNode *object;			/* a nested pattern, or NULL for matchers */
	int			nmatchers;
	FilterMatcher *matchers;
	bool		numeric_strings;	/* the extension: numeric reads N strings */
} FilterField;

typedef struct FilterOr
{
	int			n;
	FilterNode **alternatives;
} FilterOr;

struct FilterNode
{
	int			nfields;
	FilterField *fields;
	int			nors;
	FilterOr   *ors;
};

struct FilterCriteria
{
	int			npatterns;
	FilterNode **patterns;
};

/* s case-folded (Unicode simple folding in UTF-8 databases), palloc'd */
extern FilterString filter_fold_case(const char *s, int len);

/* whether s matches w */
extern bool filter_wildcard_matches(const FilterWildcard *w, const char *s, int len);

#endif							/* ORDERS_STREAM_FILTER_INTERNAL_H */
