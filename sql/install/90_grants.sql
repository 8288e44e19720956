/*
 * The API functions of orders_stream are executable by PUBLIC, as every new
 * function is; the internal ones are not, whoever reaches their schema.
 * Each table's and view's privileges are granted next to it.
 */
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA orders_stream_internal FROM PUBLIC;
