# millrace — build, deps, tests, local stack, install. GNU make.
#
#   make            build ./millrace (release flags)
#   make run        start the local stack (PostgreSQL primary + replica, Redis, nginx,
#                   millrace) in the foreground; Ctrl-C stops it all
#   make test       install what is missing, unit tests under ASan/UBSan, then the
#                   integration tests against the real stack, which it starts and stops
#   make up / down  the local stack in the background / stop it

PREFIX  ?= /usr/local
VERSION ?= 0.1.0
DESTDIR ?=
CC      ?= cc
WERROR  ?= -Werror
PKGS     = fcgi libpq hiredis libconfig jansson libsodium
# Recursively expanded on purpose: pkg-config runs after `make deps` has installed the .pc files.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CHECK_LIBS = $(shell pkg-config --libs check)

WARN    = -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wformat=2 -Wvla
BASE    = -std=c11 -D_GNU_SOURCE -I. -Iapp/include -MMD -MP $(WARN) -fvisibility=hidden -DMR_VERSION='"$(VERSION)"'
REL_CFLAGS  = $(BASE) -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
# -rdynamic: modules resolve millrace.h's functions (the only symbols not hidden) in the binary.
REL_LDFLAGS = -pie -rdynamic -Wl,-z,relro,-z,now
SAN         = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_CFLAGS = $(BASE) -O1 -g $(SAN) -DMR_TEST_BUILD

# `millrace new`'s template, compiled in as a table of strings.
GEN_SRC  := build/gen/scaffold_files.c build/gen/techempower_templates.c
SCAFFOLD := $(shell find app/scaffold/template -type f)
TE_TPL   := $(wildcard handlers/templates/*)
SRC      := $(wildcard app/*.c app/*/*.c handlers/*.c db/*.c cache/*.c) $(GEN_SRC)
HDR      := $(wildcard app/*/*.h handlers/*.h db/*.h cache/*.h)
LIB_SRC  := $(filter-out app/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/*.c tests/unit/*/*.c tests/unit/*/*/*.c)

REL_OBJ  := $(SRC:%.c=build/rel/%.o)
ASAN_OBJ := $(SRC:%.c=build/asan/%.o)
ASAN_LIB := $(LIB_SRC:%.c=build/asan/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=build/asan/%.o)

DEPS_STAMP := build/.deps

.PHONY: all deps test unit integration up down run status bench lint format format-check \
        install uninstall clean fuzz chaos soak include-check guide-check bench-template bench-router \
        notes run-notes bench-workers profile
all: millrace

# Installs the Debian packages that are missing (apt-get update first; sudo when not root).
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(@D) && touch $@

build/gen/scaffold_files.c: scripts/embed.py $(SCAFFOLD)
	@mkdir -p $(@D)
	python3 scripts/embed.py app/scaffold/template $@
# The built-in application's templates (handlers/templates/), compiled in.
build/gen/techempower_templates.c: scripts/embed.py $(TE_TPL)
	@mkdir -p $(@D)
	python3 scripts/embed.py --templates handlers/templates $@ mr_techempower_templates

build/rel/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

build/asan/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

millrace: $(REL_OBJ)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The test build: sanitizers on, and the test-only handlers (MR_TEST_BUILD) compiled in.
build/asan/millrace-test: $(ASAN_OBJ)
	$(CC) $(ASAN_CFLAGS) -rdynamic -o $@ $^ $(PKG_LIBS) -lm

build/asan/unit-tests: $(UNIT_OBJ) $(ASAN_LIB)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lm

unit: build/asan/unit-tests
	cd tests/unit && ../../build/asan/unit-tests

# The integration tests start the stack with the test build, run, and always stop it.
integration: build/asan/millrace-test millrace build/asan/notes.so
	@export MILLRACE_BIN=build/asan/millrace-test; \
	  if scripts/stack.py up; then python3 tests/integration/run.py; rc=$$?; else rc=1; fi; \
	  scripts/stack.py down; exit $$rc

test: deps
	@$(MAKE) --no-print-directory include-check
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory fuzz-regress
	@$(MAKE) --no-print-directory loadgen-test
	@$(MAKE) --no-print-directory guide-check
	@$(MAKE) --no-print-directory integration

