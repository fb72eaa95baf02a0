/* sd_daemon.h: the two systemd conventions mbserver speaks, without libsystemd.
 *
 * Socket activation: systemd passes listening sockets as fds 3.. with
 * LISTEN_PID (our pid) and LISTEN_FDS (their count) in the environment.
 * Readiness: a datagram "READY=1" sent to the unix socket named by
 * NOTIFY_SOCKET (a path, or an abstract name starting with '@').
 * Both are plain functions of their inputs so they are tested without systemd.
 */
#ifndef MB_BROKER_SD_DAEMON_H
#define MB_BROKER_SD_DAEMON_H

#include <sys/types.h>

/* First fd systemd passes (SD_LISTEN_FDS_START). */
#define MB_SD_LISTEN_FDS_START 3

/* Interprets LISTEN_PID and LISTEN_FDS (either may be NULL when unset).
 * Returns the number of fds passed to process `self` (0 when not activated,
 * or when LISTEN_PID names another process), or -EINVAL when the values are
 * malformed. Does not block. */
int mb_sd_listen_fds(const char *listen_pid, const char *listen_fds, pid_t self);

/* Sends `state` (e.g. "READY=1\nSTATUS=serving") to the notify socket
 * `notify_socket` (the value of NOTIFY_SOCKET; NULL or empty: nothing to do).
 * Returns 1 when sent, 0 when there is no notify socket, or a negative errno.
 * Does not block (MSG_DONTWAIT). */
int mb_sd_notify(const char *notify_socket, const char *state);

#endif
