/*-------------------------------------------------------------------------
 * delivery_record.h
 *	  A stream record's JSON text as jsonb, without jsonb_in.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_DELIVERY_RECORD_H
#define ORDERS_STREAM_DELIVERY_RECORD_H

#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* scratch buffers reused from record to record, in CurrentMemoryContext */
typedef struct DeliveryRecordParser DeliveryRecordParser;

extern DeliveryRecordParser *delivery_record_parser(void);

/*
 * Appends the jsonb container of a record's text (a JSON object) to out,
 * whose length must be int-aligned, exactly as jsonb_in would lay it out.
 * False, with out unchanged, for text it does not take: use jsonb_in.
 */
extern bool delivery_record_append(DeliveryRecordParser *ps, const char *text,
								   int len, StringInfo out);

/* The record's text as jsonb: delivery_record_append(), or else jsonb_in. */
extern Jsonb *delivery_record_jsonb(DeliveryRecordParser *ps, const char *text);

#endif							/* ORDERS_STREAM_DELIVERY_RECORD_H */
