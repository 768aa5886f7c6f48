/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_multipart: mr_multipart_parse on arbitrary bodies. Input: a byte choosing the limits
 * (small enough that each one is reachable) and whether the Content-Type is the fixed
 * "multipart/form-data; boundary=XyZ" or the input's first line; a byte choosing the arena
 * ceiling (so the -ENOMEM paths run too); then the body, in a heap
 * block of exactly its size so ASan sees any read past it. Temp files go to a directory
 * made at start and removed at exit, which must then be empty. Invariants: the return code
 * matches the named error and its HTTP status; on failure no parts; on success each part
 * is within its limits, names are C strings, a field is NUL-terminated at its size, a file
 * kept in memory lies inside the body and is followed there by "\r\n--" and the boundary,
 * a spilled file is an unlinked temp file of the part's size at offset 0. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/lib/arena.h"
#include "app/serve/multipart.h"
#include "tests/fuzz/ref.h"

/* One arena per ceiling, each made once and reset after every run, as a worker does. */
static const size_t ceilings[] = {512, 2048, 8192, 1 << 20};
static struct mr_arena arenas[4];
static char spill_dir[] = "/tmp/mr-fuzz-multipart-XXXXXX";

static void
cleanup(void)
{
    for (size_t i = 0; i < 4; i++)
        mr_arena_fini(&arenas[i]); /* closes the last run's temp files */
    if (rmdir(spill_dir) != 0)
        perror("fuzz_multipart: rmdir spill_dir (not empty?)");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FUZZ_CHECK(mkdtemp(spill_dir) != NULL);
    for (size_t i = 0; i < 4; i++)
        mr_arena_init(&arenas[i], 64, ceilings[i]);
    (void)atexit(cleanup);
    return 0;
}

/* The unquoted boundary parameter's value, when "boundary=" occurs once, as a parameter;
 * else NULL (the check that uses it is skipped). */
static const char *
boundary_of(const char *ct)
{
    const char *b = strcasestr(ct, "boundary=");
    if (b == NULL || b == ct || strchr("; \t", b[-1]) == NULL || strcasestr(b + 1, "boundary="))
        return NULL;
    return b[9] == '"' ? NULL : b + 9;
}

static void
check_part(const struct mr_multipart_part *p, const struct mr_multipart_limits *lim,
           const char *body, size_t len, const char *ct)
{
    FUZZ_CHECK(p->name != NULL);
    (void)strlen(p->name); /* ASan: a C string in the arena */
    if (p->filename == NULL) {
        FUZZ_CHECK(p->size <= lim->max_field_bytes);
        FUZZ_CHECK(p->data != NULL && p->data[p->size] == '\0' && p->fd == -1);
        return;
    }
    (void)strlen(p->filename);
    FUZZ_CHECK(p->size <= lim->max_file_bytes);
    if (p->size > lim->spill_bytes) {
        struct stat st;
        FUZZ_CHECK(p->data == NULL && p->fd >= 0);
        FUZZ_CHECK(fstat(p->fd, &st) == 0 && (size_t)st.st_size == p->size);
        FUZZ_CHECK(st.st_nlink == 0 && lseek(p->fd, 0, SEEK_CUR) == 0);
        return;
    }
    FUZZ_CHECK(p->fd == -1 && p->data >= body && p->data + p->size <= body + len);
    const char *after = p->data + p->size;
    FUZZ_CHECK((size_t)(body + len - after) >= 4 && memcmp(after, "\r\n--", 4) == 0);
    const char *b = boundary_of(ct);
    if (b != NULL) { /* unquoted: the boundary follows as written */
        size_t bl = strcspn(b, "; \t");
        FUZZ_CHECK((size_t)(body + len - after - 4) >= bl && memcmp(after + 4, b, bl) == 0);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char fixed_ct[] = "multipart/form-data; boundary=XyZ";
    if (size < 2)
        return 0;
    struct mr_arena *arena = &arenas[data[1] % 4];
    struct mr_multipart_limits lim = {
        .max_parts = 1 + (data[0] & 7),
        .max_part_header_bytes = (data[0] & 8) ? 48 : 512,
        .max_field_bytes = (data[0] & 16) ? 8 : 256,
        .max_file_bytes = (data[0] & 32) ? 16 : 1024,
        .max_total_bytes = (data[0] & 64) ? 24 : 4096,
        .spill_bytes = 4,
        .spill_dir = spill_dir,
    };
    const uint8_t *rest = data + 2;
    size_t rest_len = size - 2;
    char *ct;
    if (data[0] & 128) {
        const uint8_t *nl = memchr(rest, '\n', rest_len);
        size_t ct_len = nl ? (size_t)(nl - rest) : rest_len;
        ct = strndup((const char *)rest, ct_len);
        rest_len -= nl ? ct_len + 1 : ct_len;
        rest += nl ? ct_len + 1 : ct_len;
    } else {
        ct = strdup(fixed_ct);
    }
    FUZZ_CHECK(ct != NULL);
    char *body = fuzz_dup_exact(rest, rest_len);

    struct mr_multipart m;
    int rc = mr_multipart_parse(&m, ct, body, rest_len, &lim, arena);
    int status = mr_multipart_http_status(&m);
    switch (rc) {
    case 0:
        FUZZ_CHECK(m.error == MR_MULTIPART_OK && status == 0);
        break;
    case -EMEDIUMTYPE:
        FUZZ_CHECK(m.error == MR_MULTIPART_NOT_MULTIPART && status == 415);
        break;
    case -EINVAL:
        FUZZ_CHECK(status == 400);
        break;
    case -E2BIG:
        FUZZ_CHECK(status == 413);
        break;
    default:
        FUZZ_CHECK(rc == -ENOMEM || rc == -EIO);
        FUZZ_CHECK(status == 500);
    }
    if (rc != 0) {
        FUZZ_CHECK(m.n == 0 && m.parts == NULL && m.err.msg[0] != '\0');
    } else {
        size_t total = 0;
        FUZZ_CHECK(m.n <= lim.max_parts && (m.n == 0) == (m.parts == NULL));
        for (size_t i = 0; i < m.n; i++) {
            check_part(&m.parts[i], &lim, body, rest_len, ct);
            total += m.parts[i].size;
            FUZZ_CHECK(mr_multipart_get(&m, m.parts[i].name) != NULL);
        }
        FUZZ_CHECK(total <= lim.max_total_bytes);
    }
    free(body);
    free(ct);
    mr_arena_reset(arena);
    return 0;
}
