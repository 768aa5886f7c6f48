/* SPDX-License-Identifier: BSD-2-Clause */
/* validate: compiling an input table and checking one request against it. Everything a request
 * would otherwise compute per field (the regex, the length of each choice, every error text
 * with its numbers, the typed default) is prepared at compile, so a run is a fetch, a scan and
 * a few compares per field, and an error costs only JSON writes of ready strings. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/lib/json.h"
#include "app/serve/request.h"
#include "app/serve/validate.h"

struct mr_value {
    long long i; /* MR_V_INT's value, MR_V_ENUM's index, MR_V_BOOL's 0/1 */
    const char *s;
    size_t len;
    bool present;       /* given and valid, or its default */
    const char *reason; /* why the given value is invalid; NULL when it is valid */
};

struct field {
    const struct mr_input *in;
    regex_t re;
    bool has_re;
    bool has_def;
    struct mr_value def;
    size_t *choice_len;
    /* Error texts made at compile (malloc; NULL when the row cannot need them). */
    char *r_syntax; /* int: "must be an integer[ between a and b]"; enum: "must be one of: ..." */
    char *r_range;  /* int: "must be between a and b" */
    char *r_short;  /* string: "must be at least n characters" */
    char *r_long;   /* string: "must be at most n characters" */
};

struct mr_valid {
    int n;
    struct field f[];
};

static const char *const source_names[] = {"path", "query", "form", "json", "cookie"};

static const char R_REQUIRED[] = "required";
static const char R_UTF8[] = "must be valid UTF-8 text";
static const char R_PATTERN[] = "must match the pattern";
static const char R_BOOL[] = "must be true or false";
static const char R_EMAIL[] = "must be an email address";

static char *dupf(const char *fmt, ...) MR_PRINTF(1, 2);

/* A malloc'd formatted string (load time only). */
static char *
dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert(n >= 0);
    char *s = mr_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Optional sign, then digits only; false on anything else or when it overflows long long.
 * Written out rather than strtoll, which skips leading spaces and reads the locale. */
static bool
parse_int(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len)
        return false;
    unsigned long long limit =
        neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    unsigned long long acc = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9 || acc > (limit - d) / 10)
            return false;
        acc = acc * 10 + d;
    }
    if (!neg)
        *out = (long long)acc;
    else
        *out = acc == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)acc;
    return true;
}

/* Does s[0..len) equal the lower-case ASCII word, ignoring ASCII case only (strcasecmp would
 * follow the locale)? */
static bool
word_nocase(const char *word, const char *s, size_t len)
{
    size_t i = 0;
    for (; i < len && word[i] != '\0'; i++)
        if (s[i] != word[i] && !(word[i] >= 'a' && word[i] <= 'z' && s[i] == word[i] - 'a' + 'A'))
            return false;
    return i == len && word[i] == '\0';
}

static bool
parse_bool(const char *s, size_t len, bool *out)
{
    static const struct {
        const char *text;
        bool value;
    } words[] = {{"true", true}, {"false", false}, {"1", true},   {"0", false},
                 {"on", true},   {"off", false},   {"yes", true}, {"no", false}};
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
        if (word_nocase(words[k].text, s, len)) {
            *out = words[k].value;
            return true;
        }
    }
    return false;
}

static bool
is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 5322's atext, the characters of an unquoted local part besides the dots. */
static bool
is_atext(char c)
{
    static const char specials[] = "!#$%&'*+/=?^_`{|}~-";
    return is_alnum(c) || memchr(specials, c, sizeof(specials) - 1) != NULL;
}

/* The domain after '@': two or more labels of 1..63 letters, digits and inner hyphens; the
 * last not all digits, so that "a@1.2" (an address-like number) is refused. */
static bool
domain_ok(const char *d, size_t len)
{
    size_t start = 0;
    int labels = 0;
    bool all_digits = false;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && d[i] != '.') {
            if (!is_alnum(d[i]) && d[i] != '-')
                return false;
            continue;
        }
        size_t n = i - start;
        if (n == 0 || n > 63 || d[start] == '-' || d[i - 1] == '-')
            return false;
        all_digits = true;
        for (size_t k = start; k < i; k++)
            all_digits = all_digits && d[k] >= '0' && d[k] <= '9';
        labels++;
        start = i + 1;
    }
    return labels >= 2 && !all_digits;
}

