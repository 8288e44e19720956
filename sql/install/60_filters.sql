/* AWS event filtering, for event source mappings' filter_criteria */
CREATE FUNCTION orders_stream.filter_matches(record jsonb, filter_criteria jsonb)
RETURNS boolean
AS 'MODULE_PATHNAME', 'orders_stream_filter_matches'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION orders_stream.filter_matches(jsonb, jsonb) IS
'Whether a stream record matches any pattern of {"Filters": [{"Pattern": "..."}]}, as AWS event filtering';

/* create_ and update_event_source_mapping's check of filter_criteria */
CREATE FUNCTION orders_stream_internal.check_filter_criteria(filter_criteria jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'orders_stream_check_filter_criteria'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

