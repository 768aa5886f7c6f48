/* SPDX-License-Identifier: BSD-2-Clause */
/* config: the settings table and the loader. The table is the single source of truth: the
 * loader applies its defaults and ranges, refuses anything not in it, and
 * mr_cfg_print_reference prints it (that output is etc/millrace.conf, and a unit test checks
 * that the shipped sample matches it). */
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/lib/arena.h"
#include "app/config/config.h"
#include "app/lib/hex.h"
#include "app/lib/log.h"

enum type { T_INT, T_BOOL, T_STR, T_STRS, T_FLOAT };

struct spec {
    const char *path; /* "db.primary" */
    enum type type;
    size_t off;
    long long lo, hi; /* T_INT range */
    long long def;    /* T_INT, T_BOOL default */
    const char *sdef; /* T_STR default; T_FLOAT default as text */
    const char *help;
};

#define F(field) offsetof(struct mr_cfg, field)
#define INT(p, f, d, lo, hi, h)                                                                    \
    {                                                                                              \
        p, T_INT, F(f), lo, hi, d, NULL, h                                                         \
    }
#define BOOL(p, f, d, h)                                                                           \
    {                                                                                              \
        p, T_BOOL, F(f), 0, 1, d, NULL, h                                                          \
    }
#define STR(p, f, d, h)                                                                            \
    {                                                                                              \
        p, T_STR, F(f), 0, 0, 0, d, h                                                              \
    }
#define STRS(p, f, h) STRS_N(p, f, MR_DB_MAX_REPLICAS, h)
/* A list of at most n strings: the field is `char *[n]`, followed at once by its int count. */
#define STRS_N(p, f, n, h)                                                                         \
    {                                                                                              \
        p, T_STRS, F(f), 0, n, 0, NULL, h                                                          \
    }
_Static_assert(offsetof(struct mr_cfg, db.n_replicas) ==
                   offsetof(struct mr_cfg, db.replicas) + MR_DB_MAX_REPLICAS * sizeof(char *),
               "db.n_replicas must follow db.replicas");
_Static_assert(offsetof(struct mr_cfg, sessions.n_keys) ==
                   offsetof(struct mr_cfg, sessions.keys) + MR_SESSION_MAX_KEYS * sizeof(char *),
               "sessions.n_keys must follow sessions.keys");
_Static_assert(offsetof(struct mr_cfg, n_listen_allowed_clients) ==
                   offsetof(struct mr_cfg, listen_allowed_clients) +
                       MR_CLIENTS_MAX * sizeof(char *),
               "n_listen_allowed_clients must follow listen_allowed_clients");
#define FLOAT(p, f, d, h)                                                                          \
    {                                                                                              \
        p, T_FLOAT, F(f), 0, 0, 0, d, h                                                            \
    }
#define MS_DAY 86400000LL

