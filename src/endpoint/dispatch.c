/*-------------------------------------------------------------------------
 * dispatch.c
 *	  An authenticated request, as its role, through the SQL dispatcher:
 *
 *		SET LOCAL ROLE "role";
 *		SELECT orders_stream.dynamodb_streams_text(target, body)
 *		  FROM pg_roles WHERE rolname = CURRENT_USER AND NOT rolsuper
 *
 *	  sent as one simple-protocol query: one round trip, one implicit
 *	  transaction, and the role ends with it, whether the call succeeds or
 *	  fails, so a pooled connection never keeps a request's role.  A role
 *	  made superuser after its key was loaded gets no row, and the refusal of
 *	  an unknown key: requests never run as a superuser.
 *
 *	  The answer is the dispatcher's document (200), sent as the text it
 *	  returns (a GetRecords page is written once, in the server, and never
 *	  parsed or re-rendered on its way out), or its error: the
 *	  dispatcher puts AWS's error body in the DETAIL of every error it raises
 *	  (45_streams_api.sql), and DynamoDB answers all of those with 400.
 *	  Errors the request's content causes are 400 too: a value the database
 *	  cannot take (SQLSTATE class 22) or a limit it exceeds (class 54) is
 *	  AWS's SerializationException (http.c has refused bodies that are no
 *	  JSON, no UTF-8 or nested too deep before this), a missing privilege
 *	  AccessDeniedException.  Only the server's faults are 5xx: a lost
 *	  database 503, the rest 500.
 *
 *	  GET /metrics runs orders_stream.prometheus_metrics() the same way, as
 *	  the key's role (or --metrics-role), and answers its text.
 *-------------------------------------------------------------------------
 */
#include "endpoint.h"

#include "pqexpbuffer.h"

#include "dispatch.h"
#include "json.h"
#include "pool.h"

#define NS_SERVICE "com.amazon.coral.service"
#define NS_DYNAMODB "com.amazonaws.dynamodb.v20120810"

void
ep_error(EpResponse *resp, int status, const char *ns, const char *name,
		 const char *message)
{
	PQExpBufferData buf;

	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "{\"__type\":\"%s#%s\",\"message\":", ns, name);
	ep_json_append_string(&buf, message);
	appendPQExpBufferChar(&buf, '}');
	free(resp->body);
	resp->status = status;
	/* out of memory, buf.data is libpq's static buffer: not ours to hand on */
	if (PQExpBufferDataBroken(buf))
		resp->body = pg_strdup("{}");
	else
		resp->body = buf.data;
	strlcpy(resp->type, name, sizeof(resp->type));
}

/* the exception name of a dispatcher error body, for the log */
static void
type_of(const char *body, char *type, size_t len)
{
	const char *t = strstr(body, "\"__type\"");
	const char *hash = t ? strchr(t, '#') : NULL;
	size_t		n = hash ? strcspn(hash + 1, "\"") : 0;

	if (n == 0 || n >= len)
		strlcpy(type, "error", len);
	else
	{
		memcpy(type, hash + 1, n);
		type[n] = '\0';
	}
}

/*
 * Sends the query and collects its results: the first statement's error
 * (SET ROLE) or the last result.  *lost if the connection broke.
 */
static PGresult *
run(PGconn *conn, const char *sql, bool *set_failed, bool *lost)
{
	PGresult   *res;
	PGresult   *last = NULL;
	int			n = 0;

	*set_failed = false;
	*lost = false;
	if (!PQsendQuery(conn, sql))
	{
		*lost = PQstatus(conn) != CONNECTION_OK;
		return NULL;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		n++;
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && n == 1)
			*set_failed = true;
		PQclear(last);
		last = res;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		*lost = true;
		PQclear(last);
		return NULL;
	}
	return last;
}

/*
 * Runs target on body as role, or, with target NULL,
 * orders_stream.prometheus_metrics() as role.
 */
