/*-------------------------------------------------------------------------
 * housekeeping.c
 *	  The capture worker's housekeeping between passes (partition
 *	  maintenance, resuming restored streams), which must never stop capture.
 *
 * When housekeeping fails (a lock it cannot take, an event trigger
 * refusing its DDL, a timeout...), it says so and capture goes on.  An
 * ERROR would end the worker, and a new one housekeeps first thing, so
 * capture would stop for good.  Hence a subtransaction, as in a PL/pgSQL
 * exception block.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "housekeeping.h"

void
housekeeping_run(void (*work) (void *arg), void *arg, const char *what,
				 const char *hint)
{
	MemoryContext cxt;
	ResourceOwner owner;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	cxt = CurrentMemoryContext;
	owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		SPI_connect();
		work(arg);
		SPI_finish();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("orders_stream could not %s: %s", what, edata->message),
				 edata->detail ? errdetail("%s", edata->detail) : 0,
				 errhint("%s", hint)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	PopActiveSnapshot();
	CommitTransactionCommand();
}
