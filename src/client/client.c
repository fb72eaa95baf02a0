/* client.c: a client's life: options, init, connect, destroy. */
#include "client/client_internal.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(struct client_state) <= MB_CLIENT_STORAGE_SIZE,
               "struct mb_client is too small for the client state");
_Static_assert(alignof(struct client_state) <= alignof(struct mb_client),
               "struct mb_client is not aligned enough for the client state");
_Static_assert(MB_CLIENT_STATUS_CLIENTS_PER_PAGE == MB_STATUS_CLIENTS_PER_PAGE &&
                   MB_CLIENT_STATUS_CLASSES_PER_PAGE == MB_STATUS_CLASSES_PER_PAGE,
               "status page sizes differ from the codec's");

void mb_client_options_init(struct mb_client_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->kind = MB_KIND_SIMPLE;
    opts->timeout_ms = MB_CLIENT_DEFAULT_TIMEOUT_MS;
}

/* Copies src (NULL: "") into dst[cap]; -ENAMETOOLONG if it does not fit. */
static int copy_name(char *dst, size_t cap, const char *src)
{
    if (src == NULL)
        src = "";
    size_t n = strnlen(src, cap);
    if (n >= cap)
        return -ENAMETOOLONG;
    memcpy(dst, src, n + 1);
    return 0;
}

static const char *socket_path_of(const struct mb_client_options *opts)
{
    if (opts->socket_path != NULL)
        return opts->socket_path;
    /* secure_getenv: a set-uid program must not be steered to another
     * server by its caller's environment. */
    const char *env = secure_getenv(MB_CLIENT_SOCKET_ENV);
    if (env != NULL && env[0] != '\0')
        return env;
    return MB_CLIENT_DEFAULT_SOCKET;
}

int mb_client_init(struct mb_client *c, const struct mb_client_options *opts)
{
    struct mb_client_options defaults;
    if (opts == NULL) {
        mb_client_options_init(&defaults);
        opts = &defaults;
    }
    if (opts->kind >= MB_KIND_COUNT || opts->capacity > MB_PAGES_MAX ||
        (opts->capacity != 0 && opts->kind != MB_KIND_SOURCE) ||
        (opts->kind != MB_KIND_SIMPLE && opts->giveback == NULL))
        return -EINVAL;

    memset(c, 0, sizeof *c);
    struct client_state *s = client_state_of(c);
    int rc = copy_name(s->socket_path, sizeof s->socket_path, socket_path_of(opts));
    if (rc == 0)
        rc = copy_name(s->name, sizeof s->name, opts->name);
    if (rc == 0)
        rc = copy_name(s->class_name, sizeof s->class_name, opts->class_name);
    if (rc < 0)
        return rc;
    if (s->socket_path[0] == '\0')
        return -EINVAL;
    s->kind = opts->kind;
    s->capacity = opts->capacity;
    s->default_timeout_ms = opts->timeout_ms != 0 ? opts->timeout_ms : MB_CLIENT_DEFAULT_TIMEOUT_MS;
    s->giveback = opts->giveback;
    s->giveback_arg = opts->giveback_arg;
    s->public_handle = c;
    s->sock = -1;
    s->backoff_ms = MB_CLIENT_BACKOFF_MIN_MS;
    s->last_connect_error = -ENOTCONN;
    s->owner_pid = getpid();

    rc = mb_cl_conn_open_fds(s);
    if (rc < 0)
        return rc;
    mb_cl_conn_watch_fds(s);
    rc = mb_cl_registry_add(s);
    if (rc < 0) {
        mb_cl_conn_close_fds(s);
        return rc;
    }
    s->magic = CLIENT_MAGIC;
    return 0;
}

void mb_client_destroy(struct mb_client *c)
{
    if (c == NULL)
        return;
    struct client_state *s = client_state_of(c);
    if (s->magic != CLIENT_MAGIC)
        return;
    (void)mb_client_helper_stop(c);
    mb_cl_registry_remove(s);
    mb_cl_client_lock(s);
    mb_cl_conn_close_fds(s);
    s->magic = 0;
    mb_cl_client_unlock(s);
    pthread_mutex_destroy(&s->lock);
    for (size_t i = 0; i < MB_CLIENT_WAITERS; i++)
        pthread_cond_destroy(&s->waiters[i].cond);
    pthread_cond_destroy(&s->slot_free);
    pthread_cond_destroy(&s->reader_cond);
}

int mb_client_connect_timeout(struct mb_client *c, uint32_t timeout_ms)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    mb_cl_client_lock(s);
    mb_cl_reader_drain(s);
    int rc = mb_cl_conn_ensure(s, mb_cl_client_deadline_after(timeout_ms));
    mb_cl_client_unlock(s);
    return rc;
}

int mb_client_connect(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return -EINVAL;
    return mb_client_connect_timeout(c, s->default_timeout_ms);
}

uint64_t mb_client_balance(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return 0;
    mb_cl_client_lock(s);
    uint64_t b = s->balance;
    mb_cl_client_unlock(s);
    return b;
}

uint32_t mb_client_page_size(struct mb_client *c)
{
    struct client_state *s = client_valid(c);
    if (s == NULL)
        return 0;
    mb_cl_client_lock(s);
    uint32_t p = s->page_size;
    mb_cl_client_unlock(s);
    return p;
}