static const struct spec specs[] = {
    STR("app", app, "",
        "The application module (.so) to serve; a relative path is relative to this file's "
        "folder. \"\" = the built-in TechEmpower endpoints."),
    STR("listen", listen, "unix:/run/millrace/millrace.sock",
        "FastCGI socket: \"unix:/path\", \"127.0.0.1:9000\" or \"[::1]:9000\". Ignored when a "
        "socket is inherited from systemd (LISTEN_FDS) or spawn-fcgi (fd 0)."),
    STRS_N("listen_allowed_clients", listen_allowed_clients, MR_CLIENTS_MAX,
           "TCP listeners: the addresses or CIDR ranges (IPv4, IPv6) that may connect, or "
           "[\"any\"]; others are closed at accept. Empty: loopback only on a loopback listener; "
           "a listener on any other address refuses to start without a list."),
    INT("listen_backlog", listen_backlog, 4096, 1, 65535,
        "listen(2) backlog (the kernel caps it at net.core.somaxconn): a burst waits here "
        "instead of nginx answering 502 at once."),
    STR("listen_owner", listen_owner, "", "Owner of a unix socket (user name); \"\" = unchanged."),
    STR("listen_group", listen_group, "", "Group of a unix socket; \"\" = unchanged."),
    STR("listen_mode", listen_mode_str, "0660", "Mode of a unix socket, octal."),
    STR("status_listen", status_listen, "",
        "Socket on which the manager itself answers /status and /metrics, even when every "
        "worker is busy; \"\" = off. Same forms as listen."),
    STR("user", user, "", "Run workers as this user (when started as root)."),
    STR("group", group, "", "Run workers as this group; \"\" = the user's primary group."),
    BOOL("allow_root", allow_root, 0, "Allow workers to run as root. Off: refused."),
    INT("workers", workers, 0, 0, 4096,
        "Worker processes (pm = static), or the ceiling max_children of the other modes. 0 = "
        "2 x cores + 1."),
    STR("pm", pm_str, "static", "Process manager: static, dynamic, ondemand or adaptive."),
    INT("start_servers", start_servers, 0, 0, 4096,
        "dynamic: workers at start; 0 = (min_spare + max_spare) / 2."),
    INT("min_spare", min_spare, 1, 0, 4096, "dynamic: fewest idle workers."),
    INT("max_spare", max_spare, 3, 1, 4096, "dynamic: most idle workers."),
    INT("idle_timeout_ms", idle_timeout_ms, 10000, 100, MS_DAY,
        "ondemand/adaptive: an idle worker above the minimum exits after this long."),
    INT("max_spawn_rate", max_spawn_rate, 32, 1, 1024, "Most workers started per second."),
    INT("max_memory_mb", max_memory_mb, 0, 0, 1048576,
        "adaptive: stop growing when the workers' RSS sum passes this; 0 = no budget."),
    INT("max_requests", max_requests, 0, 0, INT_MAX,
        "Recycle a worker after this many requests; 0 = never."),
    INT("max_requests_jitter", max_requests_jitter, 0, 0, INT_MAX,
        "Add 0..this to max_requests per worker, so workers do not recycle together."),
    INT("request_terminate_timeout_ms", request_terminate_timeout_ms, 30000, 0, MS_DAY,
        "Kill and replace a worker stuck in one request this long; 0 = never."),
    INT("emergency_restart_threshold", emergency_restart_threshold, 0, 0, 100000,
        "Restart all workers when this many crash within emergency_restart_interval_ms; 0 = off."),
    INT("emergency_restart_interval_ms", emergency_restart_interval_ms, 60000, 1000, MS_DAY,
        "Window for emergency_restart_threshold."),
    INT("process_control_timeout_ms", process_control_timeout_ms, 10000, 0, MS_DAY,
        "Graceful stop and reload: wait this long for in-flight requests, then SIGKILL."),
    INT("rlimit_files", rlimit_files, 0, 0, 1048576, "RLIMIT_NOFILE for workers; 0 = inherited."),
    INT("read_timeout_ms", read_timeout_ms, 10000, 100, MS_DAY,
        "Longest read of one request, and longest a new connection may stay silent."),
    INT("max_conns_per_worker", max_conns_per_worker, 64, 1, 4096,
        "FastCGI connections one worker holds at once (nginx's fastcgi_keep_conn); it serves "
        "whichever is readable."),
    INT("conn_idle_timeout_ms", conn_idle_timeout_ms, 75000, 1000, MS_DAY,
        "Close a kept FastCGI connection idle this long; keep nginx's upstream "
        "keepalive_timeout below it, so that nginx closes first."),
    INT("request_timeout_ms", request_timeout_ms, 5000, 10, MS_DAY,
        "Budget of one request: every Redis and PostgreSQL call gets what is left of it."),
    INT("max_body_bytes", max_body_bytes, 1048576, 0, INT_MAX, "Larger request bodies get 413."),
    INT("max_params", max_params, 256, 8, 65536,
        "Most FastCGI params (headers included) per request; more gets 431."),
    INT("max_params_bytes", max_params_bytes, 65536, 1024, 16777216,
        "Most bytes of FastCGI params per request; more gets 431."),
    INT("max_query_bytes", max_query_bytes, 4096, 16, 1048576, "Longer query strings get 414."),
    INT("max_query_params", max_query_params, 64, 1, 4096, "More query parameters get 400."),
    INT("max_header_bytes", max_header_bytes, 8192, 64, 1048576, "A longer header value gets 431."),
    INT("arena_bytes", arena_bytes, 65536, 4096, 16777216,
        "First block of each worker's request arena, kept between requests."),
    INT("arena_max_bytes", arena_max_bytes, 16777216, 65536, INT_MAX,
        "Most memory one request may use; past it the request gets 500."),
    INT("shed_queue_depth", shed_queue_depth, 0, 0, 1000000,
        "When this many connections wait in the listen queue, answer 503 with Retry-After at "
        "once; 0 = off."),
    STR("log.level", log_level_str, "info", "err, warning, info or debug."),
    BOOL("log.timestamps", log_timestamps, 0, "Add ts= to each line (journald adds its own)."),
    INT("log.slow_ms", slowlog_ms, 1000, 0, MS_DAY, "Log requests slower than this; 0 = off."),
    STR("log.file", log_file, "",
        "Append log lines to this file instead of stderr; SIGUSR1 reopens it (logrotate). "
        "\"\" = stderr, for journald."),
    INT("health.interval_ms", health_interval_ms, 500, 50, 600000,
        "How often the prober checks Redis and every PostgreSQL backend."),
    STR("db.primary", db.primary, "host=127.0.0.1 port=5432 dbname=millrace user=millrace",
        "libpq connection string of the primary: writes, and reads when no replica is usable."),
    STRS("db.replicas", db.replicas, "libpq connection strings of the read replicas (at most 8)."),
    INT("db.connect_timeout_ms", db.connect_timeout_ms, 1000, 10, 600000, "Connect timeout."),
    INT("db.query_timeout_ms", db.query_timeout_ms, 2000, 10, 600000,
        "Longest wait for one call (also the server's statement_timeout)."),
    INT("db.max_replica_lag_ms", db.max_replica_lag_ms, 1000, 0, MS_DAY,
        "Replicas further behind the primary than this get no reads."),
    BOOL("db.reads_fallback_to_primary", db.reads_fallback_to_primary, 1,
         "When no replica is usable, read from the primary (else answer 503)."),
    INT("db.reconnect_backoff_ms", db.reconnect_backoff_ms, 100, 1, 600000,
        "First wait before reconnecting a failed connection; doubles up to the max."),
    INT("db.reconnect_backoff_max_ms", db.reconnect_backoff_max_ms, 5000, 1, 600000,
        "Longest wait between reconnects."),
    INT("db.breaker_failures", db.breaker.failures, 5, 1, 1000,
        "Consecutive failures that open a backend's circuit breaker."),
    INT("db.breaker_cooldown_ms", db.breaker.cooldown_ms, 2000, 10, 600000,
        "How long an open breaker skips the backend before one request probes it."),
    INT("db.txn_retries", db.txn_retries, 3, 0, 10,
        "Re-runs of a transaction (mr_txn, mr_batch_commit) after a serialization failure or a "
        "deadlock (SQLSTATE 40001, 40P01), within the request's deadline; 0 = none."),
    INT("db.txn_retry_backoff_ms", db.txn_retry_backoff_ms, 5, 0, 1000,
        "Wait before the first re-run, doubled for each next one; each wait is uniform "
        "between half of it and all of it, so that colliding requests part."),
    INT("db.token_max_age_ms", token_max_age_ms, 30000, 1000, MS_DAY,
        "Read-your-writes: Max-Age of the millrace_token cookie a write sets (rounded up to "
        "seconds). Reads presenting it go only to a replica that has replayed that write. "
        "Keep it above max_replica_lag_ms plus a few health intervals."),
    STR("cache.host", cache.host, "127.0.0.1", "Redis host, or a unix socket path."),
    INT("cache.port", cache.port, 6379, 1, 65535, "Redis port."),
    INT("cache.connect_timeout_ms", cache.connect_timeout_ms, 200, 1, 600000, "Connect timeout."),
    INT("cache.command_timeout_ms", cache.command_timeout_ms, 200, 1, 600000, "Command timeout."),
    STR("cache.key_prefix", cache.key_prefix, "mr:", "Prefix of every key."),
    INT("cache.ttl_ms", cache.ttl_ms, 300000, 1, MS_DAY * 30, "Time to live of cached rows."),
    INT("cache.ttl_jitter_pct", cache.ttl_jitter_pct, 10, 0, 50,
        "Each TTL is ttl_ms plus or minus up to this percentage, so keys do not expire together."),
    FLOAT("cache.xfetch_beta", cache.xfetch_beta, "1.0",
          "Early-refresh eagerness (XFetch); 0 = off, 1 = the paper's default."),
    INT("cache.reconnect_backoff_ms", cache.reconnect_backoff_ms, 100, 1, 600000,
        "First wait before reconnecting; doubles up to the max."),
    INT("cache.reconnect_backoff_max_ms", cache.reconnect_backoff_max_ms, 2000, 1, 600000,
        "Longest wait between reconnects."),
    INT("cache.breaker_failures", cache.breaker.failures, 3, 1, 1000,
        "Consecutive failures that open Redis's circuit breaker."),
    INT("cache.breaker_cooldown_ms", cache.breaker.cooldown_ms, 1000, 10, 600000,
        "How long an open breaker skips Redis before one request probes it."),
    INT("cache.l1_bytes", cache.l1_bytes, 2097152, 0, 1073741824,
        "Each worker's in-process cache (L1) in front of Redis, for routes flagged "
        "MR_ROUTE_CACHE_L1: one block of this many bytes, kept coherent by Redis's "
        "invalidations (CLIENT TRACKING); 0 = off, else at least 65536."),
    INT("cache.l1_slot_bytes", cache.l1_slot_bytes, 128, 64, 65536,
        "Room of one L1 entry: key, value and a 48-byte header; larger entries stay in Redis "
        "only."),
    STRS_N("sessions.keys", sessions.keys, MR_SESSION_MAX_KEYS,
           "Server-side sessions are on when this group is present, and then need at least one "
           "key: 64 to 128 hex digits (32 to 64 bytes; `openssl rand -hex 32`). The first signs "
           "new cookies; every one listed verifies them, so rotate by putting a new key first "
           "and removing the old one after sessions.ttl_s."),
    INT("sessions.ttl_s", sessions.ttl_s, 1209600, 60, 31536000,
        "A session unused this long expires; each request that reads it starts the time again."),
    STR("sessions.cookie", sessions.cookie, "millrace_session", "Name of the session cookie."),
    INT("sessions.max_bytes", sessions.max_bytes, 4096, 64, 1048576,
        "Most bytes of one session's data (keys, values and 7 bytes per entry); a set past it "
        "fails with 413."),
};
#define N_SPECS (sizeof(specs) / sizeof(specs[0]))

