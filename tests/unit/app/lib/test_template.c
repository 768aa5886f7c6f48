/* SPDX-License-Identifier: BSD-2-Clause */
/* test_template: each construct of the template language, escaping, the context stack,
 * partials, every compile error with its template:line, the set's lifecycle, loading a
 * directory, and the TechEmpower Fortunes page rendered from handlers/templates/ byte for
 * byte as handlers/fortunes.c writes it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/html.h"
#include "app/lib/template.h"
#include "app/lib/tv.h"
#include "tests/unit/suites.h"

struct fixture {
    struct mr_arena a;
    struct mr_buf b;
    struct mr_tpl_set *set;
    struct mr_err err;
};

static void
setup(struct fixture *f)
{
    mr_arena_init(&f->a, 4096, 1 << 20);
    mr_buf_init(&f->b, &f->a, 16);
    f->set = mr_tpl_set_new();
    f->err.msg[0] = '\0';
}

static void
teardown(struct fixture *f)
{
    mr_tpl_set_free(f->set);
    mr_arena_fini(&f->a);
}

/* Adds templates from a NULL-terminated list of (name, text) pairs and compiles the set;
 * returns mr_tpl_set_compile's code. */
static int
compile(struct fixture *f, const char *const *pairs)
{
    for (size_t i = 0; pairs[i] != NULL; i += 2)
        ck_assert_int_eq(
            mr_tpl_set_add(f->set, pairs[i], pairs[i + 1], strlen(pairs[i + 1]), &f->err), 0);
    return mr_tpl_set_compile(f->set, &f->err);
}

