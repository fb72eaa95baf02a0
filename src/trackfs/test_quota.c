/* test_quota.c: trackfs's books, standalone and against a fake broker whose
 * pool is checked for conservation after every step. */
#include "trackfs/quota.h"

#include "mbtest.h"

#include <errno.h>
#include <pthread.h>

/* A broker that grants from a pool, fewer when the pool runs short. */
struct fake_broker {
    uint64_t pool;
    uint64_t total;
    unsigned acquires, releases;
    uint64_t last_asked;
    bool fail_release;
};

static int fake_acquire(void *arg, uint64_t pages, uint64_t *granted)
{
    struct fake_broker *b = arg;
    b->acquires++;
    b->last_asked = pages;
    *granted = pages < b->pool ? pages : b->pool;
    b->pool -= *granted;
    return 0;
}

static int fake_release(void *arg, uint64_t pages)
{
    struct fake_broker *b = arg;
    if (b->fail_release)
        return -ECONNRESET;
    b->releases++;
    b->pool += pages;
    return 0;
}

static struct tfs_quota_config config_of(uint64_t limit, uint64_t chunk, uint64_t inode_cost)
{
    struct tfs_quota_config c = {
        .page_size = 4096, .limit_pages = limit, .chunk_pages = chunk,
        .max_slack_chunks = 2, .inode_cost = inode_cost,
    };
    return c;
}

static void source_of(struct fake_broker *b, struct tfs_quota_source *s)
{
    s->acquire = fake_acquire;
    s->release = fake_release;
    s->arg = b;
}

/* pool + held = total, and held = used + slack. */
static void check_books(struct tfs_quota *q, const struct fake_broker *b)
{
    struct tfs_quota_stats st;
    tfs_quota_get_stats(q, &st);
    MBT_EQ_U64(b->total, b->pool + st.held);
    MBT_CHECK(st.used <= st.held);
}

static void test_standalone_limit(void)
{
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(10, 0, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, NULL));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 10, 0));
    MBT_EQ_INT(-ENOSPC, tfs_quota_charge(&q, 1, 0));
    tfs_quota_release(&q, 3, 0);
    MBT_EQ_INT(-ENOSPC, tfs_quota_charge(&q, 4, 0));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 3, 0));
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(10, st.held);
    MBT_EQ_U64(10, st.used);
    MBT_EQ_U64(2, st.refusals);
    MBT_EQ_U64(0, tfs_quota_giveback(&q, 5)); /* standalone gives nothing back */
    tfs_quota_destroy(&q);
}

static void test_inode_cost_rounds_as_a_whole(void)
{
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(3, 0, 1024);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, NULL));
    MBT_EQ_U64(0, tfs_quota_inode_pages(&c, 0));
    MBT_EQ_U64(1, tfs_quota_inode_pages(&c, 1));
    MBT_EQ_U64(1, tfs_quota_inode_pages(&c, 4));
    MBT_EQ_U64(2, tfs_quota_inode_pages(&c, 5));
    for (int i = 0; i < 4; i++)
        MBT_EQ_INT(0, tfs_quota_charge(&q, 0, 1));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 2, 0));
    MBT_EQ_INT(-ENOSPC, tfs_quota_charge(&q, 0, 1)); /* the 5th inode needs a page */
    tfs_quota_release(&q, 0, 1);
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(3, st.inodes);
    MBT_EQ_U64(3, st.used);
    tfs_quota_release(&q, 100, 100); /* clamped */
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(0, st.used);
    MBT_EQ_U64(0, st.inodes);
    tfs_quota_destroy(&q);
}