static const struct spec *
spec_find(const char *path)
{
    for (size_t i = 0; i < N_SPECS; i++)
        if (strcmp(specs[i].path, path) == 0)
            return &specs[i];
    return NULL;
}

static bool
is_group_prefix(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < N_SPECS; i++)
        if (strncmp(specs[i].path, path, n) == 0 && specs[i].path[n] == '.')
            return true;
    return false;
}

static int
fail(struct mr_err *err, const struct mr_cfg *cfg, const config_setting_t *s, const char *path,
     const char *reason)
{
    int line = s ? config_setting_source_line(s) : 0;
    if (line > 0)
        return mr_err_set(err, -EINVAL, "%s:%d: %s: %s", cfg->path, line, path, reason);
    return mr_err_set(err, -EINVAL, "%s: %s: %s", cfg->path, path, reason);
}

static void
set_defaults(struct mr_cfg *cfg)
{
    for (size_t i = 0; i < N_SPECS; i++) {
        const struct spec *sp = &specs[i];
        void *field = (char *)cfg + sp->off;
        switch (sp->type) {
        case T_INT:
            *(int *)field = (int)sp->def;
            break;
        case T_BOOL:
            *(bool *)field = sp->def != 0;
            break;
        case T_STR:
            *(char **)field = mr_xstrdup(sp->sdef);
            break;
        case T_FLOAT:
            *(double *)field = strtod(sp->sdef, NULL);
            break;
        case T_STRS:
            break; /* empty list */
        }
    }
}

