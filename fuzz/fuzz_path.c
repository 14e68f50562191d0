/* fuzz/fuzz_path.c: libFuzzer target for pc_path_canonicalize().
 *
 * Checks the promises path.h makes about accepted output: canonical form is
 * a fixed point, fits PC_PATH_OUT_SIZE, is printable ASCII, starts with '/',
 * and holds no empty or dot segment and no escape the rules refuse or decode.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Igateway \
 *        fuzz/fuzz_path.c gateway/http/path.c gateway/base/util.c -o fuzz_path
 * Run:   ./fuzz_path -max_total_time=60 fuzz/corpus/path */
#include "http/path.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

/* Value of an uppercase hex digit, -1 for anything else (lowercase too). */
static int fuzz_upper_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int fuzz_is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static void fuzz_check_shape(const char *out, size_t n)
{
    FUZZ_CHECK(n >= 1 && out[0] == '/' && out[n] == '\0');
    FUZZ_CHECK(memchr(out, '\0', n) == NULL);
    FUZZ_CHECK(strstr(out, "//") == NULL);
    FUZZ_CHECK(strstr(out, "/./") == NULL);
    FUZZ_CHECK(strstr(out, "/../") == NULL);
    FUZZ_CHECK(strstr(out, "/.;") == NULL);
    FUZZ_CHECK(strstr(out, "/..;") == NULL);
    FUZZ_CHECK(!(n >= 2 && strcmp(out + n - 2, "/.") == 0));
    FUZZ_CHECK(!(n >= 3 && strcmp(out + n - 3, "/..") == 0));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c > 0x20 && c < 0x7f);
        FUZZ_CHECK(c != '\\' && c != '#' && c != '?');
        if (c != '%')
            continue;
        FUZZ_CHECK(i + 2 < n);
        int hi = fuzz_upper_hex(out[i + 1]), lo = fuzz_upper_hex(out[i + 2]);
        FUZZ_CHECK(hi >= 0 && lo >= 0);
        unsigned b = (unsigned)(hi << 4 | lo);
        FUZZ_CHECK(b != 0 && b != '/' && b != '\\' && !fuzz_is_unreserved((unsigned char)b));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *out = malloc(PC_PATH_OUT_SIZE(size));
    size_t n;

    if (!out)
        return 0;
    if (pc_path_canonicalize((const char *)data, size, out, &n) == PC_PATH_OK) {
        FUZZ_CHECK(n <= 3 * size);
        fuzz_check_shape(out, n);
        char *again = malloc(PC_PATH_OUT_SIZE(n));
        size_t n2;
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(pc_path_canonicalize(out, n, again, &n2) == PC_PATH_OK);
        FUZZ_CHECK(n2 == n && memcmp(again, out, n + 1) == 0);
        free(again);
    } else {
        FUZZ_CHECK(n == 0 && out[0] == '\0');
    }
    free(out);
    return 0;
}
