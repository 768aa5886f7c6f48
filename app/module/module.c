/* SPDX-License-Identifier: BSD-2-Clause */
/* module: loading through a memfd copy, the route table and statement checks, and the
 * throwaway child. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/lib/arena.h"
#include "app/lib/clock.h"
#include "app/module/module.h"
#include "db/db.h"

struct mr_module {
    void *dl;
    int memfd; /* open while loaded: its /proc/self/fd name must stay unique among loaded objects */
    const struct mr_app *app;
};

/* The module's bytes in a new memfd; returns the fd or a negative errno. */
static int
copy_to_memfd(const char *path, struct mr_err *err)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return mr_err_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
        (void)close(in);
        return mr_err_set(err, -EINVAL, "%s: not a regular file", path);
    }
    int out = memfd_create("millrace-app", MFD_CLOEXEC);
    if (out < 0) {
        int e = errno;
        (void)close(in);
        return mr_err_set(err, -e, "%s: memfd_create: %s", path, strerror(e));
    }
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = sendfile(out, in, &off, (size_t)(st.st_size - off));
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            (void)close(in);
            (void)close(out);
            return mr_err_set(err, -e, "%s: cannot read: %s", path, strerror(e));
        }
    }
    (void)close(in);
    return out;
}

/* dlerror() names the memfd; the user knows the file by its path. */
static int
load_failed(const char *path, const char *what, struct mr_err *err)
{
    const char *msg = dlerror();
    if (msg == NULL)
        msg = "unknown error";
    const char *colon = strncmp(msg, "/proc/self/fd/", 14) == 0 ? strstr(msg, ": ") : NULL;
    return mr_err_set(err, -EINVAL, "%s: %s%s", path, what, colon != NULL ? colon + 2 : msg);
}

int
mr_module_open(const char *path, struct mr_module **out, struct mr_err *err)
{
    *out = NULL;
    int fd = copy_to_memfd(path, err);
    if (fd < 0)
        return fd;
    char name[64];
    (void)snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
    (void)dlerror();
    /* RTLD_NOW: a symbol the module needs and this server lacks fails here, not mid-request. */
    void *dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        int rc = load_failed(path, "", err);
        (void)close(fd);
        return rc;
    }
    int rc = 0;
    const unsigned *version = dlsym(dl, MR_APP_VERSION_SYMBOL);
    const struct mr_app *(*entry)(void) = NULL;
    const struct mr_app *app = NULL;
    if (version == NULL) {
        rc = mr_err_set(err, -EINVAL,
                        "%s: not a millrace module: no %s symbol (declare the app with MR_APP)",
                        path, MR_APP_VERSION_SYMBOL);
    } else if (*version != MR_API_VERSION) {
        rc = mr_err_set(err, -EINVAL,
                        "%s: built for millrace API version %u, this server has version %u: "
                        "rebuild it against this server's millrace.h",
                        path, *version, MR_API_VERSION);
    } else if ((*(void **)&entry = dlsym(dl, MR_APP_ENTRY)) == NULL) {
        rc = mr_err_set(err, -EINVAL, "%s: no %s entry point", path, MR_APP_ENTRY);
    } else if ((app = entry()) == NULL) {
        rc = mr_err_set(err, -EINVAL, "%s: %s returned NULL", path, MR_APP_ENTRY);
    } else if (app->api_version != MR_API_VERSION) {
        rc = mr_err_set(err, -EINVAL, "%s: its application declares API version %u, not %u", path,
                        app->api_version, MR_API_VERSION);
    } else if (app->routes == NULL || app->n_routes == 0) {
        rc = mr_err_set(err, -EINVAL, "%s: the application declares no routes", path);
    }
    if (rc != 0) {
        (void)dlclose(dl);
        (void)close(fd);
        return rc;
    }
    struct mr_module *m = mr_xcalloc(1, sizeof(*m));
    m->dl = dl;
    m->memfd = fd;
    m->app = app;
    *out = m;
    return 0;
}

const struct mr_app *
mr_module_app(const struct mr_module *m)
{
    return m->app;
}

