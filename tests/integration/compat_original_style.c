/* compat_original_style.c: a client written the way programs of the
 * original membroker were, against <membroker/compat.h> alone: int page
 * counts, MbError values, the process-wide calls, and the handle forms for a
 * bidirectional client that polls its fd and dispatches give-backs.
 * tests/integration/test_compat_installed.sh builds it against the
 * installed tree (pkg-config membroker) and runs it against a real mbserver
 * (MEMBROKER_SOCKET).
 *
 * usage: compat_original_style TOTAL_PAGES
 * Prints one line per failed check and exits 1 on any; 0 when all hold.
 */
#include <membroker/compat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK_EQ(expected, actual)                                                     \
    do {                                                                               \
        int e_ = (expected), a_ = (actual);                                            \
        if (e_ != a_) {                                                                \
            printf("FAIL line %d: %s: expected %d, got %d\n", __LINE__, #actual, e_, a_); \
            failures++;                                                                \
        }                                                                              \
    } while (0)

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The bidirectional client's give-back handler: gives all that is asked. */
static int given_total;

static int on_giveback(int pages, int is_urgent, void *arg)
{
    (void)arg;
    if (!is_urgent)
        return 0; /* only a reservation gets our cache */
    given_total += pages;
    return pages;
}

/* The bidirectional child: registers by handle, takes `held` pages, tells
 * the parent it is ready, then serves give-backs from its poll loop until
 * the parent closes the pipe. Exits 0 when every check held. */
static int bidi_child(int ready_fd, int stop_fd, int held)
{
    MbClientHandle h = mb_client_register(42, 1);
    if (h == NULL) {
        printf("FAIL: mb_client_register(42, 1) returned NULL\n");
        return 1;
    }
    CHECK_EQ(1, h == mb_client_register(42, 1)); /* same id: same handle */
    CHECK_EQ(1, mb_client_is_bidi(h));
    int fd = mb_client_fd(h);
    CHECK_EQ(1, fd > 0);
    CHECK_EQ(MB_SUCCESS, mb_client_set_giveback_callback(h, on_giveback, NULL));
    CHECK_EQ(held, mb_client_request_pages(h, held));
    CHECK_EQ(held, mb_client_query(h));
    char one = 'r';
    if (write(ready_fd, &one, 1) != 1)
        return 1;
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return 1;
        if (p[0].revents & POLLIN) {
            int n = mb_client_dispatch_handle(h);
            if (n < 0 && n != MB_IO)
                printf("FAIL: mb_client_dispatch_handle: %d\n", n);
        }
        if (p[1].revents & (POLLIN | POLLHUP))
            break;
    }
    CHECK_EQ(held - given_total, mb_client_query(h));
    CHECK_EQ(MB_SUCCESS, mb_client_terminate(h));
    CHECK_EQ(MB_BAD_ID, mb_client_query(h));
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TOTAL_PAGES\n", argv[0]);
        return 2;
    }
    int total = atoi(argv[1]);
    signal(SIGPIPE, SIG_IGN);

    /* Not registered yet: every call says so. */
    CHECK_EQ(MB_BAD_ID, mb_request_pages(1));
    CHECK_EQ(MB_BAD_ID, mb_query());

    /* The simple client of the process. */
    CHECK_EQ(0, mb_register(0));
    CHECK_EQ(total, mb_query_total());
    CHECK_EQ(total, mb_query_server());
    CHECK_EQ(0, mb_query());
    CHECK_EQ(300, mb_request_pages(300));
    CHECK_EQ(300, mb_query());
    CHECK_EQ(total - 300, mb_query_server());
    CHECK_EQ(MB_SUCCESS, mb_return_pages(100));
    CHECK_EQ(200, mb_query());
    CHECK_EQ(MB_BAD_PARAM, mb_request_pages(-5));
    CHECK_EQ(MB_BAD_PARAM, mb_return_pages(-1));
    CHECK_EQ(200, mb_query()); /* nothing moved */
    CHECK_EQ(MB_SUCCESS, mb_status());

    /* A bidirectional client in another process takes most of the rest. */
    int held = total - 200 - 200; /* leaves 200 in the pool */
    int ready[2], stop[2];
    if (pipe(ready) < 0 || pipe(stop) < 0)
        return 1;
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        close(stop[1]);
        _exit(bidi_child(ready[1], stop[0], held));
    }
    close(ready[1]);
    close(stop[0]);
    char one;
    CHECK_EQ(1, (int)read(ready[0], &one, 1));
    CHECK_EQ(200, mb_query_server());

    /* A reservation larger than the pool: the bidirectional client gives
     * back the difference, urgently. */
    CHECK_EQ(500, mb_reserve_pages(500));
    CHECK_EQ(700, mb_query());
    CHECK_EQ(0, mb_query_server());
    /* More than anyone can give: all or nothing, so 0 and nothing moves. */
    CHECK_EQ(0, mb_reserve_pages(total));
    CHECK_EQ(700, mb_query());

    CHECK_EQ(MB_SUCCESS, mb_return_pages(700));
    CHECK_EQ(0, mb_query());
    CHECK_EQ(MB_SUCCESS, mb_terminate());
    CHECK_EQ(MB_BAD_ID, mb_query());

    close(stop[1]);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK_EQ(1, WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Everyone gone: the whole total is back in the server's pool. */
    CHECK_EQ(0, mb_register(0));
    int pool = -1;
    for (int i = 0; i < 200 && pool != total; i++) {
        pool = mb_query_server();
        if (pool != total)
            pause_ms(10);
    }
    CHECK_EQ(total, pool);
    CHECK_EQ(MB_SUCCESS, mb_terminate());

    if (failures == 0)
        printf("compat_original_style: all checks passed\n");
    return failures == 0 ? 0 : 1;
}
