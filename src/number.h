/*-------------------------------------------------------------------------
 * number.h
 *	  DynamoDB's canonical decimal text of a number.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_NUMBER_H
#define ORDERS_STREAM_NUMBER_H

#include "lib/stringinfo.h"

/* DynamoDB numbers: at most 38 significant digits, 1E-130 <= |x| < 1E+126 */
#define DDB_NUMBER_MAX_DIGITS	38
#define DDB_NUMBER_MIN_EXPONENT	(-130)
#define DDB_NUMBER_MAX_EXPONENT	125

/*
 * Appends DynamoDB's canonical text of the decimal numeral num (an optional
 * sign, digits with an optional point, an optional exponent: the output of
 * numeric_out, int*out and the shortest float formats) to out and returns its
 * number of significant digits.  Returns -1 and appends nothing when
 * DynamoDB cannot hold the number (NaN, Infinity, more than 38 significant
 * digits, out of range) or num is no numeral.
 */
extern int	ddb_canonical_number(const char *num, StringInfo out);

#endif							/* ORDERS_STREAM_NUMBER_H */
