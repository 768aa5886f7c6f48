/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_config: mr_cfg_load on arbitrary file contents. Each input is written to one memfd,
 * made once, and loaded through its /proc/self/fd/N path. Invariants: the result is 0, or
 * -EINVAL/-ENOENT with a non-empty message; a loaded config satisfies the cross-setting
 * rules the loader promises (min_spare <= max_spare, arena_bytes <= arena_max_bytes, and for
 * pm = dynamic start_servers and max_spare <= workers);
 * mr_cfg_fini frees everything (LeakSanitizer checks after every input) and is harmless
 * twice. Inputs with an @include directive are skipped: libconfig would read other files
 * of this machine (or a device), which makes the run depend on the machine, not the input. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/config/config.h"
#include "tests/fuzz/ref.h"

static int memfd = -1;
static char path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
    FUZZ_CHECK(memfd >= 0);
    (void)snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    return 0;
}

static bool
has_include(const uint8_t *data, size_t size)
{
    static const char word[] = "@include";
    for (size_t i = 0; i + sizeof(word) - 1 <= size; i++)
        if (memcmp(data + i, word, sizeof(word) - 1) == 0)
            return true;
    return false;
}

static void
write_input(const uint8_t *data, size_t size)
{
    FUZZ_CHECK(ftruncate(memfd, 0) == 0);
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(memfd, data + off, size - off, (off_t)off);
        FUZZ_CHECK(w > 0);
        off += (size_t)w;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (has_include(data, size))
        return 0;
    write_input(data, size);
    struct mr_cfg cfg;
    struct mr_err err;
    memset(&err, 0, sizeof(err));
    int rc = mr_cfg_load(&cfg, path, &err);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT);
    if (rc != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
        FUZZ_CHECK(cfg.path == NULL); /* the loader finalised it already */
        mr_cfg_fini(&cfg);            /* and a second fini is harmless */
        return 0;
    }
    FUZZ_CHECK(cfg.path != NULL && strcmp(cfg.path, path) == 0);
    FUZZ_CHECK(cfg.listen != NULL && cfg.listen[0] != '\0');
    FUZZ_CHECK(cfg.db.primary != NULL && cfg.db.primary[0] != '\0');
    FUZZ_CHECK(cfg.workers >= 1);
    FUZZ_CHECK(cfg.min_spare <= cfg.max_spare);
    if (cfg.pm == MR_PM_DYNAMIC) /* only dynamic starts and keeps spares */
        FUZZ_CHECK(cfg.max_spare <= cfg.workers && cfg.start_servers <= cfg.workers);
    FUZZ_CHECK(cfg.arena_bytes <= cfg.arena_max_bytes);
    FUZZ_CHECK(cfg.listen_mode >= 0 && cfg.listen_mode <= 07777);
    FUZZ_CHECK((int)cfg.pm >= MR_PM_STATIC && (int)cfg.pm <= MR_PM_ADAPTIVE);
    FUZZ_CHECK(cfg.db.n_replicas >= 0 && cfg.db.n_replicas <= MR_DB_MAX_REPLICAS);
    for (int i = 0; i < cfg.db.n_replicas; i++)
        FUZZ_CHECK(cfg.db.replicas[i] != NULL);
    FUZZ_CHECK(cfg.db.reconnect_backoff_ms <= cfg.db.reconnect_backoff_max_ms);
    FUZZ_CHECK(cfg.cache.reconnect_backoff_ms <= cfg.cache.reconnect_backoff_max_ms);
    FUZZ_CHECK(cfg.cache.xfetch_beta >= 0 && cfg.cache.xfetch_beta <= 100);
    mr_cfg_fini(&cfg);
    FUZZ_CHECK(cfg.path == NULL && cfg.listen == NULL);
    mr_cfg_fini(&cfg);
    return 0;
}
