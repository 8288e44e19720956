/*-------------------------------------------------------------------------
 * failover.h
 *	  A lost capture slot (the promotion of a standby, in PostgreSQL 15):
 *	  the changes it would have captured are recorded as a gap.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_FAILOVER_H
#define ORDERS_STREAM_FAILOVER_H

#include "postgres.h"

/*
 * Before the capture worker creates its slot: if streams exist, the slot was
 * lost, and their changes from capture_progress on may be missing.  Opens
 * one gap row per stream in capture_exceptions (committed at once, so that
 * a crash during the slot's creation cannot forget it).
 */
extern void failover_open_gaps(void);

/*
 * Once the slot exists, before decoding from it (the process must not be
 * flagged as decoding: this writes): closes the open gaps at the slot's
 * confirmed position, with a WARNING per stream.
 */
extern void failover_close_gaps(const char *slot_name);

#endif							/* ORDERS_STREAM_FAILOVER_H */
