/* test_cgroup_events.c: memory.oom_control and memory.events parsers
 * against captured files, the hold/resolve protocol against a fixture
 * root, and (as root, with the v1 memory and freezer controllers) a real
 * held OOM of a small group and a real freeze. */
#include "watch/cgroup_events.h"

#include "common/proc_read.h"
#include "mbtest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *fixtures(void)
{
    const char *dir = getenv("MB_FIXTURES");
    return dir != NULL ? dir : "../../tests/fixtures/watch";
}

static char file_buf[65536];

static size_t read_path(const char *path)
{
    size_t len = 0;
    int rc = mb_proc_read(path, file_buf, sizeof file_buf - 1, &len);
    if (!MBT_EQ_INT(0, rc))
        fprintf(stderr, "    reading %s\n", path);
    file_buf[len] = '\0';
    return len;
}

static size_t read_fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fixtures(), name);
    return read_path(path);
}

static void test_oom_control_parse(void)
{
    struct mb_oom_control c;
    size_t len = read_fixture("oom_control-held.txt");
    MBT_EQ_INT(0, mb_oom_control_parse(file_buf, len, &c));
    MBT_TRUE(c.oom_kill_disable);
    MBT_TRUE(c.under_oom);
    MBT_EQ_U64(0, c.oom_kill);
    MBT_EQ_U64(7, c.present);
    len = read_fixture("oom_control-killed.txt");
    MBT_EQ_INT(0, mb_oom_control_parse(file_buf, len, &c));
    MBT_FALSE(c.oom_kill_disable);
    MBT_FALSE(c.under_oom);
    MBT_EQ_U64(1, c.oom_kill);
    len = read_fixture("oom_control-root.txt");
    MBT_EQ_INT(0, mb_oom_control_parse(file_buf, len, &c));
    MBT_FALSE(c.under_oom);

    /* Old kernels have no oom_kill line. */
    const char *old = "oom_kill_disable 1\nunder_oom 0\n";
    MBT_EQ_INT(0, mb_oom_control_parse(old, strlen(old), &c));
    MBT_EQ_U64(3, c.present);
    MBT_TRUE(c.oom_kill_disable);
    const char *missing = "oom_kill_disable 1\n";
    MBT_EQ_INT(-ENODATA, mb_oom_control_parse(missing, strlen(missing), &c));
    const char *two = "oom_kill_disable 2\nunder_oom 0\n";
    MBT_EQ_INT(-EINVAL, mb_oom_control_parse(two, strlen(two), &c));
    const char *word = "oom_kill_disable\nunder_oom 0\n";
    MBT_EQ_INT(-EINVAL, mb_oom_control_parse(word, strlen(word), &c));
    const char *text = "oom_kill_disable yes\nunder_oom 0\n";
    MBT_EQ_INT(-EINVAL, mb_oom_control_parse(text, strlen(text), &c));
}

static void test_memory_events_parse(void)
{
    struct mb_memory_events before, after;
    size_t len = read_fixture("memory.events-v2-old.txt");
    MBT_EQ_INT(0, mb_memory_events_parse(file_buf, len, &before));
    MBT_EQ_U64(0x1f, before.present);
    len = read_fixture("memory.events-v2.txt");
    MBT_EQ_INT(0, mb_memory_events_parse(file_buf, len, &after));
    MBT_EQ_U64(0x3f, after.present);
    MBT_EQ_U64(0, after.low);
    MBT_EQ_U64(12, after.high);
    MBT_EQ_U64(7, after.max);
    MBT_EQ_U64(3, after.oom);
    MBT_EQ_U64(2, after.oom_kill);
    MBT_EQ_U64(0, after.oom_group_kill);
    MBT_EQ_U64(5, mb_memory_events_new_ooms(&before, &after));
    MBT_EQ_U64(0, mb_memory_events_new_ooms(&after, &before)); /* re-created group */
    MBT_EQ_U64(0, mb_memory_events_new_ooms(&after, &after));

    const char *none = "low 1\nhigh 2\n";
    MBT_EQ_INT(-ENODATA, mb_memory_events_parse(none, strlen(none), &after));
    const char *bad = "oom x\n";
    MBT_EQ_INT(-EINVAL, mb_memory_events_parse(bad, strlen(bad), &after));
    const char *big = "oom 99999999999999999999\n";
    MBT_EQ_INT(-ERANGE, mb_memory_events_parse(big, strlen(big), &after));
    const char *future = "oom 1\nsock_throttled 4\n";
    MBT_EQ_INT(0, mb_memory_events_parse(future, strlen(future), &after));
    MBT_EQ_U64(1, after.oom);
}

