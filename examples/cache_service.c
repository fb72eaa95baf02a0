/* cache_service: a complete small membroker client, the example of
 * docs/integration.md.
 *
 * A service that keeps a cache (here: blocks of data it could rebuild) and
 * sizes it by the memory quota it holds. It grows its cache only with quota
 * granted by mbserver and, as a bidirectional client, gives quota back when
 * the broker asks: at normal urgency it evicts what is asked down to a floor
 * it keeps; at urgent level it evicts everything it can.
 *
 *   cache_service [--target MIB] [--keep MIB] [--backoff SECONDS] [--seconds N]
 *
 * After giving memory back it does not grow again for --backoff seconds
 * (default 5): the broker asked because memory is short, and a cache that
 * took it straight back would only be asked again.
 *
 * Build against an installed membroker:
 *   cc cache_service.c $(pkg-config --cflags --libs membroker) -pthread
 */
#include <membroker/client.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_BYTES (256u * 1024u) /* the cache's unit of eviction */
#define MAX_BLOCKS 4096u
#define MAX_MIB (MAX_BLOCKS / (1024u * 1024u / BLOCK_BYTES)) /* 1024 */

/* The cache: a stack of blocks, newest on top; eviction takes the oldest
 * would be kinder, but any order shows the protocol. */
struct cache {
    pthread_mutex_t lock;
    void *blocks[MAX_BLOCKS];
    unsigned count;
    unsigned keep; /* blocks kept at normal urgency */
    uint64_t pages_per_block;
    struct timespec last_giveback; /* CLOCK_MONOTONIC; zero: never */
};

static struct cache cache = {.lock = PTHREAD_MUTEX_INITIALIZER};
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* Called by libmbclient's helper thread when the broker asks for pages.
 * Frees memory first, then says how much it freed. */
static uint64_t give_back(struct mb_client *client, void *arg,
                          const struct mb_client_giveback *query)
{
    (void)client;
    struct cache *c = arg;
    pthread_mutex_lock(&c->lock);
    unsigned floor = query->urgency == MB_URGENCY_URGENT ? 0 : c->keep;
    uint64_t freed_pages = 0;
    unsigned evicted = 0;
    while (c->count > floor && freed_pages < query->pages) {
        free(c->blocks[--c->count]);
        freed_pages += c->pages_per_block;
        evicted++;
    }
    unsigned left = c->count;
    clock_gettime(CLOCK_MONOTONIC, &c->last_giveback);
    pthread_mutex_unlock(&c->lock);
    printf("give-back: asked %llu pages (%s), evicted %u blocks, gave %llu pages, %u blocks "
           "left\n",
           (unsigned long long)query->pages,
           query->urgency == MB_URGENCY_URGENT ? "urgent" : "normal", evicted,
           (unsigned long long)freed_pages, left);
    fflush(stdout);
    return freed_pages;
}

/* Adds one block to the cache if the broker grants its quota. */
static int grow_once(struct mb_client *client)
{
    uint64_t granted = 0;
    int rc = mb_client_request_timeout(client, cache.pages_per_block, &granted, 500);
    if (rc < 0)
        return rc;
    if (granted < cache.pages_per_block) {
        /* A REQUEST may grant less: keep nothing we cannot use. */
        if (granted > 0)
            mb_client_return(client, granted);
        return -ENOMEM;
    }
    void *block = malloc(BLOCK_BYTES);
    if (block == NULL) {
        mb_client_return(client, granted);
        return -ENOMEM;
    }
    memset(block, 0xcc, BLOCK_BYTES); /* touch it: the quota pays for real pages */
    pthread_mutex_lock(&cache.lock);
    cache.blocks[cache.count++] = block;
    pthread_mutex_unlock(&cache.lock);
    return 0;
}

/* A whole number from 1 to max, or exit with a usage message. */
static unsigned number_arg(const char *text, const char *name, unsigned max)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || v == 0 || v > max) {
        fprintf(stderr, "cache_service: %s wants a whole number from 1 to %u\n", name, max);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    unsigned target_mib = 16, keep_mib = 4, seconds = 0, backoff = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
            target_mib = number_arg(argv[++i], "--target", MAX_MIB);
        else if (strcmp(argv[i], "--keep") == 0 && i + 1 < argc)
            keep_mib = number_arg(argv[++i], "--keep", MAX_MIB);
        else if (strcmp(argv[i], "--backoff") == 0 && i + 1 < argc)
            backoff = number_arg(argv[++i], "--backoff", 3600);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = number_arg(argv[++i], "--seconds", 86400);
        else {
            fprintf(stderr, "usage: cache_service [--target MIB] [--keep MIB] [--backoff SECONDS] "
                            "[--seconds N]\n");
            return 2;
        }
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    static struct mb_client client; /* the library never allocates: we own this */
    struct mb_client_options opts;
    mb_client_options_init(&opts);
    opts.kind = MB_KIND_BIDIRECTIONAL;
    opts.name = "cache_service";
    opts.giveback = give_back;
    opts.giveback_arg = &cache;
    int rc = mb_client_init(&client, &opts);
    if (rc == 0)
        rc = mb_client_connect(&client);
    if (rc < 0) {
        fprintf(stderr, "cache_service: cannot reach mbserver: %s\n", mb_client_strerror(rc));
        mb_client_destroy(&client);
        return 1;
    }
    uint64_t page = mb_client_page_size(&client);
    cache.pages_per_block = (BLOCK_BYTES + page - 1) / page;
    unsigned target = target_mib * (1024u * 1024u / BLOCK_BYTES);
    cache.keep = keep_mib * (1024u * 1024u / BLOCK_BYTES);
    /* Give-back queries are answered by a helper thread; without one, a
     * program with its own poll loop would add mb_client_get_fd() to it and
     * call mb_client_dispatch() when it is readable. */
    rc = mb_client_helper_start(&client);
    if (rc < 0) {
        fprintf(stderr, "cache_service: %s\n", mb_client_strerror(rc));
        mb_client_destroy(&client);
        return 1;
    }
    printf("cache_service: target %u MiB, keeps %u MiB when asked, page %llu bytes\n", target_mib,
           keep_mib, (unsigned long long)page);
    fflush(stdout);

    time_t end = seconds > 0 ? time(NULL) + seconds : 0;
    unsigned reported = 0;
    while (!stop && (end == 0 || time(NULL) < end)) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&cache.lock);
        unsigned count = cache.count;
        bool backing_off = cache.last_giveback.tv_sec != 0 &&
                           now.tv_sec - cache.last_giveback.tv_sec < (time_t)backoff;
        pthread_mutex_unlock(&cache.lock);
        if (count < target && !backing_off && grow_once(&client) == 0)
            continue; /* grow as fast as quota comes */
        if (count != reported) {
            printf("cache: %u blocks (%u MiB), balance %llu pages\n", count,
                   count * (BLOCK_BYTES >> 10) / 1024,
                   (unsigned long long)mb_client_balance(&client));
            fflush(stdout);
            reported = count;
        }
        usleep(200 * 1000); /* the broker said no (or we are full): try later */
    }
    mb_client_helper_stop(&client);
    pthread_mutex_lock(&cache.lock);
    while (cache.count > 0)
        free(cache.blocks[--cache.count]);
    pthread_mutex_unlock(&cache.lock);
    mb_client_destroy(&client); /* the broker takes back whatever we held */
    printf("cache_service: stopped\n");
    return 0;
}
