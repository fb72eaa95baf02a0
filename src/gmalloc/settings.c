/* settings.c: gmalloc's configuration: the keys, their defaults, reading
 * the file and the environment with the shared heap-free parser, the checks,
 * and the anr options that follow.
 *
 * Runs before malloc exists: nothing here calls an allocator, stdio or a
 * locale function. The parser's working copies are static (start-up runs
 * once, on one thread), which keeps the stack use small.
 */
#include "gmalloc/gm_internal.h"

#include "common/config.h"
#include "common/config_value.h"
#include "common/strbuf.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)

/* The address space reserved when nothing says otherwise: on 64-bit it is
 * cheap (MAP_NORESERVE, untouched), on 32-bit a quarter of a 4 GiB space. */
#define GM_DEFAULT_MAP_64 (64u * GiB)
#define GM_DEFAULT_MAP_32 (1u * GiB)
#define GM_DEFAULT_CEILING_PAGES 2048u /* 8 MiB of 4 KiB pages */
#define GM_DEFAULT_TC_BYTES (1024u * KiB)
#define GM_DEFAULT_TC_THREADS 256u
#define GM_DEFAULT_STACK_DEPTH 8u
#define GM_BROKER_POOL (2u * MiB) /* POOL_SIZE with USE_MEMBROKER */

enum {
    GK_SLAB_SIZES,
    GK_POOL_SIZE,
    GK_MAP_SIZE,
    GK_HARD_LIMIT,
    GK_PAGE_CEILING,
    GK_EXTRA_DEBUG_WORDS,
    GK_FILL_WITH_TRASH,
    GK_SVC_ERR_ON_OOM,
    GK_DUMP_DEBUG_ON_OOM,
    GK_DUMP_FILE,
    GK_EXPANDABLE_POOL_SIZE,
    GK_NO_AUTOREQUEST_MEMORY,
    GK_THREAD_CACHE,
    GK_THREAD_CACHE_BYTES,
    GK_THREAD_CACHE_THREADS,
    GK_MADV_FREE,
    GK_DUMP_SIGNAL,
    GK_MEMORY_DEBUG,
    GK_STACK_DEPTH,
    GK_FLIGHT_RECORDER,
    GK_USE_MEMBROKER,
    GK_BROKER_BIDIRECTIONAL,
    GK_COUNT
};

/* The values as written, before sizes are resolved. */
struct gm_raw {
    uint64_t slab_sizes[64];
    size_t slab_count;
    struct mb_size pool_size, map_size, hard_limit, thread_cache_bytes;
    uint64_t page_ceiling, extra_debug_words, thread_cache_threads, stack_depth,
        flight_recorder;
    bool fill_with_trash, svc_err_on_oom, dump_debug_on_oom, expandable_pool_size,
        no_autorequest_memory, thread_cache, madv_free, memory_debug, use_membroker,
        broker_bidirectional;
    char dump_file[256];
    char dump_signal[16];
    bool present[GK_COUNT];
};

