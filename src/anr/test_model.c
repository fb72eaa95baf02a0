/* Randomized differential test: thousands of mixed operations against a
 * model that knows every live block's size, usable size and content.
 * Every block carries a pattern checked before it is freed or reallocated;
 * verify() runs after each batch and the heap's statistics must equal the
 * model's exactly. Every scenario runs twice: without and with the thread
 * cache (whose blocks must count as free, never as in use). */
#include "anr/anr_malloc.h"
#include "mbtest.h"

#include <errno.h>

#define MiB ((size_t)1 << 20)
#define SLOTS 1500
#define BATCH 500

struct slot {
    unsigned char *p;
    size_t size, usable;
    uint32_t seed;
    bool aligned;
};

struct model {
    struct slot slots[SLOTS];
    uint64_t in_use, live;
    uint64_t mallocs, callocs, reallocs, memaligns, frees, failures;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
    return mbt_xorshift64(&rng_state);
}

static size_t rnd_size(void)
{
    uint64_t r = rnd() % 100;
    if (r < 70)
        return (size_t)(rnd() % 257);
    if (r < 90)
        return 257 + (size_t)(rnd() % 3840);
    if (r < 99)
        return 4097 + (size_t)(rnd() % 61440);
    return 65537 + (size_t)(rnd() % (448 * 1024));
}

static unsigned char pattern(uint32_t seed, size_t i)
{
    return (unsigned char)(seed + i * 131u + (i >> 8));
}

static void fill(struct slot *s)
{
    for (size_t i = 0; i < s->size; i++)
        s->p[i] = pattern(s->seed, i);
}

static bool intact(const struct slot *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->p[i] != pattern(s->seed, i)) {
            fprintf(stderr, "    block %p of %zu bytes: byte %zu is 0x%02x\n", (void *)s->p,
                    s->size, i, s->p[i]);
            return false;
        }
    }
    return true;
}

static uint32_t default_classes[64];
static size_t ndefault;

static void use_default_classes(void)
{
    ndefault = 0;
    for (uint32_t c = 16; c <= 128; c += 16)
        default_classes[ndefault++] = c;
    for (uint32_t base = 128; base < 3072; base *= 2)
        for (uint32_t i = 1; i <= 8 && base + i * base / 8 <= 3072; i++)
            default_classes[ndefault++] = base + i * base / 8;
}

/* The slab classes of the heap under test (ascending). */
static const uint32_t *classes;
static size_t nclasses;
static bool caches_on;

/* Usable size is at least the request and, for unaligned requests, exactly
 * the class for small sizes; a chunk may absorb a tail too small to be a
 * free chunk (under 48 bytes) beyond the 16-byte rounding. The default
 * classes also keep the waste under 1/8 beyond that rounding. */
static bool usable_ok(size_t size, size_t usable, bool aligned)
{
    size_t s = size == 0 ? 1 : size;
    size_t r = (s + 15u) & ~(size_t)15u;
    if (usable < s)
        return false;
    if (aligned)
        return true;
    for (size_t i = 0; i < nclasses; i++)
        if (classes[i] >= s)
            return usable == classes[i] && (classes != default_classes || usable - r <= r / 8);
    if (usable - r < 48)
        return true;
    /* With thread caches, a request up to 16 KiB above the largest class
     * is made at its chunk class's size (four classes per doubling, from
     * the largest slab class up), when that class is cached. */
    size_t k = classes[nclasses - 1];
    while (caches_on && k < s && k < 16384) {
        size_t step = ((size_t)1 << (63 - __builtin_clzll((unsigned long long)k))) / 4u;
        k = (k / step + 1u) * step;
    }
    return caches_on && k >= s && k <= 16384 && usable >= k && usable - k < 48;
}

/* A realloc that moved a growing block above the largest class may have
 * given it headroom: an eighth more (at most 1 MiB), rounded up to a chunk
 * class of a quarter more when the thread caches hold that size. */
static bool grown_usable_ok(size_t size, size_t usable)
{
    if (usable_ok(size, usable, false))
        return true;
    size_t extra = size / 8u < ((size_t)1 << 20) ? size / 8u : (size_t)1 << 20;
    size_t most = size + extra;
    if (caches_on && most <= 16384)
        most += most / 4u;
    return size > classes[nclasses - 1] && usable >= size + extra && usable <= most + 48u;
}

