/* fuzz/fuzz_router.c: libFuzzer target for pc_router_match. A fixed router
 * is built once; each input is "<method byte><host>\n<path>" (no '\n':
 * no Host header, the rest is the path). Host and path are copied into
 * buffers of their exact size so ASan sees any read past hostlen/pathlen.
 * Checks the result invariants and that host case does not matter.
 *
 * Build: clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *        -Igateway fuzz/fuzz_router.c gateway/http/router.c gateway/base/util.c -o /tmp/fuzz_router
 * Run:   /tmp/fuzz_router -max_total_time=30 */
#include "http/router.h"
#include "base/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const pc_route_spec_t fuzz_routes[] = {
    { NULL, PC_MATCH_PREFIX, "/", PC_M_GET, "root" },
    { NULL, PC_MATCH_EXACT, "/", 0, "root-exact" },
    { NULL, PC_MATCH_EXACT, "/api/items", PC_M_GET | PC_M_POST, "items" },
    { NULL, PC_MATCH_EXACT, "/api/items/", PC_M_GET, "items-slash" },
    { NULL, PC_MATCH_TEMPLATE, "/api/items/{id}", PC_M_GET | PC_M_PUT, "item" },
    { NULL, PC_MATCH_TEMPLATE, "/api/items/{id}", PC_M_DELETE, "item-del" },
    { NULL, PC_MATCH_TEMPLATE, "/api/{res}/{id}/parts/{part}", 0, "parts" },
    { NULL, PC_MATCH_TEMPLATE, "/api/{a}/x/{b}/{c}/{d}/{e}/{f}/{g}", PC_M_GET, "many" },
    { NULL, PC_MATCH_TEMPLATE, "/{a}/{b}", PC_M_HEAD, "ab" },
    { NULL, PC_MATCH_PREFIX, "/api", PC_M_OTHER, "api-other" },
    { NULL, PC_MATCH_PREFIX, "/static/", PC_M_GET, "static" },
    { NULL, PC_MATCH_PREFIX, "/a/b/c/d/e/f/g/h/i/j", 0, "deep" },
    { "api.example.com", PC_MATCH_PREFIX, "/api", 0, "host-api" },
    { "*.example.com", PC_MATCH_TEMPLATE, "/u/{user}", PC_M_GET, "wild-user" },
    { "*.a.example.com", PC_MATCH_EXACT, "/", PC_M_GET, "wild-a" },
    { "*.a", PC_MATCH_PREFIX, "/", PC_M_POST, "wild-tld" },
    { "[::1]", PC_MATCH_EXACT, "/v6", 0, "v6" },
    { "localhost", PC_MATCH_TEMPLATE, "/{x}/", PC_M_GET, "local" },
};

static pc_router_t *fuzz_router(void)
{
    static pc_router_t *rt;
    if (!rt) {
        rt = pc_router_new();
        for (size_t i = 0; i < PC_ARRAY_LEN(fuzz_routes); i++)
            PC_ASSERT(pc_router_add(rt, &fuzz_routes[i], NULL, 0) == 0);
    }
    return rt;
}

static void check_result(const pc_route_result_t *res, const char *path, size_t pathlen,
                         unsigned method)
{
    switch (res->status) {
    case PC_ROUTE_FOUND:
        PC_ASSERT(res->route != NULL && res->allowed == 0);
        PC_ASSERT(res->nparams <= PC_ROUTER_MAX_PARAMS);
        for (size_t i = 0; i < res->nparams; i++) {
            const pc_route_param_t *p = &res->params[i];
            PC_ASSERT(p->name_len > 0 && p->value_len > 0);
            PC_ASSERT(p->value >= path && p->value + p->value_len <= path + pathlen);
            PC_ASSERT(p->value[-1] == '/' && !memchr(p->value, '/', p->value_len));
        }
        break;
    case PC_ROUTE_METHOD_NOT_ALLOWED:
        PC_ASSERT(res->route == NULL && res->allowed != 0 && !(res->allowed & method));
        break;
    case PC_ROUTE_NOT_FOUND:
        PC_ASSERT(res->route == NULL && res->allowed == 0 && res->nparams == 0);
        break;
    default:
        PC_ASSERT(!"bad status");
    }
}

static int same_result(const pc_route_result_t *a, const pc_route_result_t *b)
{
    if (a->status != b->status || a->route != b->route || a->allowed != b->allowed ||
        a->nparams != b->nparams)
        return 0;
    for (size_t i = 0; i < a->nparams; i++)
        if (a->params[i].value_len != b->params[i].value_len ||
            memcmp(a->params[i].value, b->params[i].value, a->params[i].value_len) != 0)
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const pc_router_t *rt = fuzz_router();
    unsigned method = 1u << (data[0] % 10);
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(in, '\n', n);
    size_t hostlen = nl ? (size_t)(nl - in) : 0;
    size_t pathlen = nl ? n - hostlen - 1 : n;
    char *host = nl ? pc_xmalloc(hostlen) : NULL;
    char *upper = nl ? pc_xmalloc(hostlen) : NULL;
    char *path = pc_xmalloc(pathlen);
    if (nl)
        memcpy(host, in, hostlen);
    memcpy(path, nl ? nl + 1 : in, pathlen);
    for (size_t i = 0; i < hostlen; i++)
        upper[i] = (char)(host[i] >= 'a' && host[i] <= 'z' ? host[i] - 32 : host[i]);

    pc_route_result_t res, res2;
    pc_router_match(rt, host, hostlen, path, pathlen, method, &res);
    check_result(&res, path, pathlen, method);
    pc_router_match(rt, upper, hostlen, path, pathlen, method, &res2);
    PC_ASSERT(same_result(&res, &res2));
    free(host);
    free(upper);
    free(path);
    return 0;
}
