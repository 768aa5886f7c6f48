/* SPDX-License-Identifier: BSD-2-Clause */
/* scaffold: writes the embedded template (files.h) into the new folder, filling in @NAME@
 * (the folder's name as a C-friendly word), @DIR@ (its absolute path), @PORT@ and @USER@. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/lib/fdio.h"
#include "app/scaffold/files.h"
#include "app/scaffold/scaffold.h"

struct vars {
    char name[64];
    char dir[PATH_MAX];
    char port[8];
    char user[64];
    char run_as[128]; /* millrace.conf's lines that name the workers' user, when root */
};

/* The folder's last component, with anything but [a-z0-9_] as '_' (a C identifier and a
 * file name: it names the .so and the app). */
static void
app_name(const char *dir, char *out, size_t cap)
{
    const char *base = strrchr(dir, '/');
    base = base != NULL ? base + 1 : dir;
    size_t n = 0;
    for (; *base != '\0' && n + 1 < cap; base++) {
        char c = *base;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[n++] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
    }
    out[n] = '\0';
    if (n == 0 || (out[0] >= '0' && out[0] <= '9'))
        (void)snprintf(out, cap, "app");
}

/* Writes text to fd with the @VAR@ placeholders replaced. */
static int
write_filled(int fd, const char *text, const struct vars *v)
{
    static const char *const keys[] = {"@NAME@", "@DIR@", "@PORT@", "@USER@", "@RUN_AS@"};
    const char *vals[] = {v->name, v->dir, v->port, v->user, v->run_as};
    const size_t n_keys = sizeof(keys) / sizeof(keys[0]);
    const char *p = text;
    for (;;) {
        const char *at = strchr(p, '@');
        if (at == NULL)
            return mr_write_all(fd, p, strlen(p));
        if (mr_write_all(fd, p, (size_t)(at - p)) < 0)
            return -1;
        size_t k = 0;
        while (k < n_keys && strncmp(at, keys[k], strlen(keys[k])) != 0)
            k++;
        if (k == n_keys) {
            if (mr_write_all(fd, "@", 1) < 0)
                return -1;
            p = at + 1;
            continue;
        }
        if (mr_write_all(fd, vals[k], strlen(vals[k])) < 0)
            return -1;
        p = at + strlen(keys[k]);
    }
}

/* Creates dir, or accepts it when it exists and is empty. */
static int
make_dir(const char *dir, struct mr_err *err)
{
    if (mkdir(dir, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return mr_err_set(err, -errno, "%s: cannot create: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (d == NULL)
        return mr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    (void)closedir(d);
    return empty ? 0 : mr_err_set(err, -EEXIST, "%s: exists and is not empty", dir);
}

static int
write_file(const struct vars *v, const struct mr_scaffold_file *f, struct mr_err *err)
{
    char path[PATH_MAX + 64];
    (void)snprintf(path, sizeof(path), "%s/%s", v->dir, f->path);
    char *slash = strrchr(path, '/');
    if (slash != NULL && slash > path + strlen(v->dir)) {
        *slash = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return mr_err_set(err, -errno, "%s: cannot create: %s", path, strerror(errno));
        *slash = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, f->mode);
    if (fd < 0)
        return mr_err_set(err, -errno, "%s: cannot create: %s", path, strerror(errno));
    int rc = write_filled(fd, f->text, v);
    if (close(fd) < 0)
        rc = -1;
    return rc == 0 ? 0 : mr_err_set(err, -EIO, "%s: write failed: %s", path, strerror(errno));
}

int
mr_scaffold_new(const char *dir, int port, struct mr_err *err)
{
    struct vars v;
    int rc = make_dir(dir, err);
    if (rc != 0)
        return rc;
    if (realpath(dir, v.dir) == NULL)
        return mr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    app_name(v.dir, v.name, sizeof(v.name));
    (void)snprintf(v.port, sizeof(v.port), "%d", port);
    /* root runs nobody's code as root: workers and nginx as www-data, which owns the socket. */
    const struct passwd *pw = getpwuid(geteuid());
    bool root = geteuid() == 0;
    (void)snprintf(v.user, sizeof(v.user), "%s",
                   root ? "www-data" : (pw != NULL ? pw->pw_name : "nobody"));
    (void)snprintf(v.run_as, sizeof(v.run_as), "%s",
                   root ? "user = \"www-data\";\nlisten_owner = \"www-data\";\n" : "");
    for (int i = 0; i < mr_scaffold_n_files; i++) {
        rc = write_file(&v, &mr_scaffold_files[i], err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
