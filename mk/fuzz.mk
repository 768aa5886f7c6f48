# fuzz.mk: libFuzzer targets (tests/fuzz/fuzz_<name>.c), included by the Makefile.
#
#   make fuzz              build every target into build/fuzz/ and run each for FUZZ_SECONDS
#                          (default 60) on a copy of its seed corpus; fails if any finds a crash
#   make fuzz-regress      replay tests/fuzz/corpus and tests/fuzz/regressions through every
#                          target once (seconds; suitable for `make test`)
#   make fuzz-build        only build the targets
#   make fuzz-clean        remove build/fuzz/ (binaries, scratch corpora, reproducers)
#
# Needs clang and Debian's libFuzzer runtime (clang, libclang-rt-14-dev). The app sources a
# target links are rebuilt with clang under ASan/UBSan and coverage in build/fuzz/obj/; crash
# reproducers land in build/fuzz/artifacts/<target>/, never in the repo.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := query pct router json html config request template validate etag form multipart cookie jsonbody \
                lsn session fcgi_guard notes_page loadgen_http loadgen_mix inval
FUZZ_DIR     := build/fuzz

FUZZ_WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
                -Wformat=2 -Wvla
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_EXTRA   ?=
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -I. -Iapp/include -MMD -MP -O1 -g $(FUZZ_WARN) $(FUZZ_SAN) $(FUZZ_EXTRA)
FUZZ_RUNOPTS := -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
# Known leaks in libraries, not in millrace (see the file).
FUZZ_ENV     := LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp

# The app/ sources each target links (through the public headers only).
FUZZ_SRC_query   := app/serve/form.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_pct     := app/serve/form.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_request := app/serve/request.c app/serve/form.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_form    := app/serve/form.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_multipart := app/serve/multipart.c app/lib/fdio.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_cookie  := app/serve/cookie.c app/lib/buf.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_jsonbody := app/serve/jsonbody.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_lsn     := db/lsn.c
FUZZ_SRC_session := app/serve/sessdata.c app/serve/sesstoken.c app/lib/arena.c app/lib/err.c
FUZZ_SRC_fcgi_guard := app/serve/fcgi_guard.c
FUZZ_SRC_notes_page := handlers/notes/codec.c
FUZZ_SRC_loadgen_http := tests/bench/lg_http.c
FUZZ_SRC_loadgen_mix := tests/bench/lg_mix.c
FUZZ_SRC_inval   := cache/inval.c cache/l1.c app/lib/arena.c app/lib/err.c app/lib/log.c
FUZZ_SRC_router  := app/serve/router.c app/serve/request.c app/serve/form.c app/lib/arena.c \
                    app/lib/err.c
FUZZ_SRC_json    := app/lib/json.c app/lib/buf.c app/lib/arena.c
FUZZ_SRC_html    := app/lib/html.c app/lib/buf.c app/lib/arena.c
FUZZ_SRC_config  := app/config/config.c app/lib/clients.c app/lib/arena.c app/lib/err.c app/lib/log.c
FUZZ_SRC_template := app/lib/template.c app/lib/tv.c app/lib/html.c app/lib/buf.c app/lib/arena.c \
                     app/lib/err.c
FUZZ_SRC_validate := app/serve/validate.c app/serve/request.c app/serve/form.c app/lib/json.c app/lib/buf.c \
                     app/lib/arena.c app/lib/err.c
FUZZ_SRC_etag    := app/api/response.c app/api/request.c app/serve/request.c app/serve/form.c app/serve/response.c \
                    app/serve/cookie.c \
                    app/lib/html.c app/lib/json.c app/lib/buf.c app/lib/arena.c app/lib/err.c
# Recursively expanded: pkg-config runs only when the config target is built.
FUZZ_LIBS_config  = $(shell pkg-config --libs libconfig)
FUZZ_LIBS_jsonbody = $(shell pkg-config --libs jansson)
FUZZ_LIBS_session = $(shell pkg-config --libs libsodium)
FUZZ_LIBS_inval   = $(shell pkg-config --libs hiredis)
FUZZ_PKG_CFLAGS   = $(shell pkg-config --cflags libconfig jansson hiredis)

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
# Prints the part of a failing run's log that says what and where: the input, the error and
# the top of its stack (the whole log stays in the file named $(1)).
FUZZ_SHOW = grep -E '^Running:|Test unit written' $(1) | tail -n 1; \
	    grep -m 1 -A 14 -E 'ERROR: |invariant failed' $(1); echo "(full log: $(1))"

.PHONY: fuzz fuzz-build fuzz-regress fuzz-clean

fuzz-build: $(FUZZ_BINS)

# App objects: instrumented for coverage (fuzzer-no-link) as well as the sanitizers.
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_PKG_CFLAGS) -c $< -o $@