static void test_chunks_and_hysteresis(void)
{
    struct fake_broker b = {.pool = 100, .total = 100};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 4, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 1, 0));
    MBT_EQ_U64(4, b.last_asked);
    MBT_EQ_INT(0, tfs_quota_charge(&q, 3, 0)); /* fits in the chunk */
    MBT_EQ_U64(1, b.acquires);
    MBT_EQ_INT(0, tfs_quota_charge(&q, 6, 0)); /* 10 needed: two more chunks */
    MBT_EQ_U64(8, b.last_asked);
    MBT_EQ_U64(88, b.pool);
    check_books(&q, &b);

    tfs_quota_release(&q, 10, 0); /* slack 12 > 2 chunks: keep one */
    MBT_EQ_U64(96, b.pool);
    MBT_EQ_U64(1, b.releases);
    check_books(&q, &b);

    MBT_EQ_INT(0, tfs_quota_charge(&q, 4, 0)); /* the kept chunk serves it */
    MBT_EQ_U64(2, b.acquires);
    MBT_EQ_INT(0, tfs_quota_charge(&q, 5, 0));
    tfs_quota_release(&q, 5, 0); /* slack 8 = 2 chunks: kept */
    MBT_EQ_U64(1, b.releases);
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(12, st.held);
    MBT_EQ_U64(4, st.used);
    check_books(&q, &b);

    tfs_quota_release_slack(&q);
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(4, st.held);
    MBT_EQ_U64(96, b.pool);
    check_books(&q, &b);
    tfs_quota_destroy(&q);
}

static void test_refused_charge_keeps_books(void)
{
    struct fake_broker b = {.pool = 2, .total = 2};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 4, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    MBT_EQ_INT(-ENOSPC, tfs_quota_charge(&q, 3, 0));
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(0, st.used);
    MBT_EQ_U64(2, st.held); /* a partial grant stays as slack */
    MBT_EQ_U64(1, st.refusals);
    check_books(&q, &b);
    MBT_EQ_INT(0, tfs_quota_charge(&q, 2, 0)); /* fits in what came */
    MBT_EQ_U64(1, b.acquires); /* no second call: the slack served it */
    check_books(&q, &b);
    tfs_quota_destroy(&q);
}

static void test_giveback_only_slack(void)
{
    struct fake_broker b = {.pool = 100, .total = 100};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 8, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 3, 0));
    uint64_t given = tfs_quota_giveback(&q, 100);
    MBT_EQ_U64(5, given);
    b.pool += given; /* the client library answers the broker */
    MBT_EQ_U64(0, tfs_quota_giveback(&q, 100));
    check_books(&q, &b);
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(3, st.held);
    MBT_EQ_U64(5, st.released);
    tfs_quota_destroy(&q);
}

static void test_failed_release_keeps_pages(void)
{
    struct fake_broker b = {.pool = 100, .total = 100};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 2, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 10, 0));
    b.fail_release = true;
    tfs_quota_release(&q, 10, 0);
    check_books(&q, &b);
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(10, st.held);
    MBT_EQ_U64(0, st.released);
    tfs_quota_destroy(&q);
}

static void test_settle_and_force(void)
{
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(10, 0, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, NULL));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 4, 0)); /* a write that may add 4 */
    tfs_quota_settle(&q, 4, 0, 2);            /* it added 2 */
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(2, st.data_pages);
    tfs_quota_settle(&q, 0, 2, 1); /* truncate down */
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(1, st.data_pages);
    tfs_quota_settle(&q, 0, 1, 3); /* grew beyond its charge: forced */
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(3, st.data_pages);
    MBT_EQ_U64(0, tfs_quota_force(&q, 7, 0));
    MBT_EQ_U64(2, tfs_quota_force(&q, 2, 0)); /* over the limit by 2 */
    tfs_quota_destroy(&q);
}

static void test_force_takes_from_source(void)
{
    struct fake_broker b = {.pool = 10, .total = 10};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 4, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    MBT_EQ_U64(0, tfs_quota_force(&q, 6, 0));
    MBT_EQ_U64(2, b.pool);
    MBT_EQ_U64(2, tfs_quota_force(&q, 6, 0)); /* 4 more needed, the pool had 2 */
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(0, b.pool);
    MBT_EQ_U64(10, st.held);
    MBT_EQ_U64(12, st.used);
    tfs_quota_destroy(&q);
}

