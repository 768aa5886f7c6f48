/* SPDX-License-Identifier: BSD-2-Clause */
/* multipart: multipart/form-data request bodies (RFC 7578 on RFC 2046's framing), parsed
 * from the whole body in memory (the worker has read it into the arena, bounded by
 * max_body_bytes) into fields and files. Every limit is checked while parsing and a
 * violation names itself (enum mr_multipart_error) with a reason. A file part larger than
 * spill_bytes is written to an unlinked temp file, so nothing is left on disk whatever
 * happens to the worker; its descriptor is closed when the arena is reset. */
#ifndef MR_MULTIPART_H
#define MR_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"

struct mr_multipart_limits {
    size_t max_parts;             /* fields and files together */
    size_t max_part_header_bytes; /* one part's header block, without the blank line */
    size_t max_field_bytes;       /* one field's value */
    size_t max_file_bytes;        /* one file's content */
    size_t max_total_bytes;       /* the content of all parts together */
    size_t spill_bytes;           /* a file larger than this goes to a temp file */
    const char *spill_dir;        /* where the temp files are made (mkostemp, then unlink) */
};

enum mr_multipart_error {
    MR_MULTIPART_OK = 0,
    MR_MULTIPART_NOT_MULTIPART,    /* 415: Content-Type is not multipart/form-data */
    MR_MULTIPART_BAD_BOUNDARY,     /* 400: boundary missing, empty, > 70 chars, bad bytes */
    MR_MULTIPART_MALFORMED,        /* 400: framing, headers or Content-Disposition */
    MR_MULTIPART_TOO_MANY_PARTS,   /* 413 */
    MR_MULTIPART_HEADER_TOO_LARGE, /* 413 */
    MR_MULTIPART_FIELD_TOO_LARGE,  /* 413 */
    MR_MULTIPART_FILE_TOO_LARGE,   /* 413 */
    MR_MULTIPART_TOTAL_TOO_LARGE,  /* 413 */
    MR_MULTIPART_NO_MEMORY,        /* 500: the arena's ceiling */
    MR_MULTIPART_SPILL_FAILED,     /* 500: the temp file could not be made or written */
};

struct mr_multipart_part {
    const char *name;         /* Content-Disposition name=, decoded, in the arena */
    const char *filename;     /* filename= (may be ""); NULL for a field */
    const char *content_type; /* the part's Content-Type, NULL when it has none */
    /* Fields: a NUL-terminated copy in the arena. Files kept in memory: points into the
     * body (not NUL-terminated). Spilled files: NULL. */
    const char *data;
    size_t size;
    int fd; /* spilled files: the temp file, offset 0, closed at arena reset; else -1 */
};

struct mr_multipart {
    struct mr_multipart_part *parts; /* in body order; NULL when n == 0 */
    size_t n;
    enum mr_multipart_error error; /* what the last parse failed on */
    struct mr_err err;             /* the reason, for the log line */
};

/* Parses body[0..len) into m. Returns 0, or -EMEDIUMTYPE, -EINVAL, -E2BIG, -ENOMEM or -EIO
 * with m->error and m->err saying which check failed; m->n is then 0 (temp files already
 * made are closed at arena reset). Names and data live as long as the arena and the body. */
MR_MUST_CHECK int mr_multipart_parse(struct mr_multipart *m, const char *content_type,
                                     const char *body, size_t len,
                                     const struct mr_multipart_limits *lim, struct mr_arena *a);
/* The HTTP status for m->error: 0, 400, 413, 415 or 500. */
int mr_multipart_http_status(const struct mr_multipart *m);
/* The first part named `name`, or NULL. */
const struct mr_multipart_part *mr_multipart_get(const struct mr_multipart *m, const char *name);

#endif
