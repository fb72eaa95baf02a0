/* broker.c: gmalloc's membroker quota (USE_MEMBROKER).
 *
 * A simple client (libmbclient: heap-free, fork-aware). At start gmalloc
 * reserves POOL_SIZE from the broker; the heap's budget beyond the pool is
 * always quota the broker granted: when an allocation needs more, the
 * need-more-memory callback REQUESTs at least a chunk (1 MiB) while malloc
 * waits, and raises the budget by what was granted (never past HARD_LIMIT).
 * Quota the heap no longer uses goes back with hysteresis: when the budget
 * above the pool exceeds the pages holding blocks by more than four chunks,
 * the budget is lowered (free pages still resident are given back to the
 * kernel as needed) and all but one chunk of the surplus is RETURNed. That check runs at most once per 1024 frees of
 * a thread (and on malloc_trim), never waits for the broker's lock, and
 * costs one round trip to the broker when it returns something.
 *
 * With BROKER_BIDIRECTIONAL the client is bidirectional: a helper thread
 * (libmbclient's) answers the broker's give-back queries by lowering the
 * budget (giving free pages back to the kernel as needed), down to the pages
 * holding blocks.
 *
 * A forked child starts with its parent's budget copy and a balance of 0
 * (libmbclient opens the child's own connection at its first call); its
 * growth is requested from the broker as the parent's is. A bidirectional
 * child starts its own helper thread the first time it talks to the broker.
 */
#include "gmalloc/gm_internal.h"

#include "anr/heap_internal.h"
#include "common/strbuf.h"
#include "membroker/client.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static struct mb_client client;
static bool active;
bool gm_broker_on;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t chunk;        /* bytes asked at least per REQUEST */
static uint64_t floor_bytes;  /* the budget never goes back below this (the pool) */
static _Atomic(uint64_t) requests, granted_total, returned_total;
static _Atomic(bool) pool_backed;
static _Atomic(pid_t) helper_pid; /* the process whose helper thread runs */
static _Atomic(uint64_t) giveback_queries, giveback_bytes;

static void say_error(const char *what, int rc)
{
    char msg[256];
    struct mb_strbuf sb;
    mb_strbuf_init(&sb, msg, sizeof msg);
    mb_strbuf_append(&sb, "gmalloc: USE_MEMBROKER: ");
    mb_strbuf_append(&sb, what);
    mb_strbuf_append(&sb, ": ");
    mb_strbuf_append(&sb, mb_client_strerror(rc));
    mb_strbuf_append_char(&sb, '\n');
    gm_write_all(2, msg, sb.len);
}

static uint64_t budget_bytes(const struct anr_heap *h)
{
    const volatile uint64_t *b = &h->budget_pages; /* read without the lock: a hint */
    return *b * h->page_size;
}

/* Pages holding blocks (free pages still resident do not count: lowering
 * the budget gives them back). */
static uint64_t used_bytes(const struct anr_heap *h)
{
    const volatile uint64_t *c = h->count;
    return (c[ANR_PG_USED] + c[ANR_PG_SLAB]) * h->page_size;
}

/* BROKER_BIDIRECTIONAL: the helper thread answering give-back queries runs
 * in this process (a forked child starts its own). Called where an
 * allocation inside pthread_create cannot need the broker: not with the
 * broker lock held, and with budget to spare. */
static void ensure_helper(void)
{
    if (!gm_set.broker_bidirectional)
        return;
    pid_t self = getpid();
    pid_t was = atomic_load(&helper_pid);
    if (was == self || !atomic_compare_exchange_strong(&helper_pid, &was, self))
        return;
    int rc = mb_client_helper_start(&client);
    if (rc != 0 && rc != -EALREADY)
        say_error("cannot start the give-back thread", rc);
}

/* A give-back query (helper thread): lower the budget by what is asked, as
 * far as the pages holding blocks allow, and answer with what went. */
static uint64_t giveback(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    (void)arg;
    atomic_fetch_add(&giveback_queries, 1);
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    uint32_t ps = mb_client_page_size(c);
    if (h == NULL || ps == 0 || pthread_mutex_trylock(&lock) != 0)
        return 0; /* a malloc is talking to the broker: nothing to spare now */
    uint64_t want = q->pages * ps;
    uint64_t shrunk = anr_heap_shrink(h, (size_t)want);
    pthread_mutex_unlock(&lock);
    atomic_fetch_add(&giveback_bytes, shrunk);
    return shrunk / ps;
}

