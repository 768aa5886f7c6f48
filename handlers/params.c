/* SPDX-License-Identifier: BSD-2-Clause */
/* params: the clamp. An integer too large for a long (ERANGE) is "above 500". */
#include <errno.h>
#include <stdlib.h>

#include "handlers/params.h"

int
mr_clamp_queries(const char *value)
{
    if (value == NULL || *value == '\0')
        return 1;
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (*end != '\0' || end == value)
        return 1;
    if (errno == ERANGE)
        return v > 0 ? MR_QUERIES_MAX : 1;
    if (v < 1)
        return 1;
    return v > MR_QUERIES_MAX ? MR_QUERIES_MAX : (int)v;
}
