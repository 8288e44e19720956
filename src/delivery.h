/*-------------------------------------------------------------------------
 * delivery.h
 *	  Event source mappings: the delivery worker and function invocation.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_DELIVERY_H
#define ORDERS_STREAM_DELIVERY_H

#include "postgres.h"

#include "utils/jsonb.h"

/* What an invocation runs: a function, as a role, with a search_path. */
typedef struct DeliveryTarget
{
	Oid			function;
	Oid			owner;
	const char *search_path;
} DeliveryTarget;

/*
 * Calls target's function with the event in a subtransaction, as the
 * target's owner.  Returns true on success; on an error, returns false with
 * the error (in the caller's memory context) in *error, and the
 * subtransaction's effects are gone.
 *
 * With batch != NULL (ReportBatchItemFailures, batch = the SequenceNumbers
 * of the event's records, ascending), a returned batchItemFailures list sets
 * *lowest_failure to its lowest itemIdentifier; an identifier that is not in
 * the batch makes the whole invocation an error, as in AWS.
 */
extern bool delivery_invoke(const DeliveryTarget *target, Jsonb *event,
							char **batch, int nbatch, char **lowest_failure,
							ErrorData **error);

extern PGDLLEXPORT void orders_stream_delivery_main(Datum arg);

#endif							/* ORDERS_STREAM_DELIVERY_H */
