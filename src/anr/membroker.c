/* membroker.c: an anr heap's budget as membroker quota (anr_membroker.h).
 *
 * One mutex per attachment serialises the broker calls that change the
 * balance and the budget together (growth, surplus return, give-back), so
 * that, once the heap's initial budget is backed, the quota held equals the
 * budget after every step. Growth waits for the mutex (the thread that held
 * it may have raised the budget enough: the waiter then just retries);
 * surplus return and give-back only try it (they are optional work).
 *
 * The heap is read through its public statistics (budget, resident and
 * reclaimable pages), taken with the heap's lock, never while this module's
 * mutex is held by a thread waiting for the heap's lock in the other order:
 * the need-more-memory callback runs without the heap's lock.
 *
 * fork: the child's copy of a mutex another thread held would stay taken
 * forever, so a child handler re-initialises the mutex of every live
 * attachment (a fixed table: no allocation).
 */
#include "anr/anr_membroker.h"
#include "membroker/client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

struct attachment {
    struct mb_client client;
    pthread_mutex_t lock; /* held across broker calls that move the balance */
    _Atomic(anr_heap *) heap;
    _Atomic(bool) attached;
    _Atomic(bool) budget_backed;
    _Atomic(pid_t) helper_pid; /* the process whose helper thread runs */
    bool bidirectional;
    uint64_t chunk, floor, return_above, keep;
    uint32_t timeout_ms, return_timeout_ms;
    _Atomic(uint64_t) requests, reserves, granted, refusals, returned;
    _Atomic(uint64_t) giveback_queries, giveback_bytes;
};

_Static_assert(sizeof(struct attachment) <= ANR_MEMBROKER_STORAGE_SIZE,
               "ANR_MEMBROKER_STORAGE_SIZE is too small");
_Static_assert(_Alignof(struct attachment) <= _Alignof(struct anr_membroker),
               "struct anr_membroker is not aligned enough");

static struct attachment *of(struct anr_membroker *mb)
{
    return (struct attachment *)(void *)mb->opaque.bytes;
}

/* ---- per-thread urgency -------------------------------------------------- */

/* initial-exec: no allocation on first access, also inside a preloaded
 * malloc (gmalloc). */
static __thread bool tl_urgent __attribute__((tls_model("initial-exec")));

bool anr_membroker_set_urgent(bool urgent)
{
    bool was = tl_urgent;
    tl_urgent = urgent;
    return was;
}

/* ---- fork ---------------------------------------------------------------- */

#define MAX_ATTACHMENTS MB_CLIENT_MAX_PER_PROCESS
static _Atomic(struct attachment *) live[MAX_ATTACHMENTS];
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
    for (size_t i = 0; i < MAX_ATTACHMENTS; i++) {
        struct attachment *a = atomic_load(&live[i]);
        if (a != NULL) {
            pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
            memcpy(&a->lock, &fresh, sizeof a->lock);
        }
    }
}

static void register_atfork(void)
{
    (void)pthread_atfork(NULL, NULL, after_fork_child);
}

static int live_add(struct attachment *a)
{
    for (size_t i = 0; i < MAX_ATTACHMENTS; i++) {
        struct attachment *none = NULL;
        if (atomic_compare_exchange_strong(&live[i], &none, a))
            return 0;
    }
    return -EMFILE;
}

static void live_remove(struct attachment *a)
{
    for (size_t i = 0; i < MAX_ATTACHMENTS; i++) {
        struct attachment *was = a;
        if (atomic_compare_exchange_strong(&live[i], &was, NULL))
            return;
    }
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t host_page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (uint64_t)ps : 4096u;
}

/* Pages holding blocks: resident pages that are not free (giving free pages
 * back to the kernel is what lowering the budget costs). */
static uint64_t used_bytes(const struct anr_stats *st)
{
    return st->resident_bytes > st->reclaimable_bytes
               ? st->resident_bytes - st->reclaimable_bytes
               : 0;
}

/* Bidirectional: the helper thread answering give-back queries runs in
 * this process (a forked child starts its own). Called without the mutex
 * and with budget to spare: pthread_create may allocate (the caller may be
 * a malloc that this very module serves). */
static void ensure_helper(struct attachment *a)
{
    if (!a->bidirectional)
        return;
    pid_t self = getpid();
    pid_t was = atomic_load(&a->helper_pid);
    if (was == self || !atomic_compare_exchange_strong(&a->helper_pid, &was, self))
        return;
    int rc = mb_client_helper_start(&a->client);
    if (rc != 0 && rc != -EALREADY)
        atomic_store(&a->helper_pid, 0); /* try again next time */
}

/* ---- give-back (helper thread) ------------------------------------------ */

/* Lowers the budget by what the broker asks, as far as the pages holding
 * blocks allow: free pages go back first by shrinking; when that is short,
 * a trim (spare slabs, the threads' caches) makes more room. Answers with
 * the pages that went. A query arriving while another thread talks to the
 * broker gets 0: the balance is moving. */
