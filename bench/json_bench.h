/* bench/json_bench.h: the json-c reader for bench/json_bench.c, compiled
 * apart (json_bench_jsonc.c) when configure found json-c. */
#ifndef PC_BENCH_JSON_BENCH_H
#define PC_BENCH_JSON_BENCH_H

#include <stdbool.h>
#include <stddef.h>

void bench_jsonc_init(void);
void bench_jsonc_done(void);
bool bench_jsonc_read(const char *buf, size_t len);

#endif
