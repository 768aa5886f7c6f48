/* SPDX-License-Identifier: BSD-2-Clause */
/* hex: the value of one hexadecimal digit, for the parsers that read hex (percent-encoding,
 * WAL positions, configured keys). */
#ifndef MR_HEX_H
#define MR_HEX_H

/* 0..15 for '0'-'9', 'a'-'f', 'A'-'F'; -1 for any other byte. */
static inline int
mr_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

#endif
