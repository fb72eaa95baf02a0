/* init.c: gmalloc's start-up, safe from whichever call comes first.
 *
 * The first allocation may come from the dynamic loader, from dlsym, from
 * pthread or stdio internals, or from a constructor that runs before ours.
 * Whichever thread gets there first reads the configuration (heap-free) and
 * creates the one anr heap; threads that arrive meanwhile wait (yielding)
 * until it is published. Calls that the starting thread itself makes while
 * starting (libc code that allocates) are served from the bootstrap area, so
 * gmalloc never recurses into its own start-up and never deadlocks on it.
 */
#include "gmalloc/gm_internal.h"

#include "anr/heap_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;

_Atomic(anr_heap *) gm_heap;
uintptr_t gm_arena_lo;
size_t gm_arena_len;
struct gmalloc_settings gm_set;
struct gm_counters gm_count;

enum { GM_NONE, GM_STARTING, GM_READY, GM_FAILED };
static _Atomic(int) gm_state;
static __thread bool tl_starting __attribute__((tls_model("initial-exec")));

/* The smallest reservation gmalloc falls back to when a large one fails. */
#define GM_MIN_MAP ((uint64_t)16 << 20)

bool gm_starting(void)
{
    return tl_starting;
}

static void say(const char *a, const char *b)
{
    gm_write_all(2, a, strlen(a));
    if (b != NULL)
        gm_write_all(2, b, strlen(b));
}

/* When the first allocation comes before the C library has set environ
 * (possible from the dynamic loader), the variables gmalloc reads are taken
 * from /proc/self/environ instead: only those it knows, into static
 * storage. Entries past the buffer are not seen. */
static char env_text[16384];
static char *env_list[64];

static bool wanted(const char *e)
{
    static const char *const prefixes[] = {"GMALLOC_", "USE_MEMBROKER=", "MEMORY_DEBUG="};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(e, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static char *const *environment(void)
{
    /* A set-uid/set-gid program (preloaded through /etc/ld.so.preload)
     * must not let its caller pick the file read, the report file written
     * or the limits: only /etc/gmalloc.cfg applies there. */
    if (getauxval(AT_SECURE) != 0)
        return NULL;
    if (environ != NULL)
        return environ;
    int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t used = 0, count = 0;
    char block[4096];
    size_t have = 0; /* bytes of a partial entry at the start of block */
    for (;;) {
        ssize_t n = read(fd, block + have, sizeof block - have);
        if (n <= 0)
            break;
        size_t end = have + (size_t)n, start = 0;
        for (size_t i = 0; i < end; i++) {
            if (block[i] != '\0')
                continue;
            size_t len = i - start + 1u;
            if (wanted(block + start) && count < sizeof env_list / sizeof env_list[0] - 1u &&
                len <= sizeof env_text - used) {
                memcpy(env_text + used, block + start, len);
                env_list[count++] = env_text + used;
                used += len;
            }
            start = i + 1u;
        }
        have = end - start;
        if (have == sizeof block) /* one entry larger than the block: skip it */
            have = 0;
        memmove(block, block + start, have);
    }
    close(fd);
    env_list[count] = NULL;
    return env_list;
}

static void options_for(const struct gmalloc_settings *s, struct anr_options *o)
{
    gm_settings_options(s, o);
    gm_broker_prepare(o);
    o->guard_words = s->extra_debug_words;
    o->fill_with_trash = s->fill_with_trash;
    o->stack_depth = s->memory_debug ? s->stack_depth : 0;
    o->flight_recorder_entries = s->flight_recorder;
}

/* Creates the heap; when the reservation is refused (RLIMIT_AS, strict
 * overcommit) halves it, down to GM_MIN_MAP, shrinking the limits with it. */
static int create_heap(struct gmalloc_settings *s, anr_heap **out)
{
    struct anr_options o;
    options_for(s, &o);
    int rc = anr_heap_create(&o, out);
    while (rc == -ENOMEM && s->map_size / 2u >= GM_MIN_MAP) {
        s->map_size /= 2u;
        if (s->hard_limit > s->map_size)
            s->hard_limit = s->map_size;
        if (s->pool_size > s->hard_limit)
            s->pool_size = s->hard_limit;
        s->map_reduced = true;
        options_for(s, &o);
        rc = anr_heap_create(&o, out);
    }
    return rc;
}

static void start(void)
{
    int saved = errno;
    tl_starting = true;
    char msg[512];
    msg[0] = '\0';
    if (gm_settings_load(environment(), &gm_set, msg, sizeof msg) != 0) {
        say(msg, NULL);
        atomic_store(&gm_count.config_rejected, true);
    }
    anr_heap *h = NULL;
    int rc = create_heap(&gm_set, &h);
    if (rc == -EINVAL && !atomic_load(&gm_count.config_rejected)) {
        say("gmalloc: the allocator refused the configuration (SLAB_SIZES?)",
            "; using the built-in defaults\n");
        atomic_store(&gm_count.config_rejected, true);
        gm_settings_defaults(&gm_set);
        rc = create_heap(&gm_set, &h);
    }
    if (rc != 0) {
        say("gmalloc: cannot reserve the heap's address space", "; every allocation fails\n");
        tl_starting = false;
        atomic_store_explicit(&gm_state, GM_FAILED, memory_order_release);
        errno = saved;
        return;
    }
    /* A smaller default reservation (ulimit -v) is expected: said only when
     * MAP_SIZE was asked for explicitly. */
    if (gm_set.map_reduced && gm_set.map_size_set)
        say("gmalloc: the address space reservation was refused at the configured MAP_SIZE",
            "; running with a smaller one (see gmalloc_settings)\n");
    gm_arena_lo = (uintptr_t)h->arena;
    gm_arena_len = h->arena_bytes;
    atomic_store_explicit(&gm_heap, h, memory_order_release);
    atomic_store_explicit(&gm_state, GM_READY, memory_order_release);
    tl_starting = false;
    gm_broker_start();
    gm_report_install_signal();
    errno = saved;
}

anr_heap *gm_start(void)
{
    for (;;) {
        int st = atomic_load_explicit(&gm_state, memory_order_acquire);
        if (st == GM_READY)
            return atomic_load_explicit(&gm_heap, memory_order_acquire);
        if (st == GM_FAILED)
            return NULL;
        if (st == GM_NONE) {
            int expected = GM_NONE;
            if (atomic_compare_exchange_strong(&gm_state, &expected, GM_STARTING))
                start();
            continue;
        }
        if (tl_starting)
            return NULL; /* a call made by our own start-up: bootstrap area */
        sched_yield();
    }
}

/* Start at load time too, so a configuration error shows at once and the
 * first allocation of a time-critical path does not pay for start-up. */
__attribute__((constructor)) static void gm_constructor(void)
{
    (void)gm_heap_get();
}
