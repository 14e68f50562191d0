/* gateway/store/store_ns.h: store namespaces, and the key an entry has in
 * the store.
 *
 * A namespace is a name a plugin (or the core) asks for once at load time;
 * every store call carries its handle. The entry's key in the store is
 * "<namespace>:<key>", or "<namespace>#" + hex(SHA-256(key)) when that
 * would be longer than PC_STORE_KEY_MAX bytes (plugin.h): keys of any
 * length work, and long ones (tokens) never reach the store in clear. For
 * "revoked:jti" this is exactly the spelling revocations always had.
 */
#ifndef PC_STORE_NS_H
#define PC_STORE_NS_H

#include <portcullis/plugin.h>

#include <stddef.h>

#define PC_STORE_NS_NAME_MAX 64
#define PC_STORE_NS_MAX 64         /* namespaces per process */

struct pc_store_ns {
    size_t len;
    char name[PC_STORE_NS_NAME_MAX + 1];
};

/* The namespace called name: 1..PC_STORE_NS_NAME_MAX bytes of A-Z a-z 0-9
 * and "_.:-". The same name always gives the same handle, valid for the
 * process's life. NULL for a bad name or when PC_STORE_NS_MAX are in use.
 * Any thread (load time in practice). */
const pc_store_ns_t *pc_store_ns_named(const char *name);

/* Writes the store key of (ns, key) to out and returns its length
 * (1..PC_STORE_KEY_MAX). Any thread; no allocation. */
size_t pc_store_ns_key(const pc_store_ns_t *ns, const void *key, size_t klen,
                       char out[PC_STORE_KEY_MAX]);

#endif
