# loadgen.mk: the load generator (tests/bench/loadgen.c and its lg_*.c) and the benchmarks
# that drive it, included by the Makefile.
#
#   make build/rel/loadgen   release build (no library dependencies)
#   make loadgen-test        `loadgen --self-test` under ASan/UBSan, then
#                            tests/bench/loadgen_check.py: loadgen against small misbehaving
#                            servers on ephemeral loopback ports (part of `make test`)
#   make bench-day           BENCH_DAY_REQUESTS (1,000,000) requests of bench/mix-day.txt
#                            through millrace's nginx, then php-fpm's (closed loop), with the
#                            CPU seconds of each part; markdown in bench/results/
#   make bench-open          open loop at BENCH_OPEN_RATES (100 1000 5000) req/s for
#                            BENCH_OPEN_SECONDS (10) per endpoint and the day mix, millrace
#                            and php-fpm interleaved; markdown in bench/results/

LOADGEN_SRC := tests/bench/loadgen.c tests/bench/lg_hist.c tests/bench/lg_http.c \
               tests/bench/lg_mix.c tests/bench/lg_opts.c tests/bench/lg_report.c \
               tests/bench/lg_selftest.c
LOADGEN_HDR := $(wildcard tests/bench/lg_*.h)

build/rel/loadgen: $(LOADGEN_SRC:%.c=build/rel/%.o)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $^
build/asan/loadgen: $(LOADGEN_SRC:%.c=build/asan/%.o)
	$(CC) $(ASAN_CFLAGS) -o $@ $^

.PHONY: loadgen-test bench-day bench-open
loadgen-test: build/asan/loadgen
	@build/asan/loadgen --self-test
	@python3 tests/bench/loadgen_check.py build/asan/loadgen

bench-day: millrace build/rel/loadgen
	@python3 scripts/bench_day.py
bench-open: millrace build/rel/loadgen
	@python3 scripts/bench_open.py