static uint64_t on_giveback(struct mb_client *c, void *arg, const struct mb_client_giveback *q)
{
    struct attachment *a = arg;
    atomic_fetch_add(&a->giveback_queries, 1);
    anr_heap *h = atomic_load(&a->heap);
    uint64_t ps = mb_client_page_size(c);
    if (h == NULL || ps == 0 || q->pages == 0 || pthread_mutex_trylock(&a->lock) != 0)
        return 0;
    uint64_t want = q->pages > SIZE_MAX / ps ? SIZE_MAX / ps * ps : q->pages * ps;
    uint64_t shrunk = anr_heap_shrink(h, (size_t)want);
    if (shrunk < want) {
        (void)anr_heap_trim(h);
        shrunk += anr_heap_shrink(h, (size_t)(want - shrunk));
    }
    /* Whole broker pages only: a remainder (heap pages smaller than the
     * broker's) goes back into the budget. */
    uint64_t rest = shrunk % ps;
    if (rest != 0 && anr_heap_expand(h, (size_t)rest) == 0)
        shrunk -= rest;
    pthread_mutex_unlock(&a->lock);
    atomic_fetch_add(&a->giveback_bytes, shrunk);
    return shrunk / ps;
}

/* ---- growth (the need-more-memory callback) ----------------------------- */

/* Asks the broker for `want` bytes (at least `need`), REQUEST or RESERVE.
 * Returns the bytes granted (now in the balance). Mutex held. */
static uint64_t ask(struct attachment *a, uint64_t want, uint64_t need)
{
    uint64_t got = 0;
    if (!tl_urgent) {
        atomic_fetch_add(&a->requests, 1);
        (void)mb_client_request_bytes_timeout(&a->client, want, &got, a->timeout_ms);
        return got;
    }
    /* Urgent: all or nothing, taken from other clients if need be. The
     * chunk first (fewer round trips later), then just what is needed. */
    uint64_t sizes[2] = {want, need};
    for (size_t i = 0; i < 2; i++) {
        if (i == 1 && (need >= want))
            break;
        uint64_t pages = 0;
        if (mb_client_pages_for_bytes(&a->client, sizes[i], &pages) != 0)
            return 0;
        atomic_fetch_add(&a->reserves, 1);
        int rc = mb_client_reserve_timeout(&a->client, pages, a->timeout_ms, a->timeout_ms);
        if (rc == 0)
            return pages * mb_client_page_size(&a->client);
        if (rc != MB_CLIENT_ERR(MB_ERR_NOMEM))
            return 0;
    }
    return 0;
}

enum anr_need_result anr_membroker_need_memory(anr_heap *h, size_t bytes, unsigned attempt,
                                               void *arg)
{
    (void)attempt; /* the heap bounds the attempts */
    struct attachment *a = arg == NULL ? NULL : of(arg);
    if (a == NULL || !atomic_load(&a->attached) || atomic_load(&a->heap) != h)
        return ANR_NEED_GIVE_UP;
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    uint64_t before = st.budget_bytes;
    pthread_mutex_lock(&a->lock);
    if (!atomic_load(&a->attached)) {
        pthread_mutex_unlock(&a->lock);
        return ANR_NEED_GIVE_UP;
    }
    anr_heap_get_stats(h, &st);
    if (st.budget_bytes > before) { /* another thread raised it meanwhile */
        pthread_mutex_unlock(&a->lock);
        return ANR_NEED_RETRY;
    }
    uint64_t room = st.hard_limit_bytes > before ? st.hard_limit_bytes - before : 0;
    uint64_t want = bytes > a->chunk ? bytes : a->chunk;
    if (want > room)
        want = room;
    uint64_t got = want < bytes ? 0 : ask(a, want, bytes);
    if (got > 0) {
        if (anr_heap_expand(h, (size_t)got) == 0) {
            atomic_fetch_add(&a->granted, got);
        } else {
            (void)mb_client_return_bytes(&a->client, got); /* cannot use it */
            got = 0;
        }
    }
    pthread_mutex_unlock(&a->lock);
    if (got == 0) {
        atomic_fetch_add(&a->refusals, 1);
        return ANR_NEED_GIVE_UP;
    }
    ensure_helper(a); /* a forked child's first grant: budget to spare now */
    return ANR_NEED_RETRY;
}

/* ---- attach, reserve, surplus, stats, detach ----------------------------- */

void anr_membroker_options_init(struct anr_membroker_options *o)
{
    memset(o, 0, sizeof *o);
    o->chunk_bytes = 1u << 20;
    o->return_above_bytes = 4u * o->chunk_bytes;
    o->keep_bytes = o->chunk_bytes;
    o->timeout_ms = 2000;
    o->return_timeout_ms = 100;
}

void anr_membroker_hook(struct anr_membroker *mb, struct anr_options *heap_opts)
{
    heap_opts->need_memory = anr_membroker_need_memory;
    heap_opts->user_data = mb;
}

