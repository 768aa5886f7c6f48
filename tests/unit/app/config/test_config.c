/* SPDX-License-Identifier: BSD-2-Clause */
/* test_config: mr_cfg_load against files written into a fresh temporary directory per test,
 * and the shipped sample etc/millrace.conf against the settings table. Error messages are
 * compared whole where the format is the contract ("file:line: setting: reason"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config/config.h"
#include "app/lib/log.h"
#include "tests/unit/suites.h"

#define SAMPLE "../../etc/millrace.conf"

/* Writes text to a new file in a new temporary directory, loads it into cfg and removes both,
 * so a test leaves nothing behind. The file's path is copied to path (for messages). */
static int
load_text(struct mr_cfg *cfg, const char *text, char *path, size_t path_cap, struct mr_err *err)
{
    char dir[] = "/tmp/mr-unit-cfg-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    (void)snprintf(path, path_cap, "%s/millrace.conf", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    memset(err->msg, 0, sizeof(err->msg));
    int rc = mr_cfg_load(cfg, path, err);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    return rc;
}

/* Loads text and expects success. */
static void
load_ok(struct mr_cfg *cfg, const char *text)
{
    char path[128];
    struct mr_err err;
    int rc = load_text(cfg, text, path, sizeof(path), &err);
    ck_assert_msg(rc == 0, "expected success, got %d: %s", rc, err.msg);
}

/* Loads text, expects -EINVAL and exactly "<path>:<line>: <setting>: <reason>". */
static void
load_refused(const char *text, int line, const char *setting, const char *reason)
{
    struct mr_cfg cfg;
    char path[128], want[MR_ERR_LEN];
    struct mr_err err;
    int rc = load_text(&cfg, text, path, sizeof(path), &err);
    ck_assert_int_eq(rc, -EINVAL);
    (void)snprintf(want, sizeof(want), "%s:%d: %s: %s", path, line, setting, reason);
    ck_assert_str_eq(err.msg, want);
    mr_cfg_fini(&cfg); /* already finalised by the failed load: must be harmless */
}

/* Loads text and expects -EINVAL with a message that contains needle. */
static void
load_refused_with(const char *text, const char *needle)
{
    struct mr_cfg cfg;
    char path[128];
    struct mr_err err;
    int rc = load_text(&cfg, text, path, sizeof(path), &err);
    ck_assert_int_eq(rc, -EINVAL);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "\"%s\" not in \"%s\"", needle, err.msg);
}

static int
expected_auto_workers(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return 2 * (int)(cores > 0 ? cores : 1) + 1;
}

