/* SPDX-License-Identifier: BSD-2-Clause */
/* privs: setgroups/setgid/setuid in that order (the group calls need root), then a check that
 * root cannot be regained. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "app/supervise/privs.h"

int
mr_privs_drop(const struct mr_cfg *cfg, struct mr_err *err)
{
    bool root = geteuid() == 0;
    if (!root) {
        const struct passwd *me = *cfg->user ? getpwnam(cfg->user) : NULL;
        if (*cfg->user != '\0' && (me == NULL || me->pw_uid != geteuid()))
            return mr_err_set(err, -EPERM, "user = \"%s\" needs millrace started as root",
                              cfg->user);
        return 0;
    }
    if (*cfg->user == '\0') {
        if (cfg->allow_root)
            return 0;
        return mr_err_set(err, -EPERM,
                          "refusing to run workers as root: set user (and group), or "
                          "allow_root = true");
    }
    struct passwd *pw = getpwnam(cfg->user);
    if (pw == NULL)
        return mr_err_set(err, -EINVAL, "user: no such user %s", cfg->user);
    gid_t gid = pw->pw_gid;
    if (*cfg->group != '\0') {
        struct group *gr = getgrnam(cfg->group);
        if (gr == NULL)
            return mr_err_set(err, -EINVAL, "group: no such group %s", cfg->group);
        gid = gr->gr_gid;
    }
    if (pw->pw_uid == 0 && !cfg->allow_root)
        return mr_err_set(err, -EPERM, "user %s is root: set allow_root = true to allow it",
                          cfg->user);
    if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 || setuid(pw->pw_uid) != 0)
        return mr_err_set(err, -errno, "dropping to %s: %s", cfg->user, strerror(errno));
    if (pw->pw_uid != 0 && setuid(0) == 0)
        return mr_err_set(err, -EPERM, "could regain root after dropping to %s", cfg->user);
    return 0;
}

int
mr_privs_give(const char *path, const struct mr_cfg *cfg, struct mr_err *err)
{
    if (geteuid() != 0 || *cfg->user == '\0' || *path == '\0')
        return 0;
    struct passwd *pw = getpwnam(cfg->user);
    if (pw == NULL)
        return mr_err_set(err, -EINVAL, "user: no such user %s", cfg->user);
    gid_t gid = pw->pw_gid;
    struct group *gr = *cfg->group ? getgrnam(cfg->group) : NULL;
    if (gr != NULL)
        gid = gr->gr_gid;
    if (chown(path, pw->pw_uid, gid) != 0)
        return mr_err_set(err, -errno, "log.file %s: chown: %s", path, strerror(errno));
    return 0;
}
