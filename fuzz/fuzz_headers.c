/* fuzz/fuzz_headers.c: the header rules on hostile bytes. The input is
 * split on '\n' into "name:value" fields for the framing check; the whole
 * input is also tried as X-Forwarded-For, traceparent, X-Request-Id and a
 * Connection list. Nothing may crash, and what is accepted must be
 * self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/hdr.h"

static bool trusted(const char *ip, void *ctx)
{
    return ip[0] == '1' && ip[1] == '0' && ip[2] == '.';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    char out[64];
    if (pc_xff_client(s, trusted, NULL, out, sizeof(out)) && trusted(out, NULL))
        abort();
    if (pc_traceparent_ok(s) && strlen(s) < 55)
        abort();
    pc_request_id_ok(s);
    /* an accepted Host never carries what poisons links: space, '/', '@' */
    if (pc_host_ok(s, size) && strpbrk(s, " /@\\%") && s[0] != '[')
        abort();
    pc_hdr_is_loose(s, size, "x-auth-subject");
    pc_hdr_listed(s, "x-secret", 8);
    int64_t cl;
    if (pc_content_length_parse(s, &cl) && cl < 0)
        abort();

    pc_hdr_t h[32];
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(s, "\n", &save); line && n < 32; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        h[n++] = (pc_hdr_t){line, strlen(line), colon + 1, strlen(colon + 1)};
    }
    pc_framing_t f;
    if (!pc_hdr_check_framing(h, n, &f) && f.chunked && f.content_length >= 0)
        abort(); /* never both */
    free(s);
    return 0;
}