static void take_checked(anr_heap *h, struct model *m, struct slot *s, unsigned char *p,
                         size_t size, bool aligned, bool grown_move)
{
    s->p = p;
    s->size = size;
    s->usable = anr_heap_usable_size(h, p);
    s->seed = (uint32_t)rnd();
    s->aligned = aligned;
    MBT_CHECK(grown_move ? grown_usable_ok(size, s->usable) : usable_ok(size, s->usable, aligned));
    MBT_EQ_U64(0, (uintptr_t)p % 16);
    m->in_use += s->usable;
    m->live++;
    fill(s);
}

static void take(anr_heap *h, struct model *m, struct slot *s, unsigned char *p, size_t size,
                 bool aligned)
{
    take_checked(h, m, s, p, size, aligned, false);
}

static void drop(struct model *m, struct slot *s)
{
    m->in_use -= s->usable;
    m->live--;
    s->p = NULL;
}

static void one_op(anr_heap *h, struct model *m)
{
    struct slot *s = &m->slots[rnd() % SLOTS];
    uint64_t r = rnd() % 100;
    if (s->p == NULL) {
        size_t size = rnd_size();
        unsigned char *p;
        bool aligned = false;
        if (r < 60) {
            p = anr_heap_malloc(h, size);
            m->mallocs += p != NULL;
        } else if (r < 75) {
            p = anr_heap_calloc(h, 1, size);
            if (p != NULL) {
                m->callocs++;
                for (size_t i = 0; i < size; i++) {
                    if (p[i] != 0) {
                        MBT_EQ_U64(0, p[i]);
                        break;
                    }
                }
            }
        } else if (r < 90) {
            size_t align = (size_t)1 << (rnd() % 14);
            p = anr_heap_memalign(h, align, size);
            aligned = true;
            if (p != NULL) {
                m->memaligns++;
                MBT_EQ_U64(0, (uintptr_t)p % align);
            }
        } else {
            p = anr_heap_realloc(h, NULL, size);
            m->reallocs += p != NULL;
        }
        if (p == NULL) {
            MBT_EQ_INT(ENOMEM, errno);
            m->failures++;
            return;
        }
        take(h, m, s, p, size, aligned);
        return;
    }
    MBT_CHECK(intact(s, s->size));
    if (r < 55) {
        anr_heap_free(h, s->p);
        m->frees++;
        drop(m, s);
    } else if (r < 95) {
        size_t size = rnd() % 4 == 0 ? (size_t)(rnd() % 64) : rnd_size();
        if (size == 0) {
            MBT_NULL(anr_heap_realloc(h, s->p, 0));
            m->frees++;
            drop(m, s);
            return;
        }
        unsigned char *q = anr_heap_realloc(h, s->p, size);
        if (q == NULL) {
            MBT_EQ_INT(ENOMEM, errno);
            m->failures++;
            return;
        }
        m->reallocs++;
        if (q != s->p)
            m->frees++; /* moved: the old block was freed */
        size_t keep = s->size < size ? s->size : size;
        struct slot moved = *s;
        moved.p = q;
        MBT_CHECK(intact(&moved, keep));
        bool grown_move = q != s->p && size > s->usable;
        drop(m, s);
        take_checked(h, m, s, q, size, false, grown_move);
    } else {
        MBT_EQ_U64(s->usable, anr_heap_usable_size(h, s->p));
    }
}

static bool same_as_model(anr_heap *h, const struct model *m)
{
    char msg[256];
    bool ok = true;
    if (!MBT_EQ_INT(0, anr_heap_verify(h, msg, sizeof msg))) {
        fprintf(stderr, "    verify: %s\n", msg);
        ok = false;
    }
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    ok &= MBT_EQ_U64(m->in_use, st.in_use_bytes);
    ok &= MBT_EQ_U64(m->live, st.live_blocks);
    ok &= MBT_EQ_U64(m->mallocs, st.mallocs);
    ok &= MBT_EQ_U64(m->callocs, st.callocs);
    ok &= MBT_EQ_U64(m->reallocs, st.reallocs);
    ok &= MBT_EQ_U64(m->memaligns, st.memaligns);
    ok &= MBT_EQ_U64(m->frees, st.frees);
    ok &= MBT_EQ_U64(m->failures, st.failures);
    ok &= MBT_CHECK(st.resident_bytes <= st.budget_bytes);
    ok &= MBT_CHECK(st.reclaimable_bytes <= st.resident_bytes);
    return ok;
}

