/* mbwatch_evidence_driver: drives the mbwatch evidence library
 * (src/watch: evidence, cgroup OOM hold, lamb) from the live tests until
 * mbwatch itself calls it. Prints one key=value line per event on stdout.
 *
 *   once --dump DIR [--root R] [--socket S] [--keep N]
 *   cgroup-oom --group G --dump DIR --policy raise-limit|kill [--raise BYTES]
 *              [--events N] [--timeout S] [--socket S]
 *   lamb --dump DIR --bytes B [--group G] [--freeze F] [--deaths N] [--timeout S]
 *   hog BYTES          touch BYTES of memory, print "hog-full", sleep
 *   --mb-lamb ...      lamb mode (see watch/lamb.h)
 * Exit: 0 done, 1 failure, 2 usage, 3 timeout.
 */
#include "watch/cgroup_events.h"
#include "watch/evidence.h"
#include "watch/kmsg.h"
#include "watch/lamb.h"

#include "common/clock.h"
#include "common/numparse.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct args {
    const char *dump, *root, *socket, *group, *freeze, *policy;
    uint64_t raise, bytes, events, deaths, timeout_s, keep;
};

static int usage(void)
{
    fprintf(stderr, "usage: mbwatch_evidence_driver once|cgroup-oom|lamb|hog [options]\n");
    return 2;
}

/* "64M", "4096", "1G" */
static int parse_size(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    uint64_t mult = 1;
    if (len > 0 && (s[len - 1] == 'K' || s[len - 1] == 'M' || s[len - 1] == 'G')) {
        mult = s[len - 1] == 'K' ? 1024u : s[len - 1] == 'M' ? 1024u * 1024 : 1024u * 1024 * 1024;
        len--;
    }
    uint64_t v = 0;
    if (mb_parse_u64_exact(s, len, &v) < 0 || mb_mul_u64(v, mult, out) < 0)
        return -EINVAL;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof *a);
    a->events = 1;
    a->deaths = 1;
    a->timeout_s = 60;
    a->policy = "kill";
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (i + 1 >= argc)
            return -EINVAL;
        const char *v = argv[++i];
        int rc = 0;
        if (strcmp(k, "--dump") == 0)
            a->dump = v;
        else if (strcmp(k, "--root") == 0)
            a->root = v;
        else if (strcmp(k, "--socket") == 0)
            a->socket = v;
        else if (strcmp(k, "--group") == 0)
            a->group = v;
        else if (strcmp(k, "--freeze") == 0)
            a->freeze = v;
        else if (strcmp(k, "--policy") == 0)
            a->policy = v;
        else if (strcmp(k, "--raise") == 0)
            rc = parse_size(v, &a->raise);
        else if (strcmp(k, "--bytes") == 0)
            rc = parse_size(v, &a->bytes);
        else if (strcmp(k, "--events") == 0)
            rc = parse_size(v, &a->events);
        else if (strcmp(k, "--deaths") == 0)
            rc = parse_size(v, &a->deaths);
        else if (strcmp(k, "--timeout") == 0)
            rc = parse_size(v, &a->timeout_s);
        else if (strcmp(k, "--keep") == 0)
            rc = parse_size(v, &a->keep);
        else
            return -EINVAL;
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int init_evidence(struct mb_evidence *ev, const struct args *a)
{
    struct mb_evidence_options o = {
        .root = a->root, .dump_dir = a->dump, .keep = (unsigned)a->keep,
        .broker_socket = a->socket,
    };
    int rc = mb_evidence_init(ev, &o);
    if (rc < 0)
        fprintf(stderr, "evidence init: %s\n", strerror(-rc));
    return rc;
}

static void print_evidence(const struct mb_evidence *ev, int rc)
{
    if (rc < 0)
        printf("evidence-failed=%s\n", strerror(-rc));
    else
        printf("evidence=%s\n", ev->last_dump);
    fflush(stdout);
}

static struct mb_evidence evidence;

