/*-------------------------------------------------------------------------
 * capture_slot.h
 *	  The capture slot as the rest of orders_stream sees it: its name, the
 *	  database it captures, how far it is confirmed, and a count of the
 *	  capture worker's storing passes.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_CAPTURE_SLOT_H
#define ORDERS_STREAM_CAPTURE_SLOT_H

#include "postgres.h"

#include "access/xlogdefs.h"

/* Name of the capture slot of the current database (in a transaction). */
extern char *capture_slot_name(void);
extern char *capture_slot_name_for(Oid extension);

/* What the names of this database's capture slots begin with. */
extern char *capture_slot_prefix(void);

/*
 * Streams are captured in orders_stream.database only: elsewhere, reports
 * at elevel (an ERROR does not return) and returns false.
 */
extern bool capture_slot_check_database(int elevel);

/*
 * Where capture has stored changes up to: changes committed before a WAL
 * record at or below it are in the stream.  InvalidXLogRecPtr if the slot
 * (named by capture_slot_name()) does not exist.
 */
extern XLogRecPtr capture_slot_confirmed(const char *name);

/*
 * The capture worker stored records: bumps the count and wakes the delivery
 * launcher, whose lanes waiting for records may run.
 */
extern void capture_slot_note_stored(void);

/*
 * How many times records were stored.  Read it before looking for records:
 * a later count says that records were stored since.
 */
extern uint64 capture_slot_stored_count(void);

/* The count's shared memory, set up from _PG_init's hooks. */
extern Size capture_slot_shmem_size(void);
extern void capture_slot_shmem_init(void);

#endif							/* ORDERS_STREAM_CAPTURE_SLOT_H */
