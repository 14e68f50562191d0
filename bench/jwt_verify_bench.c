/* bench/jwt_verify_bench.c: microseconds per token for parse + verify +
 * claims, per algorithm, with keys loaded once (the plugin's hot path).
 *
 * Build and run (fixtures from tests/fixtures/gen_jwt_fixtures.py):
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iplugins/jwt bench/jwt_verify_bench.c \
 *       plugins/jwt/jwt_*.c -lcrypto -ljansson -o /tmp/jwt_bench
 *   PC_JWT_FIXTURES=/tmp/jwtfx /tmp/jwt_bench [iterations] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt_claims.h"
#include "jwt_keys.h"
#include "jwt_token.h"
#include "jwt_verify.h"

static const char *bench_dir;

static char *bench_read(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", bench_dir, name);
    if (!(f = fopen(path, "rb"))) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(1);
    }
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Thread CPU time, not wall time: the figure stays meaningful on a busy
 * build machine where other jobs steal the CPU. */
static double bench_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* what: 0 full pipeline, 1 parse only, 2 verify only (pre-parsed). */
static double bench_run(const char *file, const pc_jwk_set_t *set,
                        const pc_jwt_claims_policy_t *pol, int64_t now, int iters, int what)
{
    size_t len;
    char *tok = bench_read(file, &len);
    pc_jwt_token_t t, pre;
    double start;

    if (pc_jwt_parse(tok, len, NULL, &pre) != PC_JWT_OK) {
        fprintf(stderr, "%s: does not parse\n", file);
        exit(1);
    }
    start = bench_now_us();
    for (int i = 0; i < iters; i++) {
        pc_jwt_result_t r;
        if (what == 0) {
            r = pc_jwt_authenticate(tok, len, NULL, set, pol, now, &t);
            pc_jwt_token_clear(&t);
        } else if (what == 1) {
            r = pc_jwt_parse(tok, len, NULL, &t);
            pc_jwt_token_clear(&t);
        } else {
            r = pc_jwt_verify(set, &pre);
        }
        if (r != PC_JWT_OK) {
            fprintf(stderr, "%s: %s\n", file, pc_jwt_strerror(r));
            exit(1);
        }
    }
    start = (bench_now_us() - start) / iters;
    pc_jwt_token_clear(&pre);
    free(tok);
    return start;
}

int main(int argc, char **argv)
{
    static const char *const algs[] = {"RS256", "PS256", "ES256", "ES384", "ES512",
                                       "EdDSA", "HS256", "RS512"};
    static const char *const iss[] = {"https://issuer.example"};
    static const char *const aud[] = {"portcullis"};
    int iters = argc > 1 ? atoi(argv[1]) : 5000;
    pc_jwt_claims_policy_t pol;
    char err[256], file[64];
    size_t len;
    char *json, *now_s;
    int64_t now;
    pc_jwk_set_t *set;

    if (!(bench_dir = getenv("PC_JWT_FIXTURES"))) {
        fprintf(stderr, "set PC_JWT_FIXTURES\n");
        return 1;
    }
    now_s = bench_read("now.txt", &len);
    now = strtoll(now_s, NULL, 10);
    free(now_s);
    json = bench_read("jwks.json", &len);
    if (!(set = pc_jwk_set_from_jwks(json, len, NULL, err, sizeof(err)))) {
        fprintf(stderr, "jwks: %s\n", err);
        return 1;
    }
    free(json);
    pc_jwt_claims_policy_init(&pol);
    pol.issuers = iss;
    pol.n_issuers = 1;
    pol.audiences = aud;
    pol.n_audiences = 1;

    printf("CPU us per token, %d iterations, 13-key JWKS, key by kid\n", iters);
    printf("%-6s %12s %12s %12s\n", "alg", "total", "verify", "parse");
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        snprintf(file, sizeof(file), "valid_%s.jwt", algs[i]);
        bench_run(file, set, &pol, now, iters / 10 + 1, 0); /* warm up */
        double total = bench_run(file, set, &pol, now, iters, 0);
        double verify = bench_run(file, set, &pol, now, iters, 2);
        double parse = bench_run(file, set, &pol, now, iters, 1);
        printf("%-6s %12.2f %12.2f %12.2f\n", algs[i], total, verify, parse);
    }
    pc_jwk_set_unref(set);
    return 0;
}