int anr_membroker_attach(struct anr_membroker *mb, anr_heap *heap,
                         const struct anr_membroker_options *opts)
{
    struct anr_membroker_options defaults;
    if (opts == NULL) {
        anr_membroker_options_init(&defaults);
        opts = &defaults;
    }
    if (mb == NULL || heap == NULL || opts->chunk_bytes == 0 ||
        opts->keep_bytes > opts->return_above_bytes)
        return -EINVAL;
    struct attachment *a = of(mb);
    if (atomic_load(&a->attached))
        return -EALREADY;
    memset(a, 0, sizeof *a);
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_init(&a->lock, NULL);
    a->bidirectional = opts->bidirectional;
    a->chunk = opts->chunk_bytes;
    a->floor = opts->floor_bytes;
    a->return_above = opts->return_above_bytes;
    a->keep = opts->keep_bytes;
    a->timeout_ms = opts->timeout_ms;
    a->return_timeout_ms = opts->return_timeout_ms;

    struct mb_client_options co;
    mb_client_options_init(&co);
    co.socket_path = opts->socket_path;
    co.name = opts->name != NULL ? opts->name : "anr";
    co.kind = opts->bidirectional ? MB_KIND_BIDIRECTIONAL : MB_KIND_SIMPLE;
    co.giveback = opts->bidirectional ? on_giveback : NULL;
    co.giveback_arg = a;
    co.timeout_ms = opts->timeout_ms;
    int rc = mb_client_init(&a->client, &co);
    if (rc == 0) {
        rc = live_add(a);
        if (rc != 0)
            mb_client_destroy(&a->client);
    }
    if (rc != 0) {
        pthread_mutex_destroy(&a->lock);
        memset(a, 0, sizeof *a);
        return rc;
    }
    atomic_store(&a->heap, heap);
    atomic_store(&a->attached, true);
    return 0;
}

int anr_membroker_reserve_budget(struct anr_membroker *mb, uint64_t bytes, uint32_t timeout_ms)
{
    struct attachment *a = of(mb);
    if (!atomic_load(&a->attached))
        return -ENODEV;
    pthread_mutex_lock(&a->lock);
    int rc = atomic_load(&a->attached)
                 ? mb_client_reserve_bytes_timeout(&a->client, bytes, timeout_ms, timeout_ms)
                 : -ENODEV;
    pthread_mutex_unlock(&a->lock);
    if (rc == 0)
        atomic_store(&a->budget_backed, true);
    ensure_helper(a);
    return rc;
}

uint64_t anr_membroker_return_surplus(struct anr_membroker *mb)
{
    struct attachment *a = of(mb);
    anr_heap *h = atomic_load(&a->heap);
    if (!atomic_load(&a->attached) || h == NULL)
        return 0;
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    uint64_t budget = st.budget_bytes, used = used_bytes(&st);
    uint64_t above = budget > a->floor ? budget - a->floor : 0;
    uint64_t unused = budget > used ? budget - used : 0;
    uint64_t surplus = unused < above ? unused : above;
    if (surplus <= a->return_above)
        return 0;
    ensure_helper(a); /* a forked child: there is budget to spare */
    if (pthread_mutex_trylock(&a->lock) != 0)
        return 0; /* someone is talking to the broker: next time */
    if (!atomic_load(&a->attached)) {
        pthread_mutex_unlock(&a->lock);
        return 0;
    }
    uint64_t returned = 0;
    uint64_t shrunk = anr_heap_shrink(h, (size_t)(surplus - a->keep));
    if (shrunk > 0) {
        int rc = mb_client_return_bytes_timeout(&a->client, shrunk, a->return_timeout_ms);
        /* After a timeout the pages have left the balance all the same. */
        if (rc == 0 || rc == -ETIMEDOUT)
            returned = shrunk;
        else
            (void)anr_heap_expand(h, (size_t)shrunk); /* still ours: keep the budget */
    }
    pthread_mutex_unlock(&a->lock);
    atomic_fetch_add(&a->returned, returned);
    return returned;
}

void anr_membroker_get_stats(struct anr_membroker *mb, struct anr_membroker_stats *out)
{
    memset(out, 0, sizeof *out);
    struct attachment *a = of(mb);
    if (!atomic_load(&a->attached))
        return;
    out->attached = true;
    out->budget_backed = atomic_load(&a->budget_backed);
    uint64_t ps = mb_client_page_size(&a->client);
    out->balance_bytes = mb_client_balance(&a->client) * (ps != 0 ? ps : host_page_size());
    out->requests = atomic_load(&a->requests);
    out->reserves = atomic_load(&a->reserves);
    out->granted_bytes = atomic_load(&a->granted);
    out->refusals = atomic_load(&a->refusals);
    out->returned_bytes = atomic_load(&a->returned);
    out->giveback_queries = atomic_load(&a->giveback_queries);
    out->giveback_bytes = atomic_load(&a->giveback_bytes);
}

void anr_membroker_detach(struct anr_membroker *mb)
{
    struct attachment *a = of(mb);
    if (!atomic_load(&a->attached))
        return;
    atomic_store(&a->attached, false);
    pthread_mutex_lock(&a->lock); /* wait out a broker call past its check */
    pthread_mutex_unlock(&a->lock);
    mb_client_destroy(&a->client); /* joins the helper: no give-back runs after */
    atomic_store(&a->heap, NULL);
    live_remove(a);
    pthread_mutex_destroy(&a->lock);
    memset(a, 0, sizeof *a);
}
