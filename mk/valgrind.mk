# valgrind.mk: the unit tests under valgrind's memcheck, included by the
# Makefile.
#
#   make valgrind          build build/valgrind/unit-tests (the unit-test sources and every
#                          app/ handlers/ db/ cache/ object but app/main.c, -O1 -g, no
#                          sanitizers: valgrind and ASan do not mix) and run it under memcheck;
#                          fails on any memory error and on any definite or indirect leak
#
# Check's fork mode stays on, so a crash or leak fails the test that caused it: each test runs in a forked child, which
# valgrind follows (a fork needs no --trace-children; that flag is for exec, and is on in case
# a test ever execs). Each child does its own leak check when it exits, and
# --error-exitcode makes a child with a leak or an error exit 1, which Check reports as that
# test's failure, by name. Valgrind's own report in the output above it says what and where.
# Check's timeouts are stretched (CK_TIMEOUT_MULTIPLIER): memcheck runs code ~20x slower.

VG_CFLAGS   = $(BASE) -O1 -g -DMR_TEST_BUILD
VG_OBJ     := $(UNIT_SRC:%.c=build/valgrind/%.o) $(LIB_SRC:%.c=build/valgrind/%.o)
VALGRIND   ?= valgrind
VALGRIND_OPTS ?= -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
                 --show-leak-kinds=definite,indirect --error-exitcode=1 --track-origins=yes \
                 --trace-children=yes --num-callers=30
VG_TIMEOUT_MULTIPLIER ?= 20

.PHONY: valgrind

build/valgrind/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(VG_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

build/valgrind/unit-tests: $(VG_OBJ)
	$(CC) $(VG_CFLAGS) -o $@ $^ $(PKG_LIBS) $(CHECK_LIBS) -lm

valgrind: build/valgrind/unit-tests
	cd tests/unit && CK_TIMEOUT_MULTIPLIER=$(VG_TIMEOUT_MULTIPLIER) \
	  $(VALGRIND) $(VALGRIND_OPTS) ../../build/valgrind/unit-tests

-include $(VG_OBJ:.o=.d)
