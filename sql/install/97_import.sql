/* ---- Importing a CloudFormation (CDK) stack's tables, streams, TTL and mappings ---- */

/*
 * Reads the template's AWS::DynamoDB::Table / GlobalTable and
 * AWS::Lambda::EventSourceMapping resources and brings the database to what
 * they describe through the public API only (enable_stream, disable_stream,
 * update_time_to_live, create/update/delete_event_source_mapping), as its
 * caller: it can do nothing the caller could not do by calling those.
 * Returns one row per resource: what it did (or, with dry_run, would do) and
 * what it could not map, and why.
 *
 * A mapping is found again by its (stream, function) pair, AWS's own
 * uniqueness: importing the same template again changes nothing, a changed
 * property updates the mapping, and what CloudFormation replaces (a new
 * StartingPosition, a new stream) is deleted and created again.
 *
 * No SET search_path: the mappings it creates must record the caller's
 * search_path (their functions run with it), and the names in tables and
 * functions are the caller's; so every name and operator here is qualified.
 */
CREATE FUNCTION orders_stream.import_stack(template jsonb, functions jsonb,
										   tables jsonb DEFAULT '{}', dry_run boolean DEFAULT true)
RETURNS TABLE (logical_id text, resource_type text, action text, object text, detail text)
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
	resources pg_catalog.jsonb := template OPERATOR(pg_catalog.->) 'Resources';
	report pg_catalog.jsonb := '[]';
	planned pg_catalog.jsonb := '{}';	/* table logical id -> {"name", "view", "replaced"} */
	res record;
	props pg_catalog.jsonb;
	notes text[];
	ignored text;
	changed boolean;
	act text;
	obj text;
	tname text;
	tbl pg_catalog.regclass;
	cols text[];
	keycols text[];
	key_el pg_catalog.jsonb;
	attr_type text;
	view_type text;
	current_view text;
	doc_col name;
	stream_arn text;
	ttl_attr text;
	ttl_on boolean;
	ttl_now pg_catalog.jsonb;
	ref pg_catalog.jsonb;
	ref_id text;
	fn_key text;
	proc pg_catalog.regprocedure;
	dest text;
	m record;
	mapping uuid;
	changes text[];
	replace_reason text;
	/* a mapping as the template wants it (AWS's defaults where it is silent), and as it is */
	want pg_catalog.jsonb;
	have pg_catalog.jsonb;
	/*
	 * The parameters of create_ and update_event_source_mapping from want
	 * ($1), for EXECUTE: one list for both calls.
	 */
	mapping_params constant text := 'batch_size => ($1 OPERATOR(pg_catalog.->>) ''BatchSize'')::integer, '
		'maximum_batching_window_in_seconds => ($1 OPERATOR(pg_catalog.->>) ''MaximumBatchingWindowInSeconds'')::integer, '
		'bisect_batch_on_function_error => ($1 OPERATOR(pg_catalog.->>) ''BisectBatchOnFunctionError'')::boolean, '
		'maximum_retry_attempts => ($1 OPERATOR(pg_catalog.->>) ''MaximumRetryAttempts'')::integer, '
		'maximum_record_age_in_seconds => ($1 OPERATOR(pg_catalog.->>) ''MaximumRecordAgeInSeconds'')::integer, '
		'parallelization_factor => ($1 OPERATOR(pg_catalog.->>) ''ParallelizationFactor'')::integer, '
		'tumbling_window_in_seconds => ($1 OPERATOR(pg_catalog.->>) ''TumblingWindowInSeconds'')::integer, '
		'function_response_types => ARRAY(SELECT pg_catalog.jsonb_array_elements_text($1 OPERATOR(pg_catalog.->) ''FunctionResponseTypes'')), '
		'enabled => ($1 OPERATOR(pg_catalog.->>) ''Enabled'')::boolean, '
		'filter_criteria => coalesce(pg_catalog.jsonb_strip_nulls($1) OPERATOR(pg_catalog.->) ''FilterCriteria'', ''{}'')';
