/* test_mountinfo.c: finding a mount of a type at a path in captured
 * /proc/self/mountinfo text, escapes included. */
#include "trackfs/mountinfo.h"

#include "mbtest.h"

#include <string.h>

static const char sample[] =
    "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "40 22 0:35 / /tmp/mb/r.back rw,relatime shared:20 - tmpfs tmpfs rw,size=262144k\n"
    "41 22 0:36 / /tmp/mb/r rw,nosuid,nodev,relatime shared:21 - fuse.trackfs trackfs "
    "rw,user_id=0,group_id=0,default_permissions\n"
    "42 22 0:37 / /tmp/with\\040space rw shared:22 - fuse.trackfs trackfs rw\n"
    "43 22 0:38 / /srv/other rw shared:23 - fuse.sshfs host:/ rw\n"
    "44 22 0:39 / /srv/opt master:5 shared:24 - fuse.trackfs trackfs rw"; /* no final newline */

static void test_finds_trackfs_mounts(void)
{
    size_t len = strlen(sample);
    MBT_TRUE(tfs_mountinfo_has(sample, len, "/tmp/mb/r", "fuse.trackfs"));
    MBT_TRUE(tfs_mountinfo_has(sample, len, "/tmp/with space", "fuse.trackfs"));
    MBT_TRUE(tfs_mountinfo_has(sample, len, "/srv/opt", "fuse.trackfs"));
    MBT_TRUE(tfs_mountinfo_has(sample, len, "/tmp/mb/r.back", "tmpfs"));
}

static void test_other_types_and_paths(void)
{
    size_t len = strlen(sample);
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/tmp/mb/r.back", "fuse.trackfs"));
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/srv/other", "fuse.trackfs"));
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/tmp/mb", "fuse.trackfs"));
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/tmp/mb/r/", "fuse.trackfs"));
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/tmp/with\\040space", "fuse.trackfs"));
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/tmp/with", "fuse.trackfs"));
    MBT_FALSE(tfs_mountinfo_has(sample, len, "/srv/opt", "fuse.trackfsx"));
    MBT_FALSE(tfs_mountinfo_has("", 0, "/", "ext4"));
    MBT_FALSE(tfs_mountinfo_has("garbage\n - \n\\\n", 13, "/", "ext4"));
}

static void test_live_root(void)
{
    /* The live table always has a mount at "/", and no trackfs at /proc. */
    MBT_EQ_INT(0, tfs_mounted_at("/proc", "fuse.trackfs"));
    MBT_EQ_INT(1, tfs_mounted_at("/proc", "proc"));
    MBT_EQ_INT(1, tfs_mounted_at("/proc/", "proc"));
    MBT_TRUE(tfs_mounted_at("/nonexistent-dir/x", "proc") < 0);
}

int main(void)
{
    MBT_RUN(test_finds_trackfs_mounts);
    MBT_RUN(test_other_types_and_paths);
    MBT_RUN(test_live_root);
    return mbt_finish();
}