static bool
email_ok(const char *s, size_t len)
{
    const char *at = len <= 254 ? memchr(s, '@', len) : NULL;
    if (at == NULL)
        return false;
    size_t local = (size_t)(at - s);
    if (local == 0 || local > 64)
        return false;
    for (size_t i = 0; i < local; i++) {
        if (s[i] == '.') {
            if (i == 0 || i == local - 1 || s[i - 1] == '.')
                return false;
        } else if (!is_atext(s[i])) {
            return false; /* a second '@' lands here too */
        }
    }
    return domain_ok(at + 1, len - local - 1);
}

/* Code points in valid UTF-8: the bytes that do not continue a sequence. */
static size_t
utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static const char *
check_string(const struct field *f, const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL || !mr_utf8_valid(s, len))
        return R_UTF8;
    long long n = (long long)utf8_count(s, len);
    if (n < f->in->min)
        return f->r_short;
    if (f->in->max != 0 && n > f->in->max)
        return f->r_long;
    regmatch_t m[1];
    if (f->has_re &&
        (regexec(&f->re, s, 1, m, 0) != 0 || m[0].rm_so != 0 || (size_t)m[0].rm_eo != len))
        return R_PATTERN;
    return NULL;
}

/* Checks s[0..len) against row f and fills *val. Returns NULL when valid, else the reason.
 * For MR_V_STRING and MR_V_EMAIL, s must be NUL-terminated at len (regexec needs it). */
static const char *
check(const struct field *f, const char *s, size_t len, struct mr_value *val)
{
    const struct mr_input *in = f->in;
    bool b;
    *val = (struct mr_value){.s = s, .len = len, .present = true};
    switch (in->type) {
    case MR_V_INT:
        if (!parse_int(s, len, &val->i))
            return f->r_syntax;
        if ((in->min != 0 || in->max != 0) && (val->i < in->min || val->i > in->max))
            return f->r_range;
        return NULL;
    case MR_V_STRING:
        return check_string(f, s, len);
    case MR_V_ENUM:
        for (long long k = 0; in->choices[k] != NULL; k++) {
            if (f->choice_len[k] == len && memcmp(in->choices[k], s, len) == 0) {
                val->i = k;
                return NULL;
            }
        }
        return f->r_syntax;
    case MR_V_BOOL:
        if (!parse_bool(s, len, &b))
            return R_BOOL;
        val->i = b;
        return NULL;
    case MR_V_EMAIL:
        return email_ok(s, len) ? NULL : R_EMAIL;
    }
    return R_REQUIRED; /* not reached: compile refuses unknown types */
}

/* The two hazards of wrapping an ERE in ^( )$, found by walking it as regcomp does for
 * escapes and bracket expressions (inside which '\\', '(' and ')' are literal): a
 * backreference (a glibc extension that turns matching into backtracking), and a ')' with no
 * '(' before it, which glibc takes as a literal alone but which, wrapped, would close the
 * anchoring group early: "a)|b" would become ^(a)|b)$, matching anything after an "a". */
static const char *
pattern_hazard(const char *p)
{
    int depth = 0;
    while (*p != '\0') {
        if (p[0] == '\\') {
            if (p[1] >= '1' && p[1] <= '9')
                return "has a backreference";
            p += p[1] != '\0' ? 2 : 1;
            continue;
        }
        if (p[0] == '[') {
            p++;
            p += *p == '^';
            p += *p == ']'; /* a first ']' is a member, not the end */
            while (*p != '\0' && *p != ']') {
                char open = p[1];
                if (p[0] == '[' && (open == ':' || open == '.' || open == '=')) {
                    const char *e = p + 2;
                    while (*e != '\0' && !(e[0] == open && e[1] == ']'))
                        e++;
                    if (*e == '\0')
                        return NULL; /* regcomp has refused it already */
                    p = e + 2;
                } else {
                    p++;
                }
            }
            p += *p == ']';
            continue;
        }
        if (p[0] == '(')
            depth++;
        if (p[0] == ')' && depth-- == 0)
            return "has an unmatched ) (write \\) for a literal one)";
        p++;
    }
    return NULL;
}

