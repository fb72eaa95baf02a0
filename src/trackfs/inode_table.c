/* inode_table.c: a chained hash table of nodes, doubled when it holds two
 * nodes per bucket on average. */
#include "trackfs/inode_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_BUCKETS 64u

static size_t bucket_of(uint64_t dev, uint64_t ino, size_t bucket_count)
{
    uint64_t h = (ino ^ (dev * UINT64_C(0x9e3779b97f4a7c15))) * UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (size_t)(h & (bucket_count - 1));
}

int tfs_inode_table_init(struct tfs_inode_table *t)
{
    memset(t, 0, sizeof *t);
    t->buckets = calloc(INITIAL_BUCKETS, sizeof(struct tfs_node *));
    if (t->buckets == NULL)
        return -ENOMEM;
    t->bucket_count = INITIAL_BUCKETS;
    pthread_mutex_init(&t->lock, NULL);
    return 0;
}

void tfs_inode_table_destroy(struct tfs_inode_table *t, void (*drop)(struct tfs_node *, void *),
                             void *arg)
{
    if (t->buckets == NULL)
        return;
    for (size_t i = 0; i < t->bucket_count; i++) {
        struct tfs_node *n = t->buckets[i];
        while (n != NULL) {
            struct tfs_node *next = n->next;
            if (drop != NULL)
                drop(n, arg);
            n = next;
        }
    }
    free(t->buckets);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof *t);
}

static struct tfs_node *find_locked(const struct tfs_inode_table *t, uint64_t dev, uint64_t ino)
{
    for (struct tfs_node *n = t->buckets[bucket_of(dev, ino, t->bucket_count)]; n != NULL;
         n = n->next)
        if (n->dev == dev && n->ino == ino)
            return n;
    return NULL;
}

/* Doubles the buckets; keeps the old ones when memory is short. */
static void grow_locked(struct tfs_inode_table *t)
{
    size_t count = t->bucket_count * 2;
    struct tfs_node **buckets = calloc(count, sizeof(struct tfs_node *));
    if (buckets == NULL)
        return;
    for (size_t i = 0; i < t->bucket_count; i++) {
        struct tfs_node *n = t->buckets[i];
        while (n != NULL) {
            struct tfs_node *next = n->next;
            size_t b = bucket_of(n->dev, n->ino, count);
            n->next = buckets[b];
            buckets[b] = n;
            n = next;
        }
    }
    free(t->buckets);
    t->buckets = buckets;
    t->bucket_count = count;
}

struct tfs_node *tfs_inode_table_ref(struct tfs_inode_table *t, struct tfs_node *fresh)
{
    pthread_mutex_lock(&t->lock);
    struct tfs_node *n = find_locked(t, fresh->dev, fresh->ino);
    if (n != NULL) {
        n->lookups++;
        pthread_mutex_unlock(&t->lock);
        return n;
    }
    if (t->count >= t->bucket_count * 2)
        grow_locked(t);
    size_t b = bucket_of(fresh->dev, fresh->ino, t->bucket_count);
    fresh->lookups = 1;
    fresh->opens = 0;
    fresh->unlinked = false;
    fresh->next = t->buckets[b];
    t->buckets[b] = fresh;
    t->count++;
    pthread_mutex_unlock(&t->lock);
    return fresh;
}

static void unlink_locked(struct tfs_inode_table *t, const struct tfs_node *node)
{
    struct tfs_node **p = &t->buckets[bucket_of(node->dev, node->ino, t->bucket_count)];
    while (*p != NULL && *p != node)
        p = &(*p)->next;
    if (*p != NULL) {
        *p = node->next;
        t->count--;
    }
}

bool tfs_inode_table_unref(struct tfs_inode_table *t, struct tfs_node *node, uint64_t n)
{
    pthread_mutex_lock(&t->lock);
    node->lookups -= n < node->lookups ? n : node->lookups;
    bool gone = node->lookups == 0 && node->opens == 0;
    if (gone)
        unlink_locked(t, node);
    pthread_mutex_unlock(&t->lock);
    return gone;
}

struct tfs_node *tfs_inode_table_find(struct tfs_inode_table *t, uint64_t dev, uint64_t ino)
{
    pthread_mutex_lock(&t->lock);
    struct tfs_node *n = find_locked(t, dev, ino);
    pthread_mutex_unlock(&t->lock);
    return n;
}

void tfs_inode_table_open(struct tfs_inode_table *t, struct tfs_node *node)
{
    pthread_mutex_lock(&t->lock);
    node->opens++;
    pthread_mutex_unlock(&t->lock);
}

uint32_t tfs_inode_table_close(struct tfs_inode_table *t, struct tfs_node *node, bool *freed)
{
    pthread_mutex_lock(&t->lock);
    if (node->opens > 0)
        node->opens--;
    uint32_t left = node->opens;
    *freed = left == 0 && node->lookups == 0;
    if (*freed)
        unlink_locked(t, node);
    pthread_mutex_unlock(&t->lock);
    return left;
}

bool tfs_inode_table_mark_unlinked_if_open(struct tfs_inode_table *t, uint64_t dev, uint64_t ino)
{
    pthread_mutex_lock(&t->lock);
    struct tfs_node *n = find_locked(t, dev, ino);
    bool marked = n != NULL && n->opens > 0;
    if (marked)
        n->unlinked = true;
    pthread_mutex_unlock(&t->lock);
    return marked;
}

size_t tfs_inode_table_count(struct tfs_inode_table *t)
{
    pthread_mutex_lock(&t->lock);
    size_t c = t->count;
    pthread_mutex_unlock(&t->lock);
    return c;
}
