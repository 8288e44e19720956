/*-------------------------------------------------------------------------
 * record.h
 *	  Tuple values -> DynamoDB typed JSON attribute values, with item sizes.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_RECORD_H
#define ORDERS_STREAM_RECORD_H

#include "access/tupdesc.h"
#include "lib/stringinfo.h"

/*
 * State of one rendering pass: outputs of types without a dedicated encoder
 * go through their output function under fixed GUC settings, entered lazily
 * and left by ddb_end().
 */
typedef struct DdbRender
{
	int			guc_nestlevel;	/* 0 when fixed settings are not in force */
} DdbRender;

/*
 * Appends {"attr": value, ...} for the attributes of a deformed tuple whose
 * include[] flag is set (all when include is NULL); as_set[] (may be NULL)
 * marks array attributes rendered as SS/NS/BS.  Returns the DynamoDB item size
 * of what was appended.
 */
extern Size ddb_append_image(DdbRender *render, StringInfo buf,
							 TupleDesc desc, Datum *values, bool *nulls,
							 const bool *include, const bool *as_set);

/* Leaves the fixed GUC settings, if they were entered. */
extern void ddb_end(DdbRender *render);

#endif							/* ORDERS_STREAM_RECORD_H */
