/* SPDX-License-Identifier: BSD-2-Clause */
/* main: the command line. Loads and validates the config (exit 78 on error), opens or
 * inherits the listening socket, drops privileges, then runs the manager — or, when
 * spawn-fcgi handed us a listening fd 0 (no LISTEN_FDS, not under systemd), runs as a single
 * worker, because spawn-fcgi -F N makes the N processes itself. The application module is
 * checked in a throwaway child first (exit 78 with "file: reason" when it is refused). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config/config.h"
#include "app/serve/listen.h"
#include "app/lib/log.h"
#include "app/module/module.h"
#include "app/scaffold/scaffold.h"
#include "app/supervise/manager.h"
#include "app/lib/notify.h"
#include "app/supervise/privs.h"
#include "app/board/scoreboard.h"
#include "db/db.h"
#include "app/serve/worker.h"
#include "handlers/handlers.h"

#ifndef MR_VERSION
#define MR_VERSION "0.1.0"
#endif

static void
usage(FILE *out)
{
    (void)fputs("usage: millrace [-c FILE] [-t] [--print-config] [--version] [--help]\n"
                "       millrace new DIR [--port N]   create an application to start from\n"
                "       millrace migrate [-c FILE] [--timeout-ms N] DIR\n"
                "                      apply DIR's *.sql files not yet applied, in name order\n"
                "  -c, --config FILE   configuration file (default /etc/millrace/millrace.conf)\n"
                "  -t, --test          check the configuration and exit (0 valid, 78 invalid)\n"
                "      --print-config  print every setting with its default and meaning, and exit\n"
                "  -v, --version       print the version and exit\n"
                "  -h, --help          this text\n"
                "Signals: TERM/INT stop now, QUIT stops gracefully, HUP/USR2 reload the config.\n",
                out);
}

/* -t: the allow-list rule for a configured TCP listen address (an inherited socket is
 * checked when it is inherited, at start). */
static int
check_listen_clients(const struct mr_cfg *cfg, struct mr_err *err)
{
    const char *addrs[2] = {cfg->listen, cfg->status_listen};
    const char *names[2] = {"listen", "status_listen"};
    for (int i = 0; i < 2; i++) {
        if (*addrs[i] == '\0' || strncmp(addrs[i], "unix:", 5) == 0)
            continue;
        struct sockaddr_storage ss;
        socklen_t len;
        struct mr_clients c = cfg->clients;
        if (mr_listen_inet_addr(addrs[i], &ss, &len, err) < 0 ||
            mr_clients_for_listener(&c, (struct sockaddr *)&ss, names[i], err) < 0)
            return -EINVAL;
    }
    return 0;
}

static int
run_single_worker(struct mr_cfg *cfg, struct mr_listen *l)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(cfg->db.n_replicas, &err);
    if (sb == NULL) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        return 1;
    }
    struct mr_served served;
    if (mr_served_open(cfg->app, mr_techempower_app(), mr_ops_table, mr_ops_count, &served, &err) <
        0) {
        char q[MR_ERR_LEN + 8];
        mr_log(MR_LOG_ERR, "start_failed", "err=%s", mr_log_quote(q, sizeof(q), err.msg));
        mr_sb_free(&sb);
        return MR_EX_CONFIG;
    }
    atomic_store(&sb->workers[0].pid, getpid());
    mr_mgr_label_routes(sb, served.routes, served.n_routes);
    mr_log(MR_LOG_INFO, "started", "pid=%d mode=single_worker listen=fd0 app=%s", getpid(),
           served.app->name);
    struct mr_worker_args a = {.cfg = cfg,
                               .sb = sb,
                               .slot = 0,
                               .me = &sb->workers[0],
                               .listen_fd = l->fd,
                               .clients = &l->clients,
                               .routes = served.routes,
                               .n_routes = served.n_routes,
                               .router = served.router,
                               .app = served.app,
                               .templates = served.templates,
                               .inputs = served.inputs,
                               .is_pool = true};
    int rc = mr_worker_run(&a);
    mr_served_close(&served);
    mr_sb_free(&sb);
    return rc;
}

