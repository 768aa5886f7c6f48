/* SPDX-License-Identifier: BSD-2-Clause */
/* html: escaping of text for HTML element content and attribute values. */
#ifndef MR_HTML_H
#define MR_HTML_H

#include <stddef.h>

#include "app/lib/buf.h"

/* Appends s with & < > " ' replaced by &amp; &lt; &gt; &quot; &#39;. */
void mr_html_escape(struct mr_buf *b, const char *s, size_t len);

#endif