#define RAW struct gm_raw
static const struct mb_config_key gm_keys[] = {
    [GK_SLAB_SIZES] = MB_CONFIG_KEY_U64_LIST_RANGE("SLAB_SIZES", RAW, slab_sizes, slab_count, 1,
                                                   32768),
    [GK_POOL_SIZE] = MB_CONFIG_KEY_SIZE("POOL_SIZE", RAW, pool_size, MB_CONFIG_PERCENT),
    [GK_MAP_SIZE] = MB_CONFIG_KEY_SIZE("MAP_SIZE", RAW, map_size, 0),
    [GK_HARD_LIMIT] = MB_CONFIG_KEY_SIZE("HARD_LIMIT", RAW, hard_limit, MB_CONFIG_PERCENT),
    [GK_PAGE_CEILING] = MB_CONFIG_KEY_U64_RANGE("PAGE_CEILING", RAW, page_ceiling, 0, UINT32_MAX),
    [GK_EXTRA_DEBUG_WORDS] = MB_CONFIG_KEY_U64_RANGE("EXTRA_DEBUG_WORDS", RAW, extra_debug_words,
                                                     0, 64),
    [GK_FILL_WITH_TRASH] = MB_CONFIG_KEY_BOOL("FILL_WITH_TRASH", RAW, fill_with_trash),
    [GK_SVC_ERR_ON_OOM] = MB_CONFIG_KEY_BOOL("SVC_ERR_ON_OOM", RAW, svc_err_on_oom),
    [GK_DUMP_DEBUG_ON_OOM] = MB_CONFIG_KEY_BOOL("DUMP_DEBUG_ON_OOM", RAW, dump_debug_on_oom),
    [GK_DUMP_FILE] = MB_CONFIG_KEY_STRING("DUMP_FILE", RAW, dump_file),
    [GK_EXPANDABLE_POOL_SIZE] = MB_CONFIG_KEY_BOOL("EXPANDABLE_POOL_SIZE", RAW,
                                                   expandable_pool_size),
    [GK_NO_AUTOREQUEST_MEMORY] = MB_CONFIG_KEY_BOOL("NO_AUTOREQUEST_MEMORY", RAW,
                                                    no_autorequest_memory),
    [GK_THREAD_CACHE] = MB_CONFIG_KEY_BOOL("THREAD_CACHE", RAW, thread_cache),
    [GK_THREAD_CACHE_BYTES] = MB_CONFIG_KEY_SIZE("THREAD_CACHE_BYTES", RAW, thread_cache_bytes, 0),
    [GK_THREAD_CACHE_THREADS] = MB_CONFIG_KEY_U64_RANGE("THREAD_CACHE_THREADS", RAW,
                                                        thread_cache_threads, 1, 4096),
    [GK_MADV_FREE] = MB_CONFIG_KEY_BOOL("MADV_FREE", RAW, madv_free),
    [GK_DUMP_SIGNAL] = MB_CONFIG_KEY_STRING("DUMP_SIGNAL", RAW, dump_signal),
    [GK_MEMORY_DEBUG] = MB_CONFIG_KEY_BOOL("MEMORY_DEBUG", RAW, memory_debug),
    [GK_STACK_DEPTH] = MB_CONFIG_KEY_U64_RANGE("STACK_DEPTH", RAW, stack_depth, 1, 32),
    [GK_FLIGHT_RECORDER] = MB_CONFIG_KEY_U64_RANGE("FLIGHT_RECORDER", RAW, flight_recorder, 0,
                                                   1u << 20),
    [GK_USE_MEMBROKER] = MB_CONFIG_KEY_BOOL("USE_MEMBROKER", RAW, use_membroker),
    [GK_BROKER_BIDIRECTIONAL] = MB_CONFIG_KEY_BOOL("BROKER_BIDIRECTIONAL", RAW,
                                                   broker_bidirectional),
};
#undef RAW

static const struct mb_config_schema gm_schema =
    MB_CONFIG_SCHEMA(gm_keys, struct gm_raw, present, "GMALLOC_");

/* Start-up runs once, on one thread: the parser's copies live here. */
static struct gm_raw raw, scratch;

static void raw_defaults(struct gm_raw *r)
{
    memset(r, 0, sizeof *r);
    r->page_ceiling = GM_DEFAULT_CEILING_PAGES;
    r->thread_cache = true;
    r->thread_cache_bytes.unit = MB_SIZE_BYTES;
    r->thread_cache_bytes.amount = GM_DEFAULT_TC_BYTES;
    r->thread_cache_threads = GM_DEFAULT_TC_THREADS;
    r->stack_depth = GM_DEFAULT_STACK_DEPTH;
}

static uint64_t default_map(void)
{
    return sizeof(void *) >= 8 ? GM_DEFAULT_MAP_64 : GM_DEFAULT_MAP_32;
}

static uint64_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (uint64_t)ps : 4096u;
}

static uint64_t pages_round(uint64_t bytes, uint64_t pg)
{
    if (bytes > UINT64_MAX - (pg - 1u))
        return UINT64_MAX & ~(pg - 1u);
    return (bytes + pg - 1u) & ~(pg - 1u);
}

void gm_settings_defaults(struct gmalloc_settings *s)
{
    memset(s, 0, sizeof *s);
    s->map_size = default_map();
    s->hard_limit = s->map_size;
    s->pool_size = s->map_size;
    s->page_ceiling = GM_DEFAULT_CEILING_PAGES;
    s->thread_cache = true;
    s->thread_cache_bytes = GM_DEFAULT_TC_BYTES;
    s->thread_cache_threads = GM_DEFAULT_TC_THREADS;
    s->stack_depth = GM_DEFAULT_STACK_DEPTH;
}