/* Compiles the pattern alone (for regerror's text), refuses the hazards above, then anchors it
 * by wrapping it in ^( )$. The run also checks that the match spans the whole value, so the
 * anchoring does not rest on this walk alone. */
static int
compile_pattern(struct field *f, const char *what, struct mr_err *err)
{
    const char *pat = f->in->pattern;
    regex_t alone;
    int rc = regcomp(&alone, pat, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        (void)regerror(rc, &alone, msg, sizeof(msg));
        return mr_err_set(err, -EINVAL, "%s: bad pattern \"%s\": %s", what, pat, msg);
    }
    regfree(&alone);
    const char *hazard = pattern_hazard(pat);
    if (hazard != NULL)
        return mr_err_set(err, -EINVAL, "%s: pattern \"%s\" %s", what, pat, hazard);
    char *wrapped = dupf("^(%s)$", pat);
    rc = regcomp(&f->re, wrapped, REG_EXTENDED);
    free(wrapped);
    if (rc != 0)
        return mr_err_set(err, -EINVAL, "%s: bad pattern \"%s\"", what, pat);
    f->has_re = true;
    return 0;
}

/* Choice lengths and the "must be one of: a, b" text; refuses an empty or repeated list. */
static int
compile_choices(struct field *f, const char *what, struct mr_err *err)
{
    static const char lead[] = "must be one of: ";
    const char *const *c = f->in->choices;
    if (c == NULL || c[0] == NULL)
        return mr_err_set(err, -EINVAL, "%s: enum without choices", what);
    size_t n = 0, text = sizeof(lead);
    while (c[n] != NULL) {
        for (size_t k = 0; k < n; k++)
            if (strcmp(c[k], c[n]) == 0)
                return mr_err_set(err, -EINVAL, "%s: choice \"%s\" repeated", what, c[n]);
        text += strlen(c[n]) + 2;
        n++;
    }
    f->choice_len = mr_xcalloc(n, sizeof(size_t));
    f->r_syntax = mr_xmalloc(text);
    char *p = f->r_syntax;
    memcpy(p, lead, sizeof(lead) - 1);
    p += sizeof(lead) - 1;
    for (size_t k = 0; k < n; k++) {
        f->choice_len[k] = strlen(c[k]);
        if (k > 0) {
            memcpy(p, ", ", 2);
            p += 2;
        }
        memcpy(p, c[k], f->choice_len[k]);
        p += f->choice_len[k];
    }
    *p = '\0';
    return 0;
}

/* Bounds per type, and the texts that carry them. */
static int
compile_bounds(struct field *f, const char *what, struct mr_err *err)
{
    long long lo = f->in->min, hi = f->in->max;
    switch (f->in->type) {
    case MR_V_INT:
        if (lo > hi)
            return mr_err_set(err, -EINVAL, "%s: min %lld > max %lld", what, lo, hi);
        if (lo == 0 && hi == 0) {
            f->r_syntax = dupf("must be an integer");
        } else {
            f->r_syntax = dupf("must be an integer between %lld and %lld", lo, hi);
            f->r_range = dupf("must be between %lld and %lld", lo, hi);
        }
        return 0;
    case MR_V_STRING:
        if (lo < 0 || hi < 0)
            return mr_err_set(err, -EINVAL, "%s: negative length", what);
        if (hi != 0 && lo > hi)
            return mr_err_set(err, -EINVAL, "%s: min %lld > max %lld", what, lo, hi);
        f->r_short = dupf("must be at least %lld character%s", lo, lo == 1 ? "" : "s");
        f->r_long = dupf("must be at most %lld character%s", hi, hi == 1 ? "" : "s");
        return 0;
    default:
        if (lo != 0 || hi != 0)
            return mr_err_set(err, -EINVAL, "%s: min/max apply only to int and string", what);
        return 0;
    }
}