void
mr_module_close(struct mr_module **mp)
{
    struct mr_module *m = *mp;
    if (m == NULL)
        return;
    (void)dlclose(m->dl);
    (void)close(m->memfd);
    free(m);
    *mp = NULL;
}

static bool
known_method(const char *m)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(m, methods[i]) == 0)
            return true;
    return false;
}

/* "row 3 of the application" or "the server's own GET /status". */
static void
describe(char *dst, size_t cap, const struct mr_route *r, size_t i, size_t n_app)
{
    if (i < n_app)
        (void)snprintf(dst, cap, "%s %s (route %zu of the application)", r->method, r->pattern,
                       i + 1);
    else
        (void)snprintf(dst, cap, "%s %s (served by millrace itself)", r->method, r->pattern);
}

static int
check_row(const struct mr_route *r, size_t i, struct mr_err *err)
{
    if (r->method == NULL || r->pattern == NULL || r->handler == NULL)
        return mr_err_set(err, -EINVAL, "route %zu: method, pattern and handler are required",
                          i + 1);
    if (strcmp(r->method, "HEAD") == 0)
        return mr_err_set(err, -EINVAL,
                          "route %zu: HEAD %s: HEAD is answered by the GET row; remove it", i + 1,
                          r->pattern);
    if (!known_method(r->method))
        return mr_err_set(err, -EINVAL,
                          "route %zu: unknown method \"%s\" (GET, POST, PUT, PATCH, DELETE, "
                          "OPTIONS)",
                          i + 1, r->method);
    if (r->pattern[0] != '/')
        return mr_err_set(err, -EINVAL, "route %zu: pattern \"%s\" must start with '/'", i + 1,
                          r->pattern);
    return 0;
}

int
mr_module_routes(const struct mr_app *app, const struct mr_route *own, size_t n_own,
                 struct mr_route **out, size_t *n_out, struct mr_err *err)
{
    size_t n_app = app->n_routes;
    size_t n = n_app + n_own;
    struct mr_route *t = mr_xcalloc(n, sizeof(*t));
    for (size_t i = 0; i < n_app; i++)
        t[i] = app->routes[i];
    for (size_t i = 0; i < n_own; i++)
        t[n_app + i] = own[i];
    int rc = 0;
    for (size_t i = 0; i < n_app && rc == 0; i++)
        rc = check_row(&t[i], i, err);
    /* Quadratic, once per load, over a table of tens of rows. */
    for (size_t i = 0; i < n && rc == 0; i++)
        for (size_t k = i + 1; k < n && rc == 0; k++) {
            if (strcmp(t[i].method, t[k].method) != 0 || strcmp(t[i].pattern, t[k].pattern) != 0)
                continue;
            char a[256], b[256];
            describe(a, sizeof(a), &t[i], i, n_app);
            describe(b, sizeof(b), &t[k], k, n_app);
            rc = mr_err_set(err, -EINVAL, "%s conflicts with %s", a, b);
        }
    if (rc != 0) {
        free(t);
        return rc;
    }
    *out = t;
    *n_out = n;
    return 0;
}

int
mr_module_statements(const struct mr_app *app, struct mr_err *err)
{
    const struct mr_statement *st = app->statements;
    if (app->n_statements > 0 && st == NULL)
        return mr_err_set(err, -EINVAL, "n_statements is %zu but statements is NULL",
                          app->n_statements);
    if (app->n_statements > MR_MODULE_MAX_STATEMENTS)
        return mr_err_set(err, -EINVAL, "%zu statements, at most %d", app->n_statements,
                          MR_MODULE_MAX_STATEMENTS);
    for (size_t i = 0; i < app->n_statements; i++) {
        if (st[i].name == NULL || *st[i].name == '\0')
            return mr_err_set(err, -EINVAL, "statement %zu has no name", i);
        if (st[i].sql == NULL || *st[i].sql == '\0')
            return mr_err_set(err, -EINVAL, "statement \"%s\" has no SQL", st[i].name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(st[k].name, st[i].name) == 0)
                return mr_err_set(err, -EINVAL, "statements %zu and %zu are both named \"%s\"", k,
                                  i, st[i].name);
    }
    return 0;
}

