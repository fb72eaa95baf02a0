/* test_options.c: trackfs's -o parsing: its keys, defaults, and what is left
 * for FUSE. */
#include "trackfs/options.h"

#include "mbtest.h"

#include <errno.h>

static int parse(struct tfs_options *o, const char *text, char *why_text, size_t cap)
{
    struct mb_strbuf why;
    mb_strbuf_init(&why, why_text, cap);
    return tfs_options_parse(o, text, 4096, &why);
}

static void test_defaults(void)
{
    struct tfs_options o;
    tfs_options_init(&o);
    MBT_CHECK(!o.has_quota);
    MBT_EQ_U64(1048576, o.chunk_bytes);
    MBT_EQ_U64(250, o.stall_ms);
    MBT_EQ_INT(TFS_URGENCY_REQUEST, (int)o.urgency);
    MBT_EQ_INT(TFS_URING_AUTO, (int)o.uring);
    MBT_EQ_U64(1024, o.inode_cost);
    MBT_EQ_STR("", o.broker);
    MBT_EQ_STR("", o.fuse_opts);
}

static void test_keys_and_passthrough(void)
{
    struct tfs_options o;
    char why[128];
    tfs_options_init(&o);
    MBT_EQ_INT(0, parse(&o, "allow_other,quota=64M,chunk=16p,stall_ms=40", why, sizeof why));
    MBT_EQ_INT(0, parse(&o, "urgency=reserve,broker=/run/mb.sock,,fsname=x,inode_cost=0,uring=off",
                        why,
                        sizeof why));
    MBT_CHECK(o.has_quota);
    MBT_EQ_U64(UINT64_C(64) << 20, o.quota_bytes);
    MBT_EQ_U64(16 * 4096, o.chunk_bytes);
    MBT_EQ_U64(40, o.stall_ms);
    MBT_EQ_INT(TFS_URGENCY_RESERVE, (int)o.urgency);
    MBT_EQ_INT(TFS_URING_OFF, (int)o.uring);
    MBT_EQ_U64(0, o.inode_cost);
    MBT_EQ_STR("/run/mb.sock", o.broker);
    MBT_EQ_STR("allow_other,fsname=x", o.fuse_opts);
}

static void test_errors(void)
{
    struct tfs_options o;
    char why[128];
    tfs_options_init(&o);
    MBT_EQ_INT(-EINVAL, parse(&o, "quota=12Q", why, sizeof why));
    MBT_CHECK(strstr(why, "quota=") != NULL);
    MBT_CHECK(strstr(why, "suffix") != NULL);
    MBT_EQ_INT(-EINVAL, parse(&o, "chunk=0", why, sizeof why));
    MBT_EQ_STR("chunk=: must be at least one page", why);
    MBT_EQ_INT(-EINVAL, parse(&o, "urgency=now", why, sizeof why));
    MBT_EQ_STR("urgency=: use request or reserve", why);
    MBT_EQ_INT(-EINVAL, parse(&o, "uring=on", why, sizeof why));
    MBT_EQ_STR("uring=: use auto or off", why);
    MBT_EQ_INT(-EINVAL, parse(&o, "stall_ms=-1", why, sizeof why));
    MBT_CHECK(!o.has_quota);
    MBT_EQ_U64(1048576, o.chunk_bytes);
    MBT_EQ_U64(250, o.stall_ms);
}

int main(void)
{
    MBT_RUN(test_defaults);
    MBT_RUN(test_keys_and_passthrough);
    MBT_RUN(test_errors);
    return mbt_finish();
}
