/* plugins/openapi/oa_resp.c: an operation's responses, for "validate_responses":
 * each status key ("200", "2XX", "default") whose content has a JSON media
 * type with a schema gives that schema, translated for responses (3.0
 * readOnly properties stay required) and bundled like the request's. Other
 * media types are not checked; a response without content has no body. */
#include "oa_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool oa_status_key(const char *k, char *out, size_t len)
{
    if (strcmp(k, "default") == 0) {
        snprintf(out, len, "%s", k);
        return true;
    }
    if (strlen(k) != 3 || k[0] < '1' || k[0] > '5')
        return false;
    bool range = (k[1] == 'X' || k[1] == 'x') && (k[2] == 'X' || k[2] == 'x');
    if (!range && !(isdigit((unsigned char)k[1]) && isdigit((unsigned char)k[2])))
        return false;
    snprintf(out, len, "%c%s", k[0], range ? "XX" : k + 1);
    return true;
}

/* The schema of the first JSON media type of content (its pointer in sp). */
static const json_t *oa_json_schema(const json_t *content, const char *cptr, char *sp, size_t len)
{
    const char *mt;
    const json_t *media;
    json_object_foreach((json_t *)content, mt, media) {
        size_t n = strcspn(mt, "; \t");
        bool json = (n == 16 && strncasecmp(mt, "application/json", 16) == 0) ||
                    (n > 5 && strncasecmp(mt + n - 5, "+json", 5) == 0);
        const json_t *s = json_object_get(media, "schema");
        if (json && s) {
            char mp[1100];
            pc_oa_join(sp, len, pc_oa_join(mp, sizeof(mp), cptr, mt), "schema");
            return s;
        }
    }
    return NULL;
}

static int oa_response(oa_t *o, const char *key, const json_t *resp, char *ptr, json_t *out)
{
    if (!(resp = pc_oas_deref(&o->s, resp, ptr, 1024)))
        return -1;
    char cptr[1100], sp[1300];
    const json_t *s = oa_json_schema(json_object_get(resp, "content"),
                                     pc_oa_join(cptr, sizeof(cptr), ptr, "content"), sp,
                                     sizeof(sp));
    if (!s)
        return 0;
    json_t *used = json_object();
    o->s.response = true;
    json_t *t = pc_oas_translate(&o->s, s, sp, used);
    int rc = t && json_is_object(t) ? pc_oas_bundle(&o->s, t, used) : t ? 0 : -1;
    o->s.response = false;
    json_decref(used);
    if (rc == 0)
        json_object_set_new(out, key, t);
    else
        json_decref(t);
    o->out->nresponses += rc == 0;
    return rc;
}

json_t *pc_oa_responses(oa_t *o, const char *op_ptr, const json_t *op)
{
    char rp[1024];
    pc_oa_join(rp, sizeof(rp), op_ptr, "responses");
    const json_t *responses = json_object_get(op, "responses");
    json_t *out = json_object();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)responses, k, v) {
        char key[16], ptr[1024];
        if (strncmp(k, "x-", 2) == 0)
            continue;
        pc_oa_join(ptr, sizeof(ptr), rp, k);
        if (!oa_status_key(k, key, sizeof(key))) {
            json_decref(out);
            pc_oas_fail(&o->s, ptr, "not a status code, a range such as 2XX, or default");
            return NULL;
        }
        if (oa_response(o, key, v, ptr, out)) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}
