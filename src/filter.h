/*-------------------------------------------------------------------------
 * filter.h
 *	  AWS event filtering (FilterCriteria) for event source mappings:
 *	  patterns compiled once, then matched against many records.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_FILTER_H
#define ORDERS_STREAM_FILTER_H

#include "postgres.h"

#include "utils/jsonb.h"

typedef struct FilterCriteria FilterCriteria;

/*
 * {"Filters": [{"Pattern": "..."}]}, validated as AWS validates it and
 * compiled in CurrentMemoryContext; InvalidParameterValueException if invalid.
 */
extern FilterCriteria *filter_compile(Jsonb *criteria);

/* filter_compile(), remembered by the criteria's bytes for this backend. */
extern FilterCriteria *filter_compile_cached(Jsonb *criteria);

/* Whether a record matches any pattern of the criteria. */
extern bool filter_matches(const FilterCriteria *criteria, Jsonb *record);

#endif							/* ORDERS_STREAM_FILTER_H */
