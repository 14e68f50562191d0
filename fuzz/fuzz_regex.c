/* fuzz/fuzz_regex.c: libFuzzer target for the ECMA-262 translation and
 * bounded PCRE2 matching (plugins/schema/regex.h).
 *
 * Input: byte 0 is the pattern's length (mod what is left), then the
 * pattern, then the subject. Beyond "no crash, no leak, no UB", checks:
 *   - pc_regex_translate either refuses or yields printable ASCII without
 *     spaces (every other literal is written \x{...}, so nothing reaches
 *     PCRE2 that could end the string early or change meaning);
 *   - a pattern that compiles is also pc_regex_valid, and one that does
 *     not translate neither compiles nor is valid;
 *   - pc_regex_match answers -1, 0 or 1, and -1 for a subject that is not
 *     UTF-8; a low match limit keeps every run short (libFuzzer's
 *     -timeout catches a hang);
 *   - a pattern of ASCII letters and digits only matches exactly when it
 *     occurs in the subject (memmem), as in ECMA.
 * Build: see fuzz/run.sh. Run: ./fuzz_regex -dict=fuzz/regex.dict corpus */
#include "schema/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static int utf8_ok(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (k == 0 || k > n - i)
            return 0;
        uint32_t cp = k == 1 ? c : c & (0x3fu >> (k - 1));
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k;
    }
    return 1;
}

static int all_alnum(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z')))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t plen = data[0] % size;
    const char *pat = (const char *)data + 1;
    const char *subj = pat + plen;
    size_t slen = size - 1 - plen;

    char err[128];
    char *tr = pc_regex_translate(pat, plen, false, err, sizeof err);
    for (const char *q = tr; q && *q; q++)
        FUZZ_CHECK(*q > 0x20 && *q < 0x7f);
    pc_regex_t *re = pc_regex_compile(pat, plen, 2000, 100, err, sizeof err);
    bool valid = pc_regex_valid(pat, plen);
    if (!tr)
        FUZZ_CHECK(!re && !valid);
    if (re)
        FUZZ_CHECK(valid);
    free(tr);
    if (!re)
        return 0;
    int rc = pc_regex_match(re, subj, slen);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    if (!utf8_ok((const uint8_t *)subj, slen))
        FUZZ_CHECK(rc == -1);
    pc_regex_free(re);
    if (rc == -1 || !all_alnum((const uint8_t *)pat, plen))
        return 0;
    /* Default limits: a literal scan of a long subject may pass 2000 steps. */
    re = pc_regex_compile(pat, plen, 0, 0, NULL, 0);
    FUZZ_CHECK(re != NULL);
    FUZZ_CHECK(pc_regex_match(re, subj, slen) == (plen == 0 || memmem(subj, slen, pat, plen) != NULL));
    pc_regex_free(re);
    return 0;
}
