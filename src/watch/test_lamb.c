/* test_lamb.c: lambs started both ways (fork only, and exec of this very
 * program in lamb mode) hold their memory with oom_score_adj 1000; a killed
 * lamb is reaped through its pidfd, evidence is written and a new lamb
 * starts. The kernel's own OOM choice is tested live in
 * tests/integration/test_mbwatch_oom.sh. */
#include "watch/lamb.h"

#include "common/proc_read.h"
#include "mbtest.h"
#include "watch/smaps.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *fixtures(void)
{
    const char *dir = getenv("MB_FIXTURES");
    return dir != NULL ? dir : "../../tests/fixtures/watch";
}

static char file_buf[65536];

static const char *proc_file(pid_t pid, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, name);
    size_t len = 0;
    if (mb_proc_read(path, file_buf, sizeof file_buf - 1, &len) < 0)
        len = 0;
    file_buf[len] = '\0';
    return file_buf;
}

/* The lamb holds `bytes` of anonymous memory and has the highest score. */
static void check_lamb(pid_t pid, uint64_t bytes)
{
    MBT_EQ_STR("1000\n", proc_file(pid, "oom_score_adj"));
    const char *rollup = proc_file(pid, "smaps_rollup");
    struct mb_smaps_sums sums;
    MBT_REQUIRE(mb_smaps_parse(rollup, strlen(rollup), &sums) == 0);
    MBT_TRUE(sums.anonymous >= bytes);
    MBT_TRUE(sums.private_dirty >= bytes);
}

static void test_fork_lamb(void)
{
    struct mb_lamb lamb;
    struct mb_lamb_options o = {.bytes = 8u << 20};
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_EQ_INT(1000, lamb.options.oom_score_adj);
    MBT_EQ_INT(-1, mb_lamb_fd(&lamb));
    MBT_REQUIRE(mb_lamb_start(&lamb) == 0);
    MBT_EQ_INT(-EALREADY, mb_lamb_start(&lamb));
    MBT_REQUIRE(lamb.pid > 0);
    MBT_EQ_U64(1, lamb.generation);
    check_lamb(lamb.pid, o.bytes);
    struct mb_lamb_exit ex;
    MBT_EQ_INT(0, mb_lamb_reap(&lamb, &ex));

    /* Killed like the OOM killer does: the pidfd wakes, the death is
     * handled, evidence written, a new lamb started. */
    pid_t first = lamb.pid;
    int fd = mb_lamb_fd(&lamb);
    MBT_REQUIRE(fd >= 0);
    MBT_EQ_INT(0, kill(first, SIGKILL));
    struct pollfd p = {fd, POLLIN, 0};
    MBT_EQ_INT(1, poll(&p, 1, 10000));

    char root[512], dumps[128];
    snprintf(root, sizeof root, "%s/root", fixtures());
    snprintf(dumps, sizeof dumps, "/tmp/test_watch_lamb.%ld", (long)getpid());
    static struct mb_evidence ev;
    struct mb_evidence_options eo = {.root = root, .dump_dir = dumps, .no_sync = true};
    MBT_REQUIRE(mb_evidence_init(&ev, &eo) == 0);
    struct mb_lamb_response response = {.evidence = &ev, .restart = true};
    struct mb_lamb_outcome out;
    MBT_EQ_INT(1, mb_lamb_handle_death(&lamb, &response, &out));
    MBT_EQ_I64(first, out.exit.pid);
    MBT_EQ_U64(1, out.exit.generation);
    MBT_TRUE(out.exit.signaled);
    MBT_EQ_INT(SIGKILL, out.exit.signal);
    MBT_TRUE(out.oom_killed);
    MBT_EQ_INT(0, out.evidence_rc);
    MBT_EQ_INT(1, out.freeze_rc);
    MBT_EQ_INT(1, out.thaw_rc);
    MBT_EQ_INT(0, out.restart_rc);
    MBT_EQ_U64(2, lamb.generation);
    MBT_EQ_U64(1, lamb.deaths);
    MBT_TRUE(lamb.pid > 0 && lamb.pid != first);
    check_lamb(lamb.pid, o.bytes);

    char path[700];
    snprintf(path, sizeof path, "%s/trigger", ev.last_dump);
    size_t len = 0;
    MBT_REQUIRE(mb_proc_read(path, file_buf, sizeof file_buf - 1, &len) == 0);
    file_buf[len] = '\0';
    char want[128];
    snprintf(want, sizeof want, "kind=lamb-killed\ndetail=lamb generation 1 killed by signal 9\ncgroup=\npid=%ld\n",
             (long)first);
    MBT_TRUE(strncmp(file_buf, want, strlen(want)) == 0);

    /* Still alive: nothing to handle. */
    MBT_EQ_INT(0, mb_lamb_handle_death(&lamb, &response, &out));
    mb_lamb_deinit(&lamb);
    MBT_EQ_INT(0, lamb.pid);
    MBT_EQ_U64(2, lamb.deaths);
    mb_lamb_deinit(&lamb);
    mb_evidence_deinit(&ev);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dumps);
    MBT_EQ_INT(0, system(cmd));
}

