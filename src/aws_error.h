/*
 * aws_error.h: raising AWS's exceptions, the one way (README, "Errors").
 *
 * Every AWS exception is raised with its name at the head of the message,
 * one fixed SQLSTATE, and the JSON body AWS answers with in the DETAIL,
 * {"__type": "<namespace>#<Exception>", "message": "..."}, so that SQL
 * callers, the endpoint and the SDKs read the same thing.
 */
#ifndef ORDERS_STREAM_AWS_ERROR_H
#define ORDERS_STREAM_AWS_ERROR_H

typedef enum AwsException
{
	AWS_ACCESS_DENIED,
	AWS_EXPIRED_ITERATOR,
	AWS_INVALID_PARAMETER_VALUE,
	AWS_RESOURCE_CONFLICT,
	AWS_RESOURCE_IN_USE,
	AWS_RESOURCE_NOT_FOUND,
	AWS_SERIALIZATION,
	AWS_TRIMMED_DATA_ACCESS,
	AWS_UNKNOWN_OPERATION,
	AWS_VALIDATION
} AwsException;

/*
 * Raise exception at ERROR: message is AWS's own message (printf-style),
 * hint is PostgreSQL's HINT (NULL for none).
 */
extern void aws_error(AwsException exception, const char *hint,
					  const char *fmt,...) pg_attribute_printf(3, 4) pg_attribute_noreturn();

#endif