static int
compile_field(struct mr_valid *v, int i, struct mr_err *err)
{
    struct field *f = &v->f[i];
    const struct mr_input *in = f->in;
    char what[96];
    if ((unsigned)in->from > MR_FROM_COOKIE)
        return mr_err_set(err, -EINVAL, "input \"%s\": unknown source %d", in->name, (int)in->from);
    (void)snprintf(what, sizeof(what), "input \"%s\" (%s)", in->name, source_names[in->from]);
    if (in->name[0] == '\0')
        return mr_err_set(err, -EINVAL, "input %d: empty name", i);
    if ((unsigned)in->type > MR_V_EMAIL)
        return mr_err_set(err, -EINVAL, "%s: unknown type %d", what, (int)in->type);
    for (int k = 0; k < i; k++)
        if (v->f[k].in->from == in->from && strcmp(v->f[k].in->name, in->name) == 0)
            return mr_err_set(err, -EINVAL, "%s: declared twice", what);
    int rc = compile_bounds(f, what, err);
    if (rc != 0)
        return rc;
    if (in->pattern != NULL && in->type != MR_V_STRING)
        return mr_err_set(err, -EINVAL, "%s: a pattern applies only to strings", what);
    if (in->pattern != NULL && (rc = compile_pattern(f, what, err)) != 0)
        return rc;
    if (in->choices != NULL && in->type != MR_V_ENUM)
        return mr_err_set(err, -EINVAL, "%s: choices apply only to enums", what);
    if (in->type == MR_V_ENUM && (rc = compile_choices(f, what, err)) != 0)
        return rc;
    if (in->def == NULL)
        return 0;
    if (in->required)
        return mr_err_set(err, -EINVAL, "%s: a required input has no default", what);
    const char *why = check(f, in->def, strlen(in->def), &f->def);
    if (why != NULL)
        return mr_err_set(err, -EINVAL, "%s: default \"%s\" %s", what, in->def, why);
    f->has_def = true;
    return 0;
}

int
mr_valid_compile(const struct mr_input *inputs, struct mr_valid **out, struct mr_err *err)
{
    *out = NULL;
    if (inputs == NULL)
        return mr_err_set(err, -EINVAL, "no input table");
    int n = 0;
    while (inputs[n].name != NULL)
        n++;
    struct mr_valid *v = mr_xcalloc(1, sizeof(*v) + (size_t)n * sizeof(v->f[0]));
    v->n = n;
    for (int i = 0; i < n; i++)
        v->f[i].in = &inputs[i];
    for (int i = 0; i < n; i++) {
        int rc = compile_field(v, i, err);
        if (rc != 0) {
            mr_valid_free(&v);
            return rc;
        }
    }
    *out = v;
    return 0;
}

void
mr_valid_free(struct mr_valid **vp)
{
    struct mr_valid *v = vp != NULL ? *vp : NULL;
    if (v == NULL)
        return;
    for (int i = 0; i < v->n; i++) {
        struct field *f = &v->f[i];
        if (f->has_re)
            regfree(&f->re);
        free(f->choice_len);
        free(f->r_syntax);
        free(f->r_range);
        free(f->r_short);
        free(f->r_long);
    }
    free(v);
    *vp = NULL;
}

int
mr_valid_count(const struct mr_valid *v)
{
    return v->n;
}

int
mr_valid_index(const struct mr_valid *v, enum mr_source from, const char *name)
{
    for (int i = 0; i < v->n; i++)
        if (v->f[i].in->from == from && strcmp(v->f[i].in->name, name) == 0)
            return i;
    return -1;
}

