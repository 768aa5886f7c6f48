/* SPDX-License-Identifier: BSD-2-Clause */
/* html: the escaper; runs of safe bytes are copied in one append. */
#include "app/lib/html.h"

void
mr_html_escape(struct mr_buf *b, const char *s, size_t len)
{
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep;
        size_t rep_len;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            rep_len = 5;
            break;
        case '<':
            rep = "&lt;";
            rep_len = 4;
            break;
        case '>':
            rep = "&gt;";
            rep_len = 4;
            break;
        case '"':
            rep = "&quot;";
            rep_len = 6;
            break;
        case '\'':
            rep = "&#39;";
            rep_len = 5;
            break;
        default:
            continue;
        }
        mr_buf_append(b, s + run, i - run);
        mr_buf_append(b, rep, rep_len);
        run = i + 1;
    }
    mr_buf_append(b, s + run, len - run);
}