START_TEST(test_config_loads_minimal_file)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "listen = \"127.0.0.1:9000\";\n");
    ck_assert_str_eq(cfg.listen, "127.0.0.1:9000");
    ck_assert_ptr_nonnull(cfg.path);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_empty_file_applies_every_default)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "# nothing but a comment\n");
    ck_assert_str_eq(cfg.listen, "unix:/run/millrace/millrace.sock");
    ck_assert_int_eq(cfg.listen_backlog, 4096);
    ck_assert_str_eq(cfg.listen_owner, "");
    ck_assert_str_eq(cfg.listen_group, "");
    ck_assert_str_eq(cfg.listen_mode_str, "0660");
    ck_assert_int_eq(cfg.listen_mode, 0660);
    ck_assert_str_eq(cfg.status_listen, "");
    ck_assert_str_eq(cfg.user, "");
    ck_assert_str_eq(cfg.group, "");
    ck_assert(!cfg.allow_root);
    ck_assert_int_eq(cfg.workers, expected_auto_workers());
    ck_assert_str_eq(cfg.pm_str, "static");
    ck_assert_int_eq(cfg.pm, MR_PM_STATIC);
    ck_assert_int_eq(cfg.min_spare, 1);
    ck_assert_int_eq(cfg.max_spare, 3);
    ck_assert_int_eq(cfg.start_servers, 2); /* 0 = (min_spare + max_spare) / 2 */
    ck_assert_int_eq(cfg.idle_timeout_ms, 10000);
    ck_assert_int_eq(cfg.max_spawn_rate, 32);
    ck_assert_int_eq(cfg.max_memory_mb, 0);
    ck_assert_int_eq(cfg.max_requests, 0);
    ck_assert_int_eq(cfg.max_requests_jitter, 0);
    ck_assert_int_eq(cfg.request_terminate_timeout_ms, 30000);
    ck_assert_int_eq(cfg.emergency_restart_threshold, 0);
    ck_assert_int_eq(cfg.emergency_restart_interval_ms, 60000);
    ck_assert_int_eq(cfg.process_control_timeout_ms, 10000);
    ck_assert_int_eq(cfg.rlimit_files, 0);
    ck_assert_int_eq(cfg.read_timeout_ms, 10000);
    ck_assert_int_eq(cfg.request_timeout_ms, 5000);
    ck_assert_int_eq(cfg.max_body_bytes, 1048576);
    ck_assert_int_eq(cfg.max_params, 256);
    ck_assert_int_eq(cfg.max_params_bytes, 65536);
    ck_assert_int_eq(cfg.max_query_bytes, 4096);
    ck_assert_int_eq(cfg.max_query_params, 64);
    ck_assert_int_eq(cfg.max_header_bytes, 8192);
    ck_assert_int_eq(cfg.arena_bytes, 65536);
    ck_assert_int_eq(cfg.arena_max_bytes, 16777216);
    ck_assert_int_eq(cfg.shed_queue_depth, 0);
    ck_assert_str_eq(cfg.log_level_str, "info");
    ck_assert_int_eq(cfg.log_level, MR_LOG_INFO);
    ck_assert(!cfg.log_timestamps);
    ck_assert_int_eq(cfg.slowlog_ms, 1000);
    ck_assert_str_eq(cfg.log_file, "");
    ck_assert_int_eq(cfg.health_interval_ms, 500);
    ck_assert_str_eq(cfg.db.primary, "host=127.0.0.1 port=5432 dbname=millrace user=millrace");
    ck_assert_int_eq(cfg.db.n_replicas, 0);
    ck_assert_int_eq(cfg.db.connect_timeout_ms, 1000);
    ck_assert_int_eq(cfg.db.query_timeout_ms, 2000);
    ck_assert_int_eq(cfg.db.max_replica_lag_ms, 1000);
    ck_assert(cfg.db.reads_fallback_to_primary);
    ck_assert_int_eq(cfg.db.reconnect_backoff_ms, 100);
    ck_assert_int_eq(cfg.db.reconnect_backoff_max_ms, 5000);
    ck_assert_int_eq(cfg.db.breaker.failures, 5);
    ck_assert_int_eq(cfg.db.breaker.cooldown_ms, 2000);
    ck_assert_str_eq(cfg.cache.host, "127.0.0.1");
    ck_assert_int_eq(cfg.cache.port, 6379);
    ck_assert_int_eq(cfg.cache.connect_timeout_ms, 200);
    ck_assert_int_eq(cfg.cache.command_timeout_ms, 200);
    ck_assert_str_eq(cfg.cache.key_prefix, "mr:");
    ck_assert_int_eq(cfg.cache.ttl_ms, 300000);
    ck_assert_int_eq(cfg.cache.ttl_jitter_pct, 10);
    ck_assert_double_eq(cfg.cache.xfetch_beta, 1.0);
    ck_assert_int_eq(cfg.cache.reconnect_backoff_ms, 100);
    ck_assert_int_eq(cfg.cache.reconnect_backoff_max_ms, 2000);
    ck_assert_int_eq(cfg.cache.breaker.failures, 3);
    ck_assert_int_eq(cfg.cache.breaker.cooldown_ms, 1000);
    ck_assert_int_eq(cfg.cache.l1_bytes, 2097152);
    ck_assert_int_eq(cfg.cache.l1_slot_bytes, 128);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_refuses_unknown_setting_with_line)
{
    load_refused("listen_backlog = 10;\n\nlisten_bakclog = 10;\n", 3, "listen_bakclog",
                 "unknown setting");
}
END_TEST

