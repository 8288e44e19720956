/*-------------------------------------------------------------------------
 * delivery.h
 *	  Event source mappings: the delivery launcher and its workers, and
 *	  invoking a mapping's function.
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

/* Builds the event of an invocation, in the invocation's memory context. */
typedef Jsonb *(*DeliveryEventBuilder) (void *arg);

/*
 * Checks a function's result inside its invocation's subtransaction: an
 * error fails the invocation and rolls its effects back.
 */
typedef void (*DeliveryResponseCheck) (Oid function, Datum result, bool isnull,
									   void *arg);

/*
 * One invocation: what delivery_invoke() calls, and what it found.
 *
 * With batch != NULL (ReportBatchItemFailures, batch = the SequenceNumbers
 * of the event's records, ascending), a returned batchItemFailures list sets
 * lowest_failure to its lowest itemIdentifier; an identifier that is not in
 * the batch makes the whole invocation an error, as in AWS.  With check,
 * check(function, result, isnull, check_arg) runs last.  An error of these
 * checks, of a function that returned, has DELIVERY_RESPONSE_CONTEXT as its
 * context: Lambda reports no functionError for it.
 */
#define DELIVERY_RESPONSE_CONTEXT "checking the function's response"

typedef struct DeliveryInvocation
{
	const DeliveryTarget *target;
	DeliveryEventBuilder build; /* the event: build(build_arg) */
	void	   *build_arg;
	char	  **batch;			/* or NULL */
	int			nbatch;
	DeliveryResponseCheck check;	/* or NULL */
	void	   *check_arg;
	/* set by delivery_invoke(), in the caller's memory context */
	bool		returned;		/* the function returned (a response) */
	char	   *lowest_failure; /* or NULL */
	ErrorData  *error;			/* why it failed */
} DeliveryInvocation;

/*
 * Calls the target's function with its event in a subtransaction, as the
 * target's owner, cancelled past orders_stream.function_timeout and its
 * process terminated orders_stream.function_timeout_grace later if it
 * ignores the cancel.  It runs as a security-restricted operation (no
 * deferred trigger, temporary object or cursor WITH HOLD outlives it);
 * settings it makes are undone; in a delivery or redrive worker, the rest
 * of the session state it leaves is cleared too.  Returns true on success;
 * on an error (also while building the event), returns false with the error
 * in call->error, and the subtransaction's effects are gone.
 */
extern bool delivery_invoke(DeliveryInvocation *call);

/* The delivery launcher and the workers of its pool (delivery_pool.c). */
extern PGDLLEXPORT void orders_stream_delivery_launcher_main(Datum arg);
extern PGDLLEXPORT void orders_stream_delivery_worker_main(Datum arg);

/* The worker that redrive_failures() starts to replay failures (redrive.c). */
extern PGDLLEXPORT void orders_stream_redrive_worker_main(Datum arg);

/* The pool's shared memory, set up from _PG_init's hooks. */
extern Size delivery_pool_shmem_size(void);
extern void delivery_pool_shmem_init(void);

/* From _PG_init: commits wake the launcher when mappings changed. */
extern void delivery_pool_register_wakeups(void);

/* Mappings changed: at commit, the launcher reads their lanes again. */
extern void delivery_pool_note_mappings_changed(void);

#endif							/* ORDERS_STREAM_DELIVERY_H */
