/*
 * aws_error.c: the one table of AWS exceptions (name, JSON __type, SQLSTATE)
 * and the one function that raises them, from C and, through
 * orders_stream.aws_error(), from SQL.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "aws_error.h"

typedef struct AwsExceptionInfo
{
	const char *name;
	const char *type;			/* the __type of AWS's JSON error body */
	int			sqlstate;
} AwsExceptionInfo;

/* in AwsException's order */
static const AwsExceptionInfo aws_exceptions[] = {
	{"AccessDeniedException", "com.amazon.coral.service#AccessDeniedException",
	ERRCODE_INSUFFICIENT_PRIVILEGE},
	{"ExpiredIteratorException", "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException",
	ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE},
	/* Lambda's errors are restJson1: the SDKs read the bare name */
	{"InvalidParameterValueException", "InvalidParameterValueException",
	ERRCODE_INVALID_PARAMETER_VALUE},
	{"ResourceConflictException", "ResourceConflictException",
	ERRCODE_DUPLICATE_OBJECT},
	{"ResourceInUseException", "com.amazonaws.dynamodb.v20120810#ResourceInUseException",
	ERRCODE_DUPLICATE_OBJECT},
	{"ResourceNotFoundException", "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
	ERRCODE_UNDEFINED_OBJECT},
	{"SerializationException", "com.amazon.coral.service#SerializationException",
	ERRCODE_INVALID_TEXT_REPRESENTATION},
	{"TrimmedDataAccessException", "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException",
	ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE},
	{"UnknownOperationException", "com.amazon.coral.service#UnknownOperationException",
	ERRCODE_UNDEFINED_FUNCTION},
	{"ValidationException", "com.amazon.coral.validate#ValidationException",
	ERRCODE_INVALID_PARAMETER_VALUE},
};

StaticAssertDecl(lengthof(aws_exceptions) == AWS_VALIDATION + 1,
				 "one row per AwsException");

static pg_attribute_noreturn() void
raise_aws(const AwsExceptionInfo *info, const char *hint, const char *message)
{
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"__type\": ");
	escape_json(&detail, info->type);
	appendStringInfoString(&detail, ", \"message\": ");
	escape_json(&detail, message);
	appendStringInfoChar(&detail, '}');
	ereport(ERROR,
			(errcode(info->sqlstate),
			 errmsg("%s: %s", info->name, message),
			 errdetail_internal("%s", detail.data),
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}

void
aws_error(AwsException exception, const char *hint, const char *fmt,...)
{
	StringInfoData message;

	Assert(exception >= 0 && exception < lengthof(aws_exceptions));
	initStringInfo(&message);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&message, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&message, needed);
	}
	raise_aws(&aws_exceptions[exception], hint, message.data);
}

PG_FUNCTION_INFO_V1(orders_stream_aws_error);

/*
 * orders_stream.aws_error(exception text, message text, hint text): SQL's
 * way to the same table.  PUBLIC, so its own errors are ordinary ones.
 */
Datum
orders_stream_aws_error(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *message;
	char	   *hint = NULL;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the exception and the message of an AWS error must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	message = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!PG_ARGISNULL(2))
		hint = text_to_cstring(PG_GETARG_TEXT_PP(2));
	for (i = 0; i < lengthof(aws_exceptions); i++)
		if (strcmp(aws_exceptions[i].name, name) == 0)
			raise_aws(&aws_exceptions[i], hint, message);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown AWS exception \"%s\"", name),
			 errhint("README's \"Errors\" lists the exceptions, e.g. ValidationException.")));
	PG_RETURN_VOID();
}
