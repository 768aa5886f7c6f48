/* SPDX-License-Identifier: BSD-2-Clause */
/* config: the one libconfig file, read into one struct mr_cfg and fully validated before the
 * first fork. Every setting has one row in the table in config.c (type, default, range,
 * meaning). An unknown setting, a wrong type or a value out of range is an error naming
 * `file:line: setting: reason`; nothing is silently replaced by a default. After fork the
 * config is read-only. */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "app/lib/err.h"
#include "app/lib/clients.h"
#include "cache/cache.h"
#include "db/db.h"

#define MR_EX_CONFIG 78 /* sysexits.h EX_CONFIG: the unit's RestartPreventExitStatus */

enum mr_pm {
    MR_PM_STATIC,
    MR_PM_DYNAMIC,
    MR_PM_ONDEMAND,
    MR_PM_ADAPTIVE,
};

/* Server-side sessions (the `sessions` group; see docs/guide.md, "Sessions and CSRF"). */
#define MR_SESSION_MAX_KEYS 8
#define MR_SESSION_KEY_MIN_BYTES 32
#define MR_SESSION_KEY_MAX_BYTES 64
struct mr_session_cfg {
    bool is_on;                      /* the group is in the file: keys were checked */
    char *keys[MR_SESSION_MAX_KEYS]; /* hex, as written; the first signs, all verify */
    int n_keys;                      /* right after keys: the settings table relies on it */
    unsigned char key[MR_SESSION_MAX_KEYS][MR_SESSION_KEY_MAX_BYTES]; /* keys[i] decoded */
    size_t key_len[MR_SESSION_MAX_KEYS];
    int ttl_s;
    char *cookie;
    int max_bytes; /* encoded size of one session's data */
};

struct mr_cfg {
    char *path; /* the file it came from */
    char *app;  /* the application module; "" = the built-in endpoints */

    /* listen socket */
    char *listen;
    char *listen_allowed_clients[MR_CLIENTS_MAX];
    int n_listen_allowed_clients;
    struct mr_clients clients; /* parsed from listen_allowed_clients; settled at start */
    int listen_backlog;
    char *listen_owner;
    char *listen_group;
    char *listen_mode_str;
    int listen_mode; /* parsed from listen_mode_str */
    char *status_listen;

    /* processes */
    char *user;
    char *group;
    bool allow_root;
    int workers; /* 0 in the file = 2 x cores + 1, resolved at load */
    char *pm_str;
    enum mr_pm pm;
    int start_servers;
    int min_spare;
    int max_spare;
    int idle_timeout_ms;
    int max_spawn_rate;
    int max_memory_mb;
    int max_requests;
    int max_requests_jitter;
    int request_terminate_timeout_ms;
    int emergency_restart_threshold;
    int emergency_restart_interval_ms;
    int process_control_timeout_ms;
    int rlimit_files;

    /* requests */
    int read_timeout_ms;
    int max_conns_per_worker;
    int conn_idle_timeout_ms;
    int request_timeout_ms;
    int max_body_bytes;
    int max_params;
    int max_params_bytes;
    int max_query_bytes;
    int max_query_params;
    int max_header_bytes;
    int arena_bytes;
    int arena_max_bytes;
    int shed_queue_depth;

    /* read-your-writes: how long the millrace_token cookie lives (app/serve/token.c) */
    int token_max_age_ms;

    /* logging */
    char *log_level_str;
    int log_level;
    bool log_timestamps;
    char *log_file;
    int slowlog_ms;

    int health_interval_ms;

    struct mr_db_cfg db;
    struct mr_cache_cfg cache;
    struct mr_session_cfg sessions;
};

/* Loads and validates `path` into cfg (caller's storage). Returns 0, -ENOENT when the file
 * cannot be read, or -EINVAL with "file:line: setting: reason" in err (cfg is then
 * finalised already). */
MR_MUST_CHECK int mr_cfg_load(struct mr_cfg *cfg, const char *path, struct mr_err *err);
/* Frees every string. Safe on a zeroed or already finalised cfg. */
void mr_cfg_fini(struct mr_cfg *cfg);
/* Writes the settings table (name, type, default, range, meaning) as a commented libconfig
 * file: the source of etc/millrace.conf and of the README's reference. */
void mr_cfg_print_reference(FILE *out);

#endif
