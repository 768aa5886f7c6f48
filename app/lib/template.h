/* SPDX-License-Identifier: BSD-2-Clause */
/* template: HTML templates in a small mustache-like language, compiled once at load into a
 * set, rendered per request into an mr_buf with no allocation beyond the buffer's own growth
 * in the request arena. The data comes from a value tree (app/lib/tv.h).
 *
 * The language (docs/templates.md has examples):
 *   {{name}}              the value, HTML-escaped as mr_html_escape does (& < > " ')
 *   {{{name}}} {{& name}} the value unescaped
 *   {{a.b.c}}             dotted name: `a` is looked up, then b inside it, then c
 *   {{.}}                 the current item (top of the context stack)
 *   {{#name}}..{{/name}}  section: once per item of a list (the item pushed on the context
 *                         stack); once for any other true value (pushed too); not at all for
 *                         a false one
 *   {{^name}}..{{/name}}  inverted section: once when the value is false, else not at all
 *   {{> name}}            partial: the template `name` of the same set, with the current
 *                         context; resolved at compile time
 *   {{! text }}           comment, may span lines
 * False values: missing, null, false, int 0, the empty string, the empty list. Objects are
 * true even when empty. Variables print an int in decimal, a bool as true/false, a string as
 * it is (escaped), and nothing for null, missing, a list or an object.
 * Name lookup walks the context stack outward from the innermost item to the root and takes
 * the first object holding the name's first segment; later segments are looked up only
 * inside it (mustache semantics). Whitespace inside a tag around the name is ignored.
 * Not supported: delimiter changes ({{=<% %>=}} is a compile error), lambdas, and mustache's
 * standalone-line trimming: every byte outside a tag is output exactly as written.
 * Limits: sections nest at most MR_TPL_MAX_NEST deep in one template; partials that include
 * each other outside any section (which would recurse forever) are a compile error, and at
 * render time sections and partials together nest at most MR_TPL_MAX_DEPTH deep.
 *
 * Lifecycle: mr_tpl_set_new, then mr_tpl_set_add / mr_tpl_set_load_dir, then
 * mr_tpl_set_compile once; after that the set is read-only and may be shared by every worker
 * (build it before fork). Look each template up once with mr_tpl_get and render by handle. */
#ifndef MR_TEMPLATE_H
#define MR_TEMPLATE_H

#include <stddef.h>

#include "app/lib/buf.h"
#include "app/lib/err.h"
#include "app/lib/tv.h"

#define MR_TPL_MAX_NEST 32
#define MR_TPL_MAX_DEPTH 64
#define MR_TPL_MAX_FILE_BYTES (1 << 20)

struct mr_tpl_set;
struct mr_tpl;

/* An empty set (mr_xcalloc: aborts on OOM). The caller frees it with mr_tpl_set_free. */
struct mr_tpl_set *mr_tpl_set_new(void);
/* Frees the set, its templates and their text. NULL is allowed. Handles from mr_tpl_get
 * die with it. */
void mr_tpl_set_free(struct mr_tpl_set *set);

/* Adds template `name` (NUL-terminated) with text[0..len), both copied. Not compiled yet.
 * Returns 0, -EEXIST for a name already in the set, or -EINVAL after mr_tpl_set_compile, or
 * for an empty name; the reason in *err. */
MR_MUST_CHECK int mr_tpl_set_add(struct mr_tpl_set *set, const char *name, const char *text,
                                 size_t len, struct mr_err *err);
/* Adds every regular file `dir/X.mustache` and `dir/X.html` as template X (not recursive).
 * One final newline ("\n" or "\r\n") of each file is dropped, so that an editor's newline at
 * the end of a file does not reach the page. Returns 0, -errno when the directory or a file
 * cannot be read, -EFBIG for a file over MR_TPL_MAX_FILE_BYTES, or mr_tpl_set_add's codes;
 * the reason (with the path) in *err. Templates added before a failure stay in the set. */
MR_MUST_CHECK int mr_tpl_set_load_dir(struct mr_tpl_set *set, const char *dir, struct mr_err *err);
/* Compiles every template of the set and resolves partials; call it once, after the last
 * add. Returns 0 or -EINVAL with "template:line: reason" in *err for the first error found
 * (unterminated tag, empty tag, bad name, unclosed section, mismatched close tag, unknown
 * partial, too deep, delimiter change); a set that failed cannot be rendered. -EALREADY
 * when called twice. */
MR_MUST_CHECK int mr_tpl_set_compile(struct mr_tpl_set *set, struct mr_err *err);

/* The compiled template `name`, or NULL when there is none or the set is not compiled.
 * Borrowed from the set. */
const struct mr_tpl *mr_tpl_get(const struct mr_tpl_set *set, const char *name);

/* Appends t rendered against root to out. Calls no malloc: the context stack lives on the C
 * stack, and out grows in its own arena. root may be NULL (every name is missing). Returns 0,
 * -ENOMEM when out has failed (arena ceiling; out then holds a prefix), or -ELOOP when
 * sections and partials nest deeper than MR_TPL_MAX_DEPTH (output stops there). */
MR_MUST_CHECK int mr_tpl_render(const struct mr_tpl *t, const struct mr_tv *root,
                                struct mr_buf *out);
/* mr_tpl_render by name (a linear search of the set's names); -ENOENT when there is none
 * or the set is not compiled. Prefer mr_tpl_get once at load. */
MR_MUST_CHECK int mr_tpl_render_named(const struct mr_tpl_set *set, const char *name,
                                      const struct mr_tv *root, struct mr_buf *out);

#endif
