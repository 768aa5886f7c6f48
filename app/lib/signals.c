/* SPDX-License-Identifier: BSD-2-Clause */
/* signals: installs a process's signal table (see signals.h). */
#include "app/lib/signals.h"

void
mr_signals_install(const struct mr_signal_rule *rules, size_t n, int sa_flags,
                   const sigset_t *blocked)
{
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = sa_flags;
    for (size_t i = 0; i < n; i++) {
        sa.sa_handler = rules[i].handler;
        (void)sigaction(rules[i].sig, &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, blocked ? blocked : &none, NULL);
}
