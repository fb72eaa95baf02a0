/* fake_server.c: see fake_server.h. */
#include "client/fake_server.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int fake_server_listen(struct fake_server *fs)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, fs->path, sizeof addr.sun_path);
    unlink(fs->path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (const struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 8) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    fs->listen_fd = fd;
    return 0;
}

int fake_server_start(struct fake_server *fs)
{
    memset(fs, 0, sizeof *fs);
    fs->listen_fd = -1;
    snprintf(fs->dir, sizeof fs->dir, "/tmp/mbclient-test-XXXXXX");
    if (mkdtemp(fs->dir) == NULL)
        return -errno;
    snprintf(fs->path, sizeof fs->path, "%s/socket", fs->dir);
    return fake_server_listen(fs);
}

void fake_server_close_listener(struct fake_server *fs)
{
    if (fs->listen_fd >= 0)
        close(fs->listen_fd);
    fs->listen_fd = -1;
}

void fake_server_stop(struct fake_server *fs)
{
    fake_server_close_listener(fs);
    unlink(fs->path);
    rmdir(fs->dir);
}

static int wait_in(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n;
    do
        n = poll(&p, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

int fake_accept(struct fake_server *fs, int timeout_ms, pid_t *pid)
{
    int rc = wait_in(fs->listen_fd, timeout_ms);
    if (rc < 0)
        return rc;
    int fd = accept4(fs->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (pid != NULL) {
        struct ucred cred;
        socklen_t len = sizeof cred;
        *pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : -1;
    }
    return fd;
}

int fake_recv(int conn, struct mb_msg *m, int timeout_ms)
{
    int rc = wait_in(conn, timeout_ms);
    if (rc < 0)
        return rc;
    uint8_t buf[MB_PROTO_MAX_MESSAGE];
    ssize_t n = recv(conn, buf, sizeof buf, 0);
    if (n <= 0)
        return -ECONNRESET;
    return mb_proto_decode(buf, (size_t)n, m);
}

int fake_send(int conn, const struct mb_msg *m)
{
    uint8_t buf[MB_PROTO_MAX_SMALL];
    int len = mb_proto_encode(m, buf, sizeof buf);
    if (len < 0)
        return len;
    return send(conn, buf, (size_t)len, MSG_NOSIGNAL) == len ? 0 : -errno;
}

int fake_handshake(struct fake_server *fs, int timeout_ms, struct mb_msg *hello, uint32_t id,
                   uint32_t page_size, uint64_t total, pid_t *pid)
{
    int conn = fake_accept(fs, timeout_ms, pid);
    if (conn < 0)
        return conn;
    struct mb_msg h;
    int rc = fake_recv(conn, &h, timeout_ms);
    if (rc == 0 && h.type != MB_MSG_HELLO)
        rc = -EPROTO;
    if (rc < 0) {
        close(conn);
        return rc;
    }
    if (hello != NULL)
        *hello = h;
    struct mb_msg w;
    memset(&w, 0, sizeof w);
    w.type = MB_MSG_WELCOME;
    w.cookie = h.cookie;
    w.u.welcome.client_id = id;
    w.u.welcome.page_size = page_size;
    w.u.welcome.total = total;
    w.u.welcome.balance = h.u.hello.held;
    snprintf(w.u.welcome.class_name, sizeof w.u.welcome.class_name, "default");
    rc = fake_send(conn, &w);
    if (rc < 0) {
        close(conn);
        return rc;
    }
    return conn;
}

static int send_simple(int conn, uint8_t type, uint32_t cookie, struct mb_msg *m)
{
    m->type = type;
    m->cookie = cookie;
    return fake_send(conn, m);
}

int fake_grant(int conn, uint32_t cookie, uint64_t pages, uint64_t balance)
{
    struct mb_msg m;
    memset(&m, 0, sizeof m);
    m.u.grant.pages = pages;
    m.u.grant.balance = balance;
    return send_simple(conn, MB_MSG_GRANT, cookie, &m);
}

int fake_ok(int conn, uint32_t cookie, uint64_t balance)
{
    struct mb_msg m;
    memset(&m, 0, sizeof m);
    m.u.ok.balance = balance;
    return send_simple(conn, MB_MSG_OK, cookie, &m);
}

int fake_error(int conn, uint32_t cookie, uint32_t code, uint64_t balance)
{
    struct mb_msg m;
    memset(&m, 0, sizeof m);
    m.u.error.code = code;
    m.u.error.balance = balance;
    return send_simple(conn, MB_MSG_ERROR, cookie, &m);
}

int fake_query_reply(int conn, uint32_t cookie, uint64_t balance, uint64_t pool, uint64_t total)
{
    struct mb_msg m;
    memset(&m, 0, sizeof m);
    m.u.query_reply.balance = balance;
    m.u.query_reply.pool = pool;
    m.u.query_reply.total = total;
    return send_simple(conn, MB_MSG_QUERY_REPLY, cookie, &m);
}

int fake_giveback(int conn, uint32_t cookie, uint8_t urgency, uint64_t pages, uint32_t deadline_ms)
{
    struct mb_msg m;
    memset(&m, 0, sizeof m);
    m.u.giveback.urgency = urgency;
    m.u.giveback.pages = pages;
    m.u.giveback.deadline_ms = deadline_ms;
    return send_simple(conn, MB_MSG_GIVEBACK, cookie, &m);
}

void fake_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void *script_main(void *arg)
{
    struct fake_script *sc = arg;
    while (!sc->stop && wait_in(sc->fs.listen_fd, 20) == -ETIMEDOUT)
        ;
    if (sc->stop) {
        sc->handshake_rc = -ETIMEDOUT;
        return NULL;
    }
    sc->conn = fake_handshake(&sc->fs, 5000, &sc->hello, sc->client_id, sc->page_size,
                              sc->total, &sc->pid);
    sc->handshake_rc = sc->conn < 0 ? sc->conn : 0;
    if (sc->conn < 0)
        return NULL;
    sc->balance = sc->hello.u.hello.held;
    while (!sc->stop) {
        struct mb_msg m;
        int rc = fake_recv(sc->conn, &m, 20);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc < 0) {
            pthread_mutex_lock(&sc->lock);
            sc->eof = true;
            pthread_mutex_unlock(&sc->lock);
            break;
        }
        pthread_mutex_lock(&sc->lock);
        if (sc->nlog < FAKE_LOG_MAX)
            sc->log[sc->nlog++] = m;
        pthread_mutex_unlock(&sc->lock);
        if (sc->handle != NULL)
            sc->handle(sc, &m);
    }
    return NULL;
}

int fake_script_start(struct fake_script *sc, fake_handler handle, uint64_t total)
{
    void *ctx = sc->ctx;
    memset(sc, 0, sizeof *sc);
    sc->ctx = ctx;
    sc->handle = handle;
    sc->client_id = 7;
    sc->page_size = 4096;
    sc->total = total;
    sc->pool = total;
    sc->conn = -1;
    pthread_mutex_init(&sc->lock, NULL);
    int rc = fake_server_start(&sc->fs);
    if (rc < 0)
        return rc;
    return -pthread_create(&sc->thread, NULL, script_main, sc);
}

void fake_script_finish(struct fake_script *sc)
{
    sc->stop = 1;
    pthread_join(sc->thread, NULL);
    if (sc->conn >= 0)
        close(sc->conn);
    sc->conn = -1;
    fake_server_stop(&sc->fs);
    /* The lock stays usable: tests read the log after finishing. */
}

int fake_script_count(struct fake_script *sc, uint8_t type, struct mb_msg *last)
{
    int n = 0;
    pthread_mutex_lock(&sc->lock);
    for (int i = 0; i < sc->nlog; i++) {
        if (sc->log[i].type == type) {
            n++;
            if (last != NULL)
                *last = sc->log[i];
        }
    }
    pthread_mutex_unlock(&sc->lock);
    return n;
}

bool fake_script_wait(struct fake_script *sc, uint8_t type, int n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        if (fake_script_count(sc, type, NULL) >= n)
            return true;
        fake_sleep_ms(5);
    }
    return false;
}

void fake_script_hangup(struct fake_script *sc)
{
    if (sc->conn >= 0)
        shutdown(sc->conn, SHUT_RDWR);
}

int fake_script_restart(struct fake_script *sc)
{
    sc->stop = 1;
    pthread_join(sc->thread, NULL);
    if (sc->conn >= 0)
        close(sc->conn);
    sc->conn = -1;
    fake_server_close_listener(&sc->fs);
    int rc = fake_server_listen(&sc->fs);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&sc->lock);
    sc->nlog = 0;
    sc->eof = false;
    pthread_mutex_unlock(&sc->lock);
    sc->stop = 0;
    sc->handshake_rc = 0;
    return -pthread_create(&sc->thread, NULL, script_main, sc);
}

bool fake_script_wait_eof(struct fake_script *sc, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        pthread_mutex_lock(&sc->lock);
        bool eof = sc->eof;
        pthread_mutex_unlock(&sc->lock);
        if (eof)
            return true;
        fake_sleep_ms(5);
    }
    return false;
}
