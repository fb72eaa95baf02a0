/* listener.h: mbserver's listening socket and what it learns of each peer.
 *
 * The socket is AF_UNIX SOCK_SEQPACKET in a directory of its own. Identity of
 * a peer comes from the kernel (SO_PEERCRED), never from what it says.
 */
#ifndef MB_BROKER_LISTENER_H
#define MB_BROKER_LISTENER_H

#include <stddef.h>
#include <sys/types.h>

struct mb_peer_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

struct mb_listener_options {
    const char *path;   /* socket path; its directory is created if missing */
    unsigned mode;      /* socket file mode, e.g. 0660 */
    gid_t group;        /* group of the socket and its directory; (gid_t)-1 keeps ours */
    int backlog;        /* listen(2) backlog */
};

/* Creates the directory (mode 0755 when the socket is 0666-like, else 0750),
 * removes a stale socket left by a dead server, binds, sets mode and group,
 * listens. Returns a non-blocking CLOEXEC fd, or:
 *   -EADDRINUSE   another server answers on the path
 *   -ENAMETOOLONG path does not fit in sockaddr_un
 *   -ENOTSOCK     something other than a socket is at the path (left alone)
 *   other negative errno from the system calls.
 * Does not block. */
int mb_listener_open(const struct mb_listener_options *opts);

/* Accepts one connection: returns a non-blocking CLOEXEC fd and fills *cred
 * from SO_PEERCRED, -EAGAIN when none is pending, or a negative errno. */
int mb_listener_accept(int listen_fd, struct mb_peer_cred *cred);

/* Reads the peer's command name (/proc/PID/comm, at most 15 characters) into
 * buf. Returns 0, or a negative errno (then buf holds ""). Reads procfs_root
 * instead of "/proc" when not NULL (tests). */
int mb_peer_comm(pid_t pid, const char *procfs_root, char *buf, size_t len);

/* Removes the socket file (at shutdown). Returns 0 or a negative errno. */
int mb_listener_unlink(const char *path);

#endif