/* A broker for threads: the pool under a lock. */
struct locked_broker {
    pthread_mutex_t lock;
    struct fake_broker b;
};

static int locked_acquire(void *arg, uint64_t pages, uint64_t *granted)
{
    struct locked_broker *lb = arg;
    pthread_mutex_lock(&lb->lock);
    int rc = fake_acquire(&lb->b, pages, granted);
    pthread_mutex_unlock(&lb->lock);
    return rc;
}

static int locked_release(void *arg, uint64_t pages)
{
    struct locked_broker *lb = arg;
    pthread_mutex_lock(&lb->lock);
    int rc = fake_release(&lb->b, pages);
    pthread_mutex_unlock(&lb->lock);
    return rc;
}

struct churn {
    struct tfs_quota *q;
    struct locked_broker *lb;
    unsigned seed;
    uint64_t charged; /* what this thread still holds charged */
    unsigned refused;
};

static void *churn_main(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < 20000; i++) {
        c->seed = c->seed * 1103515245u + 12345u;
        uint64_t pages = (c->seed >> 16) % 7;
        if ((c->seed >> 8) % 3 != 0) {
            if (tfs_quota_charge(c->q, pages, 0) == 0)
                c->charged += pages;
            else
                c->refused++;
        } else {
            uint64_t back = pages < c->charged ? pages : c->charged;
            tfs_quota_release(c->q, back, 0);
            c->charged -= back;
        }
    }
    return NULL;
}

static void *giveback_main(void *arg)
{
    struct churn *c = arg;
    for (int i = 0; i < 5000; i++) {
        uint64_t given = tfs_quota_giveback(c->q, 3);
        pthread_mutex_lock(&c->lb->lock);
        c->lb->b.pool += given; /* what the client library does with the answer */
        pthread_mutex_unlock(&c->lb->lock);
    }
    return NULL;
}

/* Writers, releases and give-back queries at once: every page is accounted
 * for at the end, and what is charged equals what the threads hold. */
static void test_threads_conserve(void)
{
    struct locked_broker lb = {.b = {.pool = 200, .total = 200}};
    pthread_mutex_init(&lb.lock, NULL);
    struct tfs_quota_source s = {.acquire = locked_acquire, .release = locked_release, .arg = &lb};
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 4, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    struct churn workers[4], giver = {.q = &q, .lb = &lb};
    pthread_t threads[5];
    for (unsigned i = 0; i < 4; i++) {
        workers[i] = (struct churn){.q = &q, .lb = &lb, .seed = i + 1};
        MBT_REQUIRE(pthread_create(&threads[i], NULL, churn_main, &workers[i]) == 0);
    }
    MBT_REQUIRE(pthread_create(&threads[4], NULL, giveback_main, &giver) == 0);
    for (unsigned i = 0; i < 5; i++)
        pthread_join(threads[i], NULL);
    uint64_t charged = 0;
    unsigned refused = 0;
    for (unsigned i = 0; i < 4; i++) {
        charged += workers[i].charged;
        refused += workers[i].refused;
    }
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(charged, st.used);
    MBT_EQ_U64(refused, st.refusals);
    MBT_EQ_U64(lb.b.total, lb.b.pool + st.held);
    MBT_CHECK(st.used <= st.held);
    for (unsigned i = 0; i < 4; i++)
        tfs_quota_release(&q, workers[i].charged, 0);
    tfs_quota_release_slack(&q);
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(0, st.used);
    MBT_EQ_U64(0, st.held);
    MBT_EQ_U64(lb.b.total, lb.b.pool);
    tfs_quota_destroy(&q);
    pthread_mutex_destroy(&lb.lock);
}