START_TEST(test_config_refuses_wrong_type)
{
    load_refused("listen_backlog = \"128\";\n", 1, "listen_backlog", "expected an integer");
    load_refused("\nallow_root = 1;\n", 2, "allow_root", "expected true or false");
    load_refused("listen = 9000;\n", 1, "listen", "expected a string in double quotes");
    load_refused("cache = {\n  xfetch_beta = \"1\";\n};\n", 2, "cache.xfetch_beta",
                 "expected a number");
    load_refused("db = {\n  replicas = \"host=r1\";\n};\n", 2, "db.replicas",
                 "expected a list of strings, like [ \"...\" ]");
}
END_TEST

START_TEST(test_config_refuses_below_range)
{
    load_refused("listen_backlog = 0;\n", 1, "listen_backlog", "0 is out of range 1..65535");
    load_refused("db = { connect_timeout_ms = 9; };\n", 1, "db.connect_timeout_ms",
                 "9 is out of range 10..600000");
    load_refused("max_requests = -1;\n", 1, "max_requests", "-1 is out of range 0..2147483647");
}
END_TEST

START_TEST(test_config_refuses_above_range)
{
    load_refused("listen_backlog = 65536;\n", 1, "listen_backlog",
                 "65536 is out of range 1..65535");
    load_refused("cache = { ttl_jitter_pct = 51; };\n", 1, "cache.ttl_jitter_pct",
                 "51 is out of range 0..50");
    /* A 64-bit literal must not wrap into an int. */
    load_refused("max_requests = 4294967297L;\n", 1, "max_requests",
                 "4294967297 is out of range 0..2147483647");
}
END_TEST

START_TEST(test_config_accepts_range_bounds)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "listen_backlog = 1;\ncache = { ttl_jitter_pct = 50; port = 65535; };\n");
    ck_assert_int_eq(cfg.listen_backlog, 1);
    ck_assert_int_eq(cfg.cache.ttl_jitter_pct, 50);
    ck_assert_int_eq(cfg.cache.port, 65535);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_syntax_error_names_line)
{
    struct mr_cfg cfg;
    char path[128], want[160];
    struct mr_err err;
    int rc =
        load_text(&cfg, "listen = \"a\";\nworkers = 4;\nworkers 5\n", path, sizeof(path), &err);
    ck_assert_int_eq(rc, -EINVAL);
    (void)snprintf(want, sizeof(want), "%s:3: syntax error", path);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "got \"%s\"", err.msg);
}
END_TEST

START_TEST(test_config_missing_file_refused)
{
    struct mr_cfg cfg;
    struct mr_err err;
    char dir[] = "/tmp/mr-unit-cfg-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/absent.conf", dir);
    int rc = mr_cfg_load(&cfg, path, &err);
    ck_assert_int_eq(rmdir(dir), 0);
    ck_assert_int_eq(rc, -ENOENT);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "got \"%s\"", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot read"));
    ck_assert_ptr_null(cfg.path); /* finalised */
}
END_TEST

START_TEST(test_config_reads_group_settings)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "db = {\n"
                  "  primary = \"host=/run/pg dbname=x\";\n"
                  "  query_timeout_ms = 50;\n"
                  "  reads_fallback_to_primary = false;\n"
                  "  breaker_failures = 7;\n"
                  "};\n"
                  "cache = { host = \"/run/redis.sock\"; port = 6380; key_prefix = \"t:\";\n"
                  "  xfetch_beta = 0.5; breaker_cooldown_ms = 250; };\n"
                  "log = { level = \"debug\"; timestamps = true; slow_ms = 0;\n"
                  "  file = \"/var/log/millrace.log\"; };\n"
                  "health = { interval_ms = 50; };\n");
    ck_assert_str_eq(cfg.db.primary, "host=/run/pg dbname=x");
    ck_assert_int_eq(cfg.db.query_timeout_ms, 50);
    ck_assert(!cfg.db.reads_fallback_to_primary);
    ck_assert_int_eq(cfg.db.breaker.failures, 7);
    ck_assert_int_eq(cfg.db.connect_timeout_ms, 1000); /* untouched: default */
    ck_assert_str_eq(cfg.cache.host, "/run/redis.sock");
    ck_assert_int_eq(cfg.cache.port, 6380);
    ck_assert_str_eq(cfg.cache.key_prefix, "t:");
    ck_assert_double_eq(cfg.cache.xfetch_beta, 0.5);
    ck_assert_int_eq(cfg.cache.breaker.cooldown_ms, 250);
    ck_assert_int_eq(cfg.log_level, MR_LOG_DEBUG);
    ck_assert(cfg.log_timestamps);
    ck_assert_int_eq(cfg.slowlog_ms, 0);
    ck_assert_str_eq(cfg.log_file, "/var/log/millrace.log");
    ck_assert_int_eq(cfg.health_interval_ms, 50);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_refuses_unknown_setting_in_group)
{
    load_refused("db = {\n  primary = \"host=x\";\n  primray = \"host=y\";\n};\n", 3, "db.primray",
                 "unknown setting");
    load_refused("cache = { port = 1; };\nlog = {\n  colour = true;\n};\n", 3, "log.colour",
                 "unknown setting");
    /* A group whose name only prefixes settings ("db.breaker_*") is not a group. */
    load_refused("db = {\n  breaker = { failures = 2; };\n};\n", 2, "db.breaker",
                 "unknown setting");
    /* A group name used as a scalar. */
    load_refused("db = 1;\n", 1, "db", "unknown setting");
}
END_TEST

