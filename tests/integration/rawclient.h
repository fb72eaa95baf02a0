/* rawclient.h: the integration tests' own way to speak to a real mbserver:
 * membroker's wire protocol through the codec alone, no client library, so
 * a test can send anything (bad input included) and see every reply.
 *
 * Sockets are blocking AF_UNIX SOCK_SEQPACKET, close-on-exec. Nothing here
 * prints or exits; every function returns its failure.
 */
#ifndef MB_TESTS_RAWCLIENT_H
#define MB_TESTS_RAWCLIENT_H

#include "proto/codec.h"

#include <stdbool.h>
#include <stdint.h>

/* Connects to the socket at path. Returns the fd, or -errno. */
int raw_connect(const char *path);

/* Polls raw_connect until the server accepts connections (the connection
 * is closed again) or timeout_ms passes. Returns true when it answered. */
bool raw_wait_listening(const char *path, int timeout_ms);

/* Encodes and sends one message with the cookie it holds. Returns 0, the
 * codec's error, or -errno (never raises SIGPIPE). */
int raw_send(int fd, const struct mb_msg *msg);

/* Receives and decodes one message within timeout_ms. Returns 0,
 * -ETIMEDOUT, -EPIPE when the server hung up (or reset the connection), or
 * the codec's decode error. */
int raw_recv(int fd, struct mb_msg *msg, int timeout_ms);

/* As raw_recv, but a reset connection still yields the message the server
 * queued before closing (a refusal: mbserver closes at once, and when our
 * own message was still unread the kernel reports the reset first). Returns
 * 0, -ETIMEDOUT, -EPIPE at end of file, -errno, or a decode error. */
int raw_recv_past_reset(int fd, struct mb_msg *msg, int timeout_ms);

/* Sends msg and receives one reply within timeout_ms. Returns the reply's
 * type, -EPROTO when its cookie is not msg's, or the send/receive error. */
int raw_call(int fd, const struct mb_msg *msg, struct mb_msg *reply, int timeout_ms);

/* Sleeps ms milliseconds. */
void raw_sleep_ms(long ms);

#endif