static int
apply_strs(struct mr_cfg *cfg, const struct spec *sp, const config_setting_t *s, struct mr_err *err)
{
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
        return fail(err, cfg, s, sp->path, "expected a list of strings, like [ \"...\" ]");
    int n = config_setting_length(s);
    if (n > sp->hi) {
        char reason[64];
        (void)snprintf(reason, sizeof(reason), "too many entries (at most %lld)", sp->hi);
        return fail(err, cfg, s, sp->path, reason);
    }
    /* The field is `char *[sp->hi]` followed by the count (STRS_N). */
    char **v = (char **)((char *)cfg + sp->off);
    int *count = (int *)(v + sp->hi);
    for (int i = 0; i < n; i++) {
        const char *str = config_setting_get_string_elem(s, i);
        if (str == NULL)
            return fail(err, cfg, s, sp->path, "every entry must be a string");
        v[i] = mr_xstrdup(str);
        *count = i + 1;
    }
    return 0;
}

static int
apply(struct mr_cfg *cfg, const struct spec *sp, const config_setting_t *s, struct mr_err *err)
{
    void *field = (char *)cfg + sp->off;
    int t = config_setting_type(s);
    char reason[160];
    switch (sp->type) {
    case T_INT: {
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return fail(err, cfg, s, sp->path, "expected an integer");
        long long v = config_setting_get_int64(s);
        if (v < sp->lo || v > sp->hi) {
            (void)snprintf(reason, sizeof(reason), "%lld is out of range %lld..%lld", v, sp->lo,
                           sp->hi);
            return fail(err, cfg, s, sp->path, reason);
        }
        *(int *)field = (int)v;
        return 0;
    }
    case T_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return fail(err, cfg, s, sp->path, "expected true or false");
        *(bool *)field = config_setting_get_bool(s) != 0;
        return 0;
    case T_STR:
        if (t != CONFIG_TYPE_STRING)
            return fail(err, cfg, s, sp->path, "expected a string in double quotes");
        free(*(char **)field);
        *(char **)field = mr_xstrdup(config_setting_get_string(s));
        return 0;
    case T_FLOAT:
        if (t != CONFIG_TYPE_FLOAT && t != CONFIG_TYPE_INT)
            return fail(err, cfg, s, sp->path, "expected a number");
        *(double *)field =
            t == CONFIG_TYPE_FLOAT ? config_setting_get_float(s) : config_setting_get_int(s);
        if (*(double *)field < 0 || *(double *)field > 100)
            return fail(err, cfg, s, sp->path, "out of range 0..100");
        return 0;
    case T_STRS:
        return apply_strs(cfg, sp, s, err);
    }
    return 0;
}

