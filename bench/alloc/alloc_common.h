/* alloc_common: what the allocator benchmark programs share.
 *
 * The programs call only the libc allocation API, so any allocator can be
 * preloaded under them. Their own bookkeeping (slot arrays, samples) lives in
 * anonymous mappings made here, outside every allocator's heap, and is made
 * before the measured phase.
 *
 * Results are printed as one line per figure set:
 *     result <workload> key=value key=value ...
 * which scripts/bench-alloc reads. Around the measured phase a program calls
 * bench_mark("begin") and bench_mark("end"): a write to fd -1 that fails at
 * once and costs nothing, but shows in `strace` output, so address-space
 * calls can be counted inside the phase only (after the allocator's init).
 */
#ifndef MB_BENCH_ALLOC_COMMON_H
#define MB_BENCH_ALLOC_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64: fast, deterministic, never returns 0 for a non-zero seed. */
static inline uint64_t bench_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* The churn size mix of shared/ANCHORS.md: 80% 16-128 B, 17% 129-1024 B,
 * 3% 1-16 KiB. */
static inline size_t bench_churn_size(uint64_t r)
{
    unsigned pick = (unsigned)(r % 100u);
    r /= 100u;
    if (pick < 80)
        return 16u + (size_t)(r % 113u);
    if (pick < 97)
        return 129u + (size_t)(r % 896u);
    return 1024u + (size_t)(r % (15u * 1024u + 1u));
}

/* Monotonic time in seconds. */
double bench_now(void);

/* Resident set size of this process in bytes (from /proc/self/statm, read
 * without stdio so the reading allocates nothing); 0 if unreadable. */
uint64_t bench_rss_bytes(void);

/* A marker for strace: write(-1, "mb-bench-<what>", n), which fails with
 * EBADF. */
void bench_mark(const char *what);

/* Zeroed anonymous memory outside every heap, pre-touched when touch is
 * true; exits with a message when the mapping fails. */
void *bench_map(size_t bytes, int touch);
void bench_unmap(void *p, size_t bytes);

/* malloc that exits with a message naming the workload on failure. */
void *bench_malloc(size_t n, const char *who);

/* Parses an unsigned decimal option value; exits with usage text on error. */
uint64_t bench_parse_u64(const char *prog, const char *opt, const char *value);

#endif
