/* gateway/conf/resolve.c: name resolution of upstream targets and the Redis
 * host at load time (blocking getaddrinfo: main thread only). Tests and the
 * fuzzer set pc_conf_resolve_hook to NULL or to a fake. */
#include "conf/conf.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

pc_conf_resolve_fn pc_conf_resolve_hook = pc_conf_resolve_getaddrinfo;

int pc_conf_resolve_getaddrinfo(const char *host, unsigned port, struct sockaddr_storage *out,
                                socklen_t *outlen, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    char ps[8];
    snprintf(ps, sizeof(ps), "%u", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "%s", rc ? gai_strerror(rc) : "no address");
        return -1;
    }
    if (res->ai_addrlen > sizeof(*out)) {
        freeaddrinfo(res);
        snprintf(err, errlen, "address too long");
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *outlen = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}