static void
dispatch(const char *role, const char *target, const char *body,
		 EpResponse *resp)
{
	PoolSlot   *slot = pool_acquire();
	PGresult   *res = NULL;
	bool		set_failed = false;
	bool		lost = false;

	if (slot == NULL)
	{
		ep_error(resp, 503, NS_DYNAMODB, "ServiceUnavailable",
				 "The service is currently busy: no database connection came free in time");
		return;
	}
	/* once, and once more on a fresh connection if the server went away */
	for (int attempt = 0; attempt < 2; attempt++)
	{
		PGconn	   *conn = pool_connection(slot, attempt > 0);
		char	   *role_id;
		char	   *target_lit;
		char	   *body_lit;
		char	   *call;
		char	   *sql;

		if (conn == NULL)
		{
			lost = true;
			break;
		}
		role_id = PQescapeIdentifier(conn, role, strlen(role));
		target_lit = PQescapeLiteral(conn, target ? target : "", target ? strlen(target) : 0);
		body_lit = PQescapeLiteral(conn, body, strlen(body));
		if (!role_id || !target_lit || !body_lit)
		{
			/* only a body that is no valid text gets here */
			PQfreemem(role_id);
			PQfreemem(target_lit);
			PQfreemem(body_lit);
			pool_release(slot);
			ep_error(resp, 400, NS_SERVICE, "SerializationException",
					 "the request body is not valid UTF-8 text");
			return;
		}
		call = target ?
			psprintf("orders_stream.dynamodb_streams_text(%s, %s::pg_catalog.jsonb)", target_lit, body_lit) :
			pg_strdup("orders_stream.prometheus_metrics()");
		sql = psprintf("SET LOCAL ROLE %s; "
					   "SELECT %s "
					   "FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER AND NOT r.rolsuper",
					   role_id, call);
		free(call);
		PQfreemem(role_id);
		PQfreemem(target_lit);
		PQfreemem(body_lit);
		res = run(conn, sql, &set_failed, &lost);
		free(sql);
		if (!lost)
			break;
		ep_log(EP_LOG_WARNING, "database connection lost, reconnecting: %s", PQerrorMessage(conn));
	}

	if (lost)
		ep_error(resp, 503, NS_DYNAMODB, "ServiceUnavailable",
				 "The database is unavailable; retry the request");
	else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		resp->status = 200;
		resp->body = pg_strdup(PQgetvalue(res, 0, 0));
		resp->type[0] = '\0';
	}
	else
	{
		const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

		if (sqlstate == NULL)
			sqlstate = "XX000";
		if (set_failed || PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			/* the key's role went away, was revoked or made superuser since the keys were loaded */
			ep_log(EP_LOG_WARNING, "request refused as role \"%s\": %s", role,
				   message ? message : "the role is a superuser now");
			ep_error(resp, 400, NS_SERVICE, "UnrecognizedClientException",
					 "The security token included in the request is invalid.");
		}
		else if (detail && detail[0] == '{' && strstr(detail, "\"__type\""))
		{
			resp->status = 400;
			resp->body = pg_strdup(detail);
			type_of(detail, resp->type, sizeof(resp->type));
		}
		else if (strncmp(sqlstate, "22", 2) == 0)
			ep_error(resp, 400, NS_SERVICE, "SerializationException",
					 message ? message : "the request body is not a JSON document");
		else if (strncmp(sqlstate, "54", 2) == 0)
		{
			/* a program limit (stack depth, too many elements): what the request holds */
			ep_log(EP_LOG_WARNING, "request refused: %s", message ? message : sqlstate);
			ep_error(resp, 400, NS_SERVICE, "SerializationException",
					 "the request body exceeds a limit of the database");
		}
		else if (strcmp(sqlstate, "42501") == 0)
			ep_error(resp, 400, NS_SERVICE, "AccessDeniedException",
					 message ? message : "permission denied");
		else
		{
			ep_log(EP_LOG_ERROR, "dispatcher failed with SQLSTATE %s: %s", sqlstate,
				   message ? message : PQresultErrorMessage(res));
			ep_error(resp, 500, NS_DYNAMODB, "InternalServerError",
					 strcmp(sqlstate, "57014") == 0 ?
					 "The request took longer than the endpoint's request timeout" :
					 "Internal server error");
		}
	}
	PQclear(res);
	pool_release(slot);
}

void
dispatch_request(const char *role, const char *target, const char *body,
				 EpResponse *resp)
{
	dispatch(role, target, body, resp);
}

void
dispatch_metrics(const char *role, EpResponse *resp)
{
	dispatch(role, NULL, "", resp);
}