START_TEST(test_config_replicas_empty_list)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "db = { replicas = [ ]; };\n");
    ck_assert_int_eq(cfg.db.n_replicas, 0);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_replicas_one)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "db = { replicas = [ \"host=r1\" ]; };\n");
    ck_assert_int_eq(cfg.db.n_replicas, 1);
    ck_assert_str_eq(cfg.db.replicas[0], "host=r1");
    mr_cfg_fini(&cfg);
    ck_assert_int_eq(cfg.db.n_replicas, 0);
    ck_assert_ptr_null(cfg.db.replicas[0]);
}
END_TEST

START_TEST(test_config_replicas_eight)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "db = { replicas = ( \"r1\", \"r2\", \"r3\", \"r4\", \"r5\", \"r6\", \"r7\",\n"
                  "  \"r8\" ); };\n");
    ck_assert_int_eq(cfg.db.n_replicas, 8);
    for (int i = 0; i < 8; i++) {
        char want[16];
        (void)snprintf(want, sizeof(want), "r%d", i + 1);
        ck_assert_str_eq(cfg.db.replicas[i], want);
    }
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_replicas_nine_refused)
{
    load_refused("db = {\n  replicas = [ \"r1\", \"r2\", \"r3\", \"r4\", \"r5\", \"r6\", \"r7\", "
                 "\"r8\", \"r9\" ];\n};\n",
                 2, "db.replicas", "too many entries (at most 8)");
}
END_TEST

START_TEST(test_config_replicas_non_string_refused)
{
    /* The strings before the bad entry are already copied: the failed load must free them
     * (LeakSanitizer fails this test otherwise). */
    load_refused("db = {\n  replicas = ( \"r1\", \"r2\", 3 );\n};\n", 2, "db.replicas",
                 "every entry must be a string");
    load_refused("db = {\n  replicas = [ 1, 2 ];\n};\n", 2, "db.replicas",
                 "every entry must be a string");
}
END_TEST

START_TEST(test_config_listen_mode_octal)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "listen_mode = \"0660\";\n");
    ck_assert_int_eq(cfg.listen_mode, 0660);
    mr_cfg_fini(&cfg);
    load_ok(&cfg, "listen_mode = \"600\";\n");
    ck_assert_int_eq(cfg.listen_mode, 0600);
    mr_cfg_fini(&cfg);
    load_ok(&cfg, "listen_mode = \"07777\";\n");
    ck_assert_int_eq(cfg.listen_mode, 07777);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_listen_mode_refuses_non_octal)
{
    static const char reason[] = "expected an octal mode like \"0660\"";
    load_refused("listen_mode = \"999\";\n", 1, "listen_mode", reason);
    load_refused("\nlisten_mode = \"\";\n", 2, "listen_mode", reason);
    load_refused("listen_mode = \"0660x\";\n", 1, "listen_mode", reason);
    load_refused("listen_mode = \"010000\";\n", 1, "listen_mode", reason);
    load_refused("listen_mode = \"-1\";\n", 1, "listen_mode", reason);
}
END_TEST

