-- Tables of the capture benchmark (c, e): the loaded table, with a NEW_IMAGE
-- stream, and the table test_decoding's output is stored into by hand.
CREATE TABLE orders_load (
	id         bigserial PRIMARY KEY,
	item       text NOT NULL,
	quantity   int NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
SELECT orders_stream.enable_stream('orders_load', 'NEW_IMAGE');

CREATE TABLE td_out (lsn pg_lsn, xid xid, data text);