/* Prepares the application's statements on the primary. Returns 0, or -EINVAL with err
 * naming the statement the server refused; an unreachable primary is 0 with err as a note. */
static int
check_statements(const char *path, const struct mr_app *app, const struct mr_db_cfg *db,
                 struct mr_err *err)
{
    if (db == NULL || app->n_statements == 0)
        return 0;
    struct mr_db_stmt *stmts = mr_xcalloc(app->n_statements, sizeof(*stmts));
    for (size_t i = 0; i < app->n_statements; i++)
        stmts[i] = (struct mr_db_stmt){app->statements[i].name, app->statements[i].sql};
    struct mr_err why = {{0}};
    int rc = mr_db_check_stmts(db, stmts, (int)app->n_statements, &why);
    free(stmts);
    if (rc == -EINVAL)
        return mr_err_set(err, rc, "%s: %s", path, why.msg);
    if (rc != 0)
        (void)mr_err_set(err, 0, "%s: statements not checked, the primary is unreachable (%s)",
                         path, why.msg);
    return 0;
}

/* The child's side: everything, then the verdict on the pipe (a reason with exit 1, or a
 * note with exit 0). Never returns. */
static void
check_in_child(const char *path, const struct mr_route *own, size_t n_own,
               const struct mr_db_cfg *db, int fd)
{
    struct mr_err err = {0};
    struct mr_served served;
    int rc = mr_served_open(path, NULL, own, n_own, &served, &err);
    const struct mr_app *app = rc == 0 ? served.app : NULL;
    if (rc == 0)
        rc = check_statements(path, app, db, &err);
    if (rc == 0 && app->init != NULL) {
        struct mr_worker_info w = {.worker = -1, .app_path = path};
        int irc = app->init(&w);
        if (irc != 0)
            rc = mr_err_set(&err, -EINVAL, "%s: init failed: %s", path,
                            irc < 0 ? strerror(-irc) : "nonzero return");
    }
    if (rc == 0 && app->fini != NULL)
        app->fini();
    if (err.msg[0] != '\0') {
        ssize_t w = write(fd, err.msg, strlen(err.msg));
        (void)w;
    }
    _exit(rc == 0 ? 0 : 1);
}