/* Walks every setting in the file: each must be in the table (or a group of them). */
static int
walk(struct mr_cfg *cfg, const config_setting_t *group, const char *prefix, struct mr_err *err)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char path[128];
        (void)snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "",
                       config_setting_name(s));
        const struct spec *sp = spec_find(path);
        int rc;
        if (sp != NULL)
            rc = apply(cfg, sp, s, err);
        else if (config_setting_type(s) == CONFIG_TYPE_GROUP && is_group_prefix(path))
            rc = walk(cfg, s, path, err);
        else
            rc = fail(err, cfg, s, path, "unknown setting");
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
refuse(struct mr_err *err, const struct mr_cfg *cfg, const config_t *lc, const char *path,
       const char *reason)
{
    return fail(err, cfg, config_lookup(lc, path), path, reason);
}

/* A relative `app` names a file beside the config, wherever millrace was started from. */
static int
resolve_app(struct mr_cfg *cfg)
{
    if (*cfg->app == '\0' || *cfg->app == '/')
        return 0;
    const char *slash = strrchr(cfg->path, '/');
    if (slash == NULL)
        return 0; /* the config is in the working directory: so is the module */
    int dir_len = (int)(slash - cfg->path);
    size_t n = (size_t)dir_len + 1 + strlen(cfg->app) + 1;
    char *full = mr_xmalloc(n);
    (void)snprintf(full, n, "%.*s/%s", dir_len, cfg->path, cfg->app);
    free(cfg->app);
    cfg->app = full;
    return 0;
}

/* Decodes sessions.keys[i] into sessions.key[i]; a reason for a key that cannot sign. */
static const char *
decode_key(struct mr_session_cfg *s, int i)
{
    const char *hex = s->keys[i];
    size_t n = strlen(hex);
    if (n == 0)
        return "is empty (64 to 128 hex digits, e.g. from `openssl rand -hex 32`)";
    for (size_t j = 0; j < n; j++)
        if (mr_hex_digit((unsigned char)hex[j]) < 0)
            return "is not hex (64 to 128 hex digits, e.g. from `openssl rand -hex 32`)";
    if (n % 2 != 0)
        return "has an odd number of hex digits";
    if (n / 2 < MR_SESSION_KEY_MIN_BYTES)
        return "is too short: at least 32 bytes (64 hex digits)";
    if (n / 2 > MR_SESSION_KEY_MAX_BYTES)
        return "is too long: at most 64 bytes (128 hex digits)";
    for (size_t j = 0; j < n / 2; j++)
        s->key[i][j] = (unsigned char)(mr_hex_digit((unsigned char)hex[2 * j]) * 16 +
                                       mr_hex_digit((unsigned char)hex[2 * j + 1]));
    s->key_len[i] = n / 2;
    return NULL;
}

