/* SPDX-License-Identifier: BSD-2-Clause */
/* millrace.h: everything an application sees of millrace, and all it may use.
 *
 * An application is a shared object built against this header (`pkg-config --cflags
 * millrace`, `-fPIC -shared`) that defines its routes and hooks with MR_APP (below). The
 * server loads it (config key `app`), validates it in a throwaway process, and runs its
 * handlers in a pool of worker processes: one request at a time per process, so a handler
 * needs no locks and may keep per-worker state in statics set up by its init hook.
 *
 * Memory: every pointer a function here returns, and every buffer it writes, lives in the
 * request's arena unless the comment says otherwise; it stays valid until the response has
 * been sent, and is released at once afterwards. Never free it; never keep it past the
 * request. mr_alloc gives the handler memory of the same lifetime.
 *
 * Failure: a call that can fail returns a negative errno value (or NULL) and leaves the
 * response as it was; the handler then usually returns an HTTP status (>= 400), and the
 * server answers with its uniform error page (JSON, or HTML for MR_ROUTE_HTML routes) that
 * carries the request id.
 *
 * Nothing of libfcgi, libpq, hiredis, libconfig or millrace's internals is visible here; the
 * types are opaque and the layout of the public structs is versioned by MR_API_VERSION. */
#ifndef MILLRACE_H
#define MILLRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a public struct or a function signature changes. A module records the
 * version it was built with; the server refuses a module built for another one. */
#define MR_API_VERSION 1

#if defined(__GNUC__)
#define MR_API __attribute__((visibility("default")))
#define MR_FMT(a, b) __attribute__((format(printf, a, b)))
#else
#define MR_API
#define MR_FMT(a, b)
#endif

/* One request being served. Opaque; valid only during the handler call. */
struct mr_ctx;

/* ---- Routes -------------------------------------------------------------------------- */

/* A handler fills the response and returns 0, or returns an HTTP status from 400 to 599 to
 * have the server answer its uniform error page with that status instead (whatever the
 * handler wrote is discarded). Any other return value is a 500. */
typedef int (*mr_handler_fn)(struct mr_ctx *ctx);

enum mr_route_flags {
    MR_ROUTE_NEVER_SHED = 1 << 0,   /* answered even when the server sheds load (health checks) */
    MR_ROUTE_HTML = 1 << 1,         /* error pages of this route are HTML, not JSON */
    MR_ROUTE_CSRF = 1 << 2,         /* POST, PUT, PATCH, DELETE need the session's CSRF token
                                       (Sessions, below), else 403 before the handler runs */
    MR_ROUTE_INPUT_ERRORS = 1 << 3, /* invalid inputs do not answer 400: the handler runs, the
                                       bad fields read as absent and mr_input_error tells why
                                       (a form shown again with its errors, a 422 of its own) */
    MR_ROUTE_CACHE_L1 = 1 << 4,     /* mr_cache_fetch and mr_cache_read in this route also use
                                       the worker's in-process cache, L1 (Cache, below) */
};

/* ---- Route inputs: validated before the handler runs --------------------------------- */

enum mr_source { MR_FROM_PATH, MR_FROM_QUERY, MR_FROM_FORM, MR_FROM_JSON, MR_FROM_COOKIE };

/* The rules, per type:
 *   MR_V_INT     optional '+' or '-', then decimal digits only (no spaces, no "0x"), fitting a
 *                long long (else "must be an integer", with the range when there is one);
 *                min..max inclusive, min == max == 0 meaning any value.
 *   MR_V_STRING  valid UTF-8 without NUL bytes; min..max bound the length in code points
 *                (characters, as a person counts them and as the reason says, not bytes);
 *                max == 0 means no upper bound; pattern, when set, is a POSIX ERE that must
 *                match the whole value, compiled in the C locale, where '.' matches a byte.
 *   MR_V_ENUM    exactly one of choices (case-sensitive); the value is its index.
 *   MR_V_BOOL    true/false, 1/0, on/off, yes/no, in any case.
 *   MR_V_EMAIL   at most 254 bytes; one '@'; a local part of 1..64 of A-Z a-z 0-9 and
 *                !#$%&'*+/=?^_`{|}~- with single inner dots; a domain of at least two
 *                dot-separated labels of 1..63 letters, digits and inner hyphens, the last one
 *                not all digits. No quoted local parts, IP literals or raw UTF-8 domains
 *                (punycode passes).
 * A field is absent only when get returns NULL; an empty value is present and checked. */
enum mr_vtype { MR_V_INT, MR_V_STRING, MR_V_ENUM, MR_V_BOOL, MR_V_EMAIL };

/* One row per field; a route's inputs are an array ended by MR_IN_END. When any field is
 * invalid the handler does not run: the answer is 400 with
 *   {"error":"invalid input","fields":[{"name":"id","in":"query","reason":"..."},...]}
 * naming every bad field. The handler reads the typed values with mr_input_* below. */
struct mr_input {
    const char *name;
    enum mr_source from;
    enum mr_vtype type;
    bool required;
    const char *def; /* text used when absent and not required; validated at compile */
    long long min, max;
    const char *pattern;        /* MR_V_STRING only; compiled once, anchored both ends */
    const char *const *choices; /* MR_V_ENUM only; NULL-terminated */
};

/* The last argument of each MR_IN_ macro: MR_REQUIRED, MR_OPTIONAL or MR_DEFAULT("text"). */
#define MR_REQUIRED .required = true
#define MR_OPTIONAL .required = false
#define MR_DEFAULT(text) .def = (text)

