/* plugins/allowlist/al_plugin.c: the `allowlist` plugin, a thin table over
 * the library in allowlist.h (which the openapi plugin shares). */
#include "al_int.h"

int pc_allowlist_start(pc_allowlist_t *al, pc_env_t *env, pc_err_t *err)
{
    static const char *const labels[] = {"list", "decision", "reason", NULL};
    /* Registered again on every reload and by every instance: the same
     * metric comes back, so its counts carry over. */
    al->requests = pc_metric_counter(env, "portcullis_allowlist_requests_total",
                                     "Requests decided by the API allow-list.", labels);
    if (!al->requests)
        return pc_err_set(err, NULL, "cannot register the metric");
    return 0;
}

static int al_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    pc_allowlist_t *al = NULL;
    int rc = pc_allowlist_create(node, &al, err);
    *conf = al;
    return rc;
}

static int al_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    return pc_allowlist_start(conf, env, err);
}

static void al_conf_free(void *conf)
{
    pc_allowlist_free(conf);
}

static pc_status_t al_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    return pc_allowlist_decide(r, conf, NULL);
}

const pc_plugin_t pc_plugin_allowlist = {
    .abi = PC_PLUGIN_ABI,
    .name = "allowlist",
    .conf_create = al_conf_create,
    .start = al_start,
    .conf_free = al_conf_free,
    .on_headers = al_on_headers,
};