static void test_policy_names(void)
{
    enum mb_oom_policy p;
    MBT_EQ_INT(0, mb_oom_policy_parse("raise-limit", &p));
    MBT_EQ_INT(MB_OOM_POLICY_RAISE_LIMIT, p);
    MBT_EQ_INT(0, mb_oom_policy_parse("kill", &p));
    MBT_EQ_INT(MB_OOM_POLICY_KILL, p);
    MBT_EQ_INT(-EINVAL, mb_oom_policy_parse("Kill", &p));
    MBT_EQ_STR("raise-limit", mb_oom_policy_name(MB_OOM_POLICY_RAISE_LIMIT));
    MBT_EQ_STR("kill", mb_oom_policy_name(MB_OOM_POLICY_KILL));
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    MBT_REQUIRE(f != NULL);
    fputs(text, f);
    fclose(f);
}

static const char *get_file(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    read_path(path);
    return file_buf;
}

/* The hold and the policies against plain files under a root. */
static void test_fixture_root_protocol(void)
{
    char root[128], group_dir[300];
    snprintf(root, sizeof root, "/tmp/test_watch_cg.%ld", (long)getpid());
    const char *group = "/sys/fs/cgroup/memory/app";
    snprintf(group_dir, sizeof group_dir, "%s%s", root, group);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", group_dir);
    MBT_REQUIRE(system(cmd) == 0);
    put_file(group_dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    put_file(group_dir, "cgroup.event_control", "");
    put_file(group_dir, "memory.limit_in_bytes", "67108864\n");
    put_file(group_dir, "memory.memsw.limit_in_bytes", "67108864\n");

    struct mb_cgroup_oom g;
    MBT_REQUIRE(mb_cgroup_oom_open(&g, root, group, true) == 0);
    MBT_TRUE(g.held);
    MBT_FALSE(g.was_disabled);
    MBT_TRUE(mb_cgroup_oom_fd(&g) >= 0);
    /* "<eventfd> <oom_control fd>" registered, and the killer disabled. */
    char want[64];
    snprintf(want, sizeof want, "%d %d", g.event_fd, g.control_fd);
    MBT_EQ_STR(want, get_file(group_dir, "cgroup.event_control"));
    MBT_EQ_STR("1", get_file(group_dir, "memory.oom_control"));
    MBT_EQ_I64(0, mb_cgroup_oom_consume(&g)); /* nothing yet, no blocking */

    struct mb_oom_resolution res;
    MBT_EQ_INT(0, mb_cgroup_oom_resolve(&g, MB_OOM_POLICY_RAISE_LIMIT, 16u << 20, &res));
    MBT_EQ_U64(64u << 20, res.old_limit);
    MBT_EQ_U64(80u << 20, res.new_limit);
    MBT_TRUE(res.memsw_raised);
    MBT_EQ_STR("83886080", get_file(group_dir, "memory.limit_in_bytes"));
    MBT_EQ_STR("83886080", get_file(group_dir, "memory.memsw.limit_in_bytes"));
    MBT_TRUE(g.held);
    MBT_EQ_INT(-EINVAL, mb_cgroup_oom_resolve(&g, MB_OOM_POLICY_RAISE_LIMIT, 0, &res));
    MBT_EQ_INT(-EINVAL, mb_cgroup_oom_resolve(&g, MB_OOM_POLICY_RAISE_LIMIT, UINT64_MAX, &res));

    MBT_EQ_INT(0, mb_cgroup_oom_resolve(&g, MB_OOM_POLICY_KILL, 0, &res));
    MBT_EQ_STR("0", get_file(group_dir, "memory.oom_control"));
    MBT_FALSE(g.held);
    mb_cgroup_oom_close(&g);
    MBT_EQ_INT(-1, g.event_fd);
    mb_cgroup_oom_close(&g); /* twice is safe */

    /* Closing a held group restores the killer. */
    put_file(group_dir, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
    MBT_REQUIRE(mb_cgroup_oom_open(&g, root, group, true) == 0);
    mb_cgroup_oom_close(&g);
    MBT_EQ_STR("0", get_file(group_dir, "memory.oom_control"));

    /* A group that was already disabled stays so. */
    put_file(group_dir, "memory.oom_control", "oom_kill_disable 1\nunder_oom 0\noom_kill 0\n");
    MBT_REQUIRE(mb_cgroup_oom_open(&g, root, group, true) == 0);
    MBT_TRUE(g.was_disabled);
    mb_cgroup_oom_close(&g);
    MBT_EQ_STR("oom_kill_disable 1\nunder_oom 0\noom_kill 0\n", get_file(group_dir, "memory.oom_control"));

    MBT_EQ_INT(-ENOENT, mb_cgroup_oom_open(&g, root, "/sys/fs/cgroup/memory/none", true));
    put_file(group_dir, "memory.oom_control", "garbage\n");
    MBT_EQ_INT(-ENOENT, mb_cgroup_oom_open(&g, root, group, true));

    /* Freezer files under the root: THAWED is written as is. */
    put_file(group_dir, "freezer.state", "FROZEN\n");
    MBT_EQ_INT(0, mb_cgroup_freeze(root, group, false, 0));
    MBT_EQ_STR("THAWED", get_file(group_dir, "freezer.state"));
    /* A plain file reads back what was written: FROZEN at once. */
    MBT_EQ_INT(0, mb_cgroup_freeze(root, group, true, 0));

    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    MBT_EQ_INT(0, system(cmd));
}

static bool have_v1(const char *controller)
{
    char path[128];
    snprintf(path, sizeof path, "/sys/fs/cgroup/%s/cgroup.procs", controller);
    return geteuid() == 0 && access(path, W_OK) == 0;
}

static void write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    MBT_REQUIRE(fd >= 0);
    MBT_TRUE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

/* A real group: 16 MiB limit, a child touching 48 MiB. Held, the child
 * waits; the event arrives; raising the limit lets the child go on until
 * the next OOM, which the kill policy resolves with a kill. */
static void test_live_held_oom(void)
{
    if (!have_v1("memory")) {
        printf("no writable v1 memory controller (or not root): live test skipped\n");
        return;
    }
    char group[128], path[256];
    snprintf(group, sizeof group, "/sys/fs/cgroup/memory/test_watch_cg.%ld", (long)getpid());
    MBT_REQUIRE(mkdir(group, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof path, "%s/memory.limit_in_bytes", group);
    write_text(path, "16777216");

    struct mb_cgroup_oom g;
    MBT_EQ_INT(0, mb_cgroup_oom_open(&g, NULL, group, true));
    struct mb_oom_control st;
    MBT_EQ_INT(0, mb_cgroup_oom_state(&g, &st));
    MBT_TRUE(st.oom_kill_disable);
    MBT_FALSE(st.under_oom);

    int ready[2];
    MBT_REQUIRE(pipe(ready) == 0);
    pid_t child = fork();
    MBT_REQUIRE(child >= 0);
    if (child == 0) {
        close(ready[0]);
        char procs[256], me[24];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", group);
        snprintf(me, sizeof me, "%ld", (long)getpid());
        int fd = open(procs, O_WRONLY);
        if (fd < 0 || write(fd, me, strlen(me)) < 0)
            _exit(2);
        close(fd);
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        size_t size = 48u << 20;
        char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            _exit(4);
        for (size_t i = 0; i < size; i += 4096)
            m[i] = 1;
        _exit(0);
    }
    close(ready[1]);
    char byte;
    MBT_EQ_I64(1, read(ready[0], &byte, 1));
    close(ready[0]);

    struct pollfd p = {mb_cgroup_oom_fd(&g), POLLIN, 0};
    MBT_EQ_INT(1, poll(&p, 1, 30000));
    MBT_TRUE(mb_cgroup_oom_consume(&g) >= 1);
    MBT_EQ_INT(0, mb_cgroup_oom_state(&g, &st));
    MBT_TRUE(st.under_oom);
    MBT_EQ_U64(0, st.oom_kill);
    /* Held: the child is still there. */
    MBT_EQ_INT(0, waitpid(child, NULL, WNOHANG));

    struct mb_oom_resolution res;
    MBT_EQ_INT(0, mb_cgroup_oom_resolve(&g, MB_OOM_POLICY_RAISE_LIMIT, 8u << 20, &res));
    MBT_EQ_U64(16u << 20, res.old_limit);
    MBT_EQ_U64(24u << 20, res.new_limit);
    /* 24 MiB is still short of 48: the next OOM comes and is held too. */
    MBT_EQ_INT(1, poll(&p, 1, 30000));
    MBT_TRUE(mb_cgroup_oom_consume(&g) >= 1);
    MBT_EQ_INT(0, waitpid(child, NULL, WNOHANG));

    MBT_EQ_INT(0, mb_cgroup_oom_resolve(&g, MB_OOM_POLICY_KILL, 0, &res));
    int status = 0;
    MBT_EQ_I64(child, waitpid(child, &status, 0));
    MBT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    MBT_EQ_INT(0, mb_cgroup_oom_state(&g, &st));
    MBT_FALSE(st.oom_kill_disable);
    MBT_FALSE(st.under_oom);
    MBT_EQ_U64(1, st.oom_kill);
    mb_cgroup_oom_close(&g);
    MBT_EQ_INT(0, rmdir(group));
}

static void test_live_freezer(void)
{
    if (!have_v1("freezer")) {
        printf("no writable v1 freezer (or not root): live test skipped\n");
        return;
    }
    char group[128], path[256], text[64];
    snprintf(group, sizeof group, "/sys/fs/cgroup/freezer/test_watch_cg.%ld", (long)getpid());
    MBT_REQUIRE(mkdir(group, 0755) == 0 || errno == EEXIST);
    pid_t child = fork();
    MBT_REQUIRE(child >= 0);
    if (child == 0) {
        for (;;)
            pause();
    }
    snprintf(path, sizeof path, "%s/cgroup.procs", group);
    snprintf(text, sizeof text, "%ld", (long)child);
    write_text(path, text);
    MBT_EQ_INT(0, mb_cgroup_freeze(NULL, group, true, 5000));
    snprintf(path, sizeof path, "%s/freezer.state", group);
    MBT_EQ_STR("FROZEN\n", (read_path(path), file_buf));
    MBT_EQ_INT(0, mb_cgroup_freeze("", group, false, 0));
    MBT_EQ_STR("THAWED\n", (read_path(path), file_buf));
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    MBT_EQ_INT(0, rmdir(group));
    MBT_EQ_INT(-ENOENT, mb_cgroup_freeze(NULL, group, true, 0));
}

int main(void)
{
    MBT_RUN(test_oom_control_parse);
    MBT_RUN(test_memory_events_parse);
    MBT_RUN(test_policy_names);
    MBT_RUN(test_fixture_root_protocol);
    MBT_RUN(test_live_held_oom);
    MBT_RUN(test_live_freezer);
    return mbt_finish();
}