/* One line per macro reads as a row; clang-format would spread each over four. */
/* clang-format off */
#define MR_IN_INT(n, src, lo, hi, ...) \
    {.name = (n), .from = (src), .type = MR_V_INT, .min = (lo), .max = (hi), __VA_ARGS__}
#define MR_IN_STR(n, src, minlen, maxlen, re, ...) \
    {.name = (n), .from = (src), .type = MR_V_STRING, .min = (minlen), .max = (maxlen), \
     .pattern = (re), __VA_ARGS__}
#define MR_IN_ENUM(n, src, list, ...) \
    {.name = (n), .from = (src), .type = MR_V_ENUM, .choices = (list), __VA_ARGS__}
#define MR_IN_BOOL(n, src, ...) {.name = (n), .from = (src), .type = MR_V_BOOL, __VA_ARGS__}
#define MR_IN_EMAIL(n, src, ...) {.name = (n), .from = (src), .type = MR_V_EMAIL, __VA_ARGS__}
#define MR_IN_END {.name = NULL}
/* clang-format on */

/* One row of an application's route table. method is "GET", "POST", "PUT", "PATCH",
 * "DELETE" or "OPTIONS" (HEAD is answered by the GET row, without a body); pattern is the
 * path ("/users"). A table with two rows for the same method and pattern, or a row that
 * takes a path the server serves itself (/healthz, /readyz, /status, /metrics), is refused
 * at load with both rows named. */
struct mr_route {
    const char *method;
    const char *pattern;
    mr_handler_fn handler;
    unsigned flags;                /* enum mr_route_flags */
    const struct mr_input *inputs; /* validated before the handler; NULL: none */
};

/* A row: MR_ROUTE("GET", "/users", list_users), or with options after the handler:
 * MR_ROUTE("POST", "/users", add_user, .inputs = user_fields, .flags = MR_ROUTE_HTML). */
#define MR_ROUTE(m, p, h, ...)                                                                     \
    {                                                                                              \
        .method = (m), .pattern = (p), .handler = (h), __VA_ARGS__                                 \
    }

/* ---- The application ------------------------------------------------------------------ */

/* One SQL statement of the application, prepared on every database connection of every
 * worker. sql takes its parameters as $1..$n; they are passed as text and the server infers
 * their types (cast where it cannot: `$1::int[]`). A handler names a statement by its index
 * in mr_app.statements. is_write: the statement changes data, so mr_sql_read and
 * mr_batch_read refuse it (they may run on a replica). name (unique, non-empty) is for
 * messages. At load, every statement is prepared once on the primary: one the server refuses
 * refuses the module, with its name and the server's reason. */
struct mr_statement {
    const char *name;
    const char *sql;
    bool is_write;
};

/* What the init hook learns about the worker it runs in. */
struct mr_worker_info {
    int worker;           /* the worker's slot, 0..workers-1 (for logs) */
    const char *app_path; /* the module's file as configured */
};

/* A template compiled into the module (see "HTML templates" below). */
struct mr_template {
    const char *name; /* what mr_render names it by, and partials include it by */
    const char *text;
};

/* An application: what the module's entry point returns. Static data of the module. */
struct mr_app {
    unsigned api_version; /* MR_API_VERSION when built; MR_APP sets it */
    const char *name;     /* short, for logs and /status */
    const char *version;  /* the application's own version, e.g. "1.4.2" */
    const struct mr_route *routes;
    size_t n_routes;
    /* Optional. Runs in each worker after fork, before its first request (open files, warm
     * caches). Returns 0, or a negative errno: the worker exits and the module is refused. */
    int (*init)(const struct mr_worker_info *w);
    /* Optional. Runs in each worker before it exits normally. */
    void (*fini)(void);
    /* Optional HTML templates: compiled-in ones, and a folder of NAME.mustache / NAME.html
     * files (relative to the module's own folder), compiled together once at load; a syntax
     * error refuses the module with `template:line: reason`. */
    const struct mr_template *templates;
    size_t n_templates;
    const char *templates_dir;
    /* Optional. The statements the handlers run (Data, below). */
    const struct mr_statement *statements;
    size_t n_statements;
};

/* The symbols a module exports; MR_APP defines both. The server reads the version first and
 * calls the entry point only when it matches. */
#define MR_APP_ENTRY "millrace_app"
#define MR_APP_VERSION_SYMBOL "millrace_app_api_version"

/* Declares the module's application: MR_APP(.name = "site", .routes = routes,
 * .n_routes = sizeof(routes) / sizeof(routes[0]), .init = site_init). */
#define MR_APP(...)                                                                                \
    MR_API const unsigned millrace_app_api_version = MR_API_VERSION;                               \
    MR_API const struct mr_app *millrace_app(void);                                                \
    const struct mr_app *millrace_app(void)                                                        \
    {                                                                                              \
        static const struct mr_app app = {.api_version = MR_API_VERSION, __VA_ARGS__};             \
        return &app;                                                                               \
    }

/* ---- The request ---------------------------------------------------------------------- */

/* "GET", "POST", ...; HEAD requests report "HEAD" and run the GET handler. */
MR_API const char *mr_method(const struct mr_ctx *ctx);
/* The path, without the query string, as nginx sent it (DOCUMENT_URI). Sets *len if not
 * NULL. */
