/*-------------------------------------------------------------------------
 * sigv4.h
 *	  AWS Signature Version 4 verification of one HTTP request.
 *-------------------------------------------------------------------------
 */
#ifndef ORDERS_STREAM_SIGV4_H
#define ORDERS_STREAM_SIGV4_H

#include <time.h>

typedef struct SigV4Header
{
	const char *name;
	const char *value;
} SigV4Header;

/* The parts of an "Authorization: AWS4-HMAC-SHA256 ..." header */
typedef struct SigV4Auth
{
	char		access_key_id[129];
	char		date[9];		/* YYYYMMDD of the credential scope */
	char		region[64];
	char		service[64];
	char		signed_headers[1024];	/* lower case, ';'-separated, sorted */
	char		signature[65];	/* lower-case hex */
} SigV4Auth;

/* The AWS exception of a refusal */
typedef enum SigV4Status
{
	SIGV4_OK,
	SIGV4_MISSING,				/* MissingAuthenticationTokenException */
	SIGV4_INCOMPLETE,			/* IncompleteSignatureException */
	SIGV4_INVALID				/* InvalidSignatureException */
} SigV4Status;

/* What is signed: the request as received */
typedef struct SigV4Request
{
	const char *method;
	const char *path;			/* decoded, as libmicrohttpd gives it */
	const SigV4Header *query;	/* decoded arguments */
	int			nquery;
	const SigV4Header *headers; /* every header, as received */
	int			nheaders;
	const char *body;
	size_t		body_len;
} SigV4Request;

/*
 * Parses the Authorization header and checks its credential scope and the
 * request's X-Amz-Date against now (skew seconds either way; region NULL
 * accepts any).  Fills msg with AWS's message on a refusal.
 */
extern SigV4Status sigv4_parse(const SigV4Request *req, SigV4Auth *auth,
							   time_t now, int skew, const char *region,
							   char *msg, size_t msglen);

/* Whether the signature is the one the secret gives (constant time). */
extern bool sigv4_verify(const SigV4Request *req, const SigV4Auth *auth,
						 const char *secret);

#endif							/* ORDERS_STREAM_SIGV4_H */
