/* quota.c: trackfs's books (see quota.h). The lock guards only the numbers;
 * calls to the source run without it so that a slow broker delays only the
 * writer that needs more quota, never reads, releases or give-backs. */
#include "trackfs/quota.h"

#include "common/clock.h"

#include <errno.h>
#include <string.h>

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t div_round_up(uint64_t n, uint64_t d)
{
    return n / d + (n % d != 0);
}

uint64_t tfs_quota_inode_pages(const struct tfs_quota_config *config, uint64_t inodes)
{
    if (config->inode_cost == 0 || inodes == 0)
        return 0;
    if (inodes > UINT64_MAX / config->inode_cost)
        return UINT64_MAX / config->page_size;
    return div_round_up(inodes * config->inode_cost, config->page_size);
}

/* What one call adds to (or removes from) the books. */
struct delta {
    uint64_t pages, inodes, xattr_bytes;
};

/* Metadata pages: inode and attribute bytes, rounded up as a whole. */
static uint64_t meta_pages(const struct tfs_quota_config *config, uint64_t inodes,
                           uint64_t xattr_bytes)
{
    uint64_t inode_bytes = config->inode_cost != 0 && inodes > UINT64_MAX / config->inode_cost
                               ? UINT64_MAX
                               : inodes * config->inode_cost;
    return div_round_up(sat_add(inode_bytes, xattr_bytes), config->page_size);
}

/* Pages used if d was added. */
static uint64_t used_with(const struct tfs_quota *q, struct delta d)
{
    return sat_add(sat_add(q->data_pages, d.pages),
                   meta_pages(&q->config, sat_add(q->inodes, d.inodes),
                              sat_add(q->xattr_bytes, d.xattr_bytes)));
}

static uint64_t used_now(const struct tfs_quota *q)
{
    static const struct delta none;
    return used_with(q, none);
}

static void add_locked(struct tfs_quota *q, struct delta d)
{
    q->data_pages += d.pages;
    q->inodes += d.inodes;
    q->xattr_bytes += d.xattr_bytes;
}

/* Hysteresis: when more than max_slack_chunks chunks are unused, all but one
 * chunk leave `held`. Returns the pages to hand to the source. Lock held. */
static uint64_t trim_slack_locked(struct tfs_quota *q)
{
    if (!q->has_source)
        return 0;
    uint64_t used = used_now(q);
    uint64_t slack = q->held > used ? q->held - used : 0;
    uint64_t chunk = q->config.chunk_pages;
    if (slack <= q->config.max_slack_chunks * chunk)
        return 0;
    uint64_t give = slack - chunk;
    q->held -= give;
    q->released += give;
    return give;
}

/* Hands `pages` back to the source; on failure they stay held. No lock held. */
static void give_to_source(struct tfs_quota *q, uint64_t pages)
{
    if (pages == 0)
        return;
    if (q->source.release(q->source.arg, pages) < 0) {
        pthread_mutex_lock(&q->lock);
        q->held += pages;
        q->released -= pages;
        pthread_mutex_unlock(&q->lock);
    }
}

int tfs_quota_init(struct tfs_quota *q, const struct tfs_quota_config *config,
                   const struct tfs_quota_source *source)
{
    if (config->page_size == 0)
        return -EINVAL;
    if (source != NULL && (config->chunk_pages == 0 || config->max_slack_chunks == 0 ||
                           source->acquire == NULL || source->release == NULL))
        return -EINVAL;
    memset(q, 0, sizeof *q);
    q->config = *config;
    if (source != NULL) {
        q->source = *source;
        q->has_source = true;
    } else {
        q->held = config->limit_pages;
    }
    pthread_mutex_init(&q->lock, NULL);
    pthread_mutex_init(&q->acquire, NULL);
    return 0;
}

void tfs_quota_destroy(struct tfs_quota *q)
{
    pthread_mutex_destroy(&q->lock);
    pthread_mutex_destroy(&q->acquire);
}

/* Takes from the source what d lacks, in whole chunks, and charges it when
 * enough came. `force` charges even when not. Returns 0, or -ENOSPC
 * (nothing charged; never with force). Called without locks. */
static int charge_from_source(struct tfs_quota *q, struct delta d, bool force)
{
    pthread_mutex_lock(&q->acquire);
    pthread_mutex_lock(&q->lock);
    uint64_t need = used_with(q, d);
    if (need <= q->held) { /* another writer's chunk or a release made room */
        add_locked(q, d);
        pthread_mutex_unlock(&q->lock);
        pthread_mutex_unlock(&q->acquire);
        return 0;
    }
    uint64_t want = div_round_up(need - q->held, q->config.chunk_pages) * q->config.chunk_pages;
    pthread_mutex_unlock(&q->lock);

    uint64_t granted = 0;
    uint64_t start = mb_clock_monotonic_ns();
    if (q->source.acquire(q->source.arg, want, &granted) < 0)
        granted = 0;
    uint64_t waited = mb_clock_monotonic_ns() - start;

    int rc = 0;
    pthread_mutex_lock(&q->lock);
    q->held += granted;
    q->acquired += granted;
    if (!force) {
        q->stalls++;
        q->stall_ns += waited;
    }
    if (force || used_with(q, d) <= q->held) {
        add_locked(q, d);
    } else {
        q->refusals++;
        rc = -ENOSPC;
    }
    uint64_t surplus = trim_slack_locked(q);
    pthread_mutex_unlock(&q->lock);
    give_to_source(q, surplus);
    pthread_mutex_unlock(&q->acquire);
    return rc;
}

