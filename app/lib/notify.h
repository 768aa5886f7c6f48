/* SPDX-License-Identifier: BSD-2-Clause */
/* notify: sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET ("READY=1",
 * "RELOADING=1", "STOPPING=1", "STATUS=...", "WATCHDOG=1"). Does nothing when not run by
 * systemd. The socket name is read once at start, before fork. */
#ifndef MR_NOTIFY_H
#define MR_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC and unsets them so workers do not see them. */
void mr_notify_init(void);
/* Sends one state line; returns 0, or -errno (ignored by callers: systemd is optional). */
int mr_notify(const char *state);
/* The watchdog interval in ms (half of WATCHDOG_USEC), or 0 when there is no watchdog. */
int64_t mr_notify_watchdog_ms(void);

#endif