MR_API const char *mr_path(const struct mr_ctx *ctx, size_t *len);
/* The decoded value of the first query parameter `name`, or NULL when absent. Repeated keys
 * are kept: mr_query_at gives the i-th value (0-based) of `name`, or NULL past the last. */
MR_API const char *mr_query(const struct mr_ctx *ctx, const char *name);
MR_API const char *mr_query_at(const struct mr_ctx *ctx, const char *name, size_t i);
/* A request header by its HTTP name ("User-Agent"), or NULL. Case-insensitive. */
MR_API const char *mr_header(const struct mr_ctx *ctx, const char *name);
/* The raw body (NUL-terminated for convenience) and its length, or NULL when none. Bodies
 * larger than max_body_bytes never reach the handler (413). */
MR_API const char *mr_body(const struct mr_ctx *ctx, size_t *len);
/* nginx's $request_id (sent as the REQUEST_ID param), or "-". In every error page and log
 * line of the request. */
MR_API const char *mr_request_id(const struct mr_ctx *ctx);
/* Whether the client connection is HTTPS (nginx's HTTPS param is "on"). */
MR_API bool mr_is_https(const struct mr_ctx *ctx);
/* The client's address as nginx saw it (REMOTE_ADDR), or "". */
MR_API const char *mr_remote_addr(const struct mr_ctx *ctx);

/* A path parameter of the route's pattern ({id} in /users/{id}): decoded, NUL-terminated;
 * NULL when the pattern has no such name. mr_path_param_int gives an {id:int}'s value (0
 * for another kind). Declare it as an input (MR_FROM_PATH) to have it validated. */
MR_API const char *mr_path_param(const struct mr_ctx *ctx, const char *name);
MR_API long long mr_path_param_int(const struct mr_ctx *ctx, const char *name);

/* Form fields of an application/x-www-form-urlencoded or multipart/form-data body (parsed
 * before the handler runs; a malformed body or one over the limits answers 400, 413 or 415
 * with millrace's error page): the first value of name, or the i-th of a repeated name;
 * NULL when absent. */
MR_API const char *mr_field(const struct mr_ctx *ctx, const char *name);
MR_API const char *mr_field_at(const struct mr_ctx *ctx, const char *name, size_t i);

/* A file of a multipart/form-data body (the part named `name` with a filename), or NULL.
 * Files up to 64 KiB are in memory (data); larger ones are in an unlinked temporary file
 * (fd, at offset 0, data NULL) that millrace closes after the response. */
struct mr_upload {
    const char *filename;     /* as the client sent it: never use it as a path */
    const char *content_type; /* NULL when the part had none */
    const char *data;
    size_t size;
    int fd; /* -1 when the file is in memory */
};
MR_API const struct mr_upload *mr_upload(struct mr_ctx *ctx, const char *name);

/* A member of an application/json body (an object or array, parsed before the handler;
 * duplicate keys, nesting deeper than 32 and bodies over max_body_bytes answer 400 or 413),
 * by a dotted path ("user.name", "items.0.qty"). Each returns 0 with *out set, -ENOENT when
 * absent (or no JSON body), -EINVAL when the value has another type. Strings live until the
 * response is sent. */
MR_API int mr_json_get_str(const struct mr_ctx *ctx, const char *path, const char **out);
MR_API int mr_json_get_int(const struct mr_ctx *ctx, const char *path, long long *out);
MR_API int mr_json_get_bool(const struct mr_ctx *ctx, const char *path, bool *out);
MR_API int mr_json_get_double(const struct mr_ctx *ctx, const char *path, double *out);

/* The value of the request's cookie `name` (RFC 6265; malformed pairs are skipped), or
 * NULL. */
MR_API const char *mr_cookie(struct mr_ctx *ctx, const char *name);

/* The validated inputs of the route (struct mr_route's inputs), by name. An absent optional
 * field without a default reads as 0, NULL, -1 or false; mr_input_has tells it apart.
 * Asking for a name the route does not declare, or for another type, reads as absent. */
MR_API bool mr_input_has(const struct mr_ctx *ctx, const char *name);
MR_API long long mr_input_int(const struct mr_ctx *ctx, const char *name);
/* MR_V_STRING and MR_V_EMAIL: NUL-terminated; *len set when not NULL. */
MR_API const char *mr_input_str(const struct mr_ctx *ctx, const char *name, size_t *len);
/* MR_V_ENUM: the index of the value in choices, or -1. */
MR_API int mr_input_enum(const struct mr_ctx *ctx, const char *name);
MR_API bool mr_input_bool(const struct mr_ctx *ctx, const char *name);
/* On a MR_ROUTE_INPUT_ERRORS route: why the field's value is invalid (the reason the 400 would
 * have given, e.g. "must be at most 200 characters"; it lives as long as the module), or NULL when
 * it is valid, absent and optional, or not declared. mr_input_errors counts the invalid fields (0:
 * the handler may trust every mr_input_*). The raw text stays readable with mr_field,
 * mr_json_get_str or mr_query, to show it again. Elsewhere both read as valid. */
MR_API const char *mr_input_error(const struct mr_ctx *ctx, const char *name);
MR_API int mr_input_errors(const struct mr_ctx *ctx);

/* ---- The response --------------------------------------------------------------------- */

/* The status (default 200). Values outside 100..599 become 500. */
MR_API void mr_set_status(struct mr_ctx *ctx, int status);
/* The Content-Type (default "text/plain; charset=utf-8"). The string must outlive the
 * request (a literal) or come from mr_alloc. */
