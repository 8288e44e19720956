/*-------------------------------------------------------------------------
 * filter.h
 *	  AWS event filtering patterns for event source mappings.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_FILTER_H
#define ORDERS_STREAM_FILTER_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/* The parsed patterns of {"Filters": [{"Pattern": "..."}]}; errors if invalid. */
extern List *filter_patterns(Jsonb *criteria);

/* Whether a record matches any pattern (true for no patterns). */
extern bool filter_matches(List *patterns, Jsonb *record);

#endif							/* ORDERS_STREAM_FILTER_H */
