# drydock - GNU Make build.
#
#   make                 build ./drydock
#   make run             install what is missing, build, start drydock
#   make check           install what is missing, build, run every test
#   make SANITIZE=address,undefined check
#   make CHAOS=1         build with random sleeps at the marked race points
#
# Each flavour builds in its own directory under build/, so switching
# between them never mixes objects.

CC ?= cc
SANITIZE ?=
CHAOS ?=

comma := ,
SAN_NAME := $(if $(SANITIZE),san-$(subst $(comma),-,$(SANITIZE)),std)
VARIANT := $(SAN_NAME)$(if $(CHAOS),-chaos,)
B := build/$(VARIANT)

WARN := -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wshadow -Werror
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -MMD -MP -pthread
# libmicrohttpd is not linked: src/http/mhd.c loads it when serve starts
LDLIBS := -lsqlite3 -ljansson -lm -pthread
# libpq (Debian's libpq-dev) for its header: src/store/pq.c loads the
# library when a PostgreSQL store is first opened
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null)
ALL_CFLAGS += $(PQ_CFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifneq ($(CHAOS),)
ALL_CFLAGS += -DDD_CHAOS
endif

LIB_SRC := $(sort $(wildcard src/core/*.c src/store/*.c src/queue/*.c src/api/*.c \
	src/worker/*.c src/blueprint/*.c src/auth/*.c src/http/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

# docs/openapi.json, the API's description, is built into the library as
# a generated C array (scripts/embed.sh) and served at /api/v1/openapi.json.
GEN_OBJ := $(B)/gen/openapi_json.o
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o) $(GEN_OBJ)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# programs the integration tests run (not tests themselves)
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/tools/%)

BIN := $(B)/drydock

.PHONY: all run check unit integration deps deps-run clean bench bench-quick format

all: drydock

# ./drydock is the standard build; other flavours stay under build/.
drydock: $(BIN)
	@if [ "$(VARIANT)" = std ]; then ln -sf $(BIN) drydock; fi

$(B)/libdrydock.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BIN): $(CLI_OBJ) $(B)/libdrydock.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libdrydock.a $(LDLIBS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/gen/openapi_json.c: docs/openapi.json scripts/embed.sh
	@mkdir -p $(@D)
	scripts/embed.sh dd_openapi_json docs/openapi.json http/openapi.h >$@.tmp
	mv $@.tmp $@

$(B)/gen/openapi_json.o: $(B)/gen/openapi_json.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# the tests' own headers (tests/unit/*.h): a test is rebuilt when one changes
UNIT_H := $(wildcard tests/unit/*.h)

$(B)/tests/%: tests/unit/%.c $(B)/libdrydock.a $(UNIT_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(B)/libdrydock.a $(LDLIBS) -lcmocka

$(B)/tests/tools/%: tests/tools/%.c $(B)/libdrydock.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libdrydock.a $(LDLIBS)

# The CLI's own library code (cli/options.c, cli/cli.c), for the unit
# tests of the CLI: every CLI object but main.o, in an archive of its own
# so that libdrydock.a stays free of the CLI and the other unit tests
# link as before.
$(B)/libdrydock-cli.a: $(filter-out $(B)/src/cli/main.o,$(CLI_OBJ))
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(B)/tests/test_cli_%: tests/unit/test_cli_%.c $(B)/libdrydock-cli.a \
		$(B)/libdrydock.a $(UNIT_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< \
		$(B)/libdrydock-cli.a $(B)/libdrydock.a $(LDLIBS) -lcmocka

$(B)/bench: tests/bench/bench.c tests/bench/http_client.c \
		tests/bench/http_client.h tests/bench/git_repo.c \
		tests/bench/git_repo.h $(B)/libdrydock.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/bench/bench.c \
		tests/bench/http_client.c tests/bench/git_repo.c \
		$(B)/libdrydock.a $(LDLIBS) -lm

BENCH_OUT = bench/results/bench-$(shell date -u +%Y%m%dT%H%M%SZ).json

bench: deps-run all $(B)/bench
	@$(B)/bench --drydock $(BIN) --out $(BENCH_OUT)

bench-quick: deps-run all $(B)/bench
	@$(B)/bench --quick --drydock $(BIN) --out $(BENCH_OUT)

deps:
	@scripts/install-deps.sh check

deps-run:
	@scripts/install-deps.sh run

run: deps-run all
	@scripts/run.sh

unit: $(UNIT_BIN) $(TOOL_BIN)

# the builds use every core (a plain `make check`, as CI runs it, would
# build one file at a time: three of its minutes)
JOBS = $(shell nproc 2>/dev/null || echo 2)

check: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all unit $(B)/bench
	@$(MAKE) --no-print-directory -j$(JOBS) CHAOS=1 SANITIZE=$(SANITIZE) build/$(SAN_NAME)-chaos/drydock
	@tests/run.sh $(B) build/$(SAN_NAME)-chaos

clean:
	rm -rf build drydock

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
