/* SPDX-License-Identifier: BSD-2-Clause */
/* log: formatting and the single write(2) per line. The level and timestamp switch are
 * process-wide and set once before fork (and again after a config reload). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/lib/log.h"

static enum mr_log_level log_level = MR_LOG_INFO;
static bool log_timestamps;

void
mr_log_setup(enum mr_log_level level, bool timestamps)
{
    log_level = level;
    log_timestamps = timestamps;
}

int
mr_log_reopen(const char *path)
{
    if (path == NULL || *path == '\0')
        return 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -errno : 0; /* dup2 clears O_CLOEXEC on fd 2 */
    (void)close(fd);
    return rc;
}

int
mr_log_level_parse(const char *name, enum mr_log_level *out)
{
    static const struct {
        const char *name;
        enum mr_log_level level;
    } names[] = {
        {"err", MR_LOG_ERR},
        {"warning", MR_LOG_WARNING},
        {"info", MR_LOG_INFO},
        {"debug", MR_LOG_DEBUG},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

const char *
mr_log_quote(char *dst, size_t cap, const char *s)
{
    bool bare = *s != '\0';
    for (const char *p = s; *p && bare; p++)
        bare = (unsigned char)*p > ' ' && *p != '"' && *p != '=' && *p != '\\' && *p != 0x7f;
    if (bare) {
        (void)snprintf(dst, cap, "%s", s);
        return dst;
    }
    size_t n = 0;
    /* Reserve room for the closing quote and the terminator. */
    if (cap < 3) {
        if (cap > 0)
            dst[0] = '\0';
        return dst;
    }
    dst[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 6 < cap; p++) {
        switch (*p) {
        case '"':
        case '\\':
            dst[n++] = '\\';
            dst[n++] = (char)*p;
            break;
        case '\n':
            dst[n++] = '\\';
            dst[n++] = 'n';
            break;
        case '\r':
            dst[n++] = '\\';
            dst[n++] = 'r';
            break;
        case '\t':
            dst[n++] = '\\';
            dst[n++] = 't';
            break;
        default:
            if (*p < ' ' || *p == 0x7f)
                n += (size_t)snprintf(dst + n, cap - n, "\\x%02x", *p);
            else
                dst[n++] = (char)*p;
        }
    }
    dst[n++] = '"';
    dst[n] = '\0';
    return dst;
}

void
mr_log(enum mr_log_level level, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mr_vlog(level, event, fmt, ap);
    va_end(ap);
}

void
mr_vlog(enum mr_log_level level, const char *event, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    int saved_errno = errno;
    char line[MR_LOG_LINE];
    size_t n = (size_t)snprintf(line, sizeof(line), "<%d>event=%s", (int)level, event);
    if (log_timestamps) { /* after event=, which stays first for grep */
        struct timespec ts;
        struct tm tm;
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        (void)gmtime_r(&ts.tv_sec, &tm);
        n += strftime(line + n, sizeof(line) - n, " ts=%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    }
    if (fmt != NULL && *fmt != '\0' && n < sizeof(line) - 1) {
        line[n++] = ' ';
        int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
        if (w > 0)
            n += (size_t)w;
    }
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2; /* truncated: keep the newline */
    line[n++] = '\n';
    /* One write per line; a short write to a pipe this small does not happen, and a
     * failed log write has nowhere else to go. */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
    errno = saved_errno;
}
