/*-------------------------------------------------------------------------
 * record.h
 *	  Tuple values -> DynamoDB typed JSON attribute values, with item sizes.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_RECORD_H
#define ORDERS_STREAM_RECORD_H

#include "access/tupdesc.h"
#include "lib/stringinfo.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"

/*
 * State of one rendering pass: outputs of types without a dedicated encoder
 * go through their output function under fixed GUC settings, entered lazily
 * and left by ddb_end().
 */
typedef struct DdbRender
{
	int			guc_nestlevel;	/* 0 when fixed settings are not in force */
	int			depth;			/* M/L containers open around the current value */
	/* budget of one record: set limit (0 = none) and start, then render */
	Size		limit;			/* most bytes of JSON the record may take */
	Size		start;			/* length of the buffer where the record began */
	Size		outside;		/* bytes of the record before it, not in the
								 * buffer */
	bool		exceeded;		/* rendering stopped at the limit */
	Size		estimated_size; /* the record's length is at least this */
} DdbRender;

/*
 * Appends {"attr": value, ...} for the attributes of a deformed tuple whose
 * include[] flag is set (all when include is NULL); as_set[] (may be NULL)
 * marks array attributes rendered as SS/NS/BS.  The attribute document_attr
 * (-1 for none), a jsonb object, is a document column: its members are
 * attributes of their own (see record.c).  Returns the DynamoDB item size of
 * what was appended.
 */
extern Size ddb_append_image(DdbRender *render, StringInfo buf,
							 TupleDesc desc, Datum *values, bool *nulls,
							 const bool *include, const bool *as_set,
							 int document_attr);

/*
 * Appends the Keys of a record, {"key": value, ...}, for the attributes
 * whose is_key flag is set: as ddb_append_image, except that an empty S or
 * B (no DynamoDB key holds one) is {"NULL":true}.  Returns the item size.
 */
extern Size ddb_append_keys(DdbRender *render, StringInfo buf,
							TupleDesc desc, Datum *values, bool *nulls,
							const bool *is_key);

/*
 * True iff a type can be a DynamoDB key attribute: it renders as S, N or B
 * (text-like, numbers, bytea, uuid, dates...), not as BOOL, M or L
 * (boolean, json, jsonb, arrays, composites), domains by their base type.
 */
extern bool ddb_key_type_ok(Oid typid);

/*
 * True iff an array type can be a DynamoDB set: a one-level array whose
 * elements render as S, N or B (text-like, numbers, bytea, uuid, dates...),
 * not boolean, json, jsonb, composite or array elements.  Decoding renders a
 * set column that fails this (its type changed since) as a plain value.
 */
extern bool ddb_set_element_type_ok(Oid array_type);

/* Leaves the fixed GUC settings, if they were entered. */
extern void ddb_end(DdbRender *render);

/*
 * A hash table keyed by OID whose entries are entrysize bytes, for the
 * backend's life (in CacheMemoryContext): a cache that invalidation
 * callbacks clear.
 */
extern HTAB *record_oid_cache_create(const char *name, Size entrysize);

/* text as jsonb, or NULL (and why in *message) when it is none */
extern Jsonb *record_try_jsonb(const char *text, char **message);

#endif							/* ORDERS_STREAM_RECORD_H */