/* The value of variable name in envp, or NULL. */
static const char *env_find(char *const *envp, const char *name)
{
    if (envp == NULL)
        return NULL;
    size_t n = strlen(name);
    for (char *const *e = envp; *e != NULL; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* DUMP_SIGNAL: "", "0", "off" or "none" (off); a number; or a name with or
 * without "SIG" (USR1, USR2, HUP, PWR, WINCH, URG, or RTMIN+n). */
static int parse_signal(const char *s, int *out)
{
    if (s[0] == '\0' || strcmp(s, "0") == 0 || strcmp(s, "off") == 0 || strcmp(s, "none") == 0) {
        *out = 0;
        return 0;
    }
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP},
                 {"PWR", SIGPWR},   {"WINCH", SIGWINCH}, {"URG", SIGURG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].sig;
            return 0;
        }
    }
    uint64_t n = 0;
    int base = 0;
    const char *digits = s;
    if (strncmp(s, "RTMIN+", 6) == 0) {
        base = SIGRTMIN;
        digits = s + 6;
    }
    if (mb_value_parse_u64(digits, strlen(digits), &n, NULL) != 0)
        return -EINVAL;
    if (n > (uint64_t)SIGRTMAX)
        return -EINVAL;
    int sig = base + (int)n;
    if (sig <= 0 || sig > SIGRTMAX || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV ||
        sig == SIGBUS || sig == SIGFPE || sig == SIGILL || sig == SIGABRT)
        return -EINVAL;
    *out = sig;
    return 0;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
    return (a > b) - (a < b);
}

/* SLAB_SIZES as the original accepted them: any order, any sizes; rounded
 * up to multiples of 16, sorted, duplicates dropped. */
static void slabs_from_raw(const struct gm_raw *r, struct gmalloc_settings *s)
{
    s->slab_size_count = 0;
    if (!r->present[GK_SLAB_SIZES])
        return;
    for (size_t i = 0; i < r->slab_count; i++) {
        uint32_t v = (uint32_t)((r->slab_sizes[i] + 15u) & ~(uint64_t)15u);
        size_t j = s->slab_size_count;
        while (j > 0 && cmp_u32(s->slab_sizes[j - 1], v) > 0) {
            s->slab_sizes[j] = s->slab_sizes[j - 1];
            j--;
        }
        if (j > 0 && s->slab_sizes[j - 1] == v) { /* duplicate: undo the shift */
            for (; j < s->slab_size_count; j++)
                s->slab_sizes[j] = s->slab_sizes[j + 1];
            continue;
        }
        s->slab_sizes[j] = v;
        s->slab_size_count++;
    }
}

static void append_size(struct mb_strbuf *sb, uint64_t bytes)
{
    mb_strbuf_append_u64(sb, bytes);
    mb_strbuf_append(sb, " bytes");
}

/* Turns the raw values into settings and checks them. 0, or -EINVAL with
 * the reason in why. */
