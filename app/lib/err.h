/* SPDX-License-Identifier: BSD-2-Clause */
/* err: the reason that travels with a negative errno-style return code.
 * A function that can fail returns 0 or -ERRNO and, when given a struct mr_err, writes one
 * human-readable line into it. The caller that handles the error logs it, once. */
#ifndef MR_ERR_H
#define MR_ERR_H

#define MR_MUST_CHECK __attribute__((warn_unused_result))
#define MR_PRINTF(f, a) __attribute__((format(printf, f, a)))

#define MR_ERR_LEN 256

struct mr_err {
    char msg[MR_ERR_LEN];
};

/* Writes the formatted reason into err (if err is not NULL) and returns code, so that
 * `return mr_err_set(err, -EIO, "...")` reads as one statement. */
int mr_err_set(struct mr_err *err, int code, const char *fmt, ...) MR_PRINTF(3, 4);

#endif
