/* SPDX-License-Identifier: BSD-2-Clause */
/* privs: dropping root. Started as root with `user` set, millrace binds first (main) and then
 * becomes that user and group for good, before any worker exists. Workers as root are refused
 * unless allow_root says so explicitly. */
#ifndef MR_PRIVS_H
#define MR_PRIVS_H

#include "app/config/config.h"
#include "app/lib/err.h"

/* Returns 0, or -EPERM/-EINVAL with the reason (a config problem: exit 78). */
MR_MUST_CHECK int mr_privs_drop(const struct mr_cfg *cfg, struct mr_err *err);

/* Started as root with `user` set: gives `path` (the log file) to that user and group, so
 * that the manager, no longer root, can reopen it after logrotate. Returns 0 or -errno. */
MR_MUST_CHECK int mr_privs_give(const char *path, const struct mr_cfg *cfg, struct mr_err *err);

#endif
