/* SPDX-License-Identifier: BSD-2-Clause */
/* err: formatting of struct mr_err. */
#include <stdarg.h>
#include <stdio.h>

#include "app/lib/err.h"

int
mr_err_set(struct mr_err *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}
