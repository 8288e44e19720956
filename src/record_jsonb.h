/*-------------------------------------------------------------------------
 * record_jsonb.h
 *	  A stream record's JSON text as jsonb, without jsonb_in.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_RECORD_JSONB_H
#define ORDERS_STREAM_RECORD_JSONB_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* scratch buffers reused from record to record, in CurrentMemoryContext */
typedef struct RecordJsonbParser RecordJsonbParser;

extern RecordJsonbParser *record_jsonb_parser(void);

/*
 * Appends the jsonb container of a record's text (a JSON object) to out,
 * whose length must be int-aligned, exactly as jsonb_in would lay it out.
 * False, with out unchanged, for text it does not take: use jsonb_in.
 */
extern bool record_jsonb_append(RecordJsonbParser *ps, const char *text, int len,
								StringInfo out);

/* The record's text as jsonb: record_jsonb_append(), or else jsonb_in. */
extern Jsonb *record_jsonb(RecordJsonbParser *ps, const char *text);

#endif							/* ORDERS_STREAM_RECORD_JSONB_H */