/* Renders `name` against root into a fresh buffer; asserts the code and returns the text. */
static const char *
render_rc(struct fixture *f, const char *name, const struct mr_tv *root, int want_rc)
{
    mr_buf_init(&f->b, &f->a, 16);
    const struct mr_tpl *t = mr_tpl_get(f->set, name);
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(mr_tpl_render(t, root, &f->b), want_rc);
    const char *s = mr_buf_cstr(&f->b);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* One template "t" compiled alone and rendered against root. */
static void
assert_renders(const char *text, const struct mr_tv *root, const char *want)
{
    struct fixture f;
    setup(&f);
    const char *pairs[] = {"t", text, NULL};
    ck_assert_msg(compile(&f, pairs) == 0, "%s", f.err.msg);
    ck_assert_str_eq(render_rc(&f, "t", root, 0), want);
    teardown(&f);
}

/* The set of pairs fails to compile with exactly `want` as the reason. */
static void
assert_compile_error(const char *const *pairs, const char *want)
{
    struct fixture f;
    setup(&f);
    ck_assert_int_eq(compile(&f, pairs), -EINVAL);
    ck_assert_str_eq(f.err.msg, want);
    ck_assert_ptr_null(mr_tpl_get(f.set, pairs[0]));
    teardown(&f);
}

static void
assert_error1(const char *text, const char *want)
{
    const char *pairs[] = {"t", text, NULL};
    assert_compile_error(pairs, want);
}

/* A root most tests share: {name, n, yes, no, zero, empty, nil, s, user{name, id}, items[]}. */
static struct mr_tv *
sample(struct mr_arena *a)
{
    struct mr_tv *root = mr_tv_obj(a);
    ck_assert_int_eq(mr_tv_set_str(root, "name", "Ada", 3), 0);
    ck_assert_int_eq(mr_tv_set_int(root, "n", -42), 0);
    ck_assert_int_eq(mr_tv_set_bool(root, "yes", true), 0);
    ck_assert_int_eq(mr_tv_set_bool(root, "no", false), 0);
    ck_assert_int_eq(mr_tv_set_int(root, "zero", 0), 0);
    ck_assert_int_eq(mr_tv_set_str(root, "empty", "", 0), 0);
    ck_assert_int_eq(mr_tv_set(root, "nil", mr_tv_null(a)), 0);
    ck_assert_int_eq(mr_tv_set_str(root, "s", "& < > \" '", 9), 0);
    struct mr_tv *user = mr_tv_set_obj(root, "user");
    ck_assert_int_eq(mr_tv_set_str(user, "name", "Grace", 5), 0);
    ck_assert_int_eq(mr_tv_set_int(user, "id", 7), 0);
    struct mr_tv *items = mr_tv_set_list(root, "items");
    ck_assert_int_eq(mr_tv_push(items, mr_tv_str(a, "x", 1)), 0);
    ck_assert_int_eq(mr_tv_push(items, mr_tv_int(a, 2)), 0);
    ck_assert_int_eq(mr_tv_push(items, mr_tv_bool(a, true)), 0);
    return root;
}

#define WITH_SAMPLE(...)                                                                           \
    do {                                                                                           \
        struct mr_arena a_;                                                                        \
        mr_arena_init(&a_, 4096, 1 << 20);                                                         \
        struct mr_tv *root = sample(&a_);                                                          \
        __VA_ARGS__;                                                                               \
        mr_arena_fini(&a_);                                                                        \
    } while (0)

/* ---- values ------------------------------------------------------------------------------ */

START_TEST(test_tv_set_replaces_and_lookup_finds)
{
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    struct mr_tv *o = mr_tv_obj(&a);
    ck_assert_int_eq(mr_tv_set_int(o, "k", 1), 0);
    ck_assert_int_eq(mr_tv_set_int(o, "k", 2), 0);
    ck_assert_uint_eq(o->u.obj.n, 1);
    const struct mr_tv *v = mr_tv_get(o, "k", 1, mr_tv_hash("k", 1));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->u.i, 2);
    ck_assert_ptr_null(mr_tv_get(o, "j", 1, mr_tv_hash("j", 1)));
    ck_assert_int_eq(mr_tv_set_int(mr_tv_list(&a), "k", 1), -EINVAL);
    ck_assert_int_eq(mr_tv_set(o, "k", NULL), -EINVAL);
    ck_assert_int_eq(mr_tv_push(o, mr_tv_int(&a, 1)), -EINVAL);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_tv_grows_lists_and_objects)
{
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    struct mr_tv *l = mr_tv_list(&a), *o = mr_tv_obj(&a);
    static const char keys[] = "abcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(mr_tv_push(l, mr_tv_int(&a, i)), 0);
    for (int i = 0; i < 26; i++)
        ck_assert_int_eq(mr_tv_set(o, &keys[i], mr_tv_int(&a, i)), 0); /* keys "a..z", "z" */
    ck_assert_uint_eq(l->u.list.n, 100);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(l->u.list.items[i]->u.i, i);
    ck_assert_uint_eq(o->u.obj.n, 26);
    ck_assert_int_eq(mr_tv_get(o, "z", 1, mr_tv_hash("z", 1))->u.i, 25);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_tv_reports_arena_ceiling)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1024);
    struct mr_tv *l = mr_tv_list(&a);
    ck_assert_ptr_nonnull(l);
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++)
        rc = mr_tv_push(l, mr_tv_int(&a, i));
    ck_assert_int_lt(rc, 0); /* -EINVAL (constructor failed) or -ENOMEM (growth failed) */
    ck_assert_int_eq(mr_tv_set_int(mr_tv_obj(&a), "k", 1), -EINVAL); /* NULL object */
    mr_arena_fini(&a);
}
END_TEST

/* ---- the language ------------------------------------------------------------------------ */

START_TEST(test_template_variables_by_kind)
{
    WITH_SAMPLE({
        assert_renders("Hi {{name}}!", root, "Hi Ada!");
        assert_renders("{{n}} {{zero}} {{yes}} {{no}}", root, "-42 0 true false");
        assert_renders("[{{nil}}][{{missing}}][{{items}}][{{user}}][{{empty}}]", root,
                       "[][][][][]");
        assert_renders("{{ name }}|{{  name\t}}|{{{ name }}}|{{&name}}", root, "Ada|Ada|Ada|Ada");
    });
    assert_renders("{{name}}", NULL, "");
}
END_TEST

START_TEST(test_template_escapes_as_html_c_does)
{
    WITH_SAMPLE({
        assert_renders("{{s}}", root, "&amp; &lt; &gt; &quot; &#39;");
        assert_renders("{{{s}}}", root, "& < > \" '");
        assert_renders("{{& s}}", root, "& < > \" '");
    });
}
END_TEST

START_TEST(test_template_text_is_verbatim)
{
    assert_renders("", NULL, "");
    assert_renders("no tags at all\n", NULL, "no tags at all\n");
    assert_renders("{ } }} {x} <&>", NULL, "{ } }} {x} <&>");
    assert_renders("a{{! a comment\n over lines }}b{{!}}c", NULL, "abc");
    assert_renders("  {{#no}}\n  x\n  {{/no}}\n", NULL, "  \n"); /* no standalone trimming */
}
END_TEST

