/* gateway/conf/values.c: the single-value helpers of the plugin SDK
 * (include/portcullis/plugin.h) that the field tables (fields.c) are made
 * of and that plugins may call for what a table does not fit: durations,
 * RFC 9110 tokens, integers with a range, and freeing the owned value
 * types (string lists, secrets). Main thread, load time (the frees: any
 * thread). */
#include "conf/conf_int.h"

#include <portcullis/plugin.h>

#include <stdlib.h>
#include <string.h>

int pc_conf_duration_ms(const char *s, uint64_t *ms)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > ((uint64_t)1 << 40))
            return -1;
    }
    uint64_t mul;
    if (!strcmp(p, "ms"))
        mul = 1;
    else if (!strcmp(p, "s"))
        mul = 1000;
    else if (!strcmp(p, "m"))
        mul = 60000;
    else if (!strcmp(p, "h"))
        mul = 3600000;
    else if (!strcmp(p, "d"))
        mul = 86400000;
    else
        return -1;
    *ms = v * mul;
    return *ms ? 0 : -1;
}

int pc_conf_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

int pc_conf_uint(const json_t *v, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                   pc_err_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        (uint64_t)json_integer_value(v) > hi)
        return pc_err_set(err, key, "must be an integer between %llu and %llu",
                          (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* ---- owned values ----------------------------------------------------------------- */

void pc_conf_strings_free(pc_conf_strings_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

void pc_conf_secret_free(pc_conf_secret_t *s)
{
    if (s->s)
        explicit_bzero(s->s, s->len);
    free(s->s);
    s->s = NULL;
    s->len = 0;
}