BEGIN
	IF pg_catalog.jsonb_typeof(template) IS DISTINCT FROM 'object'
	   OR pg_catalog.jsonb_typeof(resources) IS DISTINCT FROM 'object' THEN
		PERFORM orders_stream.aws_error('ValidationException',
			'the template has no "Resources" object',
			'Pass the CloudFormation template as JSON: cdk synth''s output, or cdk.out/<Stack>.template.json.');
	END IF;
	SELECT r.key INTO ref_id FROM pg_catalog.jsonb_each(resources) r
	 WHERE pg_catalog.jsonb_typeof(r.value) IS DISTINCT FROM 'object'
		OR pg_catalog.jsonb_typeof(r.value OPERATOR(pg_catalog.->) 'Type') IS DISTINCT FROM 'string'
		OR (r.value OPERATOR(pg_catalog.?) 'Properties'
			AND pg_catalog.jsonb_typeof(r.value OPERATOR(pg_catalog.->) 'Properties') IS DISTINCT FROM 'object')
	 LIMIT 1;
	IF FOUND THEN
		PERFORM orders_stream.aws_error('ValidationException',
			pg_catalog.format('resource "%s" of the template is not an object with a "Type" string and "Properties" object', ref_id),
			'Every member of "Resources" is {"Type": "AWS::...", "Properties": {...}}.');
	END IF;
	IF pg_catalog.jsonb_typeof(coalesce(functions, '{}')) OPERATOR(pg_catalog.<>) 'object'
	   OR pg_catalog.jsonb_typeof(coalesce(tables, '{}')) OPERATOR(pg_catalog.<>) 'object'
	   OR EXISTS (SELECT FROM pg_catalog.jsonb_each(coalesce(functions, '{}') OPERATOR(pg_catalog.||) coalesce(tables, '{}')) e
				   WHERE pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.<>) 'string') THEN
		PERFORM orders_stream.aws_error('ValidationException',
			'functions and tables must be JSON objects of strings',
			'functions => ''{"echoLambdaA460BF50": "item_totals_aggregator(jsonb)"}'', tables => ''{"OrdersTable315BB997": "orders"}''.');
	END IF;
	IF dry_run IS NULL THEN
		PERFORM orders_stream.aws_error('ValidationException', 'dry_run must not be NULL',
			'true reports what would be done, false does it.');
	END IF;

	/* ---- tables: the table, its stream, its TTL ---- */
	FOR res IN SELECT r.key AS id, r.value OPERATOR(pg_catalog.->>) 'Type' AS type,
					  coalesce(r.value OPERATOR(pg_catalog.->) 'Properties', '{}') AS props
				 FROM pg_catalog.jsonb_each(resources) r
				WHERE r.value OPERATOR(pg_catalog.->>) 'Type' OPERATOR(pg_catalog.=) ANY (ARRAY['AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable'])
				ORDER BY r.key COLLATE "C"
	LOOP
		props := res.props;
		notes := '{}';
		act := 'none';
		changed := false;
		/* the key schema: HASH, then RANGE, each a typed attribute */
		IF pg_catalog.jsonb_typeof(props OPERATOR(pg_catalog.->) 'KeySchema') IS DISTINCT FROM 'array'
		   OR pg_catalog.jsonb_array_length(props OPERATOR(pg_catalog.->) 'KeySchema') OPERATOR(pg_catalog.>) 2
		   OR props OPERATOR(pg_catalog.#>>) '{KeySchema,0,KeyType}' IS DISTINCT FROM 'HASH'
		   OR (pg_catalog.jsonb_array_length(props OPERATOR(pg_catalog.->) 'KeySchema') OPERATOR(pg_catalog.=) 2
			   AND props OPERATOR(pg_catalog.#>>) '{KeySchema,1,KeyType}' IS DISTINCT FROM 'RANGE')
		   OR pg_catalog.jsonb_typeof(props OPERATOR(pg_catalog.->) 'AttributeDefinitions') IS DISTINCT FROM 'array' THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('table "%s" needs a KeySchema of a HASH key and an optional RANGE key, and AttributeDefinitions', res.id),
				'As in DynamoDB: "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}], "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}].');
		END IF;
		cols := '{}';
		keycols := '{}';
		FOR key_el IN SELECT e FROM pg_catalog.jsonb_array_elements(props OPERATOR(pg_catalog.->) 'AttributeDefinitions') e
		LOOP
			attr_type := CASE key_el OPERATOR(pg_catalog.->>) 'AttributeType'
				WHEN 'S' THEN 'text' WHEN 'N' THEN 'numeric' WHEN 'B' THEN 'bytea' END;
			IF attr_type IS NULL OR key_el OPERATOR(pg_catalog.->>) 'AttributeName' IS NULL THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('attribute definition %s of table "%s" is not an AttributeName with an AttributeType S, N or B', key_el, res.id),
					'S becomes text, N numeric, B bytea.');
			END IF;
			IF key_el OPERATOR(pg_catalog.->>) 'AttributeName' OPERATOR(pg_catalog.=) 'item' THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('table "%s" defines an attribute "item", the name of the column holding the other attributes', res.id),
					'Map the table to an existing one with tables => ''{"' OPERATOR(pg_catalog.||) res.id OPERATOR(pg_catalog.||) '": "..."}''.');
			END IF;
			cols := cols OPERATOR(pg_catalog.||) pg_catalog.format('%I %s', key_el OPERATOR(pg_catalog.->>) 'AttributeName', attr_type);
		END LOOP;
		FOR key_el IN SELECT e FROM pg_catalog.jsonb_array_elements(props OPERATOR(pg_catalog.->) 'KeySchema') e
		LOOP
			IF NOT props OPERATOR(pg_catalog.->) 'AttributeDefinitions' OPERATOR(pg_catalog.@>)
				   pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('AttributeName', key_el OPERATOR(pg_catalog.->) 'AttributeName')) THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('key attribute %s of table "%s" has no AttributeDefinition', key_el OPERATOR(pg_catalog.->) 'AttributeName', res.id),
					'Every KeySchema attribute needs its type in AttributeDefinitions.');
			END IF;
			keycols := keycols OPERATOR(pg_catalog.||) pg_catalog.quote_ident(key_el OPERATOR(pg_catalog.->>) 'AttributeName');
		END LOOP;

		/* the table: named in tables (an SQL name), else TableName or the logical id (one identifier) */
		IF tables OPERATOR(pg_catalog.?) res.id THEN
			/* an SQL name, quoted again part by part: it goes into CREATE TABLE */
			BEGIN
				tname := pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(p)
					FROM pg_catalog.unnest(pg_catalog.parse_ident(tables OPERATOR(pg_catalog.->>) res.id)) p), '.');
			EXCEPTION WHEN invalid_parameter_value THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('tables maps "%s" to "%s", which is not a table name', res.id, tables OPERATOR(pg_catalog.->>) res.id),
					'A table name, schema-qualified or not: orders, shop.orders.');
			END;
		ELSE
			tname := pg_catalog.quote_ident(coalesce(props OPERATOR(pg_catalog.->>) 'TableName', res.id));
		END IF;
		tbl := pg_catalog.to_regclass(tname);
		IF tbl IS NULL THEN
			act := 'create';
			ttl_attr := props OPERATOR(pg_catalog.#>>) '{TimeToLiveSpecification,AttributeName}';
			IF ttl_attr IS NOT NULL AND NOT props OPERATOR(pg_catalog.->) 'AttributeDefinitions' OPERATOR(pg_catalog.@>)
					pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('AttributeName', ttl_attr)) THEN
				/* DynamoDB's TTL attribute holds epoch seconds */
				cols := cols OPERATOR(pg_catalog.||) pg_catalog.format('%I numeric', ttl_attr);
			END IF;
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('created table %s (%s, item jsonb: the other attributes)',
				tname, pg_catalog.array_to_string(cols, ', '));
			IF NOT dry_run THEN
				EXECUTE pg_catalog.format('CREATE TABLE %s (%s, item jsonb NOT NULL DEFAULT ''{}'', PRIMARY KEY (%s))',
					tname, pg_catalog.array_to_string(cols, ', '), pg_catalog.array_to_string(keycols, ', '));
				tbl := pg_catalog.to_regclass(tname);
				IF ttl_attr IS NOT NULL THEN
					EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I)', tname, ttl_attr);
				END IF;
			END IF;
		END IF;
		obj := coalesce(tbl::text, tname);

		/* the stream: StreamViewType, a new stream when it changes (as DynamoDB) */
		view_type := props OPERATOR(pg_catalog.#>>) '{StreamSpecification,StreamViewType}';
		IF props OPERATOR(pg_catalog.?) 'StreamSpecification'
		   AND (view_type IS NULL OR view_type OPERATOR(pg_catalog.<>) ALL (ARRAY['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES'])) THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('StreamViewType of table "%s" must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES, got %s', res.id, coalesce(view_type, 'none')),
				'"StreamSpecification": {"StreamViewType": "NEW_IMAGE"}, as CDK''s stream: StreamViewType.NEW_IMAGE.');
		END IF;
		current_view := NULL;
		IF tbl IS NOT NULL THEN
			SELECT s.view_type INTO current_view FROM orders_stream.readable_streams s
			 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.enabled;
		END IF;
		/*
		 * item jsonb, as this function creates it, holds the other
		 * attributes: its members are the item's attributes in the stream
		 * (a document column), on a table created here or mapped in tables.
		 */
		doc_col := CASE WHEN tbl IS NULL THEN 'item'
			ELSE (SELECT a.attname FROM pg_catalog.pg_attribute a
				   WHERE a.attrelid OPERATOR(pg_catalog.=) tbl AND a.attname OPERATOR(pg_catalog.=) 'item'
					 AND NOT a.attisdropped AND a.atttypid OPERATOR(pg_catalog.=) 'pg_catalog.jsonb'::pg_catalog.regtype) END;
		IF view_type IS NULL AND current_view IS NOT NULL THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('stream %s left enabled: the template has no StreamSpecification (orders_stream.disable_stream() removes it)', current_view);
		ELSIF view_type IS NULL THEN
			notes := notes OPERATOR(pg_catalog.||) 'no StreamSpecification: no stream'::text;
		ELSIF current_view IS NULL THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('stream enabled (%s)', view_type);
			changed := true;
			IF NOT dry_run THEN
				PERFORM orders_stream.enable_stream(tbl, view_type, document_column => doc_col);
			END IF;
		ELSIF current_view OPERATOR(pg_catalog.<>) view_type THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('stream replaced: %s -> %s (a new stream, as DynamoDB makes when the view type changes)', current_view, view_type);
			changed := true;
			IF NOT dry_run THEN
				PERFORM orders_stream.disable_stream(tbl);
				PERFORM orders_stream.enable_stream(tbl, view_type, document_column => doc_col);
			END IF;
		END IF;
		IF view_type IS NOT NULL AND (current_view IS NULL OR current_view OPERATOR(pg_catalog.<>) view_type) AND doc_col IS NOT NULL THEN
			notes := notes OPERATOR(pg_catalog.||) 'the members of item are streamed as top-level attributes (document_column => ''item'')'::text;
		END IF;
		planned := planned OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(res.id,
			pg_catalog.jsonb_build_object('name', tname, 'view', view_type,
				'replaced', current_view IS NOT NULL AND view_type IS NOT NULL AND current_view OPERATOR(pg_catalog.<>) view_type));

		/* Time to Live */
		ttl_attr := props OPERATOR(pg_catalog.#>>) '{TimeToLiveSpecification,AttributeName}';
		ttl_on := NULL;
		IF props OPERATOR(pg_catalog.?) 'TimeToLiveSpecification' THEN
			BEGIN
				ttl_on := coalesce((props OPERATOR(pg_catalog.#>>) '{TimeToLiveSpecification,Enabled}')::boolean, false);
			EXCEPTION WHEN data_exception THEN
				ttl_on := NULL;
			END;
			IF ttl_on IS NULL OR (ttl_on AND ttl_attr IS NULL) THEN
				PERFORM orders_stream.aws_error('ValidationException',
					pg_catalog.format('TimeToLiveSpecification of table "%s" must have a boolean Enabled and, when enabled, an AttributeName', res.id),
					'"TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": true}.');
			END IF;
		END IF;
		ttl_now := CASE WHEN tbl IS NOT NULL THEN orders_stream.describe_time_to_live(tbl) OPERATOR(pg_catalog.#>) '{TimeToLiveDescription}' END;
		IF ttl_now OPERATOR(pg_catalog.->>) 'TimeToLiveStatus' OPERATOR(pg_catalog.=) 'ENABLED' THEN
			IF ttl_on IS NULL THEN
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('TTL on %s left enabled: the template has no TimeToLiveSpecification', ttl_now OPERATOR(pg_catalog.->>) 'AttributeName');
			ELSIF NOT ttl_on OR ttl_attr OPERATOR(pg_catalog.<>) (ttl_now OPERATOR(pg_catalog.->>) 'AttributeName') THEN
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('TTL on %s disabled', ttl_now OPERATOR(pg_catalog.->>) 'AttributeName');
				changed := true;
				IF NOT dry_run THEN
					PERFORM orders_stream.update_time_to_live(tbl, (ttl_now OPERATOR(pg_catalog.->>) 'AttributeName')::name, false);
				END IF;
				ttl_now := NULL;
			END IF;
		ELSE
			ttl_now := NULL;
		END IF;
		IF ttl_on AND ttl_now IS NULL THEN
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('TTL enabled on %s', ttl_attr);
			changed := true;
			IF NOT dry_run THEN
				PERFORM orders_stream.update_time_to_live(tbl, ttl_attr::name, true);
			END IF;
		END IF;
		IF changed AND act OPERATOR(pg_catalog.=) 'none' THEN
			act := 'update';
			IF NOT pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl), 'USAGE') THEN
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('you do not own table %s: its owner must import this', tbl);
			END IF;
		END IF;

		/* the rest, said rather than silently dropped */
		IF props OPERATOR(pg_catalog.?) 'KinesisStreamSpecification' THEN
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: KinesisStreamSpecification (Kinesis sources are not supported)'::text;
		END IF;
		IF props OPERATOR(pg_catalog.?|) ARRAY['GlobalSecondaryIndexes', 'LocalSecondaryIndexes'] THEN
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: secondary indexes (CREATE INDEX on the columns you query)'::text;
		END IF;
		IF props OPERATOR(pg_catalog.?) 'Replicas' THEN
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: Replicas (one table here; README''s Replicas for read replicas)'::text;
		END IF;
		SELECT pg_catalog.string_agg(k, ', ' ORDER BY k COLLATE "C") INTO ignored
		  FROM pg_catalog.jsonb_object_keys(props) k
		 WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['KeySchema', 'AttributeDefinitions', 'TableName', 'StreamSpecification',
					'TimeToLiveSpecification', 'KinesisStreamSpecification', 'GlobalSecondaryIndexes',
					'LocalSecondaryIndexes', 'Replicas']);
		IF ignored IS NOT NULL THEN
			notes := notes OPERATOR(pg_catalog.||) ('ignored: ' OPERATOR(pg_catalog.||) ignored);
		END IF;
		report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 1, 'id', res.id, 'type', res.type,
			'action', act, 'object', obj, 'detail', pg_catalog.array_to_string(notes, '; '));
	END LOOP;

	/* ---- event source mappings ---- */
	FOR res IN SELECT r.key AS id, r.value OPERATOR(pg_catalog.->>) 'Type' AS type,
					  coalesce(r.value OPERATOR(pg_catalog.->) 'Properties', '{}') AS props
				 FROM pg_catalog.jsonb_each(resources) r
				WHERE r.value OPERATOR(pg_catalog.->>) 'Type' OPERATOR(pg_catalog.=) 'AWS::Lambda::EventSourceMapping'
				ORDER BY r.key COLLATE "C"
	LOOP
		props := res.props;
		notes := '{}';
		act := NULL;
		obj := NULL;
		replace_reason := NULL;

		/* the function: a Ref or GetAtt of a Lambda of the template, or a name or ARN */
		ref := props OPERATOR(pg_catalog.->) 'FunctionName';
		fn_key := coalesce(ref OPERATOR(pg_catalog.->>) 'Ref', ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,0}',
						   pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 1),
						   pg_catalog.split_part(pg_catalog.regexp_replace(ref OPERATOR(pg_catalog.#>>) '{}', '^arn:[^:]*:lambda:[^:]*:[^:]*:function:', ''), ':', 1));
		IF fn_key IS NULL OR fn_key OPERATOR(pg_catalog.=) '' THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('event source mapping "%s" has no FunctionName', res.id),
				'FunctionName is a {"Ref": "<logical id of the function>"} or the function''s name.');
		END IF;

		/* the event source: a table of the template, by its StreamArn */
		ref := props OPERATOR(pg_catalog.->) 'EventSourceArn';
		ref_id := coalesce(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,0}', pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 1), ref OPERATOR(pg_catalog.->>) 'Ref');
		IF ref_id IS NULL AND ref OPERATOR(pg_catalog.#>>) '{}' OPERATOR(pg_catalog.~) '^arn:[^:]*:dynamodb:[^:]*:[^:]*:table/[^/]+/stream/' THEN
			SELECT t.key INTO ref_id FROM pg_catalog.jsonb_each(planned) t
			 WHERE t.value OPERATOR(pg_catalog.->>) 'name' OPERATOR(pg_catalog.=)
				   pg_catalog.quote_ident(pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{}', '/', 2));
			IF ref_id IS NULL THEN
				act := 'skip';
				notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('the stream %s is of a table outside the template: not imported', ref OPERATOR(pg_catalog.#>>) '{}');
			END IF;
		ELSIF coalesce(resources OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'Type'], ref OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.~) '(^AWS::Kinesis::|^arn:[^:]*:kinesis:)' THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: a Kinesis source (only DynamoDB streams are supported)'::text;
		ELSIF ref_id IS NULL OR NOT planned OPERATOR(pg_catalog.?) ref_id THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) CASE WHEN ref IS NULL THEN 'not mapped: no EventSourceArn'
				ELSE pg_catalog.format('not mapped: the event source %s is no DynamoDB table of the template', ref) END;
		ELSIF coalesce(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,1}', pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 2)) IS DISTINCT FROM 'StreamArn' THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('not mapped: EventSourceArn %s is not the StreamArn of table "%s"', ref, ref_id);
		ELSIF planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'view'] IS NULL THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('not mapped: table "%s" has no StreamSpecification', ref_id);
		END IF;

		/* the properties, AWS's defaults for those not given */
		BEGIN
			want := pg_catalog.jsonb_build_object(
				'StartingPosition', props OPERATOR(pg_catalog.->>) 'StartingPosition',
				'BatchSize', coalesce((props OPERATOR(pg_catalog.->>) 'BatchSize')::integer, 100),
				'MaximumBatchingWindowInSeconds', coalesce((props OPERATOR(pg_catalog.->>) 'MaximumBatchingWindowInSeconds')::integer, 0),
				'BisectBatchOnFunctionError', coalesce((props OPERATOR(pg_catalog.->>) 'BisectBatchOnFunctionError')::boolean, false),
				'MaximumRetryAttempts', coalesce((props OPERATOR(pg_catalog.->>) 'MaximumRetryAttempts')::integer, -1),
				'MaximumRecordAgeInSeconds', coalesce((props OPERATOR(pg_catalog.->>) 'MaximumRecordAgeInSeconds')::integer, -1),
				'ParallelizationFactor', coalesce((props OPERATOR(pg_catalog.->>) 'ParallelizationFactor')::integer, 1),
				'TumblingWindowInSeconds', coalesce((props OPERATOR(pg_catalog.->>) 'TumblingWindowInSeconds')::integer, 0),
				'FunctionResponseTypes', pg_catalog.to_jsonb(ARRAY(SELECT pg_catalog.jsonb_array_elements_text(
					coalesce(props OPERATOR(pg_catalog.->) 'FunctionResponseTypes', '[]')))),
				'Enabled', coalesce((props OPERATOR(pg_catalog.->>) 'Enabled')::boolean, true),
				/* none as AWS stores it: no filters */
				'FilterCriteria', CASE WHEN props OPERATOR(pg_catalog.#>) '{FilterCriteria,Filters}' OPERATOR(pg_catalog.<>) '[]'
									   THEN props OPERATOR(pg_catalog.->) 'FilterCriteria' END);
		EXCEPTION WHEN data_exception THEN
			PERFORM orders_stream.aws_error('ValidationException',
				pg_catalog.format('a property of event source mapping "%s" has the wrong type (%s)', res.id, SQLERRM),
				'BatchSize and the other counts are integers, BisectBatchOnFunctionError and Enabled booleans, FunctionResponseTypes a list of strings.');
		END;
		IF want OPERATOR(pg_catalog.->>) 'StartingPosition' OPERATOR(pg_catalog.=) 'AT_TIMESTAMP' THEN
			act := 'skip';
			notes := notes OPERATOR(pg_catalog.||) 'not mapped: StartingPosition AT_TIMESTAMP (Kinesis only; DynamoDB streams start at TRIM_HORIZON or LATEST)'::text;
		ELSIF coalesce(want OPERATOR(pg_catalog.->>) 'StartingPosition', '') OPERATOR(pg_catalog.<>) ALL (ARRAY['TRIM_HORIZON', 'LATEST']) THEN
			PERFORM orders_stream.aws_error('InvalidParameterValueException',
				pg_catalog.format('StartingPosition of event source mapping "%s" must be TRIM_HORIZON or LATEST, got %s', res.id, coalesce(want OPERATOR(pg_catalog.->>) 'StartingPosition', 'none')),
				'DynamoDB event sources need a starting position, as in CDK''s startingPosition.');
		END IF;

		/* what the mapping API has no place for: reported */
		IF props OPERATOR(pg_catalog.?) 'DestinationConfig' THEN
			ref := props OPERATOR(pg_catalog.#>) '{DestinationConfig,OnFailure,Destination}';
			dest := coalesce(resources OPERATOR(pg_catalog.#>>) ARRAY[coalesce(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt,0}',
							 pg_catalog.split_part(ref OPERATOR(pg_catalog.#>>) '{Fn::GetAtt}', '.', 1), ref OPERATOR(pg_catalog.->>) 'Ref'), 'Type'],
							 ref OPERATOR(pg_catalog.#>>) '{}', '');
			dest := CASE WHEN dest OPERATOR(pg_catalog.~) '(^AWS::SQS::|^arn:[^:]*:sqs:)' THEN 'SQS queue'
						 WHEN dest OPERATOR(pg_catalog.~) '(^AWS::SNS::|^arn:[^:]*:sns:)' THEN 'SNS topic'
						 WHEN dest OPERATOR(pg_catalog.~) '(^AWS::S3::|^arn:[^:]*:s3:)' THEN 'S3 bucket'
						 ELSE 'destination' END;
			notes := notes OPERATOR(pg_catalog.||) pg_catalog.format('DestinationConfig: failed batches go to orders_stream.failures, not to the %s %s', dest, coalesce(ref::text, props OPERATOR(pg_catalog.->>) 'DestinationConfig'));
		END IF;
		notes := notes OPERATOR(pg_catalog.||) ARRAY(SELECT
				pg_catalog.format('%s: %s', k, CASE
					WHEN k OPERATOR(pg_catalog.=) 'StartingPositionTimestamp' THEN 'ignored (only for AT_TIMESTAMP)'
					WHEN k OPERATOR(pg_catalog.=) 'KmsKeyArn' THEN 'ignored (filter criteria are not encrypted here)'
					WHEN k OPERATOR(pg_catalog.=) 'MetricsConfig' THEN 'ignored (orders_stream.event_source_mapping_status has the counters)'
					WHEN k OPERATOR(pg_catalog.=) 'LoggingConfig' THEN 'ignored (errors are in the server log and orders_stream.failures)'
					WHEN k OPERATOR(pg_catalog.=) 'Tags' THEN 'ignored (mappings have no tags)'
					WHEN k OPERATOR(pg_catalog.=) ANY (ARRAY['ProvisionedPollerConfig', 'ScalingConfig'])
						THEN 'ignored (delivery workers: orders_stream.max_delivery_workers)'
					WHEN k OPERATOR(pg_catalog.=) ANY (ARRAY['AmazonManagedKafkaEventSourceConfig', 'SelfManagedEventSource',
							'SelfManagedKafkaEventSourceConfig', 'SourceAccessConfigurations', 'Topics', 'Queues',
							'DocumentDBEventSourceConfig'])
						THEN 'ignored (not for DynamoDB sources)'
					ELSE 'ignored (not an AWS::Lambda::EventSourceMapping property)' END)
		  FROM pg_catalog.jsonb_object_keys(props) k
		 WHERE k OPERATOR(pg_catalog.<>) ALL (ARRAY['FunctionName', 'EventSourceArn', 'BatchSize',
					'MaximumBatchingWindowInSeconds', 'BisectBatchOnFunctionError', 'MaximumRetryAttempts',
					'MaximumRecordAgeInSeconds', 'ParallelizationFactor', 'TumblingWindowInSeconds', 'Enabled',
					'FunctionResponseTypes', 'FilterCriteria', 'StartingPosition', 'DestinationConfig'])
		 ORDER BY k COLLATE "C");

		IF act IS NULL THEN
			IF NOT coalesce(functions, '{}') OPERATOR(pg_catalog.?) fn_key THEN
				PERFORM orders_stream.aws_error('InvalidParameterValueException',
					pg_catalog.format('function "%s" of event source mapping "%s" has no entry in functions', fn_key, res.id),
					pg_catalog.format('Name the SQL function taking the Lambda event: functions => ''{"%s": "item_totals_aggregator(jsonb)"}''.', fn_key));
			END IF;
			proc := pg_catalog.to_regprocedure(functions OPERATOR(pg_catalog.->>) fn_key);
			IF proc IS NULL THEN
				PERFORM orders_stream.aws_error('InvalidParameterValueException',
					pg_catalog.format('function %s (for "%s") does not exist', functions OPERATOR(pg_catalog.->>) fn_key, fn_key),
					'Name it with its argument type, in your search_path or qualified: "item_totals_aggregator(jsonb)".');
			END IF;
			/* the mapping of this function on the table's stream, or on a stream it had before */
			tbl := pg_catalog.to_regclass(planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'name']);
			SELECT e.*, s.enabled AS stream_enabled INTO m
			  FROM orders_stream.event_source_mappings e
			  JOIN orders_stream.readable_streams s ON s.stream_id OPERATOR(pg_catalog.=) e.stream_id
			 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND e.function_oid OPERATOR(pg_catalog.=) proc
			 ORDER BY s.enabled DESC, e.created_at DESC
			 LIMIT 1;
			IF NOT FOUND THEN
				act := 'create';
			ELSE
				obj := m.uuid::text;
				have := orders_stream.get_event_source_mapping(m.uuid);
				have := have OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
					'Enabled', have OPERATOR(pg_catalog.->>) 'State' OPERATOR(pg_catalog.=) 'Enabled',
					'FilterCriteria', have OPERATOR(pg_catalog.->) 'FilterCriteria');
				IF NOT m.stream_enabled OR (planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'replaced'])::boolean THEN
					replace_reason := 'the table has a new stream';
				ELSIF (have OPERATOR(pg_catalog.->) 'StartingPosition') OPERATOR(pg_catalog.<>) (want OPERATOR(pg_catalog.->) 'StartingPosition') THEN
					replace_reason := pg_catalog.format('StartingPosition %s -> %s', have OPERATOR(pg_catalog.->>) 'StartingPosition', want OPERATOR(pg_catalog.->>) 'StartingPosition');
				END IF;
				changes := ARRAY(SELECT pg_catalog.format('%s %s -> %s', w.key, coalesce(have OPERATOR(pg_catalog.->) w.key OPERATOR(pg_catalog.#>>) '{}', 'none'),
											 coalesce(w.value OPERATOR(pg_catalog.#>>) '{}', 'none'))
								   FROM pg_catalog.jsonb_each(want) w
								  WHERE (have OPERATOR(pg_catalog.->) w.key) OPERATOR(pg_catalog.<>) w.value
								  ORDER BY w.key COLLATE "C");
				IF replace_reason IS NOT NULL THEN
					act := 'replace';
					notes := pg_catalog.format('mapping %s deleted and created again: %s', m.uuid, replace_reason) OPERATOR(pg_catalog.||) notes;
					IF NOT dry_run THEN
						PERFORM orders_stream.delete_event_source_mapping(m.uuid);
					END IF;
				ELSIF pg_catalog.cardinality(changes) OPERATOR(pg_catalog.>) 0 THEN
					act := 'update';
					notes := changes OPERATOR(pg_catalog.||) notes;
					IF NOT dry_run THEN
						EXECUTE 'SELECT orders_stream.update_event_source_mapping($2, ' OPERATOR(pg_catalog.||) mapping_params OPERATOR(pg_catalog.||) ')'
							USING want, m.uuid;
					END IF;
				ELSE
					act := 'none';
				END IF;
			END IF;
			IF act OPERATOR(pg_catalog.=) ANY (ARRAY['create', 'replace']) THEN
				notes := ARRAY[pg_catalog.format('%s -> %s', planned OPERATOR(pg_catalog.#>>) ARRAY[ref_id, 'name'], proc)]
					OPERATOR(pg_catalog.||) ARRAY(SELECT pg_catalog.format('%s %s', w.key, coalesce(w.value OPERATOR(pg_catalog.#>>) '{}', 'none'))
							FROM pg_catalog.jsonb_each(want) w
						   WHERE props OPERATOR(pg_catalog.?) w.key
						   ORDER BY w.key COLLATE "C")
					OPERATOR(pg_catalog.||) notes;
				IF NOT (want OPERATOR(pg_catalog.->>) 'Enabled')::boolean THEN
					notes := notes OPERATOR(pg_catalog.||) 'created disabled (Enabled: false): update_event_source_mapping(..., enabled => true) starts it'::text;
				END IF;
				obj := NULL;
				IF NOT dry_run THEN
					SELECT s.stream_arn INTO stream_arn FROM orders_stream.readable_streams s
					 WHERE s.relid OPERATOR(pg_catalog.=) tbl AND s.enabled;
					EXECUTE 'SELECT orders_stream.create_event_source_mapping($2, $3, starting_position => $1 OPERATOR(pg_catalog.->>) ''StartingPosition'', '
						OPERATOR(pg_catalog.||) mapping_params OPERATOR(pg_catalog.||) ')'
						INTO mapping USING want, stream_arn, proc;
					obj := mapping::text;
				END IF;
			END IF;
		END IF;
		report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 3, 'id', res.id, 'type', res.type,
			'action', act, 'object', obj, 'detail', pg_catalog.array_to_string(notes, '; '));
	END LOOP;

	/* ---- every other resource: a line each ---- */
	FOR res IN SELECT r.key AS id, r.value OPERATOR(pg_catalog.->>) 'Type' AS type
				 FROM pg_catalog.jsonb_each(resources) r
				WHERE r.value OPERATOR(pg_catalog.->>) 'Type' OPERATOR(pg_catalog.<>) ALL (ARRAY['AWS::DynamoDB::Table',
						'AWS::DynamoDB::GlobalTable', 'AWS::Lambda::EventSourceMapping'])
	LOOP
		IF res.type OPERATOR(pg_catalog.=) 'AWS::Lambda::Function' AND coalesce(functions, '{}') OPERATOR(pg_catalog.?) res.id THEN
			proc := pg_catalog.to_regprocedure(functions OPERATOR(pg_catalog.->>) res.id);
			report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 2, 'id', res.id, 'type', res.type,
				'action', CASE WHEN proc IS NULL THEN 'skip' ELSE 'map' END, 'object', proc::text,
				'detail', CASE WHEN proc IS NULL THEN pg_catalog.format('function %s does not exist', functions OPERATOR(pg_catalog.->>) res.id)
							   ELSE 'its event source mappings invoke this function' END);
		ELSE
			report := report OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('o', 4, 'id', res.id, 'type', res.type,
				'action', 'skip', 'object', NULL, 'detail', CASE
					WHEN res.type OPERATOR(pg_catalog.=) 'AWS::Lambda::Function' THEN 'no entry in functions: not imported'
					WHEN res.type OPERATOR(pg_catalog.=) ANY (ARRAY['AWS::SQS::Queue', 'AWS::SNS::Topic', 'AWS::S3::Bucket'])
						THEN 'not imported: failed batches go to orders_stream.failures'
					WHEN res.type OPERATOR(pg_catalog.~) '^AWS::IAM::' THEN 'not imported: PostgreSQL privileges (GRANT) take the place of IAM'
					WHEN res.type OPERATOR(pg_catalog.~) '^AWS::Kinesis::' THEN 'not imported: Kinesis is not supported'
					WHEN res.type OPERATOR(pg_catalog.=) 'AWS::CDK::Metadata' THEN 'not imported: CDK metadata'
					ELSE 'not imported: a resource type import_stack does not know' END);
		END IF;
	END LOOP;

	RETURN QUERY
		SELECT r OPERATOR(pg_catalog.->>) 'id', r OPERATOR(pg_catalog.->>) 'type', r OPERATOR(pg_catalog.->>) 'action',
			   r OPERATOR(pg_catalog.->>) 'object', r OPERATOR(pg_catalog.->>) 'detail'
		  FROM pg_catalog.jsonb_array_elements(report) r
		 ORDER BY (r OPERATOR(pg_catalog.->>) 'o')::integer, r OPERATOR(pg_catalog.->>) 'id' COLLATE "C";
END
$$;

COMMENT ON FUNCTION orders_stream.import_stack(jsonb, jsonb, jsonb, boolean) IS
'Imports a CloudFormation (CDK) template''s DynamoDB tables, streams, TTL and event source mappings; one report row per resource (dry_run, the default, changes nothing)';