MR_API void mr_set_type(struct mr_ctx *ctx, const char *content_type);
/* Adds a header line. Returns 0, or -EINVAL when the name is not a token or the name or
 * value holds CR, LF or NUL (nothing is added: no input can split the response). */
MR_API int mr_add_header(struct mr_ctx *ctx, const char *name, const char *value);
/* Appends bytes to the body. A body past the arena's ceiling turns the response into a 500;
 * these calls never fail otherwise. */
MR_API void mr_write(struct mr_ctx *ctx, const void *data, size_t len);
MR_API void mr_writef(struct mr_ctx *ctx, const char *fmt, ...) MR_FMT(2, 3);
/* Appends s[0..len) with & < > " ' escaped for HTML text and attribute values. */
MR_API void mr_write_html(struct mr_ctx *ctx, const char *s, size_t len);
/* A redirect: status 301, 302, 303, 307 or 308 (303 after a POST), Location: location.
 * Returns 0, or -EINVAL for another status or a location holding CR, LF or NUL. */
MR_API int mr_redirect(struct mr_ctx *ctx, int status, const char *location);
/* Sets ETag: "<tag>" (tag: printable ASCII without '"') and answers 304 Not Modified,
 * without a body, when the request's If-None-Match lists it (or is "*"). Returns true when
 * the response is now a 304 and the handler should return 0 without writing a body. */
MR_API bool mr_etag(struct mr_ctx *ctx, const char *tag);
/* Set-Cookie with safe defaults: Path=/, HttpOnly, SameSite=Lax, and Secure when the
 * request came over HTTPS (nginx's HTTPS param). opts may be NULL. Returns 0, or -EINVAL
 * (nothing set) for a name that is not a token, a value outside RFC 6265's cookie-octets
 * (percent-encode it), a path or domain with ';' or control bytes, SameSite=None without
 * HTTPS, or a __Secure-/__Host- name without what its prefix requires. */
enum mr_same_site { MR_SAME_SITE_LAX = 0, MR_SAME_SITE_STRICT, MR_SAME_SITE_NONE };
struct mr_cookie_options {
    const char *path;   /* NULL: "/" */
    const char *domain; /* NULL: this host only */
    bool has_max_age;   /* send Max-Age=max_age_s (0 deletes the cookie) */
    long long max_age_s;
    enum mr_same_site same_site;
    bool script_visible; /* leave out HttpOnly: JavaScript may read it */
};
MR_API int mr_set_cookie(struct mr_ctx *ctx, const char *name, const char *value,
                         const struct mr_cookie_options *opts);
/* Answers millrace's error page (as a handler's returned status does) with a message of the
 * handler's own: fixed text, never client input or a backend's reason (log those with
 * mr_logf). status outside 400..599 becomes 500. Returns 0, so `return mr_error(...)`. */
MR_API int mr_error(struct mr_ctx *ctx, int status, const char *message);
/* Cache-Control: value ("no-store", "public, max-age=60"). Returns 0 or -EINVAL. */
MR_API int mr_cache_control(struct mr_ctx *ctx, const char *value);

/* ---- JSON ------------------------------------------------------------------------------ */

/* A streaming JSON writer into the body. mr_json_begin sets Content-Type application/json
 * and returns the request's writer (in the arena; never NULL). Calls must nest correctly:
 * key before every value inside an object. Strings are escaped and must be UTF-8. */
struct mr_jw;
MR_API struct mr_jw *mr_json_begin(struct mr_ctx *ctx);
MR_API void mr_jw_object(struct mr_jw *j);
MR_API void mr_jw_object_end(struct mr_jw *j);
MR_API void mr_jw_array(struct mr_jw *j);
MR_API void mr_jw_array_end(struct mr_jw *j);
MR_API void mr_jw_key(struct mr_jw *j, const char *key);
MR_API void mr_jw_string(struct mr_jw *j, const char *s);
MR_API void mr_jw_stringn(struct mr_jw *j, const char *s, size_t len);
MR_API void mr_jw_int(struct mr_jw *j, long long v);
MR_API void mr_jw_bool(struct mr_jw *j, bool v);
MR_API void mr_jw_null(struct mr_jw *j);

/* ---- Cache (Redis) --------------------------------------------------------------------- */

/* Redis in front of the database: cache-aside in one call (mr_cache_fetch), invalidation
 * after a write (mr_cache_stale, mr_cache_replace), and the two primitives under them
 * (mr_cache_read, mr_cache_write). Keys are the application's (the configured
 * cache.key_prefix is added); values are its bytes, any bytes, stored in an envelope that
 * carries XFetch's inputs (a value another program wrote under the prefix reads as a miss).
 * Every call is bounded by cache.command_timeout_ms and the request's deadline; a Redis that
 * failed is skipped by its breaker and a reconnect backoff, so an outage costs a request at
 * most one timeout, and the next requests none.
 *
 * L1: in a route flagged MR_ROUTE_CACHE_L1, mr_cache_fetch and mr_cache_read first look in
 * the worker's own in-process cache (cache.l1_bytes per worker; 0: off), and only the keys
 * it lacks go to Redis; values read from Redis fill it, until their Redis expiry. Redis keeps
 * it coherent (client-side caching: every key it read is invalidated when anyone changes it),
 * and every lookup first applies the invalidations received, so once a write's request has
 * answered, no L1 serves the replaced value later than the invalidation's delivery (well
 * under a millisecond on loopback; docs/guide.md, "L1", states and tests 50 ms). This
 * worker's own mr_cache_stale and mr_cache_replace drop its copy at the call. When the
 * invalidation connection is lost, L1 is flushed and unused until it is back. An L1 hit is
 * a copy in the arena like a Redis hit (hit is true). */

