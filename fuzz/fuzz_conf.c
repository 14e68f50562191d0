/* fuzz/fuzz_conf.c: libFuzzer target for the config loader.
 *
 * Each input is parsed as a JSON document and loaded with
 * pc_conf_load_buffer(): the full schema walk, the plugin calls, the router
 * and the balancers. Name resolution is disabled (pc_conf_resolve_hook =
 * NULL), so only IP literals are accepted as targets and nothing touches the
 * network. The plugins are the real ones (fuzz/run.sh builds with
 * -DPC_FUZZ_REAL_PLUGINS, gateway/conf/plugins.c and every built-in
 * plugin's sources, instrumented), so their config parsers and start() are
 * fuzzed too; files named by a config ({"file"} secrets, PEM keys) are
 * refused through pc_conf_open_hook, and "load" through
 * pc_plugin_so_open_hook, so nothing of this machine is read or mapped.
 * Without -DPC_FUZZ_REAL_PLUGINS a small fake registry stands in: a "fake"
 * type validating an integer "x", a list of strings and a secret, and two
 * types carrying the NEEDS_BODY / AUTHENTICATES flags.
 *
 * Build (clang):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
 *     -Igateway -Iinclude fuzz/fuzz_conf.c gateway/conf/conf.c gateway/conf/conf_diag.c \
 *     gateway/base/util.c gateway/http/router.c gateway/upstream/lb.c gateway/http/path.c \
 *     $(pkg-config --cflags --libs jansson) -lm -o fuzz_conf
 *   ./fuzz_conf -dict=fuzz/conf.dict fuzz/corpus/conf
 */
#include "conf/conf.h"
#include "conf/plugins.h"
#include "conf/plugin_so.h"
#include "base/util.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef PC_FUZZ_REAL_PLUGINS
typedef struct fz_conf {
    char *secret;
} fz_conf_t;

static int fz_create(const json_t *node, void **conf, pc_err_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)node, key, v) {
        if (strcmp(key, "x") && strcmp(key, "list") && strcmp(key, "secret"))
            return pc_err_set(err, key, "unknown key");
    }
    v = json_object_get(node, "x");
    if (v && !json_is_integer(v))
        return pc_err_set(err, "x", "must be an integer");
    v = json_object_get(node, "list");
    for (size_t i = 0; v && i < json_array_size(v); i++) {
        if (!json_is_string(json_array_get(v, i))) {
            char k[32];
            snprintf(k, sizeof(k), "list[%zu]", i);
            return pc_err_set(err, k, "must be a string");
        }
    }
    fz_conf_t *fc = pc_xcalloc(1, sizeof(*fc));
    /* Only inline and env secrets: a {"file"} would read this machine's files. */
    v = json_object_get(node, "secret");
    if (v && !(json_is_object(v) && json_object_get(v, "file"))) {
        size_t len;
        fc->secret = pc_conf_secret(node, "secret", &len, err);
        if (!fc->secret) {
            free(fc);
            return -1;
        }
    }
    *conf = fc;
    return 0;
}

static void fz_free(void *conf)
{
    fz_conf_t *fc = conf;
    free(fc->secret);
    free(fc);
}

static const pc_plugin_t fz_plain = {
    .abi = PC_PLUGIN_ABI, .name = "fake", .conf_create = fz_create, .conf_free = fz_free,
};
static const pc_plugin_t fz_auth = {
    .abi = PC_PLUGIN_ABI, .name = "fake_auth", .flags = PC_PLUGIN_AUTHENTICATES,
    .conf_create = fz_create, .conf_free = fz_free,
};
static const pc_plugin_t fz_body = {
    .abi = PC_PLUGIN_ABI, .name = "headers", .flags = PC_PLUGIN_NEEDS_BODY,
    .conf_create = NULL, .conf_free = NULL,
};

const pc_plugin_t *pc_plugin_find(const char *type)
{
    static const pc_plugin_t *const all[] = {&fz_plain, &fz_auth, &fz_body};
    for (size_t i = 0; i < PC_ARRAY_LEN(all); i++)
        if (strcmp(all[i]->name, type) == 0)
            return all[i];
    return NULL;
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_no_open(const char *path, int flags)
{
    (void)path;
    (void)flags;
    errno = EACCES;
    return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pc_conf_resolve_hook = NULL;
    pc_conf_open_hook = fz_no_open;   /* a config must not read this machine's files */
    pc_plugin_so_open_hook = NULL; /* "load" must not map this machine's libraries */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned loads;
    pc_diag_t d = {0};
    pc_conf_t *c = pc_conf_load_buffer((const char *)data, size, "fuzz.json", &d);
    if (c) {
        /* What the core does with a generation: start, compare, free. */
        struct pc_env env = {.workers = 1, .generation = 1};
        pc_conf_start(c, &env, &d);
        pc_conf_reload_compatible(c, c, &d);
        pc_conf_ref(c);
        if (pc_conf_unref_is_last(c))
            abort();
        if (!pc_conf_unref_is_last(c))
            abort();
        pc_conf_free(c);
    }
    /* Every message must start with a path or the file name. */
    for (size_t i = 0; i < d.nerrors; i++)
        if (!d.errors[i][0])
            abort();
    pc_diag_free(&d);
    /* Valid inputs add names to the stable id table; keep it bounded. */
    if (++loads % 4096 == 0)
        pc_conf_stable_ids_reset();
    return 0;
}