START_TEST(test_config_pm_values)
{
    static const struct {
        const char *name;
        enum mr_pm pm;
    } pms[] = {{"static", MR_PM_STATIC},
               {"dynamic", MR_PM_DYNAMIC},
               {"ondemand", MR_PM_ONDEMAND},
               {"adaptive", MR_PM_ADAPTIVE}};
    for (size_t i = 0; i < sizeof(pms) / sizeof(pms[0]); i++) {
        struct mr_cfg cfg;
        char text[64];
        (void)snprintf(text, sizeof(text), "workers = 8;\npm = \"%s\";\n", pms[i].name);
        load_ok(&cfg, text);
        ck_assert_int_eq(cfg.pm, pms[i].pm);
        ck_assert_str_eq(cfg.pm_str, pms[i].name);
        mr_cfg_fini(&cfg);
    }
    load_refused("workers = 8;\npm = \"Static\";\n", 2, "pm",
                 "expected static, dynamic, ondemand or adaptive");
}
END_TEST

START_TEST(test_config_workers_zero_is_two_per_core_plus_one)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "workers = 0;\n");
    ck_assert_int_eq(cfg.workers, expected_auto_workers());
    mr_cfg_fini(&cfg);
    load_ok(&cfg, "workers = 5;\n");
    ck_assert_int_eq(cfg.workers, 5);
    mr_cfg_fini(&cfg);
}
END_TEST

/* pm = static ignores the dynamic-only spare settings, so workers = 1 with every other
 * default (start_servers derived as (1 + 3) / 2 = 2) is a valid small deployment. */
START_TEST(test_config_static_accepts_one_worker)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "workers = 1;\n");
    ck_assert_int_eq(cfg.workers, 1);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_refuses_min_spare_above_max_spare)
{
    load_refused("workers = 16;\nmax_spare = 2;\nmin_spare = 5;\n", 3, "min_spare",
                 "must not exceed max_spare");
}
END_TEST

START_TEST(test_config_dynamic_refuses_max_spare_above_workers)
{
    load_refused("workers = 2;\npm = \"dynamic\";\nmax_spare = 3;\n", 3, "max_spare",
                 "must not exceed workers (max_children)");
}
END_TEST

START_TEST(test_config_refuses_backoff_above_max)
{
    load_refused("db = {\n  reconnect_backoff_ms = 6000;\n};\n", 2, "db.reconnect_backoff_ms",
                 "must not exceed the max");
}
END_TEST

/* An L1 too small for its minimum of slots would stop every worker at start: refused at load. */
START_TEST(test_config_refuses_a_tiny_l1)
{
    load_refused("cache = {\n  l1_bytes = 1000;\n};\n", 2, "cache.l1_bytes",
                 "must be 0 (off) or at least 65536");
}
END_TEST

START_TEST(test_config_accepts_l1_off)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "cache = {\n  l1_bytes = 0;\n};\n");
    ck_assert_int_eq(cfg.cache.l1_bytes, 0);
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_log_level_values)
{
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"err", MR_LOG_ERR},
                  {"warning", MR_LOG_WARNING},
                  {"info", MR_LOG_INFO},
                  {"debug", MR_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        struct mr_cfg cfg;
        char text[64];
        (void)snprintf(text, sizeof(text), "log = { level = \"%s\"; };\n", levels[i].name);
        load_ok(&cfg, text);
        ck_assert_int_eq(cfg.log_level, levels[i].level);
        mr_cfg_fini(&cfg);
    }
    load_refused("log = {\n  level = \"verbose\";\n};\n", 2, "log.level",
                 "expected err, warning, info or debug");
    load_refused_with("log = { level = \"warn\"; };\n", "log.level");
}
END_TEST

START_TEST(test_config_refuses_empty_required_strings)
{
    load_refused("listen = \"\";\n", 1, "listen", "must not be empty");
    load_refused("db = {\n  primary = \"\";\n};\n", 2, "db.primary", "must not be empty");
}
END_TEST