/* One key of a cache call. */
struct mr_cache_entry {
    const char *key; /* borrowed for the call */
    size_t key_len;
    const char *value; /* read: in the arena, NULL on a miss; write: the bytes to store */
    size_t value_len;
    bool hit;     /* read: found */
    bool refresh; /* read: a hit that early refresh (XFetch) turned into a miss: recompute it
                     and write it back (a write then replaces it even with if_absent) */
};

/* The loader of mr_cache_fetch: sets value and value_len of each of the n misses (pointers
 * into the caller's entries, in their order, so `misses[k] - entries` is the index) from the
 * source, typically with one mr_batch_read (one pipelined round trip to a replica). A value
 * must live until the response is sent (mr_alloc memory, or static); a miss left NULL is
 * absent (no such row): it is not stored, and the next call asks the loader again (store an
 * empty or marker value to cache an absence). Returns 0, or an HTTP status (>= 400) that
 * becomes mr_cache_fetch's. arg is mr_cache_fetch's. */
typedef int (*mr_cache_load_fn)(struct mr_ctx *ctx, struct mr_cache_entry **misses, size_t n,
                                void *arg);

/* Cache-aside in one call: the n keys are read from Redis in one round trip (MGET); the
 * loader runs ONCE with every miss (early refreshes included), unless every key was a hit;
 * what it loaded is written back in one round trip (SET NX, so a fill from a replica that
 * has not yet replayed a write cannot overwrite the writer's new value; an early refresh
 * overwrites the value it read, and only that one: if an update masked or replaced the key
 * while the loader ran, the update's stays), with ttl_ms (0: cache.ttl_ms) plus or minus
 * cache.ttl_jitter_pct, and the loader's time recorded for XFetch. Afterwards every entry holds its
 * value (hit: from Redis, in the arena; else the loader's, NULL when absent). When Redis is down,
 * slow or behind an open breaker, every key is a miss, the loader answers them all, nothing is
 * written back, and the call still returns 0: the answer is as correct as the loader's. Hits and
 * misses are counted for /metrics. Returns 0, the loader's status when it fails (nothing is then
 * written to Redis), or 500 (no entries array or loader, a negative ttl_ms, the arena's
 * ceiling). n == 0 returns 0 without calling anything. */
MR_API int mr_cache_fetch(struct mr_ctx *ctx, struct mr_cache_entry *entries, size_t n, int ttl_ms,
                          mr_cache_load_fn load, void *arg);

/* Invalidation after a write. Call these once the write has committed (mr_sql_write or
 * mr_batch_commit returned 0): mr_cache_replace overwrites the key with the value the write
 * gave it (ttl_ms as above); mr_cache_stale masks it for db.max_replica_lag_ms plus
 * request_timeout_ms: reads miss and ask the loader, whose fill is not stored, so a replica
 * that has not yet replayed the write cannot put the old value back for a whole TTL (a plain
 * delete could not stop that; a replaced value does too, since fills are SET NX). Neither
 * sends anything: they queue on
 * the request (key and value are copied into the arena, so the caller's buffers may go), and
 * after the handler returns, before the response leaves, every queued key of the request
 * goes to Redis in ONE round trip, in the order queued, whatever status the handler answered
 * (the data changed). If Redis fails then, the request's answer stands, a log line
 * (event=cache_invalidation_failed) says so, and the old copies live until their TTL, so keep
 * the TTL of data that must not be stale for long short. Returns 0, or 500 (no key, a
 * negative ttl_ms, the arena's ceiling; nothing queued). */
MR_API int mr_cache_stale(struct mr_ctx *ctx, const char *key, size_t key_len);
MR_API int mr_cache_replace(struct mr_ctx *ctx, const char *key, size_t key_len, const void *value,
                            size_t value_len, int ttl_ms);

/* The primitives. mr_cache_read reads n keys in one round trip (MGET), under the request's
 * deadline. Returns 0, or 503 when Redis failed or is skipped by its breaker: every entry is
 * then a miss and the handler serves from the source, as it would on a cold cache; 500 at
 * the arena's ceiling (entries untouched). Hits and misses are counted for /metrics. */
MR_API int mr_cache_read(struct mr_ctx *ctx, struct mr_cache_entry *entries, size_t n);
/* Writes n entries in one round trip, now, each with cache.ttl_ms plus or minus the jitter.
 * compute_us is how long producing the values took (early refresh weighs it); if_absent
 * stores only keys that do not exist (a fill after a miss must not overwrite a fresher value
 * an update wrote meanwhile); an entry marked `refresh` is stored even if present, unless
 * the key holds a mask (mr_cache_stale) by then. Returns 0, or 503 when Redis failed (the
 * answer is unchanged: a cache write is best effort). */
MR_API int mr_cache_write(struct mr_ctx *ctx, const struct mr_cache_entry *entries, size_t n,
                          long long compute_us, bool if_absent);

/* ---- Sessions -------------------------------------------------------------------------- */