static int cmd_once(const struct args *a)
{
    if (a->dump == NULL)
        return usage();
    if (init_evidence(&evidence, a) < 0)
        return 1;
    int rc = mb_evidence_collect(&evidence, NULL);
    print_evidence(&evidence, rc);
    mb_evidence_deinit(&evidence);
    return rc < 0 ? 1 : 0;
}

static int cmd_cgroup_oom(const struct args *a)
{
    enum mb_oom_policy policy;
    if (a->dump == NULL || a->group == NULL || mb_oom_policy_parse(a->policy, &policy) < 0)
        return usage();
    if (policy == MB_OOM_POLICY_RAISE_LIMIT && a->raise == 0)
        return usage();
    if (init_evidence(&evidence, a) < 0)
        return 1;
    struct mb_cgroup_oom g;
    int rc = mb_cgroup_oom_open(&g, a->root, a->group, true);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", a->group, strerror(-rc));
        mb_evidence_deinit(&evidence);
        return 1;
    }
    printf("ready group=%s policy=%s\n", a->group, mb_oom_policy_name(policy));
    fflush(stdout);
    uint64_t deadline = mb_deadline_from_now_ms(a->timeout_s * 1000);
    uint64_t handled = 0;
    int status = 0;
    while (handled < a->events) {
        struct pollfd p = {mb_cgroup_oom_fd(&g), POLLIN, 0};
        int n = poll(&p, 1, mb_deadline_poll_timeout(mb_clock_monotonic_ns(), deadline));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            printf("timeout\n");
            status = 3;
            break;
        }
        long events = mb_cgroup_oom_consume(&g);
        if (events <= 0)
            continue;
        struct mb_oom_control st;
        memset(&st, 0, sizeof st);
        (void)mb_cgroup_oom_state(&g, &st);
        printf("oom-event count=%ld under_oom=%d oom_kill=%" PRIu64 "\n", events, st.under_oom ? 1 : 0,
               st.oom_kill);
        char detail[128];
        snprintf(detail, sizeof detail, "memory cgroup OOM held: under_oom=%d oom_kill=%" PRIu64,
                 st.under_oom ? 1 : 0, st.oom_kill);
        struct mb_evidence_trigger t = {.kind = "cgroup-oom", .detail = detail, .cgroup = a->group};
        rc = mb_evidence_collect(&evidence, &t);
        print_evidence(&evidence, rc);
        struct mb_oom_resolution res;
        rc = mb_cgroup_oom_resolve(&g, policy, a->raise, &res);
        if (rc < 0) {
            printf("resolve-failed=%s\n", strerror(-rc));
            status = 1;
            break;
        }
        printf("resolved policy=%s old_limit=%" PRIu64 " new_limit=%" PRIu64 "\n",
               mb_oom_policy_name(policy), res.old_limit, res.new_limit);
        fflush(stdout);
        handled++;
        if (policy == MB_OOM_POLICY_KILL)
            break;
    }
    mb_cgroup_oom_close(&g);
    mb_evidence_deinit(&evidence);
    return status;
}

static struct mb_kmsg_reader kmsg;
static struct mb_kmsg_oom_log kmsg_log;