static void run_model_once(const struct anr_options *o, uint64_t seed, unsigned batches,
                           bool expect_failures)
{
    static struct model m;
    memset(&m, 0, sizeof m);
    rng_state = seed;
    classes = o->slab_sizes ? o->slab_sizes : default_classes;
    nclasses = o->slab_sizes ? o->slab_size_count : ndefault;
    caches_on = o->thread_cache;
    anr_heap *h = NULL;
    MBT_EQ_INT(0, anr_heap_create(o, &h));
    MBT_REQUIRE(h != NULL);
    for (unsigned b = 0; b < batches; b++) {
        for (unsigned i = 0; i < BATCH; i++)
            one_op(h, &m);
        if (!same_as_model(h, &m)) {
            fprintf(stderr, "    after batch %u (seed %llu)\n", b, (unsigned long long)seed);
            break;
        }
        if (b % 7 == 6)
            anr_heap_trim(h);
    }
    if (!expect_failures)
        MBT_EQ_U64(0, m.failures);
    else
        MBT_CHECK(m.failures > 0);
    for (size_t i = 0; i < SLOTS; i++) {
        if (m.slots[i].p != NULL) {
            MBT_CHECK(intact(&m.slots[i], m.slots[i].size));
            anr_heap_free(h, m.slots[i].p);
            m.frees++;
            drop(&m, &m.slots[i]);
        }
    }
    same_as_model(h, &m);
    struct anr_stats st;
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.in_use_bytes);
    /* Automatic give-back runs in locked frees, at most reclaim_batch pages
     * each; with the cache most small frees take no lock, so with tiny
     * batches free pages may stay above the ceiling until the next locked
     * calls (or trim). */
    if (!o->thread_cache || o->reclaim_batch >= 128)
        MBT_CHECK(st.reclaimable_bytes <= 128 * st.page_size);
    anr_heap_trim(h);
    anr_heap_get_stats(h, &st);
    MBT_EQ_U64(0, st.reclaimable_bytes);
    MBT_EQ_U64(0, st.thread_cached_bytes);
    anr_heap_destroy(h);
}

static void run_model(const struct anr_options *o, uint64_t seed, unsigned batches,
                      bool expect_failures)
{
    struct anr_options cached = *o;
    cached.thread_cache = false;
    run_model_once(&cached, seed, batches, expect_failures);
    cached.thread_cache = true;
    run_model_once(&cached, seed, batches, expect_failures);
}

static void test_roomy(void)
{
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 48 * MiB;
    o.map_size = 64 * MiB;
    run_model(&o, 0x9e3779b97f4a7c15ull, 40, false);
}

static void test_eager_giveback(void)
{
    /* Tiny watermarks and batches: the give-back runs after most frees. */
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 48 * MiB;
    o.map_size = 64 * MiB;
    o.page_ceiling = 4;
    o.page_floor = 0;
    o.reclaim_batch = 3;
    run_model(&o, 12345, 30, false);
}

static void test_madv_free_custom_classes(void)
{
    static const uint32_t sizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048};
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 48 * MiB;
    o.map_size = 64 * MiB;
    o.use_madv_free = true;
    o.slab_sizes = sizes;
    o.slab_size_count = 8;
    run_model(&o, 777, 30, false);
}

static void test_tight_budget(void)
{
    /* The budget binds: allocations fail cleanly and nothing else changes. */
    struct anr_options o;
    anr_options_init(&o);
    o.pool_size = 3 * MiB;
    o.map_size = 64 * MiB;
    run_model(&o, 4242, 30, true);
}

int main(void)
{
    use_default_classes();
    MBT_RUN(test_roomy);
    MBT_RUN(test_eager_giveback);
    MBT_RUN(test_madv_free_custom_classes);
    MBT_RUN(test_tight_budget);
    return mbt_finish();
}
