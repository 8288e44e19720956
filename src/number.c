/*-------------------------------------------------------------------------
 * number.c
 *	  DynamoDB's canonical decimal text of a number.
 *
 * DynamoDB stores a number as a decimal of at most 38 significant digits
 * with a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125
 * (or zero) and gives it back in one form: no exponent, no leading zeros
 * before the units digit, no trailing zeros after the point (nor the point
 * itself), no "+", and zero as "0" whatever its sign: 1.50 -> 1.5,
 * 1e20 -> 100000000000000000000, 1e-7 -> 0.0000001, -0.0 -> 0.
 *
 * The conversion is textual and exact: the input is what PostgreSQL's own
 * formatters print (numeric_out, pg_ltoa, the shortest round-trip digits of
 * float4/float8), which do not depend on any setting, and no digit is ever
 * rounded.  A number DynamoDB cannot hold is refused rather than rounded;
 * the caller decides its fallback.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "number.h"

/* far beyond any exponent DynamoDB can hold, far from int overflow */
#define EXPONENT_CLAMP	1000000

int
ddb_canonical_number(const char *num, StringInfo out)
{
	const char *p = num;
	bool		negative = false;
	char		sig[DDB_NUMBER_MAX_DIGITS];
	int			nsig = 0;		/* significant digits (first to last nonzero) */
	int			index = 0;		/* digits seen, point excluded */
	int			first = -1;		/* index of the first nonzero digit */
	int			intdigits = -1; /* digits before the point */
	long		exponent = 0;
	int			e;				/* power of ten of the first significant digit */
	int			i;

	if (*p == '+' || *p == '-')
		negative = (*p++ == '-');
	for (; (*p >= '0' && *p <= '9') || *p == '.'; p++)
	{
		if (*p == '.')
		{
			if (intdigits >= 0)
				return -1;
			intdigits = index;
			continue;
		}
		if (*p != '0')
		{
			if (first < 0)
				first = index;
			/* the digits up to here are significant: too many? */
			if (index - first + 1 > DDB_NUMBER_MAX_DIGITS)
				return -1;
			/* keep them, zeros since the last nonzero digit included */
			while (nsig < index - first)
				sig[nsig++] = '0';
			sig[nsig++] = *p;
		}
		index++;
	}
	if (index == 0)
		return -1;				/* no digits: NaN, Infinity, garbage */
	if (intdigits < 0)
		intdigits = index;
	if (*p == 'e' || *p == 'E')
	{
		bool		exp_negative = false;
		bool		any = false;

		p++;
		if (*p == '+' || *p == '-')
			exp_negative = (*p++ == '-');
		for (; *p >= '0' && *p <= '9'; p++)
		{
			any = true;
			if (exponent < EXPONENT_CLAMP)
				exponent = exponent * 10 + (*p - '0');
		}
		if (!any)
			return -1;
		if (exp_negative)
			exponent = -exponent;
	}
	if (*p != '\0')
		return -1;

	if (first < 0)
	{
		/* zero, of any sign, scale or exponent */
		appendStringInfoChar(out, '0');
		return 0;
	}
	e = (int) (intdigits - 1 - first + exponent);
	if (exponent >= EXPONENT_CLAMP || exponent <= -EXPONENT_CLAMP ||
		e > DDB_NUMBER_MAX_EXPONENT || e < DDB_NUMBER_MIN_EXPONENT)
		return -1;

	if (negative)
		appendStringInfoChar(out, '-');
	if (e < 0)
	{
		/* 0.000ddd */
		appendStringInfoString(out, "0.");
		for (i = 0; i < -e - 1; i++)
			appendStringInfoChar(out, '0');
		appendBinaryStringInfo(out, sig, nsig);
	}
	else
	{
		/* ddd[000] or ddd.ddd */
		for (i = 0; i <= e || i < nsig; i++)
		{
			if (i == e + 1)
				appendStringInfoChar(out, '.');
			appendStringInfoChar(out, i < nsig ? sig[i] : '0');
		}
	}
	return nsig;
}