START_TEST(test_config_fini_twice_is_harmless)
{
    struct mr_cfg cfg;
    load_ok(&cfg, "db = { replicas = [ \"a\", \"b\" ]; };\n");
    mr_cfg_fini(&cfg);
    mr_cfg_fini(&cfg);
    ck_assert_ptr_null(cfg.listen);
    ck_assert_ptr_null(cfg.path);
}
END_TEST

START_TEST(test_config_sample_loads)
{
    struct mr_cfg cfg;
    struct mr_err err;
    int rc = mr_cfg_load(&cfg, SAMPLE, &err);
    ck_assert_msg(rc == 0, "%s: %s", SAMPLE, err.msg);
    ck_assert_int_eq(cfg.listen_backlog, 4096);
    mr_cfg_fini(&cfg);
}
END_TEST

/* etc/millrace.conf is `millrace --print-config`; it must never drift from the table. */
START_TEST(test_config_sample_matches_reference)
{
    char *want = NULL, *have = NULL;
    size_t want_len = 0, have_len = 0;
    FILE *mem = open_memstream(&want, &want_len);
    ck_assert_ptr_nonnull(mem);
    mr_cfg_print_reference(mem);
    ck_assert_int_eq(fclose(mem), 0);

    FILE *f = fopen(SAMPLE, "r");
    ck_assert_msg(f != NULL, "%s: %s", SAMPLE, strerror(errno));
    mem = open_memstream(&have, &have_len);
    ck_assert_ptr_nonnull(mem);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ck_assert_uint_eq(fwrite(chunk, 1, n, mem), n);
    ck_assert_int_eq(ferror(f), 0);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(fclose(mem), 0);

    size_t line = 1, i = 0;
    while (i < want_len && i < have_len && want[i] == have[i])
        line += want[i++] == '\n';
    ck_assert_msg(want_len == have_len && i == want_len,
                  "%s differs from mr_cfg_print_reference at line %zu; regenerate it with "
                  "./millrace --print-config > etc/millrace.conf",
                  SAMPLE, line);
    free(want);
    free(have);
}
END_TEST

Suite *
config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_config_loads_minimal_file);
    tcase_add_test(tc, test_config_empty_file_applies_every_default);
    tcase_add_test(tc, test_config_refuses_unknown_setting_with_line);
    tcase_add_test(tc, test_config_refuses_wrong_type);
    tcase_add_test(tc, test_config_refuses_below_range);
    tcase_add_test(tc, test_config_refuses_above_range);
    tcase_add_test(tc, test_config_accepts_range_bounds);
    tcase_add_test(tc, test_config_syntax_error_names_line);
    tcase_add_test(tc, test_config_missing_file_refused);
    tcase_add_test(tc, test_config_reads_group_settings);
    tcase_add_test(tc, test_config_refuses_unknown_setting_in_group);
    tcase_add_test(tc, test_config_replicas_empty_list);
    tcase_add_test(tc, test_config_replicas_one);
    tcase_add_test(tc, test_config_replicas_eight);
    tcase_add_test(tc, test_config_replicas_nine_refused);
    tcase_add_test(tc, test_config_replicas_non_string_refused);
    tcase_add_test(tc, test_config_listen_mode_octal);
    tcase_add_test(tc, test_config_listen_mode_refuses_non_octal);
    tcase_add_test(tc, test_config_pm_values);
    tcase_add_test(tc, test_config_workers_zero_is_two_per_core_plus_one);
    tcase_add_test(tc, test_config_static_accepts_one_worker);
    tcase_add_test(tc, test_config_refuses_min_spare_above_max_spare);
    tcase_add_test(tc, test_config_dynamic_refuses_max_spare_above_workers);
    tcase_add_test(tc, test_config_refuses_backoff_above_max);
    tcase_add_test(tc, test_config_refuses_a_tiny_l1);
    tcase_add_test(tc, test_config_accepts_l1_off);
    tcase_add_test(tc, test_config_log_level_values);
    tcase_add_test(tc, test_config_refuses_empty_required_strings);
    tcase_add_test(tc, test_config_fini_twice_is_harmless);
    suite_add_tcase(s, tc);
    TCase *sample = tcase_create("sample");
    tcase_add_test(sample, test_config_sample_loads);
    tcase_add_test(sample, test_config_sample_matches_reference);
    suite_add_tcase(s, sample);
    return s;
}