static int cmd_lamb(const struct args *a, const char *self)
{
    if (a->dump == NULL || a->bytes == 0)
        return usage();
    if (init_evidence(&evidence, a) < 0)
        return 1;
    struct mb_lamb lamb;
    struct mb_lamb_options o = {.bytes = a->bytes, .exec_path = self, .memory_cgroup = a->group,
                                .root = a->root};
    int rc = mb_lamb_init(&lamb, &o);
    if (rc == 0)
        rc = mb_kmsg_oom_log_init(&kmsg_log, 0);
    if (rc == 0)
        rc = mb_kmsg_open(&kmsg, a->root, false);
    if (rc == 0)
        rc = mb_lamb_start(&lamb);
    if (rc < 0) {
        fprintf(stderr, "lamb: %s\n", strerror(-rc));
        mb_evidence_deinit(&evidence);
        return 1;
    }
    printf("lamb-started generation=%" PRIu64 " pid=%ld\n", lamb.generation, (long)lamb.pid);
    fflush(stdout);
    uint64_t deadline = mb_deadline_from_now_ms(a->timeout_s * 1000);
    int status = 0;
    uint64_t deaths = 0;
    struct mb_lamb_response response = {
        .evidence = &evidence, .freeze_group = a->freeze, .root = a->root, .restart = false,
        .kmsg_reader = &kmsg, .kmsg_log = &kmsg_log, .kmsg_wait_ms = 2000,
    };
    while (status == 0) {
        if (lamb.pid != 0) {
            struct pollfd p = {mb_lamb_fd(&lamb), POLLIN, 0};
            int timeout = mb_deadline_poll_timeout(mb_clock_monotonic_ns(), deadline);
            int n = p.fd >= 0 ? poll(&p, 1, timeout < 200 ? timeout : 200) : 0;
            if (n < 0 && errno != EINTR) {
                status = 1;
                break;
            }
            struct mb_lamb_outcome out;
            rc = mb_lamb_handle_death(&lamb, &response, &out);
            if (rc < 0) {
                status = 1;
                break;
            }
            if (rc == 1) {
                deaths++;
                printf("lamb-died pid=%ld generation=%" PRIu64 " signal=%d oom_killed=%d "
                       "kmsg_confirmed=%d freeze_rc=%d thaw_rc=%d\n",
                       (long)out.exit.pid, out.exit.generation, out.exit.signal,
                       out.oom_killed ? 1 : 0, out.kmsg_confirmed ? 1 : 0, out.freeze_rc,
                       out.thaw_rc);
                print_evidence(&evidence, out.evidence_rc);
            }
        } else {
            /* Restart once there is room again: the lamb's memory plus
             * 16 MiB for the program itself (more under ASan). */
            rc = mb_lamb_room(&lamb, 16u << 20);
            if (rc == 1) {
                rc = mb_lamb_start(&lamb);
                if (rc < 0) {
                    printf("lamb-start-failed=%s\n", strerror(-rc));
                    fflush(stdout);
                }
                if (rc == 0) {
                    printf("lamb-started generation=%" PRIu64 " pid=%ld\n", lamb.generation,
                           (long)lamb.pid);
                    fflush(stdout);
                    if (deaths >= a->deaths)
                        break;
                }
            }
            if (lamb.pid == 0) {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (mb_deadline_poll_timeout(mb_clock_monotonic_ns(), deadline) == 0) {
            printf("timeout\n");
            status = 3;
        }
    }
    if (status == 0)
        printf("done deaths=%" PRIu64 "\n", deaths);
    fflush(stdout);
    mb_lamb_deinit(&lamb);
    mb_kmsg_close(&kmsg);
    mb_kmsg_oom_log_deinit(&kmsg_log);
    mb_evidence_deinit(&evidence);
    return status;
}

static int cmd_hog(int argc, char **argv)
{
    uint64_t bytes = 0;
    if (argc < 3 || parse_size(argv[2], &bytes) < 0 || bytes == 0 || bytes > SIZE_MAX)
        return usage();
    char *m = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 1;
    for (size_t i = 0; i < (size_t)bytes; i += 4096)
        m[i] = 1;
    printf("hog-full pid=%ld\n", (long)getpid());
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    mb_lamb_main_from_args(argc, argv);
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "hog") == 0)
        return cmd_hog(argc, argv);
    struct args a;
    if (parse_args(argc, argv, &a) < 0)
        return usage();
    if (strcmp(argv[1], "once") == 0)
        return cmd_once(&a);
    if (strcmp(argv[1], "cgroup-oom") == 0)
        return cmd_cgroup_oom(&a);
    if (strcmp(argv[1], "lamb") == 0) {
        static char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 1;
        self[n] = '\0';
        return cmd_lamb(&a, self);
    }
    return usage();
}
