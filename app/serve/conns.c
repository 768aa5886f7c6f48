/* SPDX-License-Identifier: BSD-2-Clause */
/* conns: the worker's connection table (conns.h): a fixed array of slots threaded on three
 * doubly linked lists (free, FRESH, KEPT) by index. */
#include <stdlib.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/conns.h"

static void
unlink_slot(struct mr_conns *t, int i)
{
    struct mr_conn *c = &t->slot[i];
    if (c->prev >= 0)
        t->slot[c->prev].next = c->next;
    else
        t->head[c->list] = c->next;
    if (c->next >= 0)
        t->slot[c->next].prev = c->prev;
    else
        t->tail[c->list] = c->prev;
    c->prev = c->next = -1;
}

static void
append(struct mr_conns *t, int i, enum mr_conn_list list)
{
    struct mr_conn *c = &t->slot[i];
    c->list = list;
    c->next = -1;
    c->prev = t->tail[list];
    if (c->prev >= 0)
        t->slot[c->prev].next = i;
    else
        t->head[list] = i;
    t->tail[list] = i;
}

void
mr_conns_init(struct mr_conns *t, int max)
{
    memset(t, 0, sizeof(*t));
    t->max = max > 0 ? max : 1;
    t->slot = mr_xcalloc((size_t)t->max, sizeof(*t->slot));
    t->ahead = mr_xcalloc((size_t)t->max, MR_FCGI_AHEAD_BYTES);
    for (int l = 0; l < MR_CONN_NLISTS; l++)
        t->head[l] = t->tail[l] = -1;
    for (int i = 0; i < t->max; i++) {
        t->slot[i].prev = t->slot[i].next = -1;
        t->slot[i].stream.ahead = t->ahead + (size_t)i * MR_FCGI_AHEAD_BYTES;
        append(t, i, MR_CONN_FREE);
    }
}

void
mr_conns_fini(struct mr_conns *t)
{
    free(t->slot);
    free(t->ahead);
    t->slot = NULL;
    t->ahead = NULL;
    t->n = t->max = 0;
}

bool
mr_conns_has_room(const struct mr_conns *t)
{
    return t->head[MR_CONN_FREE] >= 0;
}

int
mr_conns_add(struct mr_conns *t, int fd, int64_t now_ms)
{
    int i = t->head[MR_CONN_FREE];
    if (i < 0)
        return -1;
    unlink_slot(t, i);
    struct mr_conn *c = &t->slot[i];
    c->since_ms = now_ms;
    c->served = 0;
    c->stream.fd = fd;
    append(t, i, MR_CONN_FRESH);
    t->n++;
    return i;
}

void
mr_conns_partial(struct mr_conns *t, int i, int64_t now_ms)
{
    if (t->slot[i].list == MR_CONN_PARTIAL)
        return;
    unlink_slot(t, i);
    t->slot[i].since_ms = now_ms;
    append(t, i, MR_CONN_PARTIAL);
}

void
mr_conns_answered(struct mr_conns *t, int i, int64_t now_ms)
{
    unlink_slot(t, i);
    t->slot[i].since_ms = now_ms;
    t->slot[i].served++;
    append(t, i, MR_CONN_KEPT);
}

void
mr_conns_remove(struct mr_conns *t, int i)
{
    if (t->slot[i].list == MR_CONN_FREE)
        return;
    unlink_slot(t, i);
    append(t, i, MR_CONN_FREE);
    t->n--;
}

int
mr_conns_oldest(const struct mr_conns *t, enum mr_conn_list list)
{
    return t->head[list];
}

int
mr_conns_victim(const struct mr_conns *t, int64_t now_ms)
{
    int f = t->head[MR_CONN_FRESH];
    if (f >= 0 && now_ms - t->slot[f].since_ms >= MR_CONN_SILENT_MS)
        return f;
    return t->head[MR_CONN_KEPT];
}

/* When the oldest of list passes its bound, or INT64_MAX when the list is empty. */
static int64_t
due(const struct mr_conns *t, enum mr_conn_list list, int bound_ms)
{
    int i = t->head[list];
    return i < 0 ? INT64_MAX : t->slot[i].since_ms + bound_ms;
}

int
mr_conns_expired(const struct mr_conns *t, int64_t now_ms, int fresh_ms, int idle_ms)
{
    if (due(t, MR_CONN_FRESH, fresh_ms) <= now_ms)
        return t->head[MR_CONN_FRESH];
    if (due(t, MR_CONN_PARTIAL, fresh_ms) <= now_ms)
        return t->head[MR_CONN_PARTIAL];
    if (due(t, MR_CONN_KEPT, idle_ms) <= now_ms)
        return t->head[MR_CONN_KEPT];
    return -1;
}

int
mr_conns_next_expiry_ms(const struct mr_conns *t, int64_t now_ms, int fresh_ms, int idle_ms)
{
    int64_t a = due(t, MR_CONN_FRESH, fresh_ms), b = due(t, MR_CONN_KEPT, idle_ms);
    int64_t p = due(t, MR_CONN_PARTIAL, fresh_ms);
    int64_t d = a < b ? a : b;
    d = p < d ? p : d;
    if (d == INT64_MAX)
        return -1;
    if (d <= now_ms)
        return 0;
    return d - now_ms > 86400000 ? 86400000 : (int)(d - now_ms);
}