define FUZZ_RULE
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/ref.h \
		       $(FUZZ_SRC_$(1):%.c=$(FUZZ_DIR)/obj/%.o)
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ tests/fuzz/fuzz_$(1).c \
	  $(FUZZ_SRC_$(1):%.c=$(FUZZ_DIR)/obj/%.o) $$(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

# Each target fuzzes a scratch copy of its seeds (new inputs go there, not into the repo),
# with its dictionary when there is one. All targets run even after a failure; the summary
# line of each is printed, and the log of a failing one is in build/fuzz/logs/.
fuzz: $(FUZZ_BINS)
	@fail=""; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus-$$t $(FUZZ_DIR)/artifacts/$$t $(FUZZ_DIR)/logs; \
	  cp -p tests/fuzz/corpus/$$t/* $(FUZZ_DIR)/corpus-$$t/ 2>/dev/null; \
	  dict=""; [ -f tests/fuzz/dict/$$t.dict ] && dict="-dict=tests/fuzz/dict/$$t.dict"; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s"; \
	  if $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $(FUZZ_RUNOPTS) -max_total_time=$(FUZZ_SECONDS) $$dict \
	      -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ $(FUZZ_DIR)/corpus-$$t \
	      >$(FUZZ_DIR)/logs/$$t.log 2>&1; then \
	    grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_DIR)/logs/$$t.log | tail -n 1; \
	  else \
	    $(call FUZZ_SHOW,$(FUZZ_DIR)/logs/$$t.log); fail="$$fail $$t"; \
	  fi; \
	done; \
	if [ -n "$$fail" ]; then \
	  echo "fuzz: FAILED:$$fail (reproducers in $(FUZZ_DIR)/artifacts/)"; exit 1; \
	fi; \
	echo "fuzz: all $(words $(FUZZ_TARGETS)) targets ran $(FUZZ_SECONDS)s without a finding"

# Runs each seed and regression input once (file mode: nothing is written to the repo).
fuzz-regress: $(FUZZ_BINS)
	@fail=""; n=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/artifacts/$$t; \
	  dirs=""; for d in tests/fuzz/corpus/$$t tests/fuzz/regressions/$$t; do \
	    [ -d $$d ] && dirs="$$dirs $$d"; done; \
	  [ -n "$$dirs" ] || continue; \
	  n=$$((n + 1)); \
	  if ! find $$dirs -type f -print0 | \
	      xargs -0 -r env $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$t $(FUZZ_RUNOPTS) \
	      -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ >$(FUZZ_DIR)/artifacts/$$t/regress.log 2>&1; \
	  then $(call FUZZ_SHOW,$(FUZZ_DIR)/artifacts/$$t/regress.log); fail="$$fail $$t"; fi; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz-regress: FAILED:$$fail"; exit 1; fi; \
	echo "fuzz-regress: $$n targets replayed their corpus and regressions"

fuzz-clean:
	rm -rf $(FUZZ_DIR)

-include $(wildcard $(FUZZ_DIR)/*.d $(FUZZ_DIR)/obj/*/*.d $(FUZZ_DIR)/obj/*/*/*.d)

# ---- The FastCGI side, end to end (tests/fuzz/fcgi_fuzz.py) ---------------------------------
#
#   make fuzz-fcgi         start the stack with the ASan test build, replay
#                          tests/fuzz/regressions/fcgi/, fuzz the socket for FCGI_FUZZ_SECONDS
#                          (default 60), stop the stack; fails on any finding (a worker killed
#                          by a signal or exiting unplanned, a sanitizer report, a stuck
#                          worker, a well-formed request unanswered, a dead manager)
#
# FCGI_FUZZ_SEED=N repeats a run's case stream; FCGI_FUZZ_ARGS passes more options (--threads).
# Cases sent before a finding are saved in build/fuzz/fcgi/; replay them with
# `tests/fuzz/fcgi_fuzz.py --replay DIR` against a running stack.

FCGI_FUZZ_SECONDS ?= 60
FCGI_FUZZ_ARGS    ?=

.PHONY: fuzz-fcgi
fuzz-fcgi: build/asan/millrace-test
	@export MILLRACE_BIN=build/asan/millrace-test FCGI_FUZZ_SECONDS=$(FCGI_FUZZ_SECONDS); \
	  if scripts/stack.py up; then \
	    python3 tests/fuzz/fcgi_fuzz.py --replay tests/fuzz/regressions/fcgi; r1=$$?; \
	    python3 tests/fuzz/fcgi_fuzz.py --keep-going $(FCGI_FUZZ_ARGS); r2=$$?; \
	    rc=$$((r1 || r2)); \
	  else rc=1; fi; \
	  scripts/stack.py down; exit $$rc