/* Attribute bytes join the inode bytes before rounding up to pages. */
static void test_xattr_bytes_share_metadata_pages(void)
{
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(3, 0, 1024);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, NULL));
    MBT_EQ_INT(0, tfs_quota_charge(&q, 1, 2));        /* 1 data + 2048 bytes: 2 pages */
    MBT_EQ_INT(0, tfs_quota_charge_xattr(&q, 2048)); /* 4096 metadata bytes: still 2 */
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(2, st.used);
    MBT_EQ_U64(2048, st.xattr_bytes);
    MBT_EQ_INT(0, tfs_quota_charge_xattr(&q, 4096));     /* 8192 bytes: 2 pages, 3 used */
    MBT_EQ_INT(-ENOSPC, tfs_quota_charge_xattr(&q, 1)); /* one byte more needs a 4th page */
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(3, st.used);
    MBT_EQ_U64(6144, st.xattr_bytes);
    MBT_EQ_U64(1, st.refusals);
    tfs_quota_release_xattr(&q, 4097);
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(2047, st.xattr_bytes);
    MBT_EQ_U64(2, st.used);
    MBT_EQ_U64(1, tfs_quota_force_xattr(&q, 8192)); /* existing: taken, 1 page over */
    tfs_quota_release_xattr(&q, UINT64_MAX);          /* clamped */
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(0, st.xattr_bytes);
    MBT_EQ_U64(2, st.used);
    tfs_quota_destroy(&q);
}

/* A stall is a charge that had to ask the source; forced charges and
 * charges that fit in the slack are not stalls. */
static void test_stalls_counted(void)
{
    struct fake_broker b = {.pool = 40, .total = 40};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota q;
    struct tfs_quota_config c = config_of(0, 16, 0);
    MBT_EQ_INT(0, tfs_quota_init(&q, &c, &s));
    for (int i = 0; i < 20; i++)
        MBT_EQ_INT(0, tfs_quota_charge(&q, 1, 0)); /* asks at the 1st and the 17th */
    struct tfs_quota_stats st;
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(2, st.stalls);
    MBT_EQ_U64(2, b.acquires);
    MBT_EQ_U64(0, tfs_quota_force(&q, 16, 0)); /* forced: 36 used, 8 of 16 asked come, no stall */
    MBT_EQ_INT(-ENOSPC, tfs_quota_charge(&q, 20, 0)); /* the pool has 8 of 16 asked */
    tfs_quota_get_stats(&q, &st);
    MBT_EQ_U64(3, st.stalls);
    MBT_EQ_U64(1, st.refusals);
    MBT_EQ_U64(4, b.acquires);
    check_books(&q, &b);
    tfs_quota_destroy(&q);
}

static void test_bad_config(void)
{
    struct tfs_quota q;
    struct fake_broker b = {0};
    struct tfs_quota_source s;
    source_of(&b, &s);
    struct tfs_quota_config c = config_of(10, 0, 0);
    MBT_EQ_INT(-EINVAL, tfs_quota_init(&q, &c, &s)); /* chunk 0 */
    c.page_size = 0;
    MBT_EQ_INT(-EINVAL, tfs_quota_init(&q, &c, NULL));
}

int main(void)
{
    MBT_RUN(test_standalone_limit);
    MBT_RUN(test_inode_cost_rounds_as_a_whole);
    MBT_RUN(test_chunks_and_hysteresis);
    MBT_RUN(test_refused_charge_keeps_books);
    MBT_RUN(test_giveback_only_slack);
    MBT_RUN(test_failed_release_keeps_pages);
    MBT_RUN(test_settle_and_force);
    MBT_RUN(test_force_takes_from_source);
    MBT_RUN(test_threads_conserve);
    MBT_RUN(test_xattr_bytes_share_metadata_pages);
    MBT_RUN(test_stalls_counted);
    MBT_RUN(test_bad_config);
    return mbt_finish();
}
