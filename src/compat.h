/*-------------------------------------------------------------------------
 * compat.h
 *	  Every PostgreSQL-version difference orders_stream cares about.
 *
 * orders_stream targets PostgreSQL 15; the checks below keep a build on
 * another major version from failing in obscure ways.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_COMPAT_H
#define ORDERS_STREAM_COMPAT_H

#include <signal.h>

#include "storage/pmsignal.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "orders_stream supports PostgreSQL 15"
#endif

/*
 * The signal pmsignal.c asks the kernel to send when the postmaster dies
 * (PR_SET_PDEATHSIG, PROC_PDEATHSIG_CTL); it does not export its choice.
 */
#ifdef USE_POSTMASTER_DEATH_SIGNAL
#if defined(SIGINFO)
#define OS_POSTMASTER_DEATH_SIGNAL SIGINFO
#elif defined(SIGPWR)
#define OS_POSTMASTER_DEATH_SIGNAL SIGPWR
#endif
#endif

#endif							/* ORDERS_STREAM_COMPAT_H */
