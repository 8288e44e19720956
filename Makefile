# orders_stream: PGXS build
MODULE_big = orders_stream
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))
PGFILEDESC = "orders_stream - DynamoDB Streams for PostgreSQL"

EXTENSION = orders_stream
DATA = $(wildcard sql/orders_stream--*.sql)

REGRESS = $(patsubst sql/%.sql,%,$(filter-out sql/orders_stream--%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --temp-instance=tmp_check --temp-config=test/orders_stream.conf
TAP_TESTS = 1

PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

EXTRA_CLEAN = tmp_check results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