static void test_exec_lamb(void)
{
    char self[512];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    MBT_REQUIRE(n > 0);
    self[n] = '\0';
    /* A cross build run under qemu-user without binfmt cannot exec itself. */
    pid_t probe = fork();
    MBT_REQUIRE(probe >= 0);
    if (probe == 0) {
        char *const argv[] = {self, (char *)"--probe", NULL};
        execv(self, argv);
        _exit(127);
    }
    int status = 0;
    MBT_REQUIRE(waitpid(probe, &status, 0) == probe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        printf("cannot execute %s here (qemu-user?): exec lamb skipped\n", self);
        return;
    }
    MBT_EQ_INT(0, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    struct mb_lamb lamb;
    struct mb_lamb_options o = {.bytes = 4u << 20, .exec_path = self};
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_REQUIRE(mb_lamb_start(&lamb) == 0);
    MBT_REQUIRE(lamb.pid > 0);
    check_lamb(lamb.pid, o.bytes);
    /* It runs this program in lamb mode. */
    const char *cmdline = proc_file(lamb.pid, "cmdline");
    MBT_EQ_STR(self, cmdline);
    MBT_EQ_STR(MB_LAMB_ARG, cmdline + strlen(self) + 1);
    /* An exit that is not a kill is reported as such. */
    MBT_EQ_INT(0, kill(lamb.pid, SIGTERM));
    struct pollfd p = {mb_lamb_fd(&lamb), POLLIN, 0};
    MBT_EQ_INT(1, poll(&p, 1, 10000));
    struct mb_lamb_response response = {0};
    struct mb_lamb_outcome out;
    MBT_EQ_INT(1, mb_lamb_handle_death(&lamb, &response, &out));
    MBT_EQ_INT(SIGTERM, out.exit.signal);
    MBT_FALSE(out.oom_killed);
    MBT_EQ_INT(1, out.evidence_rc);
    MBT_EQ_INT(1, out.restart_rc);
    MBT_EQ_INT(0, lamb.pid);
    mb_lamb_deinit(&lamb);
}

static void test_failures(void)
{
    struct mb_lamb lamb;
    struct mb_lamb_options o = {.bytes = 1};
    MBT_EQ_INT(-EINVAL, mb_lamb_init(&lamb, &o));
    o.bytes = 1u << 20;
    o.oom_score_adj = 1001;
    MBT_EQ_INT(-EINVAL, mb_lamb_init(&lamb, &o));
    /* A cgroup it cannot join: the lamb dies before it is ready. */
    o.oom_score_adj = 0;
    o.memory_cgroup = "/nonexistent-cgroup";
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_EQ_INT(-ECHILD, mb_lamb_start(&lamb));
    MBT_EQ_INT(0, lamb.pid);
    MBT_EQ_U64(1, lamb.deaths);
    /* A program that does not exist. */
    o.memory_cgroup = NULL;
    o.exec_path = "/nonexistent-program";
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_EQ_INT(-ECHILD, mb_lamb_start(&lamb));
    mb_lamb_deinit(&lamb);
}

static void test_room(void)
{
    char root[64], cmd[512];
    snprintf(root, sizeof root, "/tmp/test_watch_lamb_room.%ld", (long)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s/g %s/proc && echo 1048576 > %s/g/memory.limit_in_bytes && "
             "echo 524288 > %s/g/memory.usage_in_bytes && "
             "printf 'MemTotal: 4096 kB\\nMemAvailable: 1024 kB\\n' > %s/proc/meminfo",
             root, root, root, root, root);
    MBT_REQUIRE(system(cmd) == 0);
    /* The system: room is MemAvailable. */
    struct mb_lamb lamb;
    struct mb_lamb_options o = {.bytes = 512 * 1024, .root = root};
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_EQ_INT(1, mb_lamb_room(&lamb, 512 * 1024));
    MBT_EQ_INT(0, mb_lamb_room(&lamb, 512 * 1024 + 1));
    /* A group: room is limit - usage. */
    o.memory_cgroup = "/g";
    o.bytes = 262144;
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_EQ_INT(1, mb_lamb_room(&lamb, 262144));
    MBT_EQ_INT(0, mb_lamb_room(&lamb, 262145));
    o.memory_cgroup = "/none";
    MBT_REQUIRE(mb_lamb_init(&lamb, &o) == 0);
    MBT_EQ_INT(-ENOENT, mb_lamb_room(&lamb, 0));
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    MBT_EQ_INT(0, system(cmd));
}

int main(int argc, char **argv)
{
    mb_lamb_main_from_args(argc, argv);
    if (argc == 2 && strcmp(argv[1], "--probe") == 0)
        return 0;
    MBT_RUN(test_fork_lamb);
    MBT_RUN(test_exec_lamb);
    MBT_RUN(test_failures);
    MBT_RUN(test_room);
    return mbt_finish();
}