/* `millrace new DIR [--port N]`. */
static int
run_new(int argc, char **argv)
{
    int port = 8081;
    const char *dir = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end != '\0' || p < 1 || p > 65535) {
                (void)fprintf(stderr, "millrace new: --port %s: expected 1..65535\n", argv[i]);
                return 64;
            }
            port = (int)p;
        } else if (dir == NULL && argv[i][0] != '-') {
            dir = argv[i];
        } else {
            (void)fprintf(stderr, "millrace new: unexpected argument '%s'\n", argv[i]);
            return 64;
        }
    }
    if (dir == NULL) {
        usage(stderr);
        return 64;
    }
    struct mr_err err;
    if (mr_scaffold_new(dir, port, &err) < 0) {
        (void)fprintf(stderr, "millrace new: %s\n", err.msg);
        return 73; /* EX_CANTCREAT */
    }
    (void)printf("millrace new: created %s\n  cd %s && make && make run\n", dir, dir);
    return 0;
}

static void
say_applied(const char *name, void *arg)
{
    (void)arg;
    (void)printf("millrace migrate: applied %s\n", name);
    (void)fflush(stdout);
}

/* `millrace migrate [-c FILE] [--timeout-ms N] DIR`: exit 0, 1 (a file or the primary
 * failed), 64 (usage) or 78 (the config). */