static int resolve(const struct gm_raw *r, struct gmalloc_settings *s, struct mb_strbuf *why)
{
    uint64_t pg = page_size();
    uint64_t memtotal = 0;
    struct sysinfo si;
    if (sysinfo(&si) == 0)
        memtotal = (uint64_t)si.totalram * (si.mem_unit ? si.mem_unit : 1u);

    gm_settings_defaults(s);
    uint64_t pool = 0, map = 0, hard = 0, tcb = 0;
    static const struct {
        int key;
        const char *name;
    } sizes[] = {{GK_POOL_SIZE, "POOL_SIZE"},
                 {GK_MAP_SIZE, "MAP_SIZE"},
                 {GK_HARD_LIMIT, "HARD_LIMIT"},
                 {GK_THREAD_CACHE_BYTES, "THREAD_CACHE_BYTES"}};
    const struct mb_size *vals[] = {&r->pool_size, &r->map_size, &r->hard_limit,
                                    &r->thread_cache_bytes};
    uint64_t *dst[] = {&pool, &map, &hard, &tcb};
    for (size_t i = 0; i < 4; i++) {
        if (!r->present[sizes[i].key] && sizes[i].key != GK_THREAD_CACHE_BYTES)
            continue;
        if (mb_size_resolve(vals[i], pg, memtotal, dst[i]) != 0) {
            mb_strbuf_append(why, sizes[i].name);
            mb_strbuf_append(why, ": cannot be resolved to bytes on this system");
            return -EINVAL;
        }
        if (sizes[i].key != GK_THREAD_CACHE_BYTES)
            *dst[i] = pages_round(*dst[i], pg);
    }
    bool has_pool = r->present[GK_POOL_SIZE], has_map = r->present[GK_MAP_SIZE],
         has_hard = r->present[GK_HARD_LIMIT];
    if ((has_pool && pool == 0) || (has_hard && hard == 0) || (has_map && map == 0)) {
        mb_strbuf_append(why, "POOL_SIZE, MAP_SIZE and HARD_LIMIT must not be 0");
        return -EINVAL;
    }
    /* The limit: HARD_LIMIT, else the pool (without the broker the pool is
     * the fixed limit), else the whole reservation. */
    if (!has_map) {
        map = default_map();
        uint64_t want = has_hard ? hard : has_pool ? pool : 0;
        /* Twice the limit, as the original advised, when that is larger. */
        if (want > map / 2u)
            map = want > UINT64_MAX / 2u ? UINT64_MAX : 2u * want;
        map = pages_round(map, pg);
    }
    if (r->use_membroker) {
        /* The broker grants the budget beyond the pool: by default a small
         * pool (the original's 2 MiB), growing up to the whole map. */
        if (!has_hard)
            hard = map;
        if (!has_pool)
            pool = GM_BROKER_POOL < hard ? GM_BROKER_POOL : hard;
    } else {
        if (!has_hard)
            hard = has_pool ? pool : map;
        if (!has_pool)
            pool = hard;
    }
    if (map > (uint64_t)(SIZE_MAX / 2u) || map / pg >= UINT32_MAX) {
        mb_strbuf_append(why, "MAP_SIZE ");
        append_size(why, map);
        mb_strbuf_append(why, " is too large for this system");
        return -EINVAL;
    }
    if (map / pg < 64u) {
        mb_strbuf_append(why, "MAP_SIZE must be at least 64 pages");
        return -EINVAL;
    }
    if (hard > map) {
        mb_strbuf_append(why, "HARD_LIMIT (");
        append_size(why, hard);
        mb_strbuf_append(why, ") is larger than MAP_SIZE (");
        append_size(why, map);
        mb_strbuf_append(why, ")");
        return -EINVAL;
    }
    if (pool > hard) {
        mb_strbuf_append(why, "POOL_SIZE (");
        append_size(why, pool);
        mb_strbuf_append(why, ") is larger than HARD_LIMIT (");
        append_size(why, hard);
        mb_strbuf_append(why, ")");
        return -EINVAL;
    }
    int sig = 0;
    if (parse_signal(r->dump_signal, &sig) != 0) {
        mb_strbuf_append(why, "DUMP_SIGNAL: \"");
        mb_strbuf_append_printable(why, r->dump_signal, strlen(r->dump_signal), 15);
        mb_strbuf_append(why, "\" is not a signal gmalloc can use (USR1, USR2, HUP, PWR, WINCH, "
                              "URG, RTMIN+n, a number, or off)");
        return -EINVAL;
    }
    s->pool_size = pool;
    s->map_size = map;
    s->map_size_set = has_map;
    s->hard_limit = hard;
    s->page_ceiling = r->page_ceiling;
    slabs_from_raw(r, s);
    s->thread_cache = r->thread_cache;
    s->thread_cache_bytes = tcb;
    s->thread_cache_threads = (unsigned)r->thread_cache_threads;
    s->madv_free = r->madv_free;
    s->svc_err_on_oom = r->svc_err_on_oom;
    s->dump_debug_on_oom = r->dump_debug_on_oom;
    memcpy(s->dump_file, r->dump_file, sizeof s->dump_file);
    s->dump_signal = sig;
    s->extra_debug_words = (unsigned)r->extra_debug_words;
    s->fill_with_trash = r->fill_with_trash;
    s->memory_debug = r->memory_debug;
    s->stack_depth = (unsigned)r->stack_depth;
    s->flight_recorder = (unsigned)r->flight_recorder;
    s->use_membroker = r->use_membroker;
    s->expandable_pool_size = r->expandable_pool_size;
    s->no_autorequest_memory = r->no_autorequest_memory;
    s->broker_bidirectional = r->broker_bidirectional;
    return 0;
}

