/*-------------------------------------------------------------------------
 * filter.c
 *	  AWS event filtering (an event source mapping's FilterCriteria): the
 *	  backend's cache of compiled criteria, and the SQL functions.
 *
 * Criteria are compiled (filter_compile.c) when a mapping is created or
 * updated, to refuse invalid ones, and again by the first batch a backend
 * filters with them; then kept, keyed by their bytes, so that a delivery
 * worker neither re-parses patterns per record nor per batch.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/memutils.h"

#include "filter.h"

PG_FUNCTION_INFO_V1(orders_stream_filter_matches);
PG_FUNCTION_INFO_V1(orders_stream_check_filter_criteria);

/* enough for every mapping a worker serves, small enough to scan */
#define FILTER_CACHE_SIZE 64

typedef struct CachedCriteria
{
	uint32		hash;
	Jsonb	   *criteria;		/* a copy, in cxt */
	FilterCriteria *compiled;
	MemoryContext cxt;
} CachedCriteria;

static CachedCriteria cache[FILTER_CACHE_SIZE];
static int	cache_next;			/* the entry replaced next, round robin */

FilterCriteria *
filter_compile_cached(Jsonb *criteria)
{
	Size		len = VARSIZE(criteria);
	uint32		hash = hash_bytes((const unsigned char *) criteria, len);
	CachedCriteria *entry;
	MemoryContext cxt;
	MemoryContext old;
	int			i;

	for (i = 0; i < FILTER_CACHE_SIZE; i++)
		if (cache[i].criteria != NULL && cache[i].hash == hash &&
			VARSIZE(cache[i].criteria) == len &&
			memcmp(cache[i].criteria, criteria, len) == 0)
			return cache[i].compiled;

	/* under the caller's context until it compiled: an error frees it */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "orders_stream filter criteria",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	entry = &cache[cache_next];
	if (entry->cxt != NULL)
		MemoryContextDelete(entry->cxt);
	memset(entry, 0, sizeof(CachedCriteria));
	entry->compiled = filter_compile(criteria);
	entry->criteria = palloc(len);
	memcpy(entry->criteria, criteria, len);
	entry->hash = hash;
	entry->cxt = cxt;
	MemoryContextSwitchTo(old);
	MemoryContextSetParent(cxt, TopMemoryContext);
	cache_next = (cache_next + 1) % FILTER_CACHE_SIZE;
	return entry->compiled;
}

/* orders_stream.filter_matches(record jsonb, filter_criteria jsonb) */
Datum
orders_stream_filter_matches(PG_FUNCTION_ARGS)
{
	FilterCriteria *criteria = filter_compile_cached(PG_GETARG_JSONB_P(1));

	PG_RETURN_BOOL(filter_matches(criteria, PG_GETARG_JSONB_P(0)));
}

/* Validates filter criteria: compiles every pattern. */
Datum
orders_stream_check_filter_criteria(PG_FUNCTION_ARGS)
{
	(void) filter_compile(PG_GETARG_JSONB_P(0));
	PG_RETURN_VOID();
}
