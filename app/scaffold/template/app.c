/* @NAME@: a millrace application. `make` builds build/@NAME@.so; `make run` serves it. */
#include <millrace.h>
#include <stdio.h>

#ifndef APP_VERSION
#define APP_VERSION "0.1.0"
#endif

/* GET /api/hello?name=you -> {"message":"Hello, you!"} */
static int
hello(struct mr_ctx *ctx)
{
    const char *name = mr_query(ctx, "name");
    char text[128];
    snprintf(text, sizeof(text), "Hello, %s!", name != NULL ? name : "world");
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "message");
    mr_jw_string(j, text); /* escaped by the writer */
    mr_jw_object_end(j);
    return 0;
}

/* GET /api/version -> which build answers (see "Deploy" in README.md). */
static int
version(struct mr_ctx *ctx)
{
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "app");
    mr_jw_string(j, "@NAME@");
    mr_jw_key(j, "version");
    mr_jw_string(j, APP_VERSION);
    mr_jw_object_end(j);
    return 0;
}

static const struct mr_route routes[] = {
    MR_ROUTE("GET", "/api/hello", hello),
    MR_ROUTE("GET", "/api/version", version),
};

MR_APP(.name = "@NAME@", .version = APP_VERSION, .routes = routes,
       .n_routes = sizeof(routes) / sizeof(routes[0]));
