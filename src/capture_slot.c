/*-------------------------------------------------------------------------
 * capture_slot.c
 *	  The capture slot as the rest of orders_stream sees it: its name (for
 *	  the capture worker, the waits, enable_stream and the stream_status
 *	  view alike), the database it captures, its confirmed position, and a
 *	  count of the capture worker's storing passes that the delivery
 *	  launcher watches.
 *
 * A leaf: the capture worker (capture.c) and everything that waits for it
 * use this file, and it uses neither.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "replication/slot.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"

#include "capture_slot.h"
#include "orders_stream.h"
#include "workers.h"

typedef struct CaptureSlotShared
{
	pg_atomic_uint64 stored;	/* bumped whenever capture stores records */
} CaptureSlotShared;

static CaptureSlotShared *capture_slot_shared = NULL;

/*
 * The slot belongs to one incarnation of the extension: WAL written before a
 * DROP EXTENSION cannot be decoded after it (the streams catalog it refers
 * to is gone), so a re-created extension gets a new slot.
 */
char *
capture_slot_prefix(void)
{
	return psprintf("orders_stream_%u_", MyDatabaseId);
}

char *
capture_slot_name_for(Oid extension)
{
	return psprintf("%s%u", capture_slot_prefix(), extension);
}

char *
capture_slot_name(void)
{
	return capture_slot_name_for(get_extension_oid("orders_stream", false));
}

PG_FUNCTION_INFO_V1(orders_stream_capture_slot_name);

/* The slot name for SQL: the stream_status view joins the slot by it. */
Datum
orders_stream_capture_slot_name(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(capture_slot_name()));
}

bool
capture_slot_check_database(int elevel)
{
	char	   *db = get_database_name(MyDatabaseId);

	if (strcmp(db, orders_stream_database) == 0)
		return true;
	ereport(elevel,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 elevel >= ERROR ?
			 errmsg("orders_stream captures database \"%s\", not \"%s\"",
					orders_stream_database, db) :
			 errmsg("orders_stream captures database \"%s\", not \"%s\": streams cannot be enabled here",
					orders_stream_database, db),
			 errhint("Set orders_stream.database = '%s' in postgresql.conf and restart the server.",
					 db)));
	return false;
}

XLogRecPtr
capture_slot_confirmed(const char *name)
{
	ReplicationSlot *slot;
	XLogRecPtr	confirmed = InvalidXLogRecPtr;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	slot = SearchNamedReplicationSlot(name, false);
	if (slot)
	{
		SpinLockAcquire(&slot->mutex);
		confirmed = slot->data.confirmed_flush;
		SpinLockRelease(&slot->mutex);
	}
	LWLockRelease(ReplicationSlotControlLock);
	return confirmed;
}

void
capture_slot_note_stored(void)
{
	pg_atomic_fetch_add_u64(&capture_slot_shared->stored, 1);
	worker_nudge(OS_WORKER_DELIVERY);
}

uint64
capture_slot_stored_count(void)
{
	return pg_atomic_read_u64(&capture_slot_shared->stored);
}

Size
capture_slot_shmem_size(void)
{
	return MAXALIGN(sizeof(CaptureSlotShared));
}

void
capture_slot_shmem_init(void)
{
	bool		found;

	capture_slot_shared = ShmemInitStruct("orders_stream capture slot",
										  sizeof(CaptureSlotShared), &found);
	if (!found)
		pg_atomic_init_u64(&capture_slot_shared->stored, 0);
}
