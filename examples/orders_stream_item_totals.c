/*-------------------------------------------------------------------------
 * orders_stream_item_totals.c
 *	  The seed's item_totals aggregator as a C function: the delivery worker
 *	  calls it through fmgr with the Lambda event, with no SQL round trip
 *	  per batch.  Same rules as examples/item_totals.sql: INSERT adds the new
 *	  quantity, MODIFY the difference, REMOVE subtracts the old one; a
 *	  negative quantity fails the batch.
 *
 *	  CREATE FUNCTION item_totals_aggregator_c(event jsonb) RETURNS jsonb
 *	  AS 'orders_stream_item_totals', 'item_totals_aggregator'
 *	  LANGUAGE C STRICT;
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(item_totals_aggregator);

typedef struct ItemDelta
{
	char	   *item;			/* hash key: the whole item name, any length */
	int64		delta;
} ItemDelta;

static uint32
item_hash(const void *key, Size keysize)
{
	const char *item = *(char *const *) key;

	return hash_bytes((const unsigned char *) item, (int) strlen(item));
}

static int
item_match(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

static SPIPlanPtr upsert_plan = NULL;

/* The string at path, or NULL. */
static JsonbValue *
get_path(JsonbContainer *container, const char *const *path, int depth)
{
	JsonbValue *v = NULL;
	int			i;

	for (i = 0; i < depth; i++)
	{
		if (container == NULL || !JsonContainerIsObject(container))
			return NULL;
		v = getKeyJsonValueFromContainer(container, path[i], strlen(path[i]), NULL);
		if (v == NULL)
			return NULL;
		container = (v->type == jbvBinary) ? v->val.binary.data : NULL;
	}
	return v;
}

static void
add_image(HTAB *deltas, JsonbContainer *record, const char *image, int sign)
{
	const char *item_path[] = {"dynamodb", image, "item", "S"};
	const char *qty_path[] = {"dynamodb", image, "quantity", "N"};
	JsonbValue *item = get_path(record, item_path, 4);
	JsonbValue *qty = get_path(record, qty_path, 4);
	char	   *key;
	char	   *qtystr;
	int64		quantity;
	ItemDelta  *entry;
	bool		found;

	if (item == NULL || qty == NULL || item->type != jbvString || qty->type != jbvString)
		return;
	qtystr = pnstrdup(qty->val.string.val, qty->val.string.len);
	quantity = pg_strtoint64(qtystr);
	/* as in item_totals.sql, only a new image can be poison */
	if (quantity < 0 && sign > 0)
	{
		const char *id_path[] = {"dynamodb", "Keys", "id", "S"};
		JsonbValue *id = get_path(record, id_path, 4);

		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("order %s has a negative quantity",
						id && id->type == jbvString ?
						pnstrdup(id->val.string.val, id->val.string.len) : "?"),
				 errhint("Fix the order; then orders_stream.redrive_failures() replays it.")));
	}
	if (deltas == NULL)
		return;					/* only checked */
	key = pnstrdup(item->val.string.val, item->val.string.len);
	entry = hash_search(deltas, &key, HASH_ENTER, &found);
	if (!found)
		entry->delta = 0;
	entry->delta += sign * quantity;
}

Datum
item_totals_aggregator(PG_FUNCTION_ARGS)
{
	Jsonb	   *event = PG_GETARG_JSONB_P(0);
	JsonbValue *records;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	HTAB	   *deltas;
	HASHCTL		ctl;
	HASH_SEQ_STATUS status;
	ItemDelta  *entry;

	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(ItemDelta);
	ctl.hash = item_hash;
	ctl.match = item_match;
	ctl.hcxt = CurrentMemoryContext;
	deltas = hash_create("item deltas", 64, &ctl,
						 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);

	records = getKeyJsonValueFromContainer(&event->root, "Records", strlen("Records"), NULL);
	if (records == NULL || records->type != jbvBinary)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event has no Records array")));

	it = JsonbIteratorInit(records->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		JsonbValue *name;
		const char *name_path[] = {"eventName"};
		const char *old_path[] = {"dynamodb", "OldImage"};
		bool		is_insert;
		bool		is_change;

		if (tok != WJB_ELEM || v.type != jbvBinary)
			continue;
		name = get_path(v.val.binary.data, name_path, 1);
		is_insert = name && name->type == jbvString &&
			name->val.string.len == 6 && memcmp(name->val.string.val, "INSERT", 6) == 0;
		is_change = name && name->type == jbvString && name->val.string.len == 6 &&
			(memcmp(name->val.string.val, "MODIFY", 6) == 0 ||
			 memcmp(name->val.string.val, "REMOVE", 6) == 0);
		/*
		 * As in item_totals.sql: a MODIFY's new image counts only with its
		 * old one (NEW_AND_OLD_IMAGES), else the old quantity would not be
		 * taken off.
		 */
		if (is_insert || get_path(v.val.binary.data, old_path, 2) != NULL)
			add_image(deltas, v.val.binary.data, "NewImage", 1);
		else
			add_image(NULL, v.val.binary.data, "NewImage", 1);	/* poison? */
		if (is_change)
			add_image(deltas, v.val.binary.data, "OldImage", -1);
	}

	SPI_connect();
	if (upsert_plan == NULL)
	{
		Oid			argtypes[2] = {TEXTOID, INT8OID};

		upsert_plan = SPI_prepare("INSERT INTO item_totals AS t (item, total) VALUES ($1, $2) "
								  "ON CONFLICT (item) DO UPDATE SET total = t.total + excluded.total",
								  2, argtypes);
		if (upsert_plan == NULL)
			elog(ERROR, "could not prepare the item_totals upsert: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(upsert_plan);
	}
	hash_seq_init(&status, deltas);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		Datum		values[2];

		values[0] = CStringGetTextDatum(entry->item);
		values[1] = Int64GetDatum(entry->delta);
		if (SPI_execute_plan(upsert_plan, values, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not update item_totals");
	}
	SPI_finish();
	PG_RETURN_NULL();
}
