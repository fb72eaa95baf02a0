/* test_privs.c: the mode bits a write clears, and the effective capability
 * set read from /proc/PID/status text, exactly. */
#include "trackfs/privs.h"

#include "mbtest.h"

#include <errno.h>
#include <sys/stat.h>

static void test_kill_bits(void)
{
    MBT_EQ_U64(0, tfs_privs_kill_bits(S_IFREG | 0755));
    MBT_EQ_U64(S_ISUID, tfs_privs_kill_bits(S_IFREG | 04755));
    /* set-group-ID goes only with group execute */
    MBT_EQ_U64(S_ISGID, tfs_privs_kill_bits(S_IFREG | 02750));
    MBT_EQ_U64(0, tfs_privs_kill_bits(S_IFREG | 02740));
    MBT_EQ_U64(S_ISUID | S_ISGID, tfs_privs_kill_bits(S_IFREG | 06777));
    MBT_EQ_U64(S_ISUID, tfs_privs_kill_bits(S_IFREG | 06744));
    /* the sticky bit is never taken */
    MBT_EQ_U64(0, tfs_privs_kill_bits(S_IFREG | 01777));
    /* only regular files */
    MBT_EQ_U64(0, tfs_privs_kill_bits(S_IFDIR | 06777));
}

static void test_status_caps(void)
{
    const char *root = "Name:\tsh\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\n"
                       "CapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\n"
                       "CapBnd:\t000001fffeffffff\n";
    MBT_EQ_INT(1, tfs_privs_status_has_cap(root, 4));  /* CAP_FSETID */
    MBT_EQ_INT(0, tfs_privs_status_has_cap(root, 24)); /* CAP_SYS_RESOURCE dropped */
    MBT_EQ_INT(1, tfs_privs_status_has_cap(root, 40));
    MBT_EQ_INT(0, tfs_privs_status_has_cap(root, 41));
    const char *user = "Name:\tsh\nCapPrm:\t000001ffffffffff\nCapEff:\t0000000000000000\n";
    MBT_EQ_INT(0, tfs_privs_status_has_cap(user, 4)); /* CapPrm is not CapEff */
    MBT_EQ_INT(1, tfs_privs_status_has_cap("CapEff:\t0000000000000010", 4)); /* last line */
    MBT_EQ_INT(1, tfs_privs_status_has_cap("CapEff:\t8000000000000000\n", 63));
}

static void test_status_unreadable(void)
{
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("", 4));
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("Name:\tsh\nCapPrm:\t10\n", 4));
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("CapEff:\t\n", 4));
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("CapEff:\t00zz\n", 4));
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("CapEff:\t-1\n", 4));
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("CapEff:\t10\n", 64));
    /* a key that only begins like it does not count */
    MBT_EQ_INT(-EINVAL, tfs_privs_status_has_cap("XCapEff:\t10\n", 4));
}

int main(void)
{
    MBT_RUN(test_kill_bits);
    MBT_RUN(test_status_caps);
    MBT_RUN(test_status_unreadable);
    return mbt_finish();
}