START_TEST(test_template_dotted_names)
{
    WITH_SAMPLE({
        assert_renders("{{user.name}}#{{user.id}}", root, "Grace#7");
        assert_renders("[{{user.missing}}][{{missing.name}}][{{name.x}}]", root, "[][][]");
        assert_renders("{{#user}}{{name}}{{/user}} {{#user.name}}{{.}}{{/user.name}}", root,
                       "Grace Grace");
    });
}
END_TEST

START_TEST(test_template_dot_is_the_current_item)
{
    WITH_SAMPLE({
        assert_renders("{{#items}}<{{.}}>{{/items}}", root, "<x><2><true>");
        assert_renders("{{#name}}{{.}}{{/name}}", root, "Ada");
    });
}
END_TEST

START_TEST(test_template_sections_by_truth)
{
    WITH_SAMPLE({
        assert_renders("{{#yes}}Y{{/yes}}{{#no}}N{{/no}}{{#zero}}Z{{/zero}}", root, "Y");
        assert_renders("{{#empty}}E{{/empty}}{{#nil}}L{{/nil}}{{#missing}}M{{/missing}}", root, "");
        assert_renders("{{#n}}{{.}}{{/n}}{{#user}}u{{/user}}{{#items}}i{{/items}}", root,
                       "-42uiii");
        assert_renders("{{^no}}1{{/no}}{{^zero}}2{{/zero}}{{^empty}}3{{/empty}}{{^nil}}4{{/nil}}"
                       "{{^missing}}5{{/missing}}{{^yes}}6{{/yes}}{{^items}}7{{/items}}"
                       "{{^user}}8{{/user}}",
                       root, "12345");
    });
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    struct mr_tv *root = mr_tv_obj(&a);
    ck_assert_ptr_nonnull(mr_tv_set_list(root, "none"));
    ck_assert_ptr_nonnull(mr_tv_set_obj(root, "blank"));
    assert_renders("{{#none}}x{{/none}}{{^none}}empty list{{/none}} {{#blank}}empty obj{{/blank}}",
                   root, "empty list empty obj");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_template_lists_of_objects_nested)
{
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    struct mr_tv *root = mr_tv_obj(&a);
    struct mr_tv *users = mr_tv_set_list(root, "users");
    static const char *const names[] = {"ann", "bob"};
    for (int i = 0; i < 2; i++) {
        struct mr_tv *u = mr_tv_push_obj(users);
        ck_assert_int_eq(mr_tv_set_str(u, "name", names[i], 3), 0);
        struct mr_tv *roles = mr_tv_set_list(u, "roles");
        for (int k = 0; k <= i; k++) {
            struct mr_tv *r = mr_tv_push_obj(roles);
            ck_assert_int_eq(mr_tv_set_int(r, "id", k), 0);
        }
    }
    assert_renders("<ul>{{#users}}<li>{{name}}:{{#roles}}[{{id}}]{{/roles}}"
                   "{{^roles}}none{{/roles}}</li>{{/users}}</ul>",
                   root, "<ul><li>ann:[0]</li><li>bob:[0][1]</li></ul>");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_template_lookup_walks_the_context_stack)
{
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    struct mr_tv *root = mr_tv_obj(&a);
    ck_assert_int_eq(mr_tv_set_str(root, "site", "mill", 4), 0);
    ck_assert_int_eq(mr_tv_set_str(root, "name", "root", 4), 0);
    struct mr_tv *outer = mr_tv_set_obj(root, "outer");
    ck_assert_int_eq(mr_tv_set_str(outer, "name", "outer", 5), 0);
    struct mr_tv *a_ = mr_tv_set_obj(outer, "a");
    ck_assert_ptr_nonnull(a_);
    struct mr_tv *inner = mr_tv_set_obj(outer, "inner");
    ck_assert_int_eq(mr_tv_set_int(inner, "id", 3), 0);
    struct mr_tv *ia = mr_tv_set_obj(inner, "a"); /* a, without b: shadows root's a.b */
    ck_assert_ptr_nonnull(ia);
    struct mr_tv *ra = mr_tv_set_obj(root, "top");
    ck_assert_int_eq(mr_tv_set_int(ra, "b", 9), 0);
    /* Inner names shadow outer ones; missing names are found further out. */
    assert_renders("{{#outer}}{{#inner}}{{id}} {{name}} {{site}}{{/inner}} {{name}}{{/outer}} "
                   "{{name}}",
                   root, "3 outer mill outer root");
    /* A dotted name binds to the first context holding its first segment, and does not
     * search further out for the rest. */
    assert_renders("{{#outer}}{{#inner}}[{{top.b}}][{{a.b}}]{{/inner}}{{/outer}}", root, "[9][]");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_template_partials)
{
    WITH_SAMPLE({
        struct fixture f;
        setup(&f);
        const char *pairs[] = {"page",  "<h1>{{> head}}</h1>{{#user}}{{>card}}{{/user}}",
                               "head",  "{{name}}",
                               "card",  "<p>{{name}} #{{id}}</p>{{> empty}}",
                               "empty", "",
                               NULL};
        ck_assert_msg(compile(&f, pairs) == 0, "%s", f.err.msg);
        ck_assert_str_eq(render_rc(&f, "page", root, 0), "<h1>Ada</h1><p>Grace #7</p>");
        mr_buf_init(&f.b, &f.a, 16);
        ck_assert_int_eq(mr_tpl_render_named(f.set, "head", root, &f.b), 0);
        ck_assert_str_eq(mr_buf_cstr(&f.b), "Ada");
        ck_assert_int_eq(mr_tpl_render_named(f.set, "nope", root, &f.b), -ENOENT);
        teardown(&f);
    });
}
END_TEST