/* The need-more-memory callback (no heap lock held). */
static enum anr_need_result need_memory(anr_heap *h, size_t bytes, unsigned attempt, void *user)
{
    (void)attempt;
    (void)user;
    uint64_t before = budget_bytes(h);
    pthread_mutex_lock(&lock);
    /* Another thread may have raised the budget while we waited. */
    if (budget_bytes(h) > before) {
        pthread_mutex_unlock(&lock);
        return ANR_NEED_RETRY;
    }
    uint64_t room = gm_set.hard_limit > before ? gm_set.hard_limit - before : 0;
    uint64_t want = bytes > chunk ? bytes : chunk;
    if (want > room)
        want = room;
    if (want < bytes) { /* past HARD_LIMIT: the broker cannot help */
        pthread_mutex_unlock(&lock);
        return ANR_NEED_GIVE_UP;
    }
    uint64_t got = 0;
    atomic_fetch_add(&requests, 1);
    int rc = mb_client_request_bytes(&client, want, &got);
    if (got > 0) {
        if (anr_heap_expand(h, (size_t)got) == 0) {
            atomic_fetch_add(&granted_total, got);
        } else {
            mb_client_return_bytes(&client, got); /* cannot use it: give it back */
            got = 0;
        }
    }
    pthread_mutex_unlock(&lock);
    (void)rc;
    if (got > 0)
        ensure_helper(); /* a forked child's first grant: budget to spare now */
    return got > 0 ? ANR_NEED_RETRY : ANR_NEED_GIVE_UP;
}

void gm_broker_prepare(struct anr_options *o)
{
    if (!gm_set.use_membroker)
        return;
    chunk = 1u << 20;
    floor_bytes = gm_set.pool_size;
    if (!gm_set.no_autorequest_memory)
        o->need_memory = need_memory;
}

/* A fork while another thread talks to the broker would leave the child's
 * copy of the lock taken forever: the child starts with it free (the
 * thread that held it does not exist there). */
static void after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&lock, &fresh, sizeof lock);
}

void gm_broker_start(void)
{
    if (!gm_set.use_membroker)
        return;
    pthread_atfork(NULL, NULL, after_fork_child);
    struct mb_client_options opts;
    mb_client_options_init(&opts);
    opts.kind = gm_set.broker_bidirectional ? MB_KIND_BIDIRECTIONAL : MB_KIND_SIMPLE;
    opts.giveback = gm_set.broker_bidirectional ? giveback : NULL;
    opts.name = "gmalloc";
    opts.timeout_ms = 2000;
    int rc = mb_client_init(&client, &opts);
    if (rc != 0) {
        say_error("cannot set up the client", rc);
        return;
    }
    active = true;
    gm_broker_on = true;
    rc = mb_client_reserve_bytes_timeout(&client, gm_set.pool_size, 2000, 3000);
    if (rc == 0)
        atomic_store(&pool_backed, true);
    else
        say_error("cannot reserve POOL_SIZE (running on the pool unbacked)", rc);
    ensure_helper();
}

void gm_broker_return_surplus(void)
{
    anr_heap *h = atomic_load_explicit(&gm_heap, memory_order_acquire);
    if (!active || h == NULL)
        return;
    uint64_t budget = budget_bytes(h), used = used_bytes(h);
    uint64_t above = budget > floor_bytes ? budget - floor_bytes : 0;
    uint64_t unused = budget > used ? budget - used : 0;
    uint64_t surplus = unused < above ? unused : above;
    if (surplus <= 4u * chunk)
        return;
    ensure_helper(); /* a forked child: there is budget to spare */
    if (pthread_mutex_trylock(&lock) != 0)
        return; /* someone is talking to the broker: next time */
    uint64_t shrunk = anr_heap_shrink(h, (size_t)(surplus - chunk));
    if (shrunk > 0 && mb_client_return_bytes_timeout(&client, shrunk, 100) == 0)
        atomic_fetch_add(&returned_total, shrunk);
    pthread_mutex_unlock(&lock);
}

void gm_broker_stats(struct gmalloc_stats *out)
{
    out->broker_active = active;
    out->broker_pool_backed = atomic_load(&pool_backed);
    out->broker_requests = atomic_load(&requests);
    out->broker_granted_bytes = atomic_load(&granted_total);
    out->broker_returned_bytes = atomic_load(&returned_total);
    out->broker_giveback_queries = atomic_load(&giveback_queries);
    out->broker_giveback_bytes = atomic_load(&giveback_bytes);
    if (active) {
        uint32_t ps = mb_client_page_size(&client);
        out->broker_balance_bytes = mb_client_balance(&client) * (ps ? ps : 4096u);
    }
}
