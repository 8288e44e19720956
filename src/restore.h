/*-------------------------------------------------------------------------
 * restore.h
 *	  A database restored from pg_dump: its streams come back as new ones.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_RESTORE_H
#define ORDERS_STREAM_RESTORE_H

#include "postgres.h"

/*
 * At the capture worker's start, once its slot exists and before it decodes
 * (the process must not be flagged as decoding: this writes): resumes the
 * streams and mappings a restore brought back before the server started
 * (resume_restored_streams()).  A failure is a WARNING: capture goes on,
 * the administrator can resume.
 */
extern void restore_resume_streams(void);

#endif							/* ORDERS_STREAM_RESTORE_H */