/* Server-side sessions in Redis, on when the config has a `sessions` group (keys, ttl_s,
 * cookie, max_bytes). A session is a small map of string keys (1 to 64 bytes) to string
 * values, found by a random 256-bit id in a signed cookie (HMAC-SHA256 under
 * sessions.keys; HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS, Max-Age=ttl_s).
 *
 * Nothing is read until a handler asks: the first call of a request reads the session in
 * one Redis round trip (GETEX, which also restarts its ttl_s: sliding expiry); changes are
 * stored once, after the handler returns, in one round trip, and only when there are any.
 * A missing or tampered cookie, an expired session, data that does not decode and Redis down
 * all read as an empty session (the last two with a log line), never as an error; when Redis
 * failed at the read, the request's changes are not stored (logged), so that data that
 * could not be read is never replaced. Strings returned live in the request's arena. */

/* The value of key in the request's session, or NULL (absent; no session; sessions off). */
MR_API const char *mr_session_get(struct mr_ctx *ctx, const char *key);
/* Sets key to value (both copied), starting a session (and its cookie) when there is none.
 * Returns 0, or 413 when the session would pass sessions.max_bytes (its stored size: keys,
 * values and 7 bytes per entry) or 256 keys, or 500 for a key that is empty or over 64
 * bytes, sessions off, or the arena's ceiling; nothing is changed then, and the reason goes
 * to the request's log line. */
MR_API int mr_session_set(struct mr_ctx *ctx, const char *key, const char *value);
/* Removes key. Returns 0, or 500 when sessions are off. */
MR_API int mr_session_del(struct mr_ctx *ctx, const char *key);
/* Gives the session a new id, keeping its data; the old id is deleted from Redis. Call it
 * when the user signs in (or their privileges change), so that an id known before is
 * worthless after. The CSRF token changes with the id. Returns 0 or 500 (sessions off). */
MR_API int mr_session_regenerate(struct mr_ctx *ctx);
/* Ends the session (sign-out): its data is deleted from Redis and the cookie expired. A set
 * afterwards in the same request starts a new session. Returns 0 or 500 (sessions off). */
MR_API int mr_session_destroy(struct mr_ctx *ctx);
/* The session's CSRF token: 43 URL-safe characters, HMAC(key, session id), to put in a
 * form's hidden `csrf_token` field or send as the X-CSRF-Token header. Starts a session (a
 * cookie, nothing stored) when there is none. It costs no Redis round trip. NULL when
 * sessions are off. A route with MR_ROUTE_CSRF refuses a POST, PUT, PATCH or DELETE whose
 * token is missing or wrong with 403 (the uniform error page) before its handler runs. */
MR_API const char *mr_csrf_token(struct mr_ctx *ctx);

/* ---- HTML templates ------------------------------------------------------------------- */

/* A small mustache: {{name}} (HTML-escaped), {{{name}}} or {{& name}} (raw), dotted names,
 * {{.}}, sections {{#list}}...{{/list}} (once per item, or once when true), inverted
 * sections {{^name}}...{{/name}}, partials {{> other}}, comments {{! ... }}; no delimiter
 * changes, no lambdas (docs/templates.md). A template renders a view: a tree of values the
 * handler builds in the request arena. Strings and keys are borrowed: they must live until
 * the response is sent (literals, request strings, or mr_alloc memory). */
struct mr_view;
/* A new empty object or list in the arena, or NULL past its ceiling. */
MR_API struct mr_view *mr_view_object(struct mr_ctx *ctx);
MR_API struct mr_view *mr_view_list(struct mr_ctx *ctx);
/* obj[key] = a string, integer or boolean. Returns 0, or -ENOMEM past the arena's ceiling,
 * or -EINVAL when obj is NULL or not an object (so a failed constructor is caught here). */
MR_API int mr_view_set_string(struct mr_view *obj, const char *key, const char *s, size_t len);
MR_API int mr_view_set_int(struct mr_view *obj, const char *key, long long v);
MR_API int mr_view_set_bool(struct mr_view *obj, const char *key, bool v);
/* A new empty object or list set as obj[key], or appended to list; NULL on failure. */
MR_API struct mr_view *mr_view_set_object(struct mr_view *obj, const char *key);
MR_API struct mr_view *mr_view_set_list(struct mr_view *obj, const char *key);
MR_API struct mr_view *mr_view_push_object(struct mr_view *list);
/* Renders the application's template `name` with root into the body, and sets the type to
 * text/html; charset=utf-8 unless the handler set one. Returns 0, or 500 (no such template,
 * NULL root, the arena's ceiling, nesting too deep), the reason in the log line. */
MR_API int mr_render(struct mr_ctx *ctx, const char *name, const struct mr_view *root);

/* ---- millrace's own pages ------------------------------------------------------------- */

/* The pages millrace serves on /status, /metrics and /readyz, for an application that also
 * serves them on a path of its own (behind its own access control, say). */
enum mr_server_page {
    MR_PAGE_STATUS,    /* php-fpm's fields; options MR_PAGE_JSON, MR_PAGE_FULL */
    MR_PAGE_METRICS,   /* Prometheus text format */
    MR_PAGE_READINESS, /* every backend's state as JSON; 503 when no database is reachable */
};
enum mr_server_page_options { MR_PAGE_JSON = 1 << 0, MR_PAGE_FULL = 1 << 1 };
/* Writes the page into the body and sets its Content-Type (and status for readiness). */
MR_API void mr_server_page(struct mr_ctx *ctx, enum mr_server_page page, unsigned options);
/* ---- Data ------------------------------------------------------------------------------ */

