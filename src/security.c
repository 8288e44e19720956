/*-------------------------------------------------------------------------
 * security.c
 *	  The privilege boundary between callers and the extension's owner.
 *
 * SQL that orders_stream's C code runs, as the caller or as the extension's
 * owner, is parsed under search_path = pg_catalog, pg_temp and names its
 * objects with their schemas: a caller's search_path can never steer it.
 *
 * The API functions that write the extension's tables are one C shim,
 * orders_stream_call_internal(): it calls the SECURITY DEFINER function of
 * the same name in orders_stream_internal, passing who called (GetUserId())
 * and the caller's search_path first.  Inside a SECURITY DEFINER function
 * SQL cannot tell who called it; PUBLIC cannot execute the internal
 * function, so nobody can pass it another caller.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/prepare.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/portal.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "aws_error.h"
#include "compat.h"
#include "orders_stream.h"
#include "security.h"

PG_FUNCTION_INFO_V1(orders_stream_call_internal);
PG_FUNCTION_INFO_V1(orders_stream_may_read);
PG_FUNCTION_INFO_V1(orders_stream_may_read_name);
PG_FUNCTION_INFO_V1(orders_stream_check_target);

int
security_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

void
security_unpin_search_path(int nestlevel)
{
	AtEOXact_GUC(true, nestlevel);
}

Oid
security_extension_owner(void)
{
	Oid			nsp = get_namespace_oid(ORDERS_STREAM_SCHEMA, false);
	Relation	rel = table_open(get_relname_relid("streams", nsp), AccessShareLock);
	Oid			owner = rel->rd_rel->relowner;

	table_close(rel, AccessShareLock);
	return owner;
}

void
security_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			const char *nulls, int expected)
{
	int			nestlevel = security_pin_search_path();
	int			rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
										   false, 0);

	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", sql,
			 SPI_result_code_string(rc));
	security_unpin_search_path(nestlevel);
}

/*
 * As the owner of the extension's tables, the only role allowed to write
 * them; SECURITY_LOCAL_USERID_CHANGE keeps the statement from changing the
 * role, SECURITY_RESTRICTED_OPERATION from leaving session state behind.
 */
