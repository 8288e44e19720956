/*-------------------------------------------------------------------------
 * sigv4.c
 *	  AWS Signature Version 4, as the AWS SDKs and the CLI sign a request
 *	  (header signing; "Create a signed AWS API request" in the IAM user
 *	  guide):
 *
 *	  canonical request = method \n canonical URI \n canonical query \n
 *		canonical headers \n signed headers \n hex(SHA-256(body))
 *	  string to sign = "AWS4-HMAC-SHA256" \n X-Amz-Date \n scope \n
 *		hex(SHA-256(canonical request))
 *	  signing key = HMAC chain of "AWS4" + secret over date, region,
 *		service, "aws4_request"
 *
 *	  The refusal messages are AWS's, so that a client's error handling sees
 *	  what it would see from DynamoDB.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include <ctype.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "pqexpbuffer.h"
#include "sigv4.h"

#define SHA256_LEN 32

static void
hex(const unsigned char *bytes, int n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < n; i++)
	{
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const char *data, size_t len, char *out)
{
	unsigned char md[SHA256_LEN];

	EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
	hex(md, SHA256_LEN, out);
}

/* out may be key: the result is written once the key is consumed */
static void
hmac(const unsigned char *key, int keylen, const char *data, unsigned char *out)
{
	unsigned char md[SHA256_LEN];
	unsigned int outlen;

	HMAC(EVP_sha256(), key, keylen, (const unsigned char *) data, strlen(data),
		 md, &outlen);
	memcpy(out, md, SHA256_LEN);
	explicit_bzero(md, sizeof(md));
}

/* SigV4's URI encoding: everything but A-Za-z0-9-_.~ (and '/' in a path) */
static void
uri_encode(PQExpBuffer buf, const char *s, bool keep_slash)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
			(keep_slash && c == '/'))
			appendPQExpBufferChar(buf, c);
		else
			appendPQExpBuffer(buf, "%%%02X", c);
	}
}

/*
 * the value of a header, all occurrences joined by ',', or NULL; NULL too if
 * memory ran out, which refuses the request (never frees libpq's static
 * out-of-memory buffer)
 */
static char *
header_value(const SigV4Request *req, const char *name)
{
	PQExpBufferData buf;
	bool		found = false;

	initPQExpBuffer(&buf);
	for (int i = 0; i < req->nheaders; i++)
	{
		if (pg_strcasecmp(req->headers[i].name, name) != 0)
			continue;
		if (found)
			appendPQExpBufferChar(&buf, ',');
		found = true;
		appendPQExpBufferStr(&buf, req->headers[i].value);
	}
	if (!found || PQExpBufferDataBroken(buf))
	{
		termPQExpBuffer(&buf);
		return NULL;
	}
	return buf.data;
}

/* trimmed, with runs of spaces as one (SigV4's canonical header value) */
static void
append_trimmed(PQExpBuffer buf, const char *v)
{
	bool		space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++)
	{
		if (*v == ' ' || *v == '\t')
			space = true;
		else
		{
			if (space)
				appendPQExpBufferChar(buf, ' ');
			space = false;
			appendPQExpBufferChar(buf, *v);
		}
	}
}

/* copies "key=value" of a comma-separated parameter list into out */
static bool
auth_param(const char *params, const char *key, char *out, size_t outlen)
{
	size_t		keylen = strlen(key);
	const char *p = params;

	while (*p)
	{
		const char *end;

		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		if (strncmp(p, key, keylen) == 0 && p[keylen] == '=')
		{
			size_t		n = end - (p + keylen + 1);

			while (n > 0 && p[keylen + n] == ' ')
				n--;
			if (n >= outlen)
				return false;
			memcpy(out, p + keylen + 1, n);
			out[n] = '\0';
			return true;
		}
		p = end;
	}
	return false;
}

static void
format_amz_date(time_t t, char *out)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