/* PostgreSQL, through the application's statements (mr_app.statements): reads go to a
 * replica whose lag is under the limit (round-robin, then the primary when configured),
 * writes to the primary; each call is one round trip, bounded by the request's deadline and
 * db.query_timeout_ms, and a failed backend is skipped by the circuit breakers.
 *
 * Every call below returns 0, or an HTTP status the handler can return as is:
 *   503  no usable backend (down, breaker open, connection lost)
 *   504  the deadline or a timeout passed (the server's statement_timeout included)
 *   409  a unique violation (SQLSTATE 23505)
 *   422  a foreign-key, check or not-null violation (23503, 23514, 23502)
 *   500  any other error: the server refused the statement, a bad statement index or
 *        parameter count, a write statement given to a read call, the arena's ceiling.
 * The reason (the server's message, the backend, the statement's name) goes to the
 * request's log line, never to the response.
 *
 * Parameters are text (NULL for SQL NULL), read during the call only. Results are copied
 * into the request's arena as they arrived (in binary for a statement whose columns are all
 * integers, booleans and strings, else in the server's text form: the accessors read
 * either): every pointer from them is valid until the response has been sent. */

/* One statement's result: rows of columns. Opaque; in the request's arena. */
struct mr_rows;

/* Runs statement stmt with n_params parameters on a replica (or the primary, as above) and
 * sets *out. Refuses (500) an is_write statement. */
MR_API int mr_sql_read(struct mr_ctx *ctx, int stmt, const char *const *params, int n_params,
                       struct mr_rows **out);
/* Runs statement stmt (any, read or write) on the primary, in a transaction of its own, and
 * sets *out. 0 means committed. */
MR_API int mr_sql_write(struct mr_ctx *ctx, int stmt, const char *const *params, int n_params,
                        struct mr_rows **out);

/* A batch: statements sent together in ONE pipelined round trip on one backend. */
struct mr_batch;
/* A new, empty batch in the arena, or NULL past the arena's ceiling. */
MR_API struct mr_batch *mr_batch_begin(struct mr_ctx *ctx);
/* Adds statement stmt. The params array is copied; the strings it points to are borrowed
 * and must stay valid until mr_batch_read or mr_batch_commit returns (arena memory or the
 * handler's own buffers). Returns 0 or 500 (a bad index, the arena's ceiling, b NULL); a
 * batch whose add failed fails as a whole, with that status, when run. */
MR_API int mr_batch_add(struct mr_batch *b, int stmt, const char *const *params, int n_params);
/* Runs the batch's statements, all reads, on one backend chosen like mr_sql_read; out[i]
 * (an array of at least as many pointers as statements added) is the result of the i-th. */
MR_API int mr_batch_read(struct mr_batch *b, struct mr_rows **out);
/* Runs BEGIN, the batch's statements (reads and writes) and COMMIT on the primary in one
 * round trip. Returns 0 only when the COMMIT succeeded (any failure rolls it all back);
 * out[i] as for mr_batch_read. A batch runs once: read or commit it only once. */
MR_API int mr_batch_commit(struct mr_batch *b, struct mr_rows **out);

/* Transactions. mr_batch_commit and mr_txn re-run a transaction that failed with a
 * serialization failure or a deadlock (SQLSTATE 40001, 40P01: another transaction won a
 * conflict, and the same work may well succeed now), at most db.txn_retries times (default 3)
 * after a short random wait (db.txn_retry_backoff_ms, doubled per retry), and never past the
 * request's deadline. Still failing, they return 503: the request was valid, the conflict is
 * transient, and the same request sent again may succeed, which is what 503 tells a client or
 * proxy (409 tells it that the request itself conflicts, as a duplicate key does, and must
 * change); the log line names the conflict ("serialization failure" or "deadlock") and how
 * many attempts were made. The
 * data calls above return 503 for 40001 and 40P01 too, without retrying. */
enum mr_isolation {
    MR_READ_COMMITTED = 0, /* the default: each statement sees what committed before it */
    MR_REPEATABLE_READ,    /* one snapshot for the transaction; a concurrent update: 40001 */
    MR_SERIALIZABLE,       /* as if the transactions had run one after another */
};
/* The isolation level of a batch's mr_batch_commit (MR_READ_COMMITTED when never called).
 * Returns 0, or 500 for another value or b NULL (the commit then fails with it). */
MR_API int mr_batch_isolation(struct mr_batch *b, enum mr_isolation isolation);

/* A transaction in progress, handed to mr_txn's callback. Opaque; valid during the call. */
struct mr_txn;
typedef int (*mr_txn_fn)(struct mr_txn *t, void *arg);
/* Runs fn(t, arg) in one transaction on the primary, for statements that depend on each
 * other's results (an INSERT ... RETURNING id, then a statement that uses the id). fn runs
 * statements with mr_txn_run; they run on ONE primary connection, held until the end. fn
 * returns 0 to commit, anything else to roll back. A serialization failure or deadlock (inside
 * fn or at the COMMIT) rolls back and runs fn again from the start, as above, so fn must be
 * re-runnable: no effects outside the database (no response writes, no cache writes, no
 * counters), and nothing kept from a run that did not commit. Do those after mr_txn returns 0.
 * Inside fn, the other data calls (mr_sql_*, mr_batch_read, mr_batch_commit, a nested mr_txn)
 * refuse with 500; cache calls work. Each run is bounded by db.query_timeout_ms and the
 * request's deadline, and the server stops a statement at the deadline, so the connection
 * stays usable.
 * Returns 0 when committed; fn's own value when fn returned non-zero and nothing failed in
 * the database (rolled back); else the status of the failure, as for the data calls (503
 * after the last retry). Results of runs are in the arena, valid until the response is sent,
 * also those of attempts that were re-run (use only those of the run that committed). */