/* A partial may include itself inside a section: the data decides where it ends (a tree). */
START_TEST(test_template_recursive_partial_over_a_tree)
{
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    struct mr_tv *root = mr_tv_obj(&a);
    ck_assert_int_eq(mr_tv_set_str(root, "n", "r", 1), 0);
    struct mr_tv *kids = mr_tv_set_list(root, "kids");
    struct mr_tv *k1 = mr_tv_push_obj(kids), *k2 = mr_tv_push_obj(kids);
    ck_assert_int_eq(mr_tv_set_str(k1, "n", "a", 1), 0);
    ck_assert_int_eq(mr_tv_set_str(k2, "n", "b", 1), 0);
    ck_assert_ptr_nonnull(mr_tv_set_list(k1, "kids")); /* empty: stops here, not at root's */
    struct mr_tv *k3 = mr_tv_push_obj(mr_tv_set_list(k2, "kids"));
    ck_assert_int_eq(mr_tv_set_str(k3, "n", "c", 1), 0);
    ck_assert_ptr_nonnull(mr_tv_set_list(k3, "kids"));
    struct fixture f;
    setup(&f);
    const char *pairs[] = {"node", "{{n}}({{#kids}}{{> node}}{{/kids}})", NULL};
    ck_assert_msg(compile(&f, pairs) == 0, "%s", f.err.msg);
    ck_assert_str_eq(render_rc(&f, "node", root, 0), "r(a()b(c()))");
    teardown(&f);
    mr_arena_fini(&a);
}
END_TEST

/* A section over a value that is always true recurses until the render depth limit. */
START_TEST(test_template_render_depth_is_limited)
{
    WITH_SAMPLE({
        struct fixture f;
        setup(&f);
        const char *pairs[] = {"loop", "x{{#yes}}{{> loop}}{{/yes}}", NULL};
        ck_assert_msg(compile(&f, pairs) == 0, "%s", f.err.msg);
        const char *out = render_rc(&f, "loop", root, -ELOOP);
        ck_assert_uint_eq(strlen(out), MR_TPL_MAX_DEPTH / 2 + 1); /* a section + a partial each */
        teardown(&f);
    });
}
END_TEST

START_TEST(test_template_render_reports_buffer_failure)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1024);
    struct mr_tv *root = mr_tv_obj(&a);
    struct mr_tv *l = mr_tv_set_list(root, "l");
    ck_assert_int_eq(mr_tv_push(l, mr_tv_int(&a, 1)), 0);
    struct mr_tpl_set *set = mr_tpl_set_new();
    struct mr_err err;
    static const char text[] = "{{#l}}0123456789012345678901234567890123456789{{.}}{{/l}}"
                               "{{#l}}0123456789012345678901234567890123456789{{.}}{{/l}}";
    ck_assert_int_eq(mr_tpl_set_add(set, "t", text, sizeof(text) - 1, &err), 0);
    ck_assert_int_eq(mr_tpl_set_compile(set, &err), 0);
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        struct mr_buf b;
        mr_buf_init(&b, &a, 16);
        rc = mr_tpl_render(mr_tpl_get(set, "t"), root, &b);
    }
    ck_assert_int_eq(rc, -ENOMEM);
    mr_tpl_set_free(set);
    mr_arena_fini(&a);
}
END_TEST

