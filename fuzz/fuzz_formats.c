/* fuzz/fuzz_formats.c: libFuzzer target for the JSON Schema format checks
 * (plugins/schema/formats.h): every format on the whole input.
 *
 * Beyond "no crash, no leak, no UB", checks what follows from the grammars:
 *   - every format but regex accepts printable ASCII only (no NUL, no
 *     control, nothing >= 0x80);
 *   - a date-time splits into a valid date and a valid time at "T";
 *   - a uri is a uri-reference; an ipv4 is a hostname and, after
 *     "::ffff:", an ipv6; an email has an "@"; a uuid is 36 bytes;
 *   - regex agrees with pc_regex_valid; UNKNOWN accepts everything.
 * Build: see fuzz/run.sh. Run: ./fuzz_formats corpus */
#include "schema/formats.h"
#include "schema/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

static bool printable_ascii(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    bool ok[PC_FORMAT_REGEX + 1];
    for (int f = PC_FORMAT_UNKNOWN; f <= PC_FORMAT_REGEX; f++) {
        ok[f] = pc_format_check((pc_format_t)f, s, size);
        if (ok[f] && f != PC_FORMAT_REGEX && f != PC_FORMAT_UNKNOWN)
            FUZZ_CHECK(printable_ascii(data, size));
    }
    FUZZ_CHECK(ok[PC_FORMAT_UNKNOWN]);
    FUZZ_CHECK(ok[PC_FORMAT_REGEX] == pc_regex_valid(s, size));
    if (ok[PC_FORMAT_DATE_TIME])
        FUZZ_CHECK(pc_format_check(PC_FORMAT_DATE, s, 10) &&
                   pc_format_check(PC_FORMAT_TIME, s + 11, size - 11));
    if (ok[PC_FORMAT_URI])
        FUZZ_CHECK(ok[PC_FORMAT_URI_REFERENCE]);
    if (ok[PC_FORMAT_EMAIL])
        FUZZ_CHECK(memchr(s, '@', size) != NULL);
    if (ok[PC_FORMAT_UUID])
        FUZZ_CHECK(size == 36);
    if (ok[PC_FORMAT_IPV4] && size < 64) {
        char buf[80] = "::ffff:";
        memcpy(buf + 7, s, size);
        FUZZ_CHECK(ok[PC_FORMAT_HOSTNAME]);
        FUZZ_CHECK(pc_format_check(PC_FORMAT_IPV6, buf, size + 7));
    }
    return 0;
}
