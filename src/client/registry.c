/* registry.c: fork safety.
 *
 * Every live client is listed in a fixed table. Around fork() (pthread_atfork)
 * the forking thread takes every client's lock, so the child never inherits
 * a lock held by a thread that does not exist there; the child then gets
 * fresh locks. The child's first call on a client (mb_cl_client_lock sees a new
 * pid) drops the parent's connection from the child's descriptor table and
 * starts the child's own, with balance 0: the quota stays the parent's.
 */
#include "client/client_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct client_state *registry[MB_CLIENT_MAX_PER_PROCESS];
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < MB_CLIENT_MAX_PER_PROCESS; i++)
        if (registry[i] != NULL)
            pthread_mutex_lock(&registry[i]->lock);
}

static void after_fork_parent(void)
{
    for (size_t i = 0; i < MB_CLIENT_MAX_PER_PROCESS; i++)
        if (registry[i] != NULL)
            pthread_mutex_unlock(&registry[i]->lock);
    pthread_mutex_unlock(&registry_lock);
}

static void init_locks(struct client_state *s)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutex_init(&s->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    for (size_t i = 0; i < MB_CLIENT_WAITERS; i++)
        pthread_cond_init(&s->waiters[i].cond, &ca);
    pthread_cond_init(&s->slot_free, &ca);
    pthread_cond_init(&s->reader_cond, &ca);
    pthread_condattr_destroy(&ca);
}

static void after_fork_child(void)
{
    /* The threads that could wait on these are gone: start the locks anew. */
    for (size_t i = 0; i < MB_CLIENT_MAX_PER_PROCESS; i++)
        if (registry[i] != NULL)
            init_locks(registry[i]);
    pthread_mutex_init(&registry_lock, NULL);
}

static void install_atfork(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

int mb_cl_registry_add(struct client_state *s)
{
    pthread_once(&atfork_once, install_atfork);
    init_locks(s);
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < MB_CLIENT_MAX_PER_PROCESS; i++) {
        if (registry[i] == NULL) {
            registry[i] = s;
            pthread_mutex_unlock(&registry_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return -EMFILE;
}

void mb_cl_registry_remove(struct client_state *s)
{
    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < MB_CLIENT_MAX_PER_PROCESS; i++)
        if (registry[i] == s)
            registry[i] = NULL;
    pthread_mutex_unlock(&registry_lock);
}

void mb_cl_client_reset_after_fork(struct client_state *s)
{
    /* Only the child's references go: the parent's connection lives on. */
    if (s->sock >= 0)
        close(s->sock);
    s->sock = -1;
    s->connected = false;
    s->reader_busy = false;
    s->pending = false;
    s->reclaim_cookie = 0;
    s->dispatching = false;
    s->helper_running = false;
    s->helper_stop = false;
    s->balance = 0;
    s->lent = 0;
    s->client_id = 0;
    s->next_attempt_ns = 0;
    s->backoff_ms = MB_CLIENT_BACKOFF_MIN_MS;
    for (size_t i = 0; i < MB_CLIENT_WAITERS; i++) {
        s->waiters[i].in_use = false;
        s->waiters[i].done = false;
    }
    mb_cl_giveback_reset(s);
    /* The epoll set is shared with the parent (same open file); the child
     * needs its own, under the same numbers so a stored fd stays valid. */
    int old_poll = s->poll_fd, old_notify = s->notify_fd, old_timer = s->timer_fd;
    if (mb_cl_conn_open_fds(s) == 0) {
        if (old_poll >= 0 && dup3(s->poll_fd, old_poll, O_CLOEXEC) >= 0) {
            close(s->poll_fd);
            s->poll_fd = old_poll;
        }
        if (old_notify >= 0 && dup3(s->notify_fd, old_notify, O_CLOEXEC) >= 0) {
            close(s->notify_fd);
            s->notify_fd = old_notify;
        }
        if (old_timer >= 0 && dup3(s->timer_fd, old_timer, O_CLOEXEC) >= 0) {
            close(s->timer_fd);
            s->timer_fd = old_timer;
        }
        mb_cl_conn_watch_fds(s);
    }
    s->owner_pid = getpid();
}

void mb_cl_client_lock(struct client_state *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->owner_pid != getpid())
        mb_cl_client_reset_after_fork(s);
}

void mb_cl_client_unlock(struct client_state *s)
{
    pthread_mutex_unlock(&s->lock);
}