/* ---- compile errors ---------------------------------------------------------------------- */

START_TEST(test_template_error_unclosed_section)
{
    assert_error1("a\n{{#x}}\n{{#y}}{{/y}}\n", "t:2: unclosed section 'x'");
    assert_error1("{{^x}}", "t:1: unclosed section 'x'");
}
END_TEST

START_TEST(test_template_error_mismatched_close)
{
    assert_error1("{{#a}}\n\n{{#b}}\n{{/a}}",
                  "t:4: mismatched close tag 'a' (open section 'b' at line 3)");
    assert_error1("x\n{{/a}}", "t:2: close tag 'a' without an open section");
}
END_TEST

START_TEST(test_template_error_unknown_partial)
{
    const char *pairs[] = {"page", "ok\n{{#s}}\n{{> nav}}{{/s}}", "foot", "", NULL};
    assert_compile_error(pairs, "page:3: unknown partial 'nav'");
}
END_TEST

START_TEST(test_template_error_empty_tag)
{
    assert_error1("{{}}", "t:1: empty tag");
    assert_error1("\n{{ }}", "t:2: empty tag");
    assert_error1("{{! multi\nline }}\n{{# }}", "t:3: empty tag");
    assert_error1("{{{}}}", "t:1: empty tag");
    assert_error1("{{&}}", "t:1: empty tag");
    assert_error1("{{>}}", "t:1: empty tag");
}
END_TEST

START_TEST(test_template_error_unterminated_tag)
{
    assert_error1("ok\nok {{name", "t:2: unterminated tag");
    assert_error1("{{{name}}", "t:1: unterminated tag");
    assert_error1("{{", "t:1: unterminated tag");
    assert_error1("{{! never closed", "t:1: unterminated tag");
}
END_TEST

START_TEST(test_template_error_too_deep)
{
    char text[MR_TPL_MAX_NEST * 16 + 64];
    size_t n = 0;
    for (int i = 0; i <= MR_TPL_MAX_NEST; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "{{#s%d}}", i);
    snprintf(text + n, sizeof(text) - n, "x");
    char want[128];
    snprintf(want, sizeof(want), "t:1: too deep: sections nest over %d levels", MR_TPL_MAX_NEST);
    assert_error1(text, want);
    const char *cycle[] = {"a", "{{> b}}", "b", "\n{{#x}}{{/x}}{{> a}}", NULL};
    assert_compile_error(cycle, "b:2: too deep: partial 'a' includes itself outside any section");
    const char *self[] = {"a", "{{>a}}", NULL};
    assert_compile_error(self, "a:1: too deep: partial 'a' includes itself outside any section");
}
END_TEST

START_TEST(test_template_error_bad_names_and_delimiters)
{
    assert_error1("{{a..b}}", "t:1: bad name 'a..b' (empty segment)");
    assert_error1("{{#.a}}{{/.a}}", "t:1: bad name '.a' (empty segment)");
    assert_error1("{{a b}}", "t:1: bad name 'a b'");
    assert_error1("{{=<% %>=}}", "t:1: delimiter changes are not supported");
}
END_TEST

/* ---- the set ----------------------------------------------------------------------------- */

START_TEST(test_template_set_lifecycle)
{
    struct fixture f;
    setup(&f);
    ck_assert_int_eq(mr_tpl_set_add(f.set, "a", "x", 1, &f.err), 0);
    ck_assert_int_eq(mr_tpl_set_add(f.set, "a", "y", 1, &f.err), -EEXIST);
    ck_assert_int_eq(mr_tpl_set_add(f.set, "", "y", 1, &f.err), -EINVAL);
    ck_assert_ptr_null(mr_tpl_get(f.set, "a")); /* not compiled yet */
    ck_assert_int_eq(mr_tpl_set_compile(f.set, &f.err), 0);
    ck_assert_int_eq(mr_tpl_set_compile(f.set, &f.err), -EALREADY);
    ck_assert_int_eq(mr_tpl_set_add(f.set, "b", "y", 1, &f.err), -EINVAL);
    ck_assert_ptr_nonnull(mr_tpl_get(f.set, "a"));
    ck_assert_ptr_null(mr_tpl_get(f.set, "b"));
    mr_tpl_set_free(NULL);
    teardown(&f);
}
END_TEST

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fputs(text, fp) >= 0, 1);
    ck_assert_int_eq(fclose(fp), 0);
}