/* The original's unprefixed variables, when the GMALLOC_ form is absent. */
static int apply_legacy_env(char *const *envp, struct gm_raw *r, struct mb_config_error *err)
{
    static const struct {
        const char *name;
        int key;
    } legacy[] = {{"USE_MEMBROKER", GK_USE_MEMBROKER}, {"MEMORY_DEBUG", GK_MEMORY_DEBUG}};
    for (size_t i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
        const char *v = env_find(envp, legacy[i].name);
        if (v == NULL || r->present[legacy[i].key])
            continue;
        bool *dst = legacy[i].key == GK_USE_MEMBROKER ? &r->use_membroker : &r->memory_debug;
        struct mb_strbuf why;
        mb_strbuf_init(&why, err->message, sizeof err->message);
        if (mb_value_parse_bool(v, strlen(v), dst, &why) != 0) {
            err->code = -EINVAL;
            err->line = 0;
            memcpy(err->source, "environment", sizeof "environment");
            size_t n = strlen(legacy[i].name);
            memcpy(err->key, legacy[i].name, n + 1);
            return -EINVAL;
        }
        r->present[legacy[i].key] = true;
    }
    return 0;
}

int gm_settings_load(char *const *envp, struct gmalloc_settings *out, char *msg, size_t cap)
{
    struct mb_config_error err;
    memset(&err, 0, sizeof err);
    raw_defaults(&raw);
    const char *path = env_find(envp, "GMALLOC_CFG");
    bool required = path != NULL && path[0] != '\0';
    if (!required)
        path = "/etc/gmalloc.cfg";
    int rc = mb_config_parse_file(&gm_schema, path, &raw, &scratch, &err);
    bool file_read = rc == 0;
    if (rc == -ENOENT && !required) {
        rc = 0;
        memset(&err, 0, sizeof err);
    }
    if (rc == 0)
        rc = mb_config_apply_env(&gm_schema, envp, &raw, &scratch, &err);
    if (rc == 0)
        rc = apply_legacy_env(envp, &raw, &err);

    struct mb_strbuf sb;
    mb_strbuf_init(&sb, msg, cap);
    if (rc == 0) {
        char why[256];
        struct mb_strbuf wb;
        mb_strbuf_init(&wb, why, sizeof why);
        rc = resolve(&raw, out, &wb);
        if (rc == 0) {
            if (file_read) {
                size_t n = strlen(path);
                if (n >= sizeof out->source)
                    n = sizeof out->source - 1u;
                memcpy(out->source, path, n);
                out->source[n] = '\0';
            }
            return 0;
        }
        mb_strbuf_append(&sb, "gmalloc: ");
        mb_strbuf_append(&sb, file_read ? path : "environment");
        mb_strbuf_append(&sb, ": ");
        mb_strbuf_append(&sb, why);
    } else {
        char text[MB_CONFIG_SOURCE_MAX + MB_CONFIG_NAME_MAX + MB_CONFIG_MESSAGE_MAX + 16];
        mb_config_error_format(&err, text, sizeof text);
        mb_strbuf_append(&sb, "gmalloc: ");
        mb_strbuf_append(&sb, text);
    }
    mb_strbuf_append(&sb, "; using the built-in defaults\n");
    if (sb.truncated && cap > 1) {
        msg[cap - 2] = '\n';
        msg[cap - 1] = '\0';
    }
    gm_settings_defaults(out);
    return rc;
}

void gm_settings_options(const struct gmalloc_settings *s, struct anr_options *o)
{
    anr_options_init(o);
    o->pool_size = (size_t)s->pool_size;
    o->map_size = (size_t)s->map_size;
    o->hard_limit = (size_t)s->hard_limit;
    o->page_ceiling = (size_t)s->page_ceiling;
    o->use_madv_free = s->madv_free;
    if (s->slab_size_count > 0) {
        o->slab_sizes = s->slab_sizes;
        o->slab_size_count = s->slab_size_count;
    }
    o->thread_cache = s->thread_cache;
    o->thread_cache_bytes = (size_t)s->thread_cache_bytes;
    o->thread_cache_threads = s->thread_cache_threads;
    /* No need-more-memory callback: without the broker the budget is the
     * fixed limit. */
}
