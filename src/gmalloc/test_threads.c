/* test_gmalloc_threads: several threads allocate, grow, shrink and free
 * through libgmalloc.so (linked in: its malloc is the process's), half of
 * the blocks freed by another thread than the one that made them. Every
 * block carries a pattern checked before it is freed; afterwards the heap
 * verifies and its counts return exactly to where they started. */
#include "anr/gmalloc.h"
#include "mbtest.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define OPS 150000
#define SLOTS 256
#define HANDOFF 1024

struct block {
    unsigned char *p;
    size_t n;
    unsigned char tag;
};

/* Blocks handed to other threads to free. */
static struct block handoff[HANDOFF];
static unsigned handoff_count;
static pthread_mutex_t handoff_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint pattern_errors;

static void fill(struct block *b)
{
    memset(b->p, b->tag, b->n);
}

static void check_and_free(struct block *b)
{
    if (b->p == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        if (b->p[i] != b->tag) {
            atomic_fetch_add(&pattern_errors, 1);
            break;
        }
    }
    free(b->p);
    b->p = NULL;
}

static size_t pick_size(unsigned r)
{
    unsigned k = r % 100;
    if (k < 80)
        return 1 + (r >> 8) % 128;
    if (k < 97)
        return 129 + (r >> 8) % 900;
    return 1024 + (r >> 8) % 60000;
}

static void *worker(void *arg)
{
    unsigned r = *(const unsigned *)arg * 2654435761u + 1u;
    struct block slots[SLOTS];
    memset(slots, 0, sizeof slots);
    for (int op = 0; op < OPS; op++) {
        r = r * 1103515245u + 12345u;
        struct block *b = &slots[(r >> 4) % SLOTS];
        unsigned what = (r >> 12) % 10;
        if (b->p != NULL && what < 2) { /* grow or shrink, keeping the pattern */
            size_t n = pick_size(r >> 3);
            unsigned char *q = realloc(b->p, n);
            if (q == NULL) {
                atomic_fetch_add(&pattern_errors, 1);
                continue;
            }
            size_t keep = n < b->n ? n : b->n;
            for (size_t i = 0; i < keep; i++)
                if (q[i] != b->tag) {
                    atomic_fetch_add(&pattern_errors, 1);
                    break;
                }
            b->p = q;
            b->n = n;
            fill(b);
        } else if (b->p != NULL && what < 5) { /* hand to another thread */
            pthread_mutex_lock(&handoff_lock);
            if (handoff_count < HANDOFF) {
                handoff[handoff_count++] = *b;
                b->p = NULL;
            }
            pthread_mutex_unlock(&handoff_lock);
            check_and_free(b);
        } else {
            check_and_free(b);
            size_t n = pick_size(r);
            if (what == 9) {
                b->p = aligned_alloc(64, (n + 63u) & ~(size_t)63u);
                n = (n + 63u) & ~(size_t)63u;
            } else {
                b->p = what == 8 ? calloc(1, n) : malloc(n);
            }
            /* The block lives on in slots[] (freed at the end or handed off). */
            b->n = n; // NOLINT(clang-analyzer-unix.Malloc)
            b->tag = (unsigned char)(r >> 24);
            if (b->p == NULL)
                atomic_fetch_add(&pattern_errors, 1);
            else
                fill(b);
        }
        if ((op & 15) == 0) { /* free something another thread made */
            struct block other = {0};
            pthread_mutex_lock(&handoff_lock);
            if (handoff_count > 0)
                other = handoff[--handoff_count];
            pthread_mutex_unlock(&handoff_lock);
            check_and_free(&other);
        }
    }
    for (int i = 0; i < SLOTS; i++)
        check_and_free(&slots[i]);
    return NULL;
}

static void *idle(void *arg)
{
    return arg;
}

static void test_threads_stress(void)
{
    /* glibc keeps exited threads' stacks, with the thread-local storage
     * vector it allocated for each, for reuse: warm that cache up first so
     * the counts compare like with like. */
    pthread_t w[THREADS];
    for (int i = 0; i < THREADS; i++)
        MBT_EQ_INT(0, pthread_create(&w[i], NULL, idle, NULL));
    for (int i = 0; i < THREADS; i++)
        MBT_EQ_INT(0, pthread_join(w[i], NULL));
    struct gmalloc_stats before, after;
    MBT_EQ_INT(0, gmalloc_stats(&before));
    pthread_t t[THREADS];
    static unsigned ids[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        ids[i] = i;
        MBT_EQ_INT(0, pthread_create(&t[i], NULL, worker, &ids[i]));
    }
    for (int i = 0; i < THREADS; i++)
        MBT_EQ_INT(0, pthread_join(t[i], NULL));
    for (unsigned i = 0; i < handoff_count; i++)
        check_and_free(&handoff[i]);
    handoff_count = 0;
    MBT_EQ_U64(0, atomic_load(&pattern_errors));
    char why[256] = "";
    MBT_EQ_INT(0, gmalloc_verify(why, sizeof why));
    if (why[0])
        fprintf(stderr, "    verify: %s\n", why);
    MBT_EQ_INT(0, gmalloc_stats(&after));
    /* The threads exited: their caches went back, nothing is left over. */
    MBT_EQ_U64(before.heap.live_blocks, after.heap.live_blocks);
    MBT_EQ_U64(before.heap.in_use_bytes, after.heap.in_use_bytes);
    MBT_EQ_U64(0, after.heap.invalid_frees);
    MBT_EQ_U64(0, after.foreign_frees);
    MBT_TRUE(after.heap.mallocs - before.heap.mallocs > (uint64_t)THREADS * OPS / 4u);
    MBT_TRUE(after.heap.resident_bytes <= after.heap.budget_bytes);
}

int main(void)
{
    MBT_RUN(test_threads_stress);
    return mbt_finish();
}