static int charge(struct tfs_quota *q, struct delta d)
{
    pthread_mutex_lock(&q->lock);
    if (used_with(q, d) <= q->held) {
        add_locked(q, d);
        pthread_mutex_unlock(&q->lock);
        return 0;
    }
    if (!q->has_source) {
        q->refusals++;
        pthread_mutex_unlock(&q->lock);
        return -ENOSPC;
    }
    pthread_mutex_unlock(&q->lock);
    return charge_from_source(q, d, false);
}

static uint64_t force_charge(struct tfs_quota *q, struct delta d)
{
    pthread_mutex_lock(&q->lock);
    bool fits = used_with(q, d) <= q->held;
    if (fits || !q->has_source)
        add_locked(q, d);
    pthread_mutex_unlock(&q->lock);
    if (!fits && q->has_source)
        (void)charge_from_source(q, d, true);

    pthread_mutex_lock(&q->lock);
    uint64_t used = used_now(q);
    uint64_t over = used > q->held ? used - q->held : 0;
    pthread_mutex_unlock(&q->lock);
    return over;
}

static void release(struct tfs_quota *q, struct delta d)
{
    pthread_mutex_lock(&q->lock);
    q->data_pages -= d.pages < q->data_pages ? d.pages : q->data_pages;
    q->inodes -= d.inodes < q->inodes ? d.inodes : q->inodes;
    q->xattr_bytes -= d.xattr_bytes < q->xattr_bytes ? d.xattr_bytes : q->xattr_bytes;
    uint64_t surplus = trim_slack_locked(q);
    pthread_mutex_unlock(&q->lock);
    give_to_source(q, surplus);
}

int tfs_quota_charge(struct tfs_quota *q, uint64_t pages, uint64_t inodes)
{
    return charge(q, (struct delta){.pages = pages, .inodes = inodes});
}

uint64_t tfs_quota_force(struct tfs_quota *q, uint64_t pages, uint64_t inodes)
{
    return force_charge(q, (struct delta){.pages = pages, .inodes = inodes});
}

void tfs_quota_release(struct tfs_quota *q, uint64_t pages, uint64_t inodes)
{
    release(q, (struct delta){.pages = pages, .inodes = inodes});
}

int tfs_quota_charge_xattr(struct tfs_quota *q, uint64_t bytes)
{
    return charge(q, (struct delta){.xattr_bytes = bytes});
}

uint64_t tfs_quota_force_xattr(struct tfs_quota *q, uint64_t bytes)
{
    return force_charge(q, (struct delta){.xattr_bytes = bytes});
}

void tfs_quota_release_xattr(struct tfs_quota *q, uint64_t bytes)
{
    release(q, (struct delta){.xattr_bytes = bytes});
}

void tfs_quota_settle(struct tfs_quota *q, uint64_t charged, uint64_t before, uint64_t after)
{
    uint64_t booked = sat_add(before, charged);
    if (after > booked)
        (void)tfs_quota_force(q, after - booked, 0);
    else if (after < booked)
        tfs_quota_release(q, booked - after, 0);
}

uint64_t tfs_quota_giveback(struct tfs_quota *q, uint64_t wanted)
{
    pthread_mutex_lock(&q->lock);
    uint64_t used = used_now(q);
    uint64_t slack = q->has_source && q->held > used ? q->held - used : 0;
    uint64_t give = wanted < slack ? wanted : slack;
    q->held -= give;
    q->released += give;
    pthread_mutex_unlock(&q->lock);
    return give;
}

void tfs_quota_release_slack(struct tfs_quota *q)
{
    if (!q->has_source)
        return;
    uint64_t give = tfs_quota_giveback(q, UINT64_MAX);
    give_to_source(q, give);
}

void tfs_quota_get_stats(struct tfs_quota *q, struct tfs_quota_stats *out)
{
    pthread_mutex_lock(&q->lock);
    out->held = q->held;
    out->used = used_now(q);
    out->data_pages = q->data_pages;
    out->inodes = q->inodes;
    out->xattr_bytes = q->xattr_bytes;
    out->stalls = q->stalls;
    out->stall_ns = q->stall_ns;
    out->refusals = q->refusals;
    out->acquired = q->acquired;
    out->released = q->released;
    pthread_mutex_unlock(&q->lock);
}
