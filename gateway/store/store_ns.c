/* gateway/store/store_ns.c: the namespace registry and store keys (see
 * store_ns.h), and pc_store_ns() of plugin.h. */
#include "store/store_ns.h"
#include "base/util.h"

#include <openssl/evp.h>

#include <pthread.h>
#include <string.h>

static pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pc_store_ns ns_table[PC_STORE_NS_MAX];
static size_t ns_count;

static int ns_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > PC_STORE_NS_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

const pc_store_ns_t *pc_store_ns_named(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    const pc_store_ns_t *ns = NULL;
    if (!ns_name_ok(name, len))
        return NULL;
    pthread_mutex_lock(&ns_lock);
    for (size_t i = 0; i < ns_count && !ns; i++)
        if (ns_table[i].len == len && memcmp(ns_table[i].name, name, len) == 0)
            ns = &ns_table[i];
    if (!ns && ns_count < PC_STORE_NS_MAX) {
        pc_store_ns_t *n = &ns_table[ns_count++];
        n->len = len;
        memcpy(n->name, name, len + 1);
        ns = n;
    }
    pthread_mutex_unlock(&ns_lock);
    return ns;
}

pc_store_ns_t *pc_store_ns(pc_env_t *env, const char *name)
{
    (void)env; /* namespaces are the process's: env marks this as load-time only */
    return (pc_store_ns_t *)pc_store_ns_named(name);
}

size_t pc_store_ns_key(const pc_store_ns_t *ns, const void *key, size_t klen,
                       char out[PC_STORE_KEY_MAX])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    memcpy(out, ns->name, ns->len);
    if (ns->len + 1 + klen <= PC_STORE_KEY_MAX) {
        out[ns->len] = ':';
        memcpy(out + ns->len + 1, key, klen);
        return ns->len + 1 + klen;
    }
    if (EVP_Digest(key, klen, md, &mdlen, EVP_sha256(), NULL) != 1)
        pc_assert_fail("SHA-256", __FILE__, __LINE__);
    out[ns->len] = '#';
    size_t o = ns->len + 1;
    for (unsigned i = 0; i < mdlen; i++) {
        out[o++] = hex[md[i] >> 4];
        out[o++] = hex[md[i] & 15];
    }
    return o;
}
