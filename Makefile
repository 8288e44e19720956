# orders_stream: PGXS build
MODULE_big = orders_stream
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
PGFILEDESC = "orders_stream - DynamoDB Streams for PostgreSQL"

# the C item_totals aggregator of examples/, used by the tests and the bench
MODULES = examples/orders_stream_item_totals

EXTENSION = orders_stream
# the version being built, the control file's default_version: the library
# knows it (src/version.c), and its install script is built under its name
EXTVERSION := $(shell sed -n "s/^default_version = '\\(.*\\)'$$/\\1/p" $(EXTENSION).control)
# The install script of EXTVERSION is built from one file per concern, as
# pg_cron's; the update script from the previous version, from the fragments
# of sql/update/<from>--<to>, in name order.  A released version's install
# script is checked in as it was released, and so is its update script
# (as PostgreSQL's contrib keeps its old scripts): CREATE EXTENSION ... VERSION installs it, and the update
# scripts bring it to EXTVERSION.
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql sql/$(EXTENSION)--1.1--$(EXTVERSION).sql
DATA = sql/$(EXTENSION)--1.0.sql sql/$(EXTENSION)--1.1.sql sql/$(EXTENSION)--1.0--1.1.sql

REGRESS = setup view_types types settings size_bytes sets numbers keys toast noop_update key_change ddl partitions partitions_late savepoints api streams_api errors privileges truncate json_fallback mappings filter ttl windows document_column import metrics json_check read_plans
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/orders_stream.conf
TAP_TESTS = 1

PG_CPPFLAGS = -DORDERS_STREAM_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

EXTRA_CLEAN = tmp_check results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object on every header: a struct that changes must not leave an
# object built against its old layout
$(OBJS): $(wildcard src/*.h)

# the version is compiled in (version.h, which the workers use too): a new
# default_version rebuilds every object
$(OBJS): $(EXTENSION).control

sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

# A fragment named *.or-replace.sql is a link to a file of sql/install whose
# functions and views the previous version has already: it is included with
# CREATE FUNCTION and CREATE VIEW made CREATE OR REPLACE (the install script
# itself never replaces: t/016), so that their one source is the install file.
sql/$(EXTENSION)--1.1--$(EXTVERSION).sql: $(sort $(wildcard sql/update/1.1--$(EXTVERSION)/*.sql))
	for f in $^; do \
		case $$f in \
			*.or-replace.sql) sed -E 's/^CREATE (FUNCTION|VIEW) /CREATE OR REPLACE \1 /' $$f ;; \
			*) cat $$f ;; \
		esac; \
	done > $@

# the DynamoDB Streams endpoint, a program of its own (src/endpoint/Makefile)
all: endpoint
endpoint:
	$(MAKE) -C src/endpoint PG_CONFIG=$(PG_CONFIG)
install: install-endpoint
install-endpoint: endpoint
	$(MAKE) -C src/endpoint PG_CONFIG=$(PG_CONFIG) install
clean: clean-endpoint
clean-endpoint:
	$(MAKE) -C src/endpoint PG_CONFIG=$(PG_CONFIG) clean
.PHONY: endpoint install-endpoint clean-endpoint