SigV4Status
sigv4_parse(const SigV4Request *req, SigV4Auth *auth, time_t now, int skew,
			const char *region, char *msg, size_t msglen)
{
	char	   *authorization = header_value(req, "Authorization");
	char	   *amz_date = header_value(req, "X-Amz-Date");
	const char *params;
	char		credential[512];
	char	   *parts[5];
	char	   *p;
	int			nparts = 0;
	bool		has_credential,
				has_signed,
				has_signature;
	SigV4Status status = SIGV4_OK;
	struct tm	tm;

	memset(auth, 0, sizeof(*auth));
	if (authorization == NULL)
	{
		snprintf(msg, msglen, "Request is missing Authentication Token");
		status = SIGV4_MISSING;
		goto done;
	}
	if (strncmp(authorization, "AWS4-HMAC-SHA256 ", 17) != 0)
	{
		snprintf(msg, msglen, "Authorization header requires the AWS4-HMAC-SHA256 algorithm. Authorization=%.200s",
				 authorization);
		status = SIGV4_INCOMPLETE;
		goto done;
	}
	params = authorization + 17;
	has_credential = auth_param(params, "Credential", credential, sizeof(credential));
	has_signed = auth_param(params, "SignedHeaders", auth->signed_headers, sizeof(auth->signed_headers));
	has_signature = auth_param(params, "Signature", auth->signature, sizeof(auth->signature));
	if (!has_credential || !has_signed || !has_signature || amz_date == NULL)
	{
		snprintf(msg, msglen, "%s%s%s%sAuthorization=%.200s",
				 has_credential ? "" : "Authorization header requires 'Credential' parameter. ",
				 has_signed ? "" : "Authorization header requires 'SignedHeaders' parameter. ",
				 has_signature ? "" : "Authorization header requires 'Signature' parameter. ",
				 amz_date ? "" : "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
				 authorization);
		status = SIGV4_INCOMPLETE;
		goto done;
	}
	/* AKID/YYYYMMDD/region/service/aws4_request */
	for (p = credential; nparts < 5; nparts++)
	{
		parts[nparts] = p;
		p = strchr(p, '/');
		if (p == NULL)
		{
			nparts++;
			break;
		}
		*p++ = '\0';
	}
	if (nparts != 5 || p != NULL || strcmp(parts[4], "aws4_request") != 0 ||
		strlen(parts[0]) >= sizeof(auth->access_key_id) || strlen(parts[1]) != 8 ||
		strlen(parts[2]) >= sizeof(auth->region) || strlen(parts[3]) >= sizeof(auth->service))
	{
		snprintf(msg, msglen, "Credential should be scoped to a valid region, a date, a service and aws4_request. Authorization=%.200s",
				 authorization);
		status = SIGV4_INCOMPLETE;
		goto done;
	}
	strcpy(auth->access_key_id, parts[0]);
	strcpy(auth->date, parts[1]);
	strcpy(auth->region, parts[2]);
	strcpy(auth->service, parts[3]);

	if (strcmp(auth->service, EP_SERVICE) != 0)
	{
		snprintf(msg, msglen, "Credential should be scoped to correct service: '%s'. ", EP_SERVICE);
		status = SIGV4_INVALID;
		goto done;
	}
	if (region != NULL && strcmp(auth->region, region) != 0)
	{
		snprintf(msg, msglen, "Credential should be scoped to a valid region, not '%s'. ", auth->region);
		status = SIGV4_INVALID;
		goto done;
	}
	memset(&tm, 0, sizeof(tm));
	if (strlen(amz_date) != 16 ||
		sscanf(amz_date, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
	{
		snprintf(msg, msglen, "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDDTHHMMSSZ, got '%.40s'", amz_date);
		status = SIGV4_INCOMPLETE;
		goto done;
	}
	if (strncmp(amz_date, auth->date, 8) != 0)
	{
		snprintf(msg, msglen, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%.8s', from '%s'.",
				 auth->date, amz_date, amz_date);
		status = SIGV4_INVALID;
		goto done;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	{
		time_t		signed_at = timegm(&tm);
		char		bound[17],
					now_s[17];

		format_amz_date(now, now_s);
		if (signed_at < now - skew)
		{
			format_amz_date(now - skew, bound);
			snprintf(msg, msglen, "Signature expired: %s is now earlier than %s (%s - %d min.)",
					 amz_date, bound, now_s, skew / 60);
			status = SIGV4_INVALID;
		}
		else if (signed_at > now + skew)
		{
			format_amz_date(now + skew, bound);
			snprintf(msg, msglen, "Signature not yet current: %s is still later than %s (%s + %d min.)",
					 amz_date, bound, now_s, skew / 60);
			status = SIGV4_INVALID;
		}
	}
	if (status == SIGV4_OK &&
		strcmp(auth->signed_headers, "host") != 0 &&
		strncmp(auth->signed_headers, "host;", 5) != 0 &&
		strstr(auth->signed_headers, ";host;") == NULL &&
		(strlen(auth->signed_headers) < 5 ||
		 strcmp(auth->signed_headers + strlen(auth->signed_headers) - 5, ";host") != 0))
	{
		snprintf(msg, msglen, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
		status = SIGV4_INVALID;
	}

done:
	free(authorization);
	free(amz_date);
	return status;
}

static int
compare_query(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;

	return strcmp(*x, *y);
}

bool
sigv4_verify(const SigV4Request *req, const SigV4Auth *auth, const char *secret)
{
	PQExpBufferData creq;
	PQExpBufferData sts;
	char		body_hash[2 * SHA256_LEN + 1];
	char		creq_hash[2 * SHA256_LEN + 1];
	char		expected[2 * SHA256_LEN + 1];
	char	   *amz_date = header_value(req, "X-Amz-Date");
	char	   *headers = pg_strdup(auth->signed_headers);
	char	   *name;
	char	   *save;
	char	   *key;
	unsigned char k[SHA256_LEN];
	unsigned char sig[SHA256_LEN];
	bool		out_of_memory = false;
	bool		ok;

	initPQExpBuffer(&creq);
	appendPQExpBuffer(&creq, "%s\n", req->method);
	/* not S3: the path is URI-encoded once more over its received encoding */
	{
		PQExpBufferData once;

		initPQExpBuffer(&once);
		uri_encode(&once, req->path[0] ? req->path : "/", true);
		uri_encode(&creq, once.data, true);
		termPQExpBuffer(&once);
	}
	appendPQExpBufferChar(&creq, '\n');
	/* the query: encoded "name=value" pairs, sorted */
	if (req->nquery > 0)
	{
		char	  **pairs = pg_malloc(sizeof(char *) * req->nquery);

		for (int i = 0; i < req->nquery; i++)
		{
			PQExpBufferData pair;

			initPQExpBuffer(&pair);
			uri_encode(&pair, req->query[i].name, false);
			appendPQExpBufferChar(&pair, '=');
			uri_encode(&pair, req->query[i].value ? req->query[i].value : "", false);
			if (PQExpBufferDataBroken(pair))
				out_of_memory = true;
			pairs[i] = PQExpBufferDataBroken(pair) ? pg_strdup("") : pair.data;
		}
		qsort(pairs, req->nquery, sizeof(char *), compare_query);
		for (int i = 0; i < req->nquery; i++)
		{
			appendPQExpBuffer(&creq, "%s%s", i > 0 ? "&" : "", pairs[i]);
			free(pairs[i]);
		}
		free(pairs);
	}
	appendPQExpBufferChar(&creq, '\n');
	/* the signed headers, in the order the client listed them (sorted) */
	for (name = strtok_r(headers, ";", &save); name; name = strtok_r(NULL, ";", &save))
	{
		char	   *v = header_value(req, name);

		appendPQExpBuffer(&creq, "%s:", name);
		if (v)
			append_trimmed(&creq, v);
		appendPQExpBufferChar(&creq, '\n');
		free(v);
	}
	free(headers);
	sha256_hex(req->body ? req->body : "", req->body_len, body_hash);
	appendPQExpBuffer(&creq, "\n%s\n%s", auth->signed_headers, body_hash);
	sha256_hex(creq.data, creq.len, creq_hash);
	out_of_memory |= PQExpBufferDataBroken(creq);
	termPQExpBuffer(&creq);

	initPQExpBuffer(&sts);
	appendPQExpBuffer(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
					  amz_date ? amz_date : "", auth->date, auth->region,
					  auth->service, creq_hash);
	free(amz_date);

	key = psprintf("AWS4%s", secret);
	hmac((unsigned char *) key, strlen(key), auth->date, k);
	explicit_bzero(key, strlen(key));
	free(key);
	hmac(k, SHA256_LEN, auth->region, k);
	hmac(k, SHA256_LEN, auth->service, k);
	hmac(k, SHA256_LEN, "aws4_request", k);
	hmac(k, SHA256_LEN, sts.data, sig);
	explicit_bzero(k, sizeof(k));
	out_of_memory |= PQExpBufferDataBroken(sts);
	termPQExpBuffer(&sts);
	hex(sig, SHA256_LEN, expected);

	/* a string to sign cut short by a lack of memory verifies nothing */
	ok = !out_of_memory && strlen(auth->signature) == 2 * SHA256_LEN &&
		CRYPTO_memcmp(expected, auth->signature, 2 * SHA256_LEN) == 0;
	return ok;
}