# The example application (handlers/notes/): a module written on millrace.h alone, with its
# templates compiled in and libsodium linked itself. build/asan/notes.so is for the tests.
NOTES_SRC := $(wildcard handlers/notes/*.c)
NOTES_DEP := $(NOTES_SRC) handlers/notes/notes.h app/include/millrace.h build/gen/notes/notes_templates.inc
NOTES_CFLAGS = -std=c11 -D_GNU_SOURCE -Iapp/include -Ibuild/gen/notes $(WARN) -fvisibility=hidden \
               -fPIC -shared $(shell pkg-config --cflags libsodium)
NOTES_LIBS = $(shell pkg-config --libs libsodium)
build/gen/notes/notes_templates.inc: scripts/embed.py $(wildcard handlers/notes/templates/*)
	@mkdir -p $(@D)
	python3 scripts/embed.py --template-rows handlers/notes/templates $@
build/rel/notes.so: $(NOTES_DEP) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(NOTES_CFLAGS) -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -o $@.tmp \
	  $(NOTES_SRC) $(NOTES_LIBS)
	@mv -f $@.tmp $@
build/asan/notes.so: $(NOTES_DEP) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(NOTES_CFLAGS) -O1 -g $(SAN) -o $@.tmp $(NOTES_SRC) $(NOTES_LIBS)
	@mv -f $@.tmp $@
notes: build/rel/notes.so

# The notes board on the local stack: its tables, then the stack serving it on MR_HTTP_PORT.
# The tables first: the module's statements are checked against them when it loads.
run-notes: millrace build/rel/notes.so
	@scripts/stack.py up
	./millrace migrate -c var/millrace.conf handlers/notes/migrations
	@MR_CONF_EXTRA='app = "$(CURDIR)/build/rel/notes.so";' scripts/stack.py run

up: millrace
	@scripts/stack.py up
down:
	@scripts/stack.py down
status:
	@scripts/stack.py status
run: millrace
	@scripts/stack.py run

bench: deps millrace
	@scripts/bench.sh

# Throughput and workers' PSS against the pool size (and nginx worker_processes).
bench-workers: deps millrace
	@scripts/bench-workers.py

# Fortunes rendered directly and through app/lib/template (ns per page, malloc, calloc and
# realloc calls counted through --wrap); release flags, not part of make test.
BENCH_TPL_SRC := app/lib/template.c app/lib/tv.c app/lib/html.c app/lib/buf.c app/lib/arena.c \
                 app/lib/err.c
build/rel/template-bench: tests/bench/template_bench.c $(BENCH_TPL_SRC:%.c=build/rel/%.o)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc -o $@ $^
bench-template: build/rel/template-bench
	@build/rel/template-bench
# The router's cost per match over 10 and 1,000 routes (release flags; not part of `make test`).
BENCH_ROUTER_OBJ := $(addprefix build/rel/,app/serve/router.o app/serve/request.o app/serve/form.o \
                      app/lib/arena.o app/lib/err.o)
build/bench/router_bench: tests/bench/router_bench.c $(BENCH_ROUTER_OBJ)
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $< $(BENCH_ROUTER_OBJ)
bench-router: build/bench/router_bench
	build/bench/router_bench

# Soak (SOAK_REQUESTS, default 1,000,000 mixed requests): RSS and descriptors per worker.
soak: millrace
	@if scripts/stack.py up; then python3 tests/soak/soak.py; rc=$$?; else rc=1; fi; \
	  scripts/stack.py down; exit $$rc

# Where each main path's time goes (perf -a, strace -c, callgrind on one plain worker), through
# the stack's nginx with the release build: bench/results/profile.md, raw files in var/profile/.
# Bounded (PROFILE_SECONDS per stage), loopback only; as root (perf -a, strace -p).
profile: millrace
	@if scripts/stack.py up; then scripts/profile.sh; rc=$$?; else rc=1; fi; \
	  scripts/stack.py down; exit $$rc

# Chaos under load (CHAOS_SECONDS, default 60): loopback only, bounded, stops by itself.
chaos: millrace
	@if scripts/stack.py up; then python3 tests/chaos/chaos.py; rc=$$?; else rc=1; fi; \
	  scripts/stack.py down; exit $$rc

lint: deps
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem --inline-suppr -I. app handlers db cache
	clang-tidy --quiet -checks='-*,bugprone-*,clang-analyzer-*,cert-err33-c,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-assignment-in-if-condition,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
	  $(filter-out $(GEN_SRC),$(SRC)) -- -std=c11 -D_GNU_SOURCE -I. $(PKG_CFLAGS)

format:
	clang-format -i $(filter-out $(GEN_SRC),$(SRC)) $(HDR) $(UNIT_SRC) $(NOTES_SRC) handlers/notes/notes.h \
	  $(LOADGEN_SRC) $(LOADGEN_HDR)
# Every C example of docs/guide.md builds as a module and millrace -t accepts it.
guide-check: millrace
	@python3 scripts/check-guide.py ./millrace

# Includes point down the floors of scripts/check-includes.py.
include-check:
	@python3 scripts/check-includes.py

format-check:
	clang-format --dry-run -Werror $(filter-out $(GEN_SRC),$(SRC)) $(HDR) $(UNIT_SRC) $(NOTES_SRC) \
	  handlers/notes/notes.h $(LOADGEN_SRC) $(LOADGEN_HDR)

install: millrace
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0644 app/include/millrace.h $(DESTDIR)$(PREFIX)/include/millrace.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' etc/millrace.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/millrace.pc
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/millrace \
	  $(DESTDIR)/etc/millrace $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 millrace $(DESTDIR)$(PREFIX)/sbin/millrace
	install -m 0644 etc/millrace.conf $(DESTDIR)$(PREFIX)/share/doc/millrace/millrace.conf.sample
	install -m 0644 nginx-sample.conf README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/millrace/
	install -m 0644 systemd/*.service systemd/*.socket $(DESTDIR)$(PREFIX)/lib/systemd/system/
	test -e $(DESTDIR)/etc/millrace/millrace.conf || \
	  install -m 0640 etc/millrace.conf $(DESTDIR)/etc/millrace/millrace.conf
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/millrace $(DESTDIR)$(PREFIX)/include/millrace.h \
	  $(DESTDIR)$(PREFIX)/lib/pkgconfig/millrace.pc
	rm -rf $(DESTDIR)$(PREFIX)/share/doc/millrace

clean:
	rm -rf build/rel build/asan build/bench millrace

-include $(REL_OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(wildcard build/bench/*.d) \
  $(wildcard build/rel/tests/bench/*.d build/asan/tests/bench/*.d)

include mk/fuzz.mk
include mk/valgrind.mk
include mk/loadgen.mk
