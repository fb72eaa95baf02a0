/* fake_server.h: the tests' stand-in for mbserver. A listening
 * SOCK_SEQPACKET socket in a fresh temp directory, and helpers to speak the
 * protocol (through the codec) from a script: each test runs its script in
 * a thread and asserts afterwards on what the script recorded. */
#ifndef MB_CLIENT_FAKE_SERVER_H
#define MB_CLIENT_FAKE_SERVER_H

#include "proto/codec.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct fake_server {
    char dir[64];
    char path[108];
    int listen_fd;
};

/* Creates the directory and listens. Returns 0 or -errno. */
int fake_server_start(struct fake_server *fs);
/* Stops listening (clients then get ECONNREFUSED), keeping the path. */
void fake_server_close_listener(struct fake_server *fs);
/* Listens again at the same path (a server restart). 0 or -errno. */
int fake_server_listen(struct fake_server *fs);
/* Closes everything and removes the directory. */
void fake_server_stop(struct fake_server *fs);

/* Accepts one connection within timeout_ms. Returns the fd or -errno;
 * *pid (may be NULL) gets the peer's pid from SO_PEERCRED. */
int fake_accept(struct fake_server *fs, int timeout_ms, pid_t *pid);
/* Receives one message within timeout_ms: 0, -ETIMEDOUT, -ECONNRESET (end
 * of file) or the codec's decode error. */
int fake_recv(int conn, struct mb_msg *m, int timeout_ms);
/* Sends one message; 0 or -errno. */
int fake_send(int conn, const struct mb_msg *m);

/* Accepts, expects HELLO (copied to *hello if not NULL) and answers
 * WELCOME {id, page_size, total, balance = hello.held}. Returns the fd or a
 * negative error. */
int fake_handshake(struct fake_server *fs, int timeout_ms, struct mb_msg *hello, uint32_t id,
                   uint32_t page_size, uint64_t total, pid_t *pid);

int fake_grant(int conn, uint32_t cookie, uint64_t pages, uint64_t balance);
int fake_ok(int conn, uint32_t cookie, uint64_t balance);
int fake_error(int conn, uint32_t cookie, uint32_t code, uint64_t balance);
int fake_query_reply(int conn, uint32_t cookie, uint64_t balance, uint64_t pool, uint64_t total);
int fake_giveback(int conn, uint32_t cookie, uint8_t urgency, uint64_t pages, uint32_t deadline_ms);

/* A scripted server in a thread: accepts one client, handshakes, then
 * logs every message and lets `handle` answer it. */
struct fake_script;
typedef void (*fake_handler)(struct fake_script *sc, const struct mb_msg *m);

#define FAKE_LOG_MAX 600

struct fake_script {
    struct fake_server fs;
    fake_handler handle;
    void *ctx;
    uint32_t client_id;
    uint32_t page_size;
    uint64_t total;
    uint64_t pool;    /* handler state: what the fake server can grant */
    uint64_t balance; /* handler state: what it counts for the client */
    /* Filled by the thread. */
    int conn;
    int handshake_rc;
    struct mb_msg hello;
    pid_t pid;
    pthread_mutex_t lock;
    struct mb_msg log[FAKE_LOG_MAX];
    int nlog;
    bool eof;
    atomic_int stop;
    pthread_t thread;
};

/* Starts the server (listening) and its thread. Returns 0 or -errno. */
int fake_script_start(struct fake_script *sc, fake_handler handle, uint64_t total);
/* Stops the thread, closes the connection and the server. */
void fake_script_finish(struct fake_script *sc);
/* A server restart: stops the thread, closes the connection and the
 * listener, listens again at the same path and runs a fresh thread (empty
 * log, same handler, pool and balance as the handler left them). */
int fake_script_restart(struct fake_script *sc);
/* Hangs up on the client (the thread then ends, eof = true). */
void fake_script_hangup(struct fake_script *sc);
/* Waits up to timeout_ms for the client to hang up. */
bool fake_script_wait_eof(struct fake_script *sc, int timeout_ms);
/* How many messages of `type` arrived so far; the last one in *last. */
int fake_script_count(struct fake_script *sc, uint8_t type, struct mb_msg *last);
/* Waits up to timeout_ms for at least n messages of `type`. */
bool fake_script_wait(struct fake_script *sc, uint8_t type, int n, int timeout_ms);

/* Sleeps ms milliseconds. */
void fake_sleep_ms(int ms);

#endif
