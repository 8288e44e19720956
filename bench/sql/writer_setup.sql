-- Tables of the writer (a, b) and latency (d) benchmarks: three identical
-- order tables, one without a stream (the baseline), one with a NEW_IMAGE
-- stream, one with the classic alternative, an AFTER ROW trigger copying the
-- row as jsonb into a log table.
CREATE TABLE orders_nostream (
	id         bigserial PRIMARY KEY,
	item       text NOT NULL,
	quantity   int NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders_streamed (
	id         bigserial PRIMARY KEY,
	item       text NOT NULL,
	quantity   int NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders_trigger (
	id         bigserial PRIMARY KEY,
	item       text NOT NULL,
	quantity   int NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

SELECT orders_stream.enable_stream('orders_streamed', 'NEW_IMAGE');

CREATE TABLE orders_log (
	id        bigserial PRIMARY KEY,
	logged_at timestamptz NOT NULL DEFAULT now(),
	operation text NOT NULL,
	row_data  jsonb NOT NULL
);

CREATE FUNCTION log_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO orders_log (operation, row_data)
	VALUES (TG_OP, to_jsonb(CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END));
	RETURN NULL;
END
$$;

CREATE TRIGGER orders_trigger_log AFTER INSERT OR UPDATE OR DELETE ON orders_trigger
	FOR EACH ROW EXECUTE FUNCTION log_order();
