/* temporary: replaced by the real cache/ */
#include <errno.h>
#include <stdlib.h>
#include "cache/cache.h"
struct mr_cache { int x; };
int mr_cache_open(const struct mr_cache_cfg *cfg, struct mr_health_slot *h, struct mr_cache **out, struct mr_err *err) { (void)cfg; (void)h; (void)err; *out = calloc(1, sizeof(struct mr_cache)); return 0; }
void mr_cache_close(struct mr_cache **c) { free(*c); *c = NULL; }
void mr_cache_deadline(struct mr_cache *c, int64_t d) { (void)c; (void)d; }
int mr_cache_ping(struct mr_cache *c, struct mr_err *err) { (void)c; (void)err; return -ECONNREFUSED; }
int mr_cache_mget(struct mr_cache *c, struct mr_cache_item *items, size_t n, struct mr_arena *arena, struct mr_err *err) { (void)c; (void)items; (void)n; (void)arena; return mr_err_set(err, -ECONNREFUSED, "stub"); }
int mr_cache_mset(struct mr_cache *c, const struct mr_cache_item *items, size_t n, int64_t compute_us, bool only_if_absent, struct mr_err *err) { (void)c; (void)items; (void)n; (void)compute_us; (void)only_if_absent; return mr_err_set(err, -ECONNREFUSED, "stub"); }
