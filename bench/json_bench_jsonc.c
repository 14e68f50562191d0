/* bench/json_bench_jsonc.c: json-c's side of bench/json_bench.c, in its
 * own file because json-c's and jansson's headers declare the same names
 * (json_object_get, json_type, ...); the libraries' symbols do not clash. */
#include "json_bench.h"

#include <json-c/json.h>

static json_tokener *tok;

void bench_jsonc_init(void)
{
    tok = json_tokener_new();
}

void bench_jsonc_done(void)
{
    json_tokener_free(tok);
}

/* A reused tokener, reset per body; the tree is built and put. */
bool bench_jsonc_read(const char *buf, size_t len)
{
    json_tokener_reset(tok);
    json_object *v = json_tokener_parse_ex(tok, buf, (int)len);
    bool ok = v && json_tokener_get_error(tok) == json_tokener_success;
    json_object_put(v);
    return ok;
}