/* Sessions are on exactly when the group is in the file; then their keys must be usable, so
 * that a typo in a key is refused at start and not discovered as signed-out users. */
static int
check_sessions(struct mr_cfg *cfg, const config_t *lc, struct mr_err *err)
{
    struct mr_session_cfg *s = &cfg->sessions;
    s->is_on = config_lookup(lc, "sessions") != NULL;
    if (!s->is_on)
        return 0;
    if (s->n_keys == 0)
        return refuse(err, cfg, lc,
                      config_lookup(lc, "sessions.keys") ? "sessions.keys" : "sessions",
                      "sessions need at least one key in sessions.keys (64 to 128 hex digits)");
    for (int i = 0; i < s->n_keys; i++) {
        const char *why = decode_key(s, i);
        if (why != NULL) {
            char reason[160];
            (void)snprintf(reason, sizeof(reason), "key %d %s", i + 1, why);
            return refuse(err, cfg, lc, "sessions.keys", reason);
        }
    }
    bool is_token = *s->cookie != '\0';
    for (const unsigned char *p = (const unsigned char *)s->cookie; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p) != NULL)
            is_token = false;
    if (!is_token)
        return refuse(err, cfg, lc, "sessions.cookie", "must be a cookie name (an HTTP token)");
    return 0;
}

static int
check_values(struct mr_cfg *cfg, const config_t *lc, struct mr_err *err)
{
    char *end;
    long mode = strtol(cfg->listen_mode_str, &end, 8);
    if (*cfg->listen_mode_str == '\0' || *end != '\0' || mode < 0 || mode > 07777)
        return refuse(err, cfg, lc, "listen_mode", "expected an octal mode like \"0660\"");
    cfg->listen_mode = (int)mode;
    if (*cfg->listen == '\0')
        return refuse(err, cfg, lc, "listen", "must not be empty");
    struct mr_err why;
    if (mr_clients_parse((const char *const *)cfg->listen_allowed_clients,
                         cfg->n_listen_allowed_clients, &cfg->clients, &why) < 0)
        return refuse(err, cfg, lc, "listen_allowed_clients", why.msg);
    if (mr_log_level_parse(cfg->log_level_str, (enum mr_log_level *)&cfg->log_level) < 0)
        return refuse(err, cfg, lc, "log.level", "expected err, warning, info or debug");
    static const char *pms[] = {"static", "dynamic", "ondemand", "adaptive"};
    cfg->pm = (enum mr_pm) - 1;
    for (size_t i = 0; i < 4; i++)
        if (strcmp(cfg->pm_str, pms[i]) == 0)
            cfg->pm = (enum mr_pm)i;
    if ((int)cfg->pm < 0)
        return refuse(err, cfg, lc, "pm", "expected static, dynamic, ondemand or adaptive");
    if (cfg->workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = 2 * (int)(cores > 0 ? cores : 1) + 1;
    }
    if (cfg->min_spare > cfg->max_spare)
        return refuse(err, cfg, lc, "min_spare", "must not exceed max_spare");
    if (cfg->start_servers == 0)
        cfg->start_servers = (cfg->min_spare + cfg->max_spare) / 2;
    if (cfg->pm == MR_PM_DYNAMIC) { /* the other modes do not start or keep spares this way */
        if (cfg->max_spare > cfg->workers)
            return refuse(err, cfg, lc, "max_spare", "must not exceed workers (max_children)");
        if (cfg->start_servers > cfg->workers)
            return refuse(err, cfg, lc, "start_servers", "must not exceed workers (max_children)");
    }
    if (cfg->db.reconnect_backoff_ms > cfg->db.reconnect_backoff_max_ms)
        return refuse(err, cfg, lc, "db.reconnect_backoff_ms", "must not exceed the max");
    if (cfg->cache.reconnect_backoff_ms > cfg->cache.reconnect_backoff_max_ms)
        return refuse(err, cfg, lc, "cache.reconnect_backoff_ms", "must not exceed the max");
    if (cfg->cache.l1_bytes > 0 && cfg->cache.l1_bytes < 65536)
        return refuse(err, cfg, lc, "cache.l1_bytes", "must be 0 (off) or at least 65536");
    if (*cfg->db.primary == '\0')
        return refuse(err, cfg, lc, "db.primary", "must not be empty");
    if (cfg->arena_max_bytes < cfg->arena_bytes)
        return refuse(err, cfg, lc, "arena_max_bytes", "must not be below arena_bytes");
    int rc = check_sessions(cfg, lc, err);
    if (rc < 0)
        return rc;
    return resolve_app(cfg);
}

