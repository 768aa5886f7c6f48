/* temporary: replaced by the real db/ */
#include <errno.h>
#include <stdlib.h>
#include "db/db.h"
struct mr_db { int x; };
struct mr_db_prober { int x; };
int mr_db_open(const struct mr_db_cfg *cfg, struct mr_db_health health, struct mr_db **out, struct mr_err *err) { (void)cfg; (void)health; (void)err; *out = calloc(1, sizeof(struct mr_db)); return 0; }
void mr_db_close(struct mr_db **db) { free(*db); *db = NULL; }
void mr_db_deadline(struct mr_db *db, int64_t d) { (void)db; (void)d; }
int mr_db_prober_open(const struct mr_db_cfg *cfg, struct mr_db_health health, struct mr_db_prober **out, struct mr_err *err) { (void)cfg; (void)health; (void)err; *out = calloc(1, sizeof(struct mr_db_prober)); return 0; }
void mr_db_prober_run(struct mr_db_prober *p) { (void)p; }
void mr_db_prober_close(struct mr_db_prober **p) { free(*p); *p = NULL; }
int mr_db_worlds_get(struct mr_db *db, const int32_t *ids, size_t n, struct mr_world *out, struct mr_err *err) { (void)db; (void)ids; (void)n; (void)out; return mr_err_set(err, -ECONNREFUSED, "stub"); }
int mr_db_fortunes_get(struct mr_db *db, struct mr_arena *arena, struct mr_fortune **out, size_t *n, struct mr_err *err) { (void)db; (void)arena; (void)out; (void)n; return mr_err_set(err, -ECONNREFUSED, "stub"); }
int mr_db_worlds_update(struct mr_db *db, const struct mr_world *rows, size_t n, struct mr_err *err) { (void)db; (void)rows; (void)n; return mr_err_set(err, -ECONNREFUSED, "stub"); }
