/* tests/plugins/test_auth.c: a test-only authentication plugin (flag
 * PC_PLUGIN_AUTHENTICATES), so that the rate_limit and brute_force tests
 * do not depend on the jwt plugin. Compiled only into tests/portcullis-test.
 *
 *   {"type": "test_auth"}
 *
 * "Authorization: Bearer <h>.<p>.<s>" where p is base64url JSON claims: the
 * token is valid iff s is "valid"; the identity is then p's "sub" with p as
 * the claims. Any other token, or none, is refused with 401 (reason
 * test_auth.invalid / test_auth.missing).
 */
#include <portcullis/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ta_b64(int ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '-')
        return 62;
    if (ch == '_')
        return 63;
    return -1;
}

static json_t *ta_claims(const char *s, size_t n)
{
    unsigned char buf[4096];
    size_t o = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = ta_b64((unsigned char)s[i]);
        if (v < 0 || o >= sizeof(buf))
            return NULL;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return json_loadb((const char *)buf, o, 0, NULL);
}

static int ta_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    if (json_object_size(node))
        return pc_err_set(err, NULL, "test_auth takes no options");
    *conf = NULL;
    return 0;
}

static pc_status_t ta_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const char *auth = pc_request_header(r, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        pc_response_header_set(r, "WWW-Authenticate", "Bearer");
        return pc_deny(r, 401, "test_auth.missing", "a bearer token is required");
    }
    const char *tok = auth + 7, *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    json_t *claims = d2 && !strcmp(d2 + 1, "valid") ? ta_claims(d1 + 1, (size_t)(d2 - d1 - 1)) : NULL;
    const json_t *sub = claims ? json_object_get(claims, "sub") : NULL;
    if (!json_is_string(sub)) {
        json_decref(claims);
        pc_response_header_set(r, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        return pc_deny(r, 401, "test_auth.invalid", "the token is not valid");
    }
    pc_request_set_identity(r, json_string_value(sub), claims);
    json_decref(claims);
    return PC_CONTINUE;
}

const pc_plugin_t pc_plugin_test_auth = {
    .abi = PC_PLUGIN_ABI,
    .name = "test_auth",
    .flags = PC_PLUGIN_AUTHENTICATES,
    .conf_create = ta_conf_create,
    .on_headers = ta_on_headers,
};
