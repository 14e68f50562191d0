/* bench/bench_server.h: the local upstream the client micro-benchmarks talk
 * to: a thread per connection, blocking I/O, a fixed small 200 for every
 * request (pipelining honoured). Its CPU is not the measured thread's. */
#ifndef PC_BENCH_SERVER_H
#define PC_BENCH_SERVER_H

#include <netinet/in.h>

/* Listens on 127.0.0.1, an ephemeral port, and serves from a thread.
 * Returns 0 and the bound address, or -1. */
int pc_bench_server_start(struct sockaddr_in *addr);

#endif