MR_API int mr_txn(struct mr_ctx *ctx, enum mr_isolation isolation, mr_txn_fn fn, void *arg);
/* Runs statement stmt (read or write) inside t, one round trip, and sets *out; parameters as
 * for mr_sql_write (read during the call only). Returns 0 or a status as mr_sql_write's; after a
 * failure the transaction is aborted: every later run returns the same status, and fn should return
 * it (mr_txn rolls back, and re-runs fn when the failure was a serialization failure). */
MR_API int mr_txn_run(struct mr_txn *t, int stmt, const char *const *params, int n_params,
                      struct mr_rows **out);
/* Runs batch b (from mr_batch_begin, with its mr_batch_add calls) inside t in one round trip,
 * out[i] the result of the i-th statement; as mr_txn_run otherwise. A batch runs once. */
MR_API int mr_txn_batch(struct mr_txn *t, struct mr_batch *b, struct mr_rows **out);
/* The request t runs for (for mr_alloc, mr_logf). */
MR_API struct mr_ctx *mr_txn_ctx(struct mr_txn *t);

/* Rows in a result, columns per row (0 for a statement that returns no rows, like an
 * UPDATE without RETURNING), and rows the statement changed (INSERT, UPDATE, DELETE; for a
 * SELECT the rows returned). A NULL r counts 0. */
MR_API size_t mr_rows_count(const struct mr_rows *r);
MR_API int mr_rows_columns(const struct mr_rows *r);
MR_API long long mr_rows_affected(const struct mr_rows *r);
/* Whether the value at row, col (0-based) is SQL NULL; also true when row or col is out of
 * range. */
MR_API bool mr_rows_null(const struct mr_rows *r, size_t row, int col);
/* The value of an int2, int4 or int8 column (any value whose text is a decimal integer);
 * 0 when NULL, out of range, or not an integer. */
MR_API long long mr_rows_int(const struct mr_rows *r, size_t row, int col);
/* Any column's text form (as psql shows it), NUL-terminated, owned by the result; *len (if
 * not NULL) is its length. NULL when the value is SQL NULL or out of range. */
MR_API const char *mr_rows_text(const struct mr_rows *r, size_t row, int col, size_t *len);
/* A boolean column: true for the server's "t"; false otherwise, NULL and out of range too. */
MR_API bool mr_rows_bool(const struct mr_rows *r, size_t row, int col);
/* A float4, float8 or numeric column (strtod of its text; NaN and Infinity as such); 0 when
 * NULL, out of range, or not a number. */
MR_API double mr_rows_float(const struct mr_rows *r, size_t row, int col);

/* Read-your-writes, without a timer: every call that commits (mr_sql_write, mr_batch_commit)
 * also reads the commit's WAL position on the same connection, in the same round trip, and the
 * response carries it as a token: the header `X-Millrace-Token: 0/16B3748` and the cookie
 * millrace_token (HttpOnly, SameSite=Lax, Path=/, Secure under HTTPS, Max-Age from
 * db.token_max_age_ms). A request presenting the token (the header wins over the cookie) has
 * its reads run only on a replica that has replayed that position, else on the primary; so do
 * the reads after a commit in the same request. Without a token, reads go as above. A
 * malformed X-Millrace-Token header answers 400 before the handler runs; a malformed cookie
 * is ignored (and logged). Nothing for a handler to do but, when it wants to: */

/* Where a result was read: "primary" or "replica" (NULL for a NULL r). */
MR_API const char *mr_rows_source(const struct mr_rows *r);
/* The token of this request's commits so far (the text the response will carry, in the
 * arena), or NULL when nothing has committed. */
MR_API const char *mr_token(struct mr_ctx *ctx);

/* ---- Memory, randomness, logging ------------------------------------------------------ */

/* n bytes from the request arena (aligned for any type, not zeroed), or NULL past the
 * arena's ceiling (arena_max_bytes). Released after the response. */
MR_API void *mr_alloc(struct mr_ctx *ctx, size_t n);
/* Zeroed n * size bytes, or NULL on overflow or past the ceiling. */
MR_API void *mr_calloc(struct mr_ctx *ctx, size_t n, size_t size);
/* A NUL-terminated copy of s[0..len) in the arena, or NULL. */
MR_API char *mr_strndup(struct mr_ctx *ctx, const char *s, size_t len);

/* Monotonic time in microseconds (for measuring, e.g. mr_cache_write's compute_us). */
MR_API int64_t mr_now_us(void);

/* A uniform random integer in lo..hi (inclusive), from the worker's generator (seeded per
 * worker; not for secrets). */
MR_API int32_t mr_random(struct mr_ctx *ctx, int32_t lo, int32_t hi);

enum mr_level { MR_ERROR = 3, MR_WARNING = 4, MR_INFO = 6, MR_DEBUG = 7 };
/* One logfmt line: `event=<event> request_id=<id> route=<path> ` then the formatted
 * key=value pairs (values with spaces must be quoted by the caller). ctx may be NULL
 * (outside a request, e.g. in init). */
MR_API void mr_logf(const struct mr_ctx *ctx, enum mr_level level, const char *event,
                    const char *fmt, ...) MR_FMT(4, 5);

#ifdef __cplusplus
}
#endif

#endif
