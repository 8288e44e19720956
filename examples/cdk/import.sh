#!/usr/bin/env bash
# examples/cdk/import.sh: synthesizes the seed's CDK app offline and runs the
# demo on what orders_stream.import_stack() makes of it.
#
#   examples/cdk/import.sh [psql connection options]
#
# Installs aws-cdk-lib and constructs (package-lock.json) with npm ci if
# node_modules is missing, writes cdk.out/ and template.json here, then runs
# demo.sql with psql in a database where CREATE EXTENSION orders_stream may
# run (./demo.sh examples/cdk/demo.sql is NOT the way: the template is a psql
# variable).  Needs node >= 18 and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ -d node_modules/aws-cdk-lib ] || npm ci --no-audit --no-fund --loglevel=warn
node app.js "$here/cdk.out" >"$here/template.json"
psql -X -v ON_ERROR_STOP=1 -v template="$(cat "$here/template.json")" -f "$here/demo.sql" "$@"
