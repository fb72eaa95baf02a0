/* fork.c: keeps every heap usable in the child of a fork.
 *
 * A fork while another thread holds a heap's lock would leave the child's
 * copy locked forever (and the heap possibly half-updated). The prepare
 * handler takes every heap's lock, so fork happens between heap operations;
 * the parent and child handlers release them. The list of live heaps is the
 * one piece of process-wide state here: heaps join it when created and leave
 * it when destroyed, so it is empty whenever no heap exists. Thread caches
 * use it too: a thread that exits flushes its caches only into heaps still
 * in the registry under the same id.
 */
#include "anr/heap_internal.h"
#include "anr/tcache.h"
#include "anr/vg.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct anr_heap *registry;
static uint64_t last_id; /* ids are never reused, so a stale reference never matches */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct anr_heap *h = registry; h != NULL; h = h->registry_next) {
        pthread_mutex_lock(&h->lock);
        if (h->vg)
            anr_vg_quiet_begin(); /* as anr_lock: the child flushes caches */
    }
}

static void after_fork_parent(void)
{
    for (struct anr_heap *h = registry; h != NULL; h = h->registry_next) {
        pthread_mutex_unlock(&h->lock);
        if (h->vg)
            anr_vg_quiet_end();
    }
    pthread_mutex_unlock(&registry_lock);
}

static void after_fork_child(void)
{
    /* In the child the forking thread owns these locks too, and it is the
     * only thread: the other threads' caches would be lost, so they go back
     * to their heaps before anything else runs. */
    for (struct anr_heap *h = registry; h != NULL; h = h->registry_next) {
        anr_tc_fork_child(h);
        anr_mark_fork_child(h);
        pthread_mutex_unlock(&h->lock);
        if (h->vg)
            anr_vg_quiet_end();
    }
    pthread_mutex_unlock(&registry_lock);
}

static void install_handlers(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void anr_fork_register(struct anr_heap *h)
{
    pthread_once(&atfork_once, install_handlers);
    pthread_mutex_lock(&registry_lock);
    h->id = ++last_id;
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

void anr_registry_lock(void)
{
    pthread_mutex_lock(&registry_lock);
}

void anr_registry_unlock(void)
{
    pthread_mutex_unlock(&registry_lock);
}

bool anr_registry_has(const struct anr_heap *h, uint64_t id)
{
    for (const struct anr_heap *r = registry; r != NULL; r = r->registry_next)
        if (r == h)
            return r->id == id;
    return false;
}
