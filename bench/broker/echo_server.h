/* echo_server.h: a bare SEQPACKET echo server in a child process (bench baseline). */
#ifndef MB_BENCH_ECHO_SERVER_H
#define MB_BENCH_ECHO_SERVER_H

#include <sys/types.h>

/* Listens on path and serves in a forked child; returns its pid or -1.
 * The caller kills it with SIGTERM when done. */
pid_t bench_echo_server_start(const char *path);

#endif