void
security_spi_exec_as_owner(const char *sql, int nargs, Oid *argtypes,
					 Datum *values, const char *nulls, int expected)
{
	Oid			owner = security_extension_owner();
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	security_spi_exec(sql, nargs, argtypes, values, nulls, expected);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

void
security_reset_session_state(void)
{
	LockReleaseAll(USER_LOCKMETHOD, true);	/* advisory locks */
	ResetTempTableNamespace();
	DropAllPreparedStatements();
	PortalHashTableDeleteAll();
	ResetSequenceCaches();		/* currval(), lastval() */
}

/*
 * orders_stream.f(args) -> orders_stream_internal.f(caller, caller's
 * search_path, args), see the header comment.
 */
Datum
orders_stream_call_internal(PG_FUNCTION_ARGS)
{
	FmgrInfo   *target = fcinfo->flinfo->fn_extra;
	FunctionCallInfo inner;
	Datum		result;
	int			i;

	if (target == NULL)
	{
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
		Form_pg_proc proc;
		HeapTuple	internal_tup;
		Oid		   *argtypes;
		Oid			internal;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
		proc = (Form_pg_proc) GETSTRUCT(tup);
		argtypes = palloc(sizeof(Oid) * (proc->pronargs + 2));
		argtypes[0] = OIDOID;
		argtypes[1] = TEXTOID;
		memcpy(argtypes + 2, proc->proargtypes.values, sizeof(Oid) * proc->pronargs);
		/* by catalog, not by name lookup: the caller has no USAGE on the schema */
		internal_tup = SearchSysCache3(PROCNAMEARGSNSP,
									   NameGetDatum(&proc->proname),
									   PointerGetDatum(buildoidvector(argtypes, proc->pronargs + 2)),
									   ObjectIdGetDatum(get_namespace_oid(ORDERS_STREAM_INTERNAL_SCHEMA, false)));
		if (!HeapTupleIsValid(internal_tup))
			elog(ERROR, "function %s.%s has no internal counterpart",
				 ORDERS_STREAM_SCHEMA, NameStr(proc->proname));
		internal = ((Form_pg_proc) GETSTRUCT(internal_tup))->oid;
		ReleaseSysCache(internal_tup);
		ReleaseSysCache(tup);

		target = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(internal, target, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = target;
	}

	inner = palloc0(SizeForFunctionCallInfo(fcinfo->nargs + 2));
	InitFunctionCallInfoData(*inner, target, fcinfo->nargs + 2,
							 fcinfo->fncollation, NULL, NULL);
	inner->args[0].value = ObjectIdGetDatum(GetUserId());
	inner->args[0].isnull = false;
	inner->args[1].value = CStringGetTextDatum(namespace_search_path);
	inner->args[1].isnull = false;
	for (i = 0; i < fcinfo->nargs; i++)
		inner->args[i + 2] = fcinfo->args[i];
	result = FunctionCallInvoke(inner);
	fcinfo->isnull = inner->isnull;
	return result;
}

/*
 * Opens a table its caller must own, for an API function given its OID:
 * ownership is checked before the lock, as RangeVarGetRelidExtended's
 * callbacks do, so that a role without the right never queues for a lock
 * on another role's table (and makes every later writer queue behind it).
 * The checks are repeated once the lock is held: the table may have been
 * dropped or given away while the lock was awaited.  hint says how to call
 * the function.
 */
Relation
security_open_owned_table(Oid relid, LOCKMODE lockmode, const char *hint)
{
	int			i;

	for (i = 0; i < 2; i++)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		Form_pg_class form;

		if (!HeapTupleIsValid(tup))
			aws_error(AWS_RESOURCE_NOT_FOUND, hint,
					  "table with OID %u does not exist", relid);
		form = (Form_pg_class) GETSTRUCT(tup);
		if (!pg_class_ownercheck(relid, GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, get_relkind_objtype(form->relkind),
						   NameStr(form->relname));
		ReleaseSysCache(tup);
		if (i == 0)
			LockRelationOid(relid, lockmode);
	}
	return relation_open(relid, NoLock);
}

/*
 * Stream records are whole rows, so a role may read a stream only if
 * row-level security does not apply to it: per-record policy evaluation is
 * out of scope.  check_enable_rls() decides that as the executor would
 * (table owners unless FORCE ROW LEVEL SECURITY, superusers and BYPASSRLS
 * roles bypass policies), whatever row_security is set to.  A mapping keeps
 * delivering the records of its dropped table until they age out (nobody
 * can be granted access to them any more, and its owner had it): if_dropped
 * says what a table that no longer exists answers.  (An OID that a new
 * table reuses is checked as that table.)
 */
bool
security_may_read(Oid role, Oid relid, bool if_dropped)
{
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		return false;
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return if_dropped;
	return pg_class_aclcheck(relid, role, ACL_SELECT) == ACLCHECK_OK &&
		check_enable_rls(relid, role, true) != RLS_ENABLED;
}

/* orders_stream.may_read(role oid, relid oid, if_dropped boolean) */
Datum
orders_stream_may_read(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(security_may_read(PG_GETARG_OID(0), PG_GETARG_OID(1),
									 PG_GETARG_BOOL(2)));
}

/*
 * orders_stream.may_read(role name, ...): for views, which know their
 * caller as CURRENT_USER only.
 */
Datum
orders_stream_may_read_name(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(security_may_read(get_role_oid(NameStr(*PG_GETARG_NAME(0)), true),
									 PG_GETARG_OID(1), PG_GETARG_BOOL(2)));
}

/*
 * A mapping calls its function with the event and keeps what it returns:
 * one jsonb argument, one value, a plain function (no procedure, no
 * aggregate).
 */
void
security_check_target(Oid function)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(function));
	Form_pg_proc p;
	bool		callable;

	if (!HeapTupleIsValid(tup))
		aws_error(AWS_RESOURCE_NOT_FOUND, NULL,
				  "the function (OID %u) of the event source mapping does not exist",
				  function);
	p = (Form_pg_proc) GETSTRUCT(tup);
	callable = p->pronargs == 1 && p->proargtypes.values[0] == JSONBOID &&
		!p->proretset && p->prokind == PROKIND_FUNCTION;
	ReleaseSysCache(tup);
	if (!callable)
		aws_error(AWS_INVALID_PARAMETER_VALUE,
				  "It must take exactly one jsonb argument (the event {\"Records\": [...]}) and return a single value: declare it as FUNCTION f(event jsonb) RETURNS jsonb (or void).",
				  "function %s cannot be an event source mapping target",
				  format_procedure(function));
}

/* orders_stream_internal.check_target(function regprocedure) */
Datum
orders_stream_check_target(PG_FUNCTION_ARGS)
{
	security_check_target(PG_GETARG_OID(0));
	PG_RETURN_VOID();
}

/*
 * Becomes owner to run user code (a mapping's function, a TTL delete's
 * triggers) with search_path.  Temporary tables that other roles' code left
 * in this session must not shadow the owner's tables: unless that path
 * names pg_temp, it comes last (instead of first, implicitly).
 *
 * And as a security-restricted operation, as VACUUM runs index functions:
 * nothing the code queues may run after the switch back to this session's
 * user.  PostgreSQL then refuses deferred triggers (they would
 * fire at commit, as the worker's superuser), temporary objects (they would
 * shadow what runs next) and cursors WITH HOLD.  Returns the GUC nest level
 * that undoes the settings.
 */
int
security_become_owner(Oid owner, const char *search_path, int sec_context)
{
	int			nestlevel;

	SetUserIdAndSecContext(owner,
						   sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path",
							 strstr(search_path, "pg_temp") ? search_path :
							 psprintf("%s, pg_temp", search_path),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	/* is_superuser shows the worker's (superuser) session otherwise */
	(void) set_config_option("is_superuser",
							 superuser_arg(owner) ? "on" : "off",
							 PGC_INTERNAL, PGC_S_DYNAMIC_DEFAULT, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

/*
 * Ends what security_become_owner() began: every setting made since, SET or
 * SET LOCAL, is undone, and the saved user and security context are back.
 */
void
security_end_owner(int nestlevel, Oid save_userid, int save_sec_context)
{
	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}
