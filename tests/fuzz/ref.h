/* SPDX-License-Identifier: BSD-2-Clause */
/* ref: reference implementations the fuzz targets compare millrace against. They are written
 * from the specifications (RFC 3629's byte table for UTF-8, RFC 3986 for percent-encoding),
 * deliberately in a different shape from app/serve/form.c, so that a shared mistake is
 * unlikely. Slow and simple on purpose. Also the one abort helper the targets share: a
 * violated invariant must crash so that libFuzzer saves the input. */
#ifndef MR_FUZZ_REF_H
#define MR_FUZZ_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Unicode 15, table 3-7: the well-formed UTF-8 byte sequences, row by row. */
static inline bool
ref_utf8_valid(const unsigned char *s, size_t len)
{
    static const struct {
        unsigned char first_lo, first_hi;
        unsigned char lo[3], hi[3];
        int n; /* continuation bytes */
    } rows[] = {
        {0xc2, 0xdf, {0x80, 0, 0}, {0xbf, 0, 0}, 1},
        {0xe0, 0xe0, {0xa0, 0x80, 0}, {0xbf, 0xbf, 0}, 2},
        {0xe1, 0xec, {0x80, 0x80, 0}, {0xbf, 0xbf, 0}, 2},
        {0xed, 0xed, {0x80, 0x80, 0}, {0x9f, 0xbf, 0}, 2},
        {0xee, 0xef, {0x80, 0x80, 0}, {0xbf, 0xbf, 0}, 2},
        {0xf0, 0xf0, {0x90, 0x80, 0x80}, {0xbf, 0xbf, 0xbf}, 3},
        {0xf1, 0xf3, {0x80, 0x80, 0x80}, {0xbf, 0xbf, 0xbf}, 3},
        {0xf4, 0xf4, {0x80, 0x80, 0x80}, {0x8f, 0xbf, 0xbf}, 3},
    };
    size_t i = 0;
    while (i < len) {
        if (s[i] <= 0x7f) {
            i++;
            continue;
        }
        int row = -1;
        for (int r = 0; r < (int)(sizeof(rows) / sizeof(rows[0])); r++)
            if (s[i] >= rows[r].first_lo && s[i] <= rows[r].first_hi)
                row = r;
        if (row < 0)
            return false;
        for (int k = 0; k < rows[row].n; k++) {
            if (i + 1 + (size_t)k >= len)
                return false;
            unsigned char c = s[i + 1 + (size_t)k];
            if (c < rows[row].lo[k] || c > rows[row].hi[k])
                return false;
        }
        i += 1 + (size_t)rows[row].n;
    }
    return true;
}

static inline int
ref_hex(unsigned char c)
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    for (int i = 0; i < 32; i++)
        if ((unsigned char)digits[i] == c)
            return i % 16;
    return -1;
}

/* Percent-decodes src[0..len) into dst (len + 1 bytes). Returns false on a bad escape, on
 * %00, or when the result is not valid UTF-8; *out_len is set only on success. */
static inline bool
ref_pct_decode(const unsigned char *src, size_t len, bool plus_is_space, unsigned char *dst,
               size_t *out_len)
{
    size_t o = 0, i = 0;
    while (i < len) {
        if (src[i] == '%') {
            if (i + 2 >= len) /* needs src[i + 1] and src[i + 2] */
                return false;
            int hi = ref_hex(src[i + 1]), lo = ref_hex(src[i + 2]);
            if (hi < 0 || lo < 0 || hi * 16 + lo == 0) /* %00 is refused by design */
                return false;
            dst[o++] = (unsigned char)(hi * 16 + lo);
            i += 3;
        } else {
            dst[o++] = plus_is_space && src[i] == '+' ? ' ' : src[i];
            i++;
        }
    }
    dst[o] = 0;
    if (!ref_utf8_valid(dst, o))
        return false;
    *out_len = o;
    return true;
}

/* A copy of data[0..size) in a heap block of exactly size bytes, so that ASan sees any read
 * past the end (ASan's malloc(0) gives a unique pointer to no bytes). The caller frees. */
static inline char *
fuzz_dup_exact(const uint8_t *data, size_t size)
{
    char *p = malloc(size);
    FUZZ_CHECK(p != NULL);
    for (size_t i = 0; i < size; i++)
        p[i] = (char)data[i];
    return p;
}

#endif