static int
run_migrate(int argc, char **argv)
{
    const char *path = "/etc/millrace/millrace.conf", *dir = NULL;
    long timeout_ms = 60000;
    for (int i = 2; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
            char *end;
            timeout_ms = strtol(argv[++i], &end, 10);
            if (*end != '\0' || timeout_ms < 1 || timeout_ms > 86400000) {
                (void)fprintf(stderr, "millrace migrate: --timeout-ms %s: expected 1..86400000\n",
                              argv[i]);
                return 64;
            }
        } else if (dir == NULL && argv[i][0] != '-') {
            dir = argv[i];
        } else {
            (void)fprintf(stderr, "millrace migrate: unexpected argument '%s'\n", argv[i]);
            return 64;
        }
    }
    if (dir == NULL) {
        usage(stderr);
        return 64;
    }
    struct mr_cfg cfg;
    struct mr_err err;
    if (mr_cfg_load(&cfg, path, &err) < 0) {
        (void)fprintf(stderr, "millrace migrate: %s\n", err.msg);
        return MR_EX_CONFIG;
    }
    int rc = mr_db_migrate(&cfg.db, dir, (int)timeout_ms, say_applied, NULL, &err);
    mr_cfg_fini(&cfg);
    if (rc != 0) {
        (void)fprintf(stderr, "millrace migrate: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "new") == 0)
        return run_new(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
        return run_migrate(argc, argv);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"print-config", no_argument, NULL, 'P'}, {NULL, 0, NULL, 0},
    };
    const char *path = "/etc/millrace/millrace.conf";
    bool test_only = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:tvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test_only = true;
            break;
        case 'v':
            (void)printf("millrace %s\n", MR_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'P':
            mr_cfg_print_reference(stdout);
            return 0;
        default:
            usage(stderr);
            return 64; /* EX_USAGE */
        }
    }
    if (optind != argc) {
        (void)fprintf(stderr, "millrace: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 64;
    }
    struct mr_cfg cfg;
    struct mr_err err;
    if (mr_cfg_load(&cfg, path, &err) < 0) {
        (void)fprintf(stderr, "millrace: %s\n", err.msg);
        return MR_EX_CONFIG;
    }
    if (test_only) {
        if (check_listen_clients(&cfg, &err) < 0) {
            (void)fprintf(stderr, "millrace: %s\n", err.msg);
            mr_cfg_fini(&cfg);
            return MR_EX_CONFIG;
        }
        /* At start the manager checks the module itself, after privileges are dropped. */
        if (*cfg.app != '\0' && mr_module_check(cfg.app, mr_ops_table, mr_ops_count, &cfg.db,
                                                MR_MODULE_CHECK_MS, &err) < 0) {
            (void)fprintf(stderr, "millrace: %s\n", err.msg);
            mr_cfg_fini(&cfg);
            return MR_EX_CONFIG;
        }
        if (*cfg.app != '\0' && err.msg[0] != '\0')
            (void)fprintf(stderr, "millrace: warning: %s\n", err.msg);
        struct mr_served served;
        struct mr_router *status_router = NULL;
        if ((*cfg.app == '\0' && mr_served_open("", mr_techempower_app(), mr_ops_table,
                                                mr_ops_count, &served, &err) < 0) ||
            mr_routes_compile(mr_status_table, mr_status_count, &status_router, &err) < 0) {
            (void)fprintf(stderr, "millrace: %s\n", err.msg);
            mr_cfg_fini(&cfg);
            return MR_EX_CONFIG;
        }
        if (*cfg.app == '\0')
            mr_served_close(&served);
        mr_router_free(&status_router);
        if (*cfg.app != '\0')
            (void)printf("millrace: %s: application ok\n", cfg.app);
        (void)printf("millrace: %s: configuration ok\n", path);
        mr_cfg_fini(&cfg);
        return 0;
    }
    mr_log_setup((enum mr_log_level)cfg.log_level, cfg.log_timestamps);
    int lrc = mr_log_reopen(cfg.log_file);
    if (lrc < 0) {
        (void)fprintf(stderr, "millrace: log.file %s: %s\n", cfg.log_file, strerror(-lrc));
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    if (mr_privs_give(cfg.log_file, &cfg, &err) < 0) {
        (void)fprintf(stderr, "millrace: %s\n", err.msg);
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    mr_notify_init();
    struct mr_listen l = {.fd = -1};
    struct mr_listen status_l = {.fd = -1};
    if (mr_listen_inherit(&l, &status_l) == 0) {
        struct mr_listen_opts o = {cfg.listen, cfg.listen_backlog, cfg.listen_owner,
                                   cfg.listen_group, cfg.listen_mode};
        if (mr_listen_open(&l, &o, &err) < 0) {
            mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
            mr_cfg_fini(&cfg);
            return 1;
        }
    }
    if (status_l.fd < 0 && *cfg.status_listen != '\0' && l.origin != MR_LISTEN_STDIN) {
        struct mr_listen_opts o = {cfg.status_listen, 64, cfg.listen_owner, cfg.listen_group,
                                   cfg.listen_mode};
        if (mr_listen_open(&status_l, &o, &err) < 0) {
            mr_log(MR_LOG_ERR, "start_failed", "what=status_listen err=\"%s\"", err.msg);
            mr_listen_close(&l);
            mr_cfg_fini(&cfg);
            return 1;
        }
    }
    if (mr_listen_settle_clients(&l, &cfg.clients, "listen", &err) < 0 ||
        (status_l.fd >= 0 &&
         mr_listen_settle_clients(&status_l, &cfg.clients, "status_listen", &err) < 0)) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        mr_listen_close(&status_l);
        mr_listen_close(&l);
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    if (mr_privs_drop(&cfg, &err) < 0) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        mr_listen_close(&status_l);
        mr_listen_close(&l);
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    int rc;
    /* spawn-fcgi: fd 0 listening, no LISTEN_FDS and no systemd (INVOCATION_ID is set for
     * every systemd unit, StandardInput=socket included). */
    if (l.origin == MR_LISTEN_STDIN && getenv("INVOCATION_ID") == NULL) {
        rc = run_single_worker(&cfg, &l);
        mr_cfg_fini(&cfg);
    } else {
        struct mr_mgr_tables t = {mr_techempower_app(), mr_ops_table, mr_ops_count, mr_status_table,
                                  mr_status_count};
        rc = mr_mgr_run(&cfg, &l, &status_l, &t);
    }
    return rc;
}
