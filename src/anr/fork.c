/* fork.c: keeps every heap usable in the child of a fork.
 *
 * A fork while another thread holds a heap's lock would leave the child's
 * copy locked forever (and the heap possibly half-updated). The prepare
 * handler takes every heap's lock, so fork happens between heap operations;
 * the parent and child handlers release them. The list of live heaps is the
 * one piece of process-wide state here: heaps join it when created and leave
 * it when destroyed, so it is empty whenever no heap exists.
 */
#include "anr/heap_internal.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct anr_heap *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct anr_heap *h = registry; h != NULL; h = h->registry_next)
        pthread_mutex_lock(&h->lock);
}

static void after_fork(void)
{
    /* In the child the forking thread is the owner of these locks too. */
    for (struct anr_heap *h = registry; h != NULL; h = h->registry_next)
        pthread_mutex_unlock(&h->lock);
    pthread_mutex_unlock(&registry_lock);
}

static void install_handlers(void)
{
    pthread_atfork(before_fork, after_fork, after_fork);
}

void anr_fork_register(struct anr_heap *h)
{
    pthread_once(&atfork_once, install_handlers);
    pthread_mutex_lock(&registry_lock);
    h->registry_next = registry;
    registry = h;
    pthread_mutex_unlock(&registry_lock);
}

void anr_fork_unregister(struct anr_heap *h)
{
    pthread_mutex_lock(&registry_lock);
    for (struct anr_heap **pp = &registry; *pp != NULL; pp = &(*pp)->registry_next) {
        if (*pp == h) {
            *pp = h->registry_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}
