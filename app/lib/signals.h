/* SPDX-License-Identifier: BSD-2-Clause */
/* signals: each process's signal table, installed in one call. The manager, every worker and
 * the prober differ only in which signal gets which disposition; the table says it in one
 * place per process, and this file does the sigaction() chores once. */
#ifndef MR_SIGNALS_H
#define MR_SIGNALS_H

#include <signal.h>
#include <stddef.h>

struct mr_signal_rule {
    int sig;
    void (*handler)(int); /* a flag-setting handler, SIG_DFL or SIG_IGN */
};

/* Installs every rule with `sa_flags` (0 or SA_RESTART) and an empty sa_mask, then sets the
 * process's signal mask to `blocked` (NULL: nothing blocked; a child must not inherit the
 * manager's mask). Returns nothing: sigaction() fails only on an invalid signal number, which
 * a table in the source cannot hold. */
void mr_signals_install(const struct mr_signal_rule *rules, size_t n, int sa_flags,
                        const sigset_t *blocked);

#endif