/* One entry of the "fields" array, opening the whole body before the first one. */
static void
report(struct mr_json *j, struct mr_buf *b, bool *opened, const struct field *f, const char *reason)
{
    if (!*opened) {
        mr_json_init(j, b);
        mr_json_obj(j);
        mr_json_key(j, "error");
        mr_json_cstr(j, "invalid input");
        mr_json_key(j, "fields");
        mr_json_arr(j);
        *opened = true;
    }
    mr_json_obj(j);
    mr_json_key(j, "name");
    mr_json_cstr(j, f->in->name);
    mr_json_key(j, "in");
    mr_json_cstr(j, source_names[f->in->from]);
    mr_json_key(j, "reason");
    mr_json_cstr(j, reason);
    mr_json_obj_end(j);
}

int
mr_valid_run(const struct mr_valid *v, mr_valid_get_fn get, void *get_arg, struct mr_arena *a,
             struct mr_values *out, struct mr_buf *errors_json)
{
    *out = (struct mr_values){.v = v, .n = v->n};
    out->vals = mr_arena_calloc(a, v->n > 0 ? (size_t)v->n : 1, sizeof(struct mr_value));
    if (out->vals == NULL)
        return -ENOMEM;
    struct mr_json j;
    bool opened = false;
    for (int i = 0; i < v->n; i++) {
        const struct field *f = &v->f[i];
        struct mr_value *val = &out->vals[i];
        size_t len = 0;
        const char *s = get(get_arg, f->in->from, f->in->name, &len);
        const char *reason = NULL;
        if (s == NULL) {
            if (f->in->required)
                reason = R_REQUIRED;
            else if (f->has_def)
                *val = f->def;
            else
                val->i = f->in->type == MR_V_ENUM ? -1 : 0;
        } else {
            /* Strings are copied first: the handler gets a C string, and regexec needs one. */
            if (f->in->type == MR_V_STRING || f->in->type == MR_V_EMAIL) {
                s = mr_arena_strndup(a, s, len);
                if (s == NULL)
                    return -ENOMEM;
            }
            reason = check(f, s, len, val);
        }
        if (reason != NULL) {
            /* A bad value reads as absent; a MR_ROUTE_INPUT_ERRORS handler asks why. */
            *val = (struct mr_value){.i = f->in->type == MR_V_ENUM ? -1 : 0, .reason = reason};
            report(&j, errors_json, &opened, f, reason);
        }
    }
    if (!opened)
        return 0;
    mr_json_arr_end(&j);
    mr_json_obj_end(&j);
    return errors_json->failed ? -ENOMEM : 400;
}

/* The value of row index, asserting the row has one of the two types given. */
static const struct mr_value *
value_of(const struct mr_values *vals, int index, enum mr_vtype t1, enum mr_vtype t2)
{
    assert(index >= 0 && index < vals->n);
    enum mr_vtype t = vals->v->f[index].in->type;
    assert(t == t1 || t == t2);
    (void)t;
    (void)t1;
    (void)t2;
    return &vals->vals[index];
}

bool
mr_values_has(const struct mr_values *vals, int index)
{
    assert(index >= 0 && index < vals->n);
    return vals->vals[index].present;
}

long long
mr_values_int(const struct mr_values *vals, int index)
{
    return value_of(vals, index, MR_V_INT, MR_V_INT)->i;
}

const char *
mr_values_str(const struct mr_values *vals, int index, size_t *len)
{
    const struct mr_value *val = value_of(vals, index, MR_V_STRING, MR_V_EMAIL);
    if (len != NULL)
        *len = val->len;
    return val->s;
}

int
mr_values_enum(const struct mr_values *vals, int index)
{
    return (int)value_of(vals, index, MR_V_ENUM, MR_V_ENUM)->i;
}

bool
mr_values_bool(const struct mr_values *vals, int index)
{
    return value_of(vals, index, MR_V_BOOL, MR_V_BOOL)->i != 0;
}

const char *
mr_values_reason(const struct mr_values *vals, int index)
{
    assert(index >= 0 && index < vals->n);
    return vals->vals[index].reason;
}

int
mr_values_find(const struct mr_values *vals, const char *name)
{
    for (int i = 0; i < vals->n; i++)
        if (strcmp(vals->v->f[i].in->name, name) == 0)
            return i;
    return -1;
}
