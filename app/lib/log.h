/* SPDX-License-Identifier: BSD-2-Clause */
/* log: one logfmt line per event on stderr, with an sd-daemon priority prefix.
 * Each line goes out in one write(2) of at most MR_LOG_LINE bytes, so lines from many
 * workers never interleave. Successes are not logged (nginx's access log has them). */
#ifndef MR_LOG_H
#define MR_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "app/lib/err.h"

enum mr_log_level {
    MR_LOG_ERR = 3,
    MR_LOG_WARNING = 4,
    MR_LOG_INFO = 6,
    MR_LOG_DEBUG = 7,
};

#define MR_LOG_LINE 4096

/* Lines above `level` are dropped; timestamps add an ISO-8601 ts= field (journald adds its own). */
void mr_log_setup(enum mr_log_level level, bool timestamps);

/* `<prio>event=EVENT ` then the caller's key=value pairs. Values that may hold spaces, quotes
 * or newlines must go through mr_log_quote. */
void mr_log(enum mr_log_level level, const char *event, const char *fmt, ...) MR_PRINTF(3, 4);
/* mr_log with the pairs' arguments as a va_list. */
void mr_vlog(enum mr_log_level level, const char *event, const char *fmt, va_list ap)
    MR_PRINTF(3, 0);

/* Writes s into dst as a logfmt value: bare when safe, else quoted with \" \\ \n \r \t and
 * control bytes escaped; truncated to fit. Returns dst. */
const char *mr_log_quote(char *dst, size_t cap, const char *s);

/* Points stderr at `path` (append, created 0640) so that every process's lines go there;
 * "" leaves stderr alone. Called at start and on SIGUSR1 (after logrotate moved the file).
 * Returns 0 or -errno. */
MR_MUST_CHECK int mr_log_reopen(const char *path);

/* Parses "err", "warning", "info", "debug". Returns 0 or -EINVAL. */
MR_MUST_CHECK int mr_log_level_parse(const char *name, enum mr_log_level *out);

#endif