START_TEST(test_template_load_dir)
{
    char dir[] = "/tmp/mr-tpl-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file(dir, "page.html", "<b>{{> item}}</b>\r\n");
    write_file(dir, "item.mustache", "{{name}}\n\n"); /* only one final newline goes */
    write_file(dir, "notes.txt", "{{#broken");
    write_file(dir, ".hidden.html", "{{#broken");
    struct fixture f;
    setup(&f);
    ck_assert_msg(mr_tpl_set_load_dir(f.set, dir, &f.err) == 0, "%s", f.err.msg);
    ck_assert_msg(mr_tpl_set_compile(f.set, &f.err) == 0, "%s", f.err.msg);
    WITH_SAMPLE({ ck_assert_str_eq(render_rc(&f, "page", root, 0), "<b>Ada\n</b>"); });
    ck_assert_ptr_null(mr_tpl_get(f.set, "notes"));
    ck_assert_ptr_null(mr_tpl_get(f.set, ".hidden"));
    teardown(&f);
    /* The same name twice (page.html, page.mustache) is refused with the file's path. */
    write_file(dir, "page.mustache", "");
    setup(&f);
    ck_assert_int_eq(mr_tpl_set_load_dir(f.set, dir, &f.err), -EEXIST);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "page"));
    teardown(&f);
    static const char *const files[] = {"page.html", "page.mustache", "item.mustache", "notes.txt",
                                        ".hidden.html"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        ck_assert_int_eq(unlink(path), 0);
    }
    ck_assert_int_eq(rmdir(dir), 0);
    setup(&f);
    ck_assert_int_eq(mr_tpl_set_load_dir(f.set, dir, &f.err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(f.err.msg, dir));
    teardown(&f);
}
END_TEST

/* ---- TechEmpower Fortunes ---------------------------------------------------------------- */

struct fortune {
    int id;
    const char *message;
};

