/* test_inode_table.c: one node per backing inode, lookup and open counts,
 * growth past the initial buckets. */
#include "trackfs/inode_table.h"

#include "mbtest.h"

#include <stdlib.h>

static struct tfs_node *new_node(uint64_t dev, uint64_t ino)
{
    struct tfs_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        abort();
    n->dev = dev;
    n->ino = ino;
    n->fd = -1;
    return n;
}

static void free_node(struct tfs_node *n, void *arg)
{
    unsigned *count = arg;
    (*count)++;
    free(n);
}

static void test_same_inode_same_node(void)
{
    struct tfs_inode_table t;
    MBT_EQ_INT(0, tfs_inode_table_init(&t));
    struct tfs_node *a = new_node(1, 42);
    MBT_CHECK(tfs_inode_table_ref(&t, a) == a);
    struct tfs_node *b = new_node(1, 42);
    MBT_CHECK(tfs_inode_table_ref(&t, b) == a); /* a hard link: the same node */
    free(b);
    struct tfs_node *c = new_node(2, 42); /* another device */
    MBT_CHECK(tfs_inode_table_ref(&t, c) == c);
    MBT_EQ_U64(2, a->lookups);
    MBT_EQ_U64(2, tfs_inode_table_count(&t));
    MBT_CHECK(tfs_inode_table_find(&t, 1, 42) == a);
    MBT_CHECK(tfs_inode_table_find(&t, 1, 43) == NULL);

    MBT_CHECK(!tfs_inode_table_unref(&t, a, 1));
    tfs_inode_table_open(&t, a);
    MBT_CHECK(!tfs_inode_table_unref(&t, a, 5)); /* open: stays */
    MBT_EQ_U64(0, a->lookups);
    MBT_CHECK(tfs_inode_table_mark_unlinked_if_open(&t, 1, 42));
    MBT_CHECK(!tfs_inode_table_mark_unlinked_if_open(&t, 2, 42)); /* not open */
    MBT_CHECK(a->unlinked);
    bool freed = false;
    MBT_EQ_U64(0, tfs_inode_table_close(&t, a, &freed));
    MBT_CHECK(freed);
    free(a);
    MBT_EQ_U64(1, tfs_inode_table_count(&t));
    unsigned dropped = 0;
    tfs_inode_table_destroy(&t, free_node, &dropped);
    MBT_EQ_U64(1, dropped);
}

static void test_growth_keeps_every_node(void)
{
    struct tfs_inode_table t;
    MBT_EQ_INT(0, tfs_inode_table_init(&t));
    enum { N = 1000 };
    for (uint64_t i = 0; i < N; i++) {
        struct tfs_node *n = new_node(7, i * 4099);
        MBT_CHECK(tfs_inode_table_ref(&t, n) == n);
    }
    MBT_EQ_U64(N, tfs_inode_table_count(&t));
    MBT_CHECK(t.bucket_count >= N / 2);
    unsigned found = 0;
    for (uint64_t i = 0; i < N; i++) {
        struct tfs_node *n = tfs_inode_table_find(&t, 7, i * 4099);
        found += n != NULL && n->ino == i * 4099;
    }
    MBT_EQ_U64(N, found);
    unsigned dropped = 0;
    tfs_inode_table_destroy(&t, free_node, &dropped);
    MBT_EQ_U64(N, dropped);
    tfs_inode_table_destroy(&t, free_node, &dropped); /* zeroed: harmless */
}

int main(void)
{
    MBT_RUN(test_same_inode_same_node);
    MBT_RUN(test_growth_keeps_every_node);
    return mbt_finish();
}
