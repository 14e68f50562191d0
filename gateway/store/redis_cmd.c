/* gateway/store/redis_cmd.c: commands as bytes: a script's EVALSHA name,
 * and the RESP encoding of an argument vector (contract in redis_cmd.h). */
#include "store/redis_cmd.h"
#include "base/util.h"

#include <openssl/evp.h>

#include <string.h>

void pc_redis_script_init(pc_redis_script_t *s, const char *src, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    s->src = src;
    s->len = len;
    PC_ASSERT(EVP_Digest(src, len, md, &mdlen, EVP_sha1(), NULL) == 1 && mdlen == 20);
    for (unsigned i = 0; i < 20; i++) {
        s->sha[2 * i] = hex[md[i] >> 4];
        s->sha[2 * i + 1] = hex[md[i] & 15];
    }
    s->sha[40] = '\0';
}

static size_t resp_digits(size_t n)
{
    size_t d = 1;
    for (; n >= 10; n /= 10)
        d++;
    return d;
}

/* "<c><n>\r\n" without printf: this runs for every argument of every command. */
static char *resp_num(char *p, char c, size_t n)
{
    size_t d = resp_digits(n);
    *p++ = c;
    for (size_t i = d; i-- > 0; n /= 10)
        p[i] = (char)('0' + n % 10);
    p += d;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

size_t pc_redis_format(char *out, int npre, const char **pre, const size_t *prelen, int argc,
                          const char **argv, const size_t *argvlen)
{
    size_t total = (size_t)npre + (size_t)argc;
    if (!out) {
        size_t n = 3 + resp_digits(total);
        for (int i = 0; i < npre; i++)
            n += 5 + resp_digits(prelen[i]) + prelen[i];
        for (int i = 0; i < argc; i++)
            n += 5 + resp_digits(argvlen[i]) + argvlen[i];
        return n;
    }
    char *p = resp_num(out, '*', total);
    for (int i = 0; i < npre + argc; i++) {
        const char *s = i < npre ? pre[i] : argv[i - npre];
        size_t len = i < npre ? prelen[i] : argvlen[i - npre];
        p = resp_num(p, '$', len);
        memcpy(p, s, len);
        p += len;
        *p++ = '\r';
        *p++ = '\n';
    }
    return (size_t)(p - out);
}