int
mr_module_check(const char *path, const struct mr_route *own, size_t n_own,
                const struct mr_db_cfg *db, int timeout_ms, struct mr_err *err)
{
    if (err != NULL)
        err->msg[0] = '\0';
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return mr_err_set(err, -errno, "%s: pipe: %s", path, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        (void)close(p[0]);
        (void)close(p[1]);
        return mr_err_set(err, -e, "%s: fork: %s", path, strerror(e));
    }
    if (pid == 0) {
        (void)close(p[0]);
        check_in_child(path, own, n_own, db, p[1]);
    }
    (void)close(p[1]);
    char msg[MR_ERR_LEN];
    size_t got = 0;
    int64_t deadline = mr_clock_ms() + timeout_ms;
    bool timed_out = false;
    for (;;) {
        int64_t left = deadline - mr_clock_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        ssize_t n = read(p[0], msg + got, sizeof(msg) - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EOF: the child exited */
        got += (size_t)n;
        if (got == sizeof(msg) - 1)
            break;
    }
    (void)close(p[0]);
    msg[got] = '\0';
    if (timed_out)
        (void)kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (timed_out)
        return mr_err_set(err, -ETIMEDOUT, "%s: loading or init did not finish within %d ms", path,
                          timeout_ms);
    if (WIFSIGNALED(status))
        return mr_err_set(err, -EINVAL, "%s: crashed while loading or in init (signal %d, %s)",
                          path, WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return mr_err_set(err, -EINVAL, "%s", got > 0 ? msg : "the check failed");
    if (got > 0)
        (void)mr_err_set(err, 0, "%s", msg); /* the note */
    return 0;
}

/* The app's templates, compiled-in and from templates_dir (beside the module), as one set. */
static int
compile_templates(const struct mr_app *app, const char *app_path, struct mr_tpl_set **out,
                  struct mr_err *err)
{
    *out = NULL;
    bool has_dir = app->templates_dir != NULL && *app->templates_dir != '\0';
    if (app->n_templates == 0 && !has_dir)
        return 0;
    struct mr_tpl_set *set = mr_tpl_set_new();
    int rc = 0;
    for (size_t i = 0; i < app->n_templates && rc == 0; i++) {
        const struct mr_template *t = &app->templates[i];
        rc = t->name != NULL && t->text != NULL
                 ? mr_tpl_set_add(set, t->name, t->text, strlen(t->text), err)
                 : mr_err_set(err, -EINVAL, "template %zu: name and text are required", i + 1);
    }
    if (rc == 0 && has_dir) {
        char dir[4096];
        const char *slash = strrchr(app_path, '/');
        if (app->templates_dir[0] == '/' || slash == NULL)
            (void)snprintf(dir, sizeof(dir), "%s", app->templates_dir);
        else
            (void)snprintf(dir, sizeof(dir), "%.*s/%s", (int)(slash - app_path), app_path,
                           app->templates_dir);
        rc = mr_tpl_set_load_dir(set, dir, err);
    }
    if (rc == 0)
        rc = mr_tpl_set_compile(set, err);
    if (rc != 0) {
        mr_tpl_set_free(set);
        return rc;
    }
    *out = set;
    return 0;
}

int
mr_routes_compile(const struct mr_route *routes, size_t n, struct mr_router **out,
                  struct mr_err *err)
{
    struct mr_route_row *rows = mr_xcalloc(n > 0 ? n : 1, sizeof(*rows));
    for (size_t i = 0; i < n; i++)
        rows[i] = (struct mr_route_row){routes[i].method, routes[i].pattern};
    int rc = mr_router_build(rows, n, sizeof(*rows), out, err);
    free(rows);
    return rc;
}

static int
compile_inputs(struct mr_served *s, struct mr_err *err)
{
    s->inputs = mr_xcalloc(s->n_routes, sizeof(*s->inputs));
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct mr_route *r = &s->routes[i];
        if (r->inputs == NULL)
            continue;
        int rc = mr_valid_compile(r->inputs, &s->inputs[i], err);
        if (rc != 0) {
            struct mr_err why = *err;
            return mr_err_set(err, rc, "%s %s: %s", r->method, r->pattern, why.msg);
        }
    }
    return 0;
}

int
mr_served_open(const char *app_path, const struct mr_app *builtin, const struct mr_route *own,
               size_t n_own, struct mr_served *out, struct mr_err *err)
{
    memset(out, 0, sizeof(*out));
    const struct mr_app *app = builtin;
    if (*app_path != '\0') {
        int rc = mr_module_open(app_path, &out->module, err);
        if (rc != 0)
            return rc;
        app = out->module->app;
    }
    int rc = mr_module_routes(app, own, n_own, &out->routes, &out->n_routes, err);
    if (rc == 0)
        rc = mr_routes_compile(out->routes, out->n_routes, &out->router, err);
    if (rc == 0)
        rc = mr_module_statements(app, err);
    if (rc == 0)
        rc = compile_inputs(out, err);
    if (rc == 0)
        rc = compile_templates(app, app_path, &out->templates, err);
    if (rc != 0) {
        struct mr_err why = *err;
        (void)mr_err_set(err, rc, "%s: %s", *app_path != '\0' ? app_path : "built-in application",
                         why.msg);
        mr_served_close(out);
        return rc;
    }
    out->app = app;
    return 0;
}

void
mr_served_close(struct mr_served *s)
{
    if (s->templates != NULL)
        mr_tpl_set_free(s->templates);
    for (size_t i = 0; s->inputs != NULL && i < s->n_routes; i++)
        mr_valid_free(&s->inputs[i]);
    free(s->inputs);
    mr_router_free(&s->router);
    free(s->routes);
    mr_module_close(&s->module);
    memset(s, 0, sizeof(*s));
}
