/* SPDX-License-Identifier: BSD-2-Clause */
/* main: the command line. Loads and validates the config and compiles the route tables (exit
 * 78 on either error), opens or inherits the listening socket, drops privileges, then runs
 * the manager — or, when spawn-fcgi handed us a listening fd 0 (no LISTEN_FDS, not under
 * systemd), runs as a single worker, because spawn-fcgi -F N makes the N processes itself. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config/config.h"
#include "app/serve/listen.h"
#include "app/lib/log.h"
#include "app/supervise/manager.h"
#include "app/lib/notify.h"
#include "app/supervise/privs.h"
#include "app/board/scoreboard.h"
#include "app/serve/worker.h"
#include "handlers/handlers.h"

#ifndef MR_VERSION
#define MR_VERSION "0.1.0"
#endif

static void
usage(FILE *out)
{
    (void)fputs("usage: millrace [-c FILE] [-t] [--print-config] [--version] [--help]\n"
                "  -c, --config FILE   configuration file (default /etc/millrace/millrace.conf)\n"
                "  -t, --test          check the configuration and exit (0 valid, 78 invalid)\n"
                "      --print-config  print every setting with its default and meaning, and exit\n"
                "  -v, --version       print the version and exit\n"
                "  -h, --help          this text\n"
                "Signals: TERM/INT stop now, QUIT stops gracefully, HUP/USR2 reload the config.\n",
                out);
}

/* The two route tables compiled, before the first fork so that every child shares them. */
struct routers {
    struct mr_router *serve;
    struct mr_router *status;
};

/* Returns 0, or -EINVAL with err naming the table and its bad row(s). */
static int
routers_build(struct routers *r, struct mr_err *err)
{
    *r = (struct routers){NULL, NULL};
    struct mr_err why;
    if (mr_router_build(&mr_handler_table[0].row, mr_handler_count, sizeof(mr_handler_table[0]),
                        &r->serve, &why) < 0)
        return mr_err_set(err, -EINVAL, "route table: %s", why.msg);
    if (mr_router_build(&mr_status_table[0].row, mr_status_count, sizeof(mr_status_table[0]),
                        &r->status, &why) < 0) {
        mr_router_free(&r->serve);
        return mr_err_set(err, -EINVAL, "status route table: %s", why.msg);
    }
    return 0;
}

static void
routers_free(struct routers *r)
{
    mr_router_free(&r->serve);
    mr_router_free(&r->status);
}

static int
run_single_worker(struct mr_cfg *cfg, struct mr_listen *l, const struct mr_router *router)
{
    struct mr_err err;
    struct mr_sb *sb = mr_sb_new(cfg->db.n_replicas, &err);
    if (sb == NULL) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        return 1;
    }
    atomic_store(&sb->workers[0].pid, getpid());
    mr_mgr_label_routes(sb, mr_handler_table, mr_handler_count);
    mr_log(MR_LOG_INFO, "started", "pid=%d mode=single_worker listen=fd0", getpid());
    struct mr_worker_args a = {.cfg = cfg,
                               .sb = sb,
                               .slot = 0,
                               .me = &sb->workers[0],
                               .listen_fd = l->fd,
                               .routes = mr_handler_table,
                               .n_routes = mr_handler_count,
                               .router = router,
                               .is_pool = true};
    int rc = mr_worker_run(&a);
    mr_sb_free(&sb);
    return rc;
}

int
main(int argc, char **argv)
{
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
    struct routers routers;
    if (routers_build(&routers, &err) < 0) {
        (void)fprintf(stderr, "millrace: %s\n", err.msg);
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    if (test_only) {
        (void)printf("millrace: %s: configuration ok\n", path);
        routers_free(&routers);
        mr_cfg_fini(&cfg);
        return 0;
    }
    mr_log_setup((enum mr_log_level)cfg.log_level, cfg.log_timestamps);
    int lrc = mr_log_reopen(cfg.log_file);
    if (lrc < 0) {
        (void)fprintf(stderr, "millrace: log.file %s: %s\n", cfg.log_file, strerror(-lrc));
        routers_free(&routers);
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    if (mr_privs_give(cfg.log_file, &cfg, &err) < 0) {
        (void)fprintf(stderr, "millrace: %s\n", err.msg);
        routers_free(&routers);
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
            routers_free(&routers);
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
            routers_free(&routers);
            mr_cfg_fini(&cfg);
            return 1;
        }
    }
    if (mr_privs_drop(&cfg, &err) < 0) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        mr_listen_close(&status_l);
        mr_listen_close(&l);
        routers_free(&routers);
        mr_cfg_fini(&cfg);
        return MR_EX_CONFIG;
    }
    int rc;
    /* spawn-fcgi: fd 0 listening, no LISTEN_FDS and no systemd (INVOCATION_ID is set for
     * every systemd unit, StandardInput=socket included). */
    if (l.origin == MR_LISTEN_STDIN && getenv("INVOCATION_ID") == NULL) {
        rc = run_single_worker(&cfg, &l, routers.serve);
        routers_free(&routers);
        mr_cfg_fini(&cfg);
    } else {
        struct mr_mgr_tables t = {mr_handler_table, mr_handler_count, routers.serve,
                                  mr_status_table,  mr_status_count,  routers.status};
        rc = mr_mgr_run(&cfg, &l, &status_l, &t);
        routers_free(&routers);
    }
    return rc;
}