/* The 12 rows of scripts/seed.sql and the one the handler adds. */
static const struct fortune fortunes[] = {
    {1, "fortune: No such file or directory"},
    {2, "A computer scientist is someone who fixes things that aren't broken."},
    {3, "After enough decimal places, nobody gives a damn."},
    {4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"},
    {5, "A computer program does what you tell it to do, not what you want it to do."},
    {6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"},
    {7, "Any program that runs right is obsolete."},
    {8, "A list is only as strong as its weakest link. — Donald Knuth"},
    {9, "Feature: A bug with seniority."},
    {10, "Computers make very fast, very accurate mistakes."},
    {11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"},
    {12, "フレームワークのベンチマーク"},
    {0, "Additional fortune added at request time."},
};
#define NFORTUNES (sizeof(fortunes) / sizeof(fortunes[0]))

/* TechEmpower's expected page, rows in byte order of message. */
static const char fortunes_page[] =
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
    "<tr><th>id</th><th>message</th></tr>"
    "<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser "
    "alert box.&quot;);&lt;/script&gt;</td></tr>"
    "<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>"
    "<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to "
    "do.</td></tr>"
    "<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&#39;t "
    "broken.</td></tr>"
    "<tr><td>8</td><td>A list is only as strong as its weakest link. — Donald Knuth</td></tr>"
    "<tr><td>0</td><td>Additional fortune added at request time.</td></tr>"
    "<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>"
    "<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>"
    "<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>"
    "<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. — Tom "
    "Christaensen</td></tr>"
    "<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>"
    "<tr><td>1</td><td>fortune: No such file or directory</td></tr>"
    "<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>"
    "</table></body></html>";

static int
by_message(const void *x, const void *y)
{
    return strcmp(((const struct fortune *)x)->message, ((const struct fortune *)y)->message);
}

/* What handlers/fortunes.c writes for rows already sorted, with the same calls. */
static void
render_direct(struct mr_buf *b, const struct fortune *rows, size_t n)
{
    mr_buf_puts(b, "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                   "<tr><th>id</th><th>message</th></tr>");
    for (size_t i = 0; i < n; i++) {
        mr_buf_puts(b, "<tr><td>");
        mr_buf_int(b, rows[i].id);
        mr_buf_puts(b, "</td><td>");
        mr_html_escape(b, rows[i].message, strlen(rows[i].message));
        mr_buf_puts(b, "</td></tr>");
    }
    mr_buf_puts(b, "</table></body></html>");
}

START_TEST(test_template_fortunes_page_matches_the_handler)
{
    struct fortune rows[NFORTUNES];
    memcpy(rows, fortunes, sizeof(rows));
    qsort(rows, NFORTUNES, sizeof(rows[0]), by_message);
    struct fixture f;
    setup(&f);
    /* make unit runs from tests/unit/. */
    ck_assert_msg(mr_tpl_set_load_dir(f.set, "../../handlers/templates", &f.err) == 0, "%s",
                  f.err.msg);
    ck_assert_msg(mr_tpl_set_compile(f.set, &f.err) == 0, "%s", f.err.msg);
    struct mr_tv *root = mr_tv_obj(&f.a);
    struct mr_tv *list = mr_tv_set_list(root, "fortunes");
    for (size_t i = 0; i < NFORTUNES; i++) {
        struct mr_tv *row = mr_tv_push_obj(list);
        ck_assert_int_eq(mr_tv_set_int(row, "id", rows[i].id), 0);
        ck_assert_int_eq(mr_tv_set_str(row, "message", rows[i].message, strlen(rows[i].message)),
                         0);
    }
    const char *page = render_rc(&f, "fortunes", root, 0);
    size_t page_len = f.b.len;
    struct mr_buf direct;
    mr_buf_init(&direct, &f.a, 16);
    render_direct(&direct, rows, NFORTUNES);
    ck_assert_ptr_nonnull(mr_buf_cstr(&direct));
    ck_assert_uint_eq(page_len, direct.len);
    ck_assert_mem_eq(page, direct.data, direct.len);
    ck_assert_uint_eq(page_len, sizeof(fortunes_page) - 1);
    ck_assert_str_eq(page, fortunes_page);
    teardown(&f);
}
END_TEST

Suite *
template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tv = tcase_create("values");
    tcase_add_test(tv, test_tv_set_replaces_and_lookup_finds);
    tcase_add_test(tv, test_tv_grows_lists_and_objects);
    tcase_add_test(tv, test_tv_reports_arena_ceiling);
    suite_add_tcase(s, tv);
    TCase *lang = tcase_create("language");
    tcase_add_test(lang, test_template_variables_by_kind);
    tcase_add_test(lang, test_template_escapes_as_html_c_does);
    tcase_add_test(lang, test_template_text_is_verbatim);
    tcase_add_test(lang, test_template_dotted_names);
    tcase_add_test(lang, test_template_dot_is_the_current_item);
    tcase_add_test(lang, test_template_sections_by_truth);
    tcase_add_test(lang, test_template_lists_of_objects_nested);
    tcase_add_test(lang, test_template_lookup_walks_the_context_stack);
    tcase_add_test(lang, test_template_partials);
    tcase_add_test(lang, test_template_recursive_partial_over_a_tree);
    tcase_add_test(lang, test_template_render_depth_is_limited);
    tcase_add_test(lang, test_template_render_reports_buffer_failure);
    suite_add_tcase(s, lang);
    TCase *errs = tcase_create("errors");
    tcase_add_test(errs, test_template_error_unclosed_section);
    tcase_add_test(errs, test_template_error_mismatched_close);
    tcase_add_test(errs, test_template_error_unknown_partial);
    tcase_add_test(errs, test_template_error_empty_tag);
    tcase_add_test(errs, test_template_error_unterminated_tag);
    tcase_add_test(errs, test_template_error_too_deep);
    tcase_add_test(errs, test_template_error_bad_names_and_delimiters);
    suite_add_tcase(s, errs);
    TCase *set = tcase_create("set");
    tcase_add_test(set, test_template_set_lifecycle);
    tcase_add_test(set, test_template_load_dir);
    tcase_add_test(set, test_template_fortunes_page_matches_the_handler);
    suite_add_tcase(s, set);
    return s;
}