int
mr_cfg_load(struct mr_cfg *cfg, const char *path, struct mr_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->path = mr_xstrdup(path);
    set_defaults(cfg);
    config_t lc;
    config_init(&lc);
    int rc = 0;
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
            rc = mr_err_set(err, -ENOENT, "%s: cannot read: %s", path, strerror(errno));
        else
            rc = mr_err_set(err, -EINVAL, "%s:%d: syntax error: %s",
                            config_error_file(&lc) ? config_error_file(&lc) : path,
                            config_error_line(&lc), config_error_text(&lc));
        goto out;
    }
    rc = walk(cfg, config_root_setting(&lc), "", err);
    if (rc == 0)
        rc = check_values(cfg, &lc, err);
out:
    config_destroy(&lc);
    if (rc < 0)
        mr_cfg_fini(cfg);
    return rc;
}

void
mr_cfg_fini(struct mr_cfg *cfg)
{
    for (size_t i = 0; i < N_SPECS; i++) {
        void *field = (char *)cfg + specs[i].off;
        if (specs[i].type == T_STR) {
            free(*(char **)field);
            *(char **)field = NULL;
        }
    }
    for (size_t i = 0; i < N_SPECS; i++) {
        if (specs[i].type != T_STRS)
            continue;
        char **v = (char **)((char *)cfg + specs[i].off);
        int *count = (int *)(v + specs[i].hi);
        for (int j = 0; j < *count; j++) {
            free(v[j]);
            v[j] = NULL;
        }
        *count = 0;
    }
    explicit_bzero(cfg->sessions.key, sizeof(cfg->sessions.key));
    free(cfg->path);
    cfg->path = NULL;
}

static void
print_help(FILE *out, const char *indent, const char *help)
{
    /* Wrap at about 90 columns so the sample stays readable. */
    const char *p = help;
    while (*p) {
        size_t room = 88 - strlen(indent);
        size_t n = strlen(p);
        if (n > room) {
            n = room;
            while (n > 0 && p[n] != ' ')
                n--;
            if (n == 0)
                n = room;
        }
        (void)fprintf(out, "%s# %.*s\n", indent, (int)n, p);
        p += n;
        while (*p == ' ')
            p++;
    }
}

void
mr_cfg_print_reference(FILE *out)
{
    (void)fputs(
        "# millrace configuration (libconfig syntax). Every setting is shown commented out with\n"
        "# its default; uncomment to change. Unknown settings and out-of-range values are\n"
        "# refused with file:line. Check a file with: millrace -t -c FILE\n",
        out);
    char group[32] = "";
    for (size_t i = 0; i < N_SPECS; i++) {
        const struct spec *sp = &specs[i];
        const char *dot = strchr(sp->path, '.');
        char this_group[32] = "";
        if (dot != NULL)
            (void)snprintf(this_group, sizeof(this_group), "%.*s", (int)(dot - sp->path), sp->path);
        if (strcmp(group, this_group) != 0) {
            if (*group)
                (void)fputs("# };\n", out);
            if (*this_group)
                (void)fprintf(out, "\n# %s = {\n", this_group);
            memcpy(group, this_group, sizeof(group));
        }
        const char *indent = dot ? "  " : "";
        const char *name = dot ? dot + 1 : sp->path;
        (void)fputs("\n", out);
        print_help(out, indent, sp->help);
        switch (sp->type) {
        case T_INT:
            (void)fprintf(out, "%s# %s = %lld;   (%lld..%lld)\n", indent, name, sp->def, sp->lo,
                          sp->hi);
            break;
        case T_BOOL:
            (void)fprintf(out, "%s# %s = %s;\n", indent, name, sp->def ? "true" : "false");
            break;
        case T_STR:
            (void)fprintf(out, "%s# %s = \"%s\";\n", indent, name, sp->sdef);
            break;
        case T_FLOAT:
            (void)fprintf(out, "%s# %s = %s;\n", indent, name, sp->sdef);
            break;
        case T_STRS:
            (void)fprintf(out, "%s# %s = [ ];\n", indent, name);
            break;
        }
    }
    if (*group)
        (void)fputs("# };\n", out);
}
