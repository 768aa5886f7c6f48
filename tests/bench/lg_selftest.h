/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_selftest: `loadgen --self-test`, the checks of the histogram, the response parser and
 * the mix reader, run without a network. */
#ifndef LG_SELFTEST_H
#define LG_SELFTEST_H

/* Runs every check, prints each failure and a summary on stderr. Returns the failures. */
int lg_selftest(void);

#endif
